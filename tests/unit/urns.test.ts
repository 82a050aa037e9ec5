// Stable URNs: a refactor that renames or re-parents a resource would make Pulumi delete the live object
// and create a new one. Every URN of the production stack is pinned here; a deliberate change updates the
// snapshot (UPDATE_URN_SNAPSHOT=1 npm test) together with the `aliases` that carry live stacks across it.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { PRODUCTION_SECRET_VALUES, Registration, runProgram, stackFileConfig } from "./support/harness";

const SNAPSHOT = path.resolve(__dirname, "snapshots/production-urns.txt");
/** Every URN before the root component existed: stacks deployed then must move under it with zero replaces. */
const BEFORE_ROOT = path.resolve(__dirname, "snapshots/production-urns.before-platform-root.txt");
const ROOT_TYPE = "ultramarket:index:Platform";

/**
 * Objects of the Ingress edge that the default production render no longer has: the Gateway API edge replaced
 * them (issue 13). A stack that opts into `edge: ingress-nginx` or `both` still renders them under these URNs.
 */
const RETIRED_EDGE = [
    "urn:pulumi:production::ultramarket::ultramarket:network:EdgeIngress::edge",
    "urn:pulumi:production::ultramarket::ultramarket:network:EdgeIngress$kubernetes:core/v1:ConfigMap::security-headers",
    ...["admin-panel", "api-gateway", "web-app"].map(
        (app) => `urn:pulumi:production::ultramarket::ultramarket:network:EdgeIngress$kubernetes:networking.k8s.io/v1:Ingress::${app}`,
    ),
];
/** The URN a resource had under the parent an alias names (the mock's scheme: the parent's own type, then the resource's). */
const underFormerParent = (r: Registration, parentUrn: string) => {
    const parentType = parentUrn.split("::")[2].split("$").pop();
    return `urn:pulumi:production::ultramarket::${parentType}$${r.type}::${r.name}`;
};

const readList = (file: string) => fs.readFileSync(file, "utf8").split("\n").filter(Boolean);

async function productionRegistrations(): Promise<Registration[]> {
    const { registrations, error } = await runProgram(
        "production",
        { ...stackFileConfig("production"), ...PRODUCTION_SECRET_VALUES },
        Object.keys(PRODUCTION_SECRET_VALUES),
    );
    if (error) throw error instanceof Error ? error : new Error(JSON.stringify(error));
    return registrations;
}

describe("resource URNs of the production stack", () => {
    let urns: string[];
    let registrations: Registration[];
    before(async () => {
        registrations = await productionRegistrations();
        urns = registrations.map((r) => r.urn).sort();
        if (process.env.UPDATE_URN_SNAPSHOT === "1") fs.writeFileSync(SNAPSHOT, urns.join("\n") + "\n");
    });

    it("are exactly the pinned snapshot (a change would replace live objects; add aliases, then update the snapshot)", () => {
        const pinned = readList(SNAPSHOT);
        const added = urns.filter((u) => !pinned.includes(u));
        const removed = pinned.filter((u) => !urns.includes(u));
        assert.deepEqual(
            { added, removed },
            { added: [], removed: [] },
            "URNs changed: live objects would be replaced. Add aliases, then run UPDATE_URN_SNAPSHOT=1 npm test",
        );
    });

    it("carry every stack deployed before the root component across: each old URN is what the engine derives from an alias", () => {
        const root = registrations.find((r) => r.type === ROOT_TYPE);
        assert.ok(root, `no ${ROOT_TYPE} root component`);
        const top = registrations.filter((r) => r.parent === root.urn);
        assert.ok(top.length > 5, "the components are not children of the root");
        for (const r of top)
            assert.ok(r.aliasParents.length > 0, `${r.urn} moved under the root without an alias to its old parent (the stack)`);
        // The engine derives a child's alias from its parent's: the same URN without the root in the type chain.
        const derived = new Set(urns.filter((u) => u !== root.urn).map((u) => u.replace(`::${ROOT_TYPE}$`, "::")));
        // A resource moved to another component carries an alias naming its former parent.
        for (const r of registrations)
            for (const p of r.aliasParents)
                if (p.startsWith("urn:") && p !== root.urn) derived.add(underFormerParent(r, p).replace(`::${ROOT_TYPE}$`, "::"));
        const lost = readList(BEFORE_ROOT).filter((u) => !derived.has(u) && !RETIRED_EDGE.includes(u));
        assert.deepEqual(lost, [], "these resources of an existing stack would be replaced");
    });
});
