// The pack as a whole: what the analyzer server would refuse at start-up, and the documentation
// and sample config staying true to the policy list.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { createPolicies, policyNames } from "../../../policies/rules";

const ROOT = path.resolve(__dirname, "../../..");
const LEVELS = ["advisory", "mandatory", "remediate", "disabled"];
const policies = createPolicies({ stackName: () => "production" });

describe("policies: the pack", () => {
    it("has unique policy names the server accepts (not the reserved 'all')", () => {
        const names = policies.map((p) => p.name);
        assert.strictEqual(new Set(names).size, names.length);
        for (const name of names) {
            assert.match(name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
            assert.notStrictEqual(name, "all");
        }
    });

    it("gives every policy a description and a default level, and never declares enforcementLevel as config", () => {
        for (const p of policies) {
            assert.ok(p.description.length > 20, p.name);
            assert.ok(p.enforcementLevel && LEVELS.includes(p.enforcementLevel), p.name);
            // The server exits at start-up if a config schema declares or requires enforcementLevel.
            assert.ok(!p.configSchema?.properties?.enforcementLevel, p.name);
            assert.ok(!(p.configSchema?.required ?? []).includes("enforcementLevel"), p.name);
        }
    });

    it("has the mandatory and advisory rules the platform needs", () => {
        assert.deepStrictEqual(policyNames("advisory").sort(), [
            "no-service-account-token-automount",
            "request-limit-ratio",
            "topology-spread",
        ]);
        for (const name of [
            "pss-run-as-non-root",
            "immutable-image-tags",
            "resource-requests-limits",
            "health-probes",
            "no-secrets-in-configmaps",
            "no-secrets-in-env-literals",
            "no-external-service-types",
            "production-min-replicas",
            "production-pdb-per-deployment",
            "production-default-deny-network-policy",
            "production-ingress-tls",
            "production-gateway-tls",
            "production-private-admin",
            "production-protected-datastores",
            "no-secrets-in-argv",
            "bounded-scratch-space",
            "stateful-startup-probes",
        ]) {
            assert.ok(policyNames("mandatory").includes(name), name);
        }
    });

    it("documents every policy with its default level in docs/policies.md", () => {
        const doc = fs.readFileSync(path.join(ROOT, "docs/policies.md"), "utf8");
        const rows = [...doc.matchAll(/^\| `([a-z0-9-]+)` \| (\w+) \|/gm)].map((m) => `${m[1]}=${m[2]}`).sort();
        assert.deepStrictEqual(rows, policies.map((p) => `${p.name}=${p.enforcementLevel}`).sort());
    });

    it("ships a sample policy config that names real policies, levels and settings", () => {
        const sample = JSON.parse(fs.readFileSync(path.join(ROOT, "policies/policy-config.sample.json"), "utf8"));
        const doc = fs.readFileSync(path.join(ROOT, "docs/policies.md"), "utf8");
        const shown = /```json\n([\s\S]*?)```/.exec(doc);
        assert.ok(shown, "docs/policies.md shows the sample config");
        assert.deepStrictEqual(JSON.parse(shown[1]), sample, "docs/policies.md shows the sample config as shipped");
        for (const [name, value] of Object.entries<any>(sample)) {
            const p = policies.find((x) => x.name === name);
            assert.ok(p, `${name} is not a policy`);
            if (typeof value === "string") {
                assert.ok(LEVELS.includes(value), `${name}: ${value}`);
                continue;
            }
            for (const [key, setting] of Object.entries(value)) {
                if (key === "enforcementLevel") {
                    assert.ok(LEVELS.includes(setting as string), `${name}: ${String(setting)}`);
                } else {
                    assert.ok(p.configSchema?.properties?.[key], `${name} has no setting ${key}`);
                }
            }
        }
    });

    it("only wraps the policy list in index.ts", () => {
        const index = fs.readFileSync(path.join(ROOT, "policies/index.ts"), "utf8");
        assert.match(index, /new PolicyPack\(POLICY_PACK_NAME, \{[\s\S]*policies: createPolicies\(\)/);
    });
});
