// Stable URNs: a refactor that renames or re-parents a resource would make Pulumi delete the live object
// and create a new one. Every URN of the production stack is pinned here; a deliberate change updates the
// snapshot (UPDATE_URN_SNAPSHOT=1 npm test) together with the `aliases` that carry live stacks across it.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, PRODUCTION_SECRET_VALUES, Registration, settle, stackFileConfig } from "./support/harness";

const INDEX = path.resolve(__dirname, "../../index.ts");
const SNAPSHOT = path.resolve(__dirname, "snapshots/production-urns.txt");

async function productionRegistrations(): Promise<Registration[]> {
    const registrations = installMocks("production");
    const values = { ...stackFileConfig("production"), ...PRODUCTION_SECRET_VALUES };
    pulumi.runtime.setAllConfig(
        Object.fromEntries(Object.entries(values).map(([k, v]) => [`ultramarket:${k}`, v])),
        Object.keys(PRODUCTION_SECRET_VALUES).map((k) => `ultramarket:${k}`),
    );
    delete require.cache[require.resolve(INDEX)];
    require(INDEX);
    await settle(registrations);
    return registrations;
}

describe("resource URNs of the production stack", () => {
    let urns: string[];
    before(async () => {
        urns = (await productionRegistrations()).map((r) => r.urn).sort();
        if (process.env.UPDATE_URN_SNAPSHOT === "1") fs.writeFileSync(SNAPSHOT, urns.join("\n") + "\n");
    });

    it("are exactly the pinned snapshot (a change would replace live objects; add aliases, then update the snapshot)", () => {
        const pinned = fs.readFileSync(SNAPSHOT, "utf8").split("\n").filter(Boolean);
        const added = urns.filter((u) => !pinned.includes(u));
        const removed = pinned.filter((u) => !urns.includes(u));
        assert.deepEqual({ added, removed }, { added: [], removed: [] }, "URNs changed: live objects would be replaced. Add aliases, then run UPDATE_URN_SNAPSHOT=1 npm test");
    });
});
