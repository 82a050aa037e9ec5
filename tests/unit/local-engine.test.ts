// The local control plane meets every kind the production stack renders (scripts/toolchain.sh `crds`) and plays
// the controllers the program waits for (scripts/local-cluster/stages), so the e2e suite runs with the production
// switches on.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT, Registration } from "./support/harness";
import { evaluateProduction } from "./support/platform";

const BUILT_IN_GROUPS = new Set([
    "",
    "apps",
    "batch",
    "policy",
    "autoscaling",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
]);
const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0] : "");

interface Stage {
    spec: { resourceRef: { apiGroup: string; kind: string }; next: { statusTemplate?: string } };
}

function stages(): Stage[] {
    const dir = path.join(REPO_ROOT, "scripts", "local-cluster", "stages");
    return fs
        .readdirSync(dir)
        .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8")).map((d) => d.toJSON() as Stage));
}

describe("local engine: the production stack's kinds on the local control plane", () => {
    let regs: Registration[];
    before(async () => {
        regs = (await evaluateProduction()).registrations.filter(
            (r) => r.custom && r.type.startsWith("kubernetes:") && r.inputs?.apiVersion,
        );
    });

    it("installs the CRD of every custom resource group the production stack renders", () => {
        const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "toolchain.sh"), "utf8");
        const custom = [...new Set(regs.map((r) => groupOf(r.inputs.apiVersion)).filter((g) => !BUILT_IN_GROUPS.has(g)))];
        assert.ok(
            custom.length >= 4,
            `expected Gateway API, Envoy Gateway, cert-manager and Prometheus operator kinds, got ${custom.join(", ")}`,
        );
        // The toolchain copies `<group>_*.yaml` files (the CRDs' own file names) into the cluster's CRD directory.
        for (const group of custom) assert.ok(script.includes(`${group}_`), `scripts/toolchain.sh installs no CRD of ${group}`);
    });

    it("simulates every condition the program waits for (pulumi.com/waitFor)", () => {
        const waits = regs.flatMap((r) => {
            const w = r.inputs.metadata?.annotations?.["pulumi.com/waitFor"] as string | undefined;
            return w
                ? [{ apiVersion: r.inputs.apiVersion as string, kind: r.inputs.kind as string, condition: w.replace(/^condition=/, "") }]
                : [];
        });
        assert.ok(
            waits.some((w) => w.kind === "Gateway") && waits.some((w) => w.kind === "Certificate"),
            "the Gateway and the Certificates are awaited",
        );
        const all = stages();
        for (const w of waits) {
            const stage = all.find((s) => s.spec.resourceRef.apiGroup === w.apiVersion && s.spec.resourceRef.kind === w.kind);
            assert.ok(stage, `no kwok stage sets the status of ${w.kind} (${w.apiVersion}); the local up would wait forever`);
            assert.match(
                stage.spec.next.statusTemplate ?? "",
                new RegExp(`\\b${w.condition}\\b`),
                `the ${w.kind} stage never sets ${w.condition}`,
            );
        }
    });

    it("runs the local stack with the production switches on", () => {
        const local = fs.readFileSync(path.join(REPO_ROOT, "Pulumi.local.yaml"), "utf8");
        assert.match(local, /^ {2}ultramarket:edge: gateway$/m);
        assert.match(local, /^ {2}ultramarket:certManager: "true"$/m);
        assert.match(local, /^ {2}ultramarket:prometheusOperator: "true"$/m);
    });
});
