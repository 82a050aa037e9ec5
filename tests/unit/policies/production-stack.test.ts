// The whole production stack, evaluated on the mock monitor, against every policy of the pack.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Policies } from "@pulumi/policy";
import { createPolicies } from "../../../policies/rules";
import { Registration } from "../support/harness";
import { evaluatePlatform, evaluateProduction } from "../support/platform";
import { stackFileConfig } from "../support/harness";
import { FakeResource, PRODUCTION, validateResource, validateStack, variant } from "./harness";

interface Finding {
    policy: string;
    message: string;
}

/** Runs every policy of `policies` over the stack; returns findings and which policies applied. */
async function evaluate(policies: Policies, resources: FakeResource[]): Promise<{ findings: Finding[]; applied: Set<string> }> {
    const findings: Finding[] = [];
    const applied = new Set<string>();
    for (const p of policies) {
        if ("validateStack" in p) {
            const outcome = await validateStack(p, resources);
            if (outcome.notApplicable === undefined) {
                applied.add(p.name);
            }
            findings.push(...outcome.violations.map((message) => ({ policy: p.name, message })));
            continue;
        }
        for (const r of resources) {
            const outcome = await validateResource(p, r);
            if (outcome.notApplicable === undefined) {
                applied.add(p.name);
            }
            findings.push(...outcome.violations.map((message) => ({ policy: p.name, message })));
        }
    }
    return { findings, applied };
}

/** What a preview with the pack prints: every finding of every policy, mandatory and advisory, one line each. */
async function previewFindings(stack: string, registrations: Registration[]): Promise<string[]> {
    const policies = createPolicies({ stackName: () => stack });
    const resources = registrations.filter((r) => r.custom).map(asResource);
    const { findings } = await evaluate(policies, resources);
    const level = (name: string) => policies.find((p) => p.name === name)?.enforcementLevel;
    return findings.map((f) => `${level(f.policy)} ${f.policy}: ${f.message}`);
}

const asResource = (r: Registration): FakeResource => ({ type: r.type, name: r.name, props: r.inputs, opts: { protect: r.protect } });

describe("policies: the production stack under mocks", () => {
    const policies = createPolicies({ stackName: () => PRODUCTION });
    const mandatory = policies.filter((p) => p.enforcementLevel === "mandatory");
    let resources: FakeResource[];
    /** The stack mid-migration (edge "both"): the Gateway and the retired Ingresses, so every edge rule applies. */
    let sideBySide: FakeResource[];
    const kubernetesObjects = (registrations: Registration[]) =>
        registrations.filter((r) => r.custom && r.type.startsWith("kubernetes:")).map(asResource);

    before(async () => {
        resources = kubernetesObjects((await evaluateProduction()).registrations);
        sideBySide = kubernetesObjects((await evaluateProduction({ edge: "both" })).registrations);
    });

    it("registers Kubernetes objects to check", () => {
        assert.ok(resources.length > 50, `only ${resources.length} Kubernetes objects`);
    });

    it("passes every mandatory policy, on the Gateway edge and with both edges side by side", async () => {
        for (const stack of [resources, sideBySide]) {
            const { findings } = await evaluate(mandatory, stack);
            assert.deepStrictEqual(
                findings.map((f) => `${f.policy}: ${f.message}`),
                [],
            );
        }
    });

    it("exercises every mandatory policy (none is vacuously not applicable)", async () => {
        const { applied } = await evaluate(mandatory, sideBySide);
        assert.deepStrictEqual(
            mandatory.map((p) => p.name).filter((n) => !applied.has(n)),
            [],
        );
    });

    it("fails once one object in it breaks a rule, naming that object", async () => {
        const broken = resources.map((r) =>
            r.type === "kubernetes:apps/v1:Deployment" && r.props.metadata?.name === "auth-service"
                ? variant(r, (d) => {
                      d.props.spec.template.spec.containers[0].image = "registry.ultramarket.uz/auth-service:latest";
                  })
                : r,
        );
        const { findings } = await evaluate(mandatory, broken);
        assert.deepStrictEqual(
            findings.map((f) => f.policy),
            ["immutable-image-tags"],
        );
        assert.match(findings[0].message, /^Deployment\/ultramarket-production\/auth-service: container "auth-service" image ".*:latest"/);
    });
});

describe("policies: the shipped stacks preview clean (no finding at all, advisory included)", () => {
    // Warnings that are always there teach people to ignore warnings: every policy of the pack, at the level the pack
    // ships it, over every resource each stack's program registers, with the stack's own Pulumi.<stack>.yaml.
    it("the production stack has no mandatory or advisory finding", async () => {
        const { registrations } = await evaluateProduction();
        assert.deepStrictEqual(await previewFindings(PRODUCTION, registrations), []);
    });

    it("the local stack has no mandatory or advisory finding", async () => {
        // Pulumi.local.yaml points at the local control plane's kubeconfig, which config validation wants to exist.
        const kubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-policy-local-")), "kubeconfig");
        fs.writeFileSync(kubeconfig, "apiVersion: v1\nkind: Config\n");
        const { registrations } = await evaluatePlatform("local", { ...stackFileConfig("local"), kubeconfig });
        assert.ok(registrations.filter((r) => r.type.startsWith("kubernetes:")).length > 50, "the local stack registered few objects");
        assert.deepStrictEqual(await previewFindings("local", registrations), []);
    });

    it("an advisory finding fails it too (the users Job's memory limit at 4x its request)", async () => {
        const { registrations } = await evaluateProduction();
        const skewed = registrations.map((r) => {
            if (r.type !== "kubernetes:batch/v1:Job" || r.name !== "database-users-postgres") return r;
            const job = variant({ type: r.type, name: r.name, props: r.inputs }, (j) => {
                j.props.spec.template.spec.containers[0].resources.requests.memory = "64Mi";
            });
            return { ...r, inputs: job.props };
        });
        assert.deepStrictEqual(await previewFindings(PRODUCTION, skewed), [
            'advisory request-limit-ratio: Job/ultramarket-production/database-users-postgres: container "users" memory limit is 4.0x its request (max 2x); raise the request or lower the limit.',
        ]);
    });
});
