// The whole production stack, evaluated on the mock monitor, against every policy of the pack.
import * as assert from "assert";
import type { Policies } from "@pulumi/policy";
import { createPolicies } from "../../../policies/rules";
import { Registration } from "../support/harness";
import { evaluateProduction } from "../support/platform";
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
