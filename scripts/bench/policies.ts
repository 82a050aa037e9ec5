// The policy pack's share of a preview, without the engine: every policy of the pack run on the program's rendered
// resources the way the pack's unit tests run them (tests/unit/policies/harness.ts), timed.
import { createPolicies } from "../../policies/rules";
import { FakeResource, validateResource, validateStack } from "../../tests/unit/policies/harness";
import { Registration } from "../../tests/unit/support/harness";

export interface PolicyTiming {
    seconds: number;
    /** Resources the pack validated (the custom resources: components are the engine's, not the pack's). */
    resources: number;
    policies: number;
    violations: number;
}

/**
 * Runs every policy on the registrations as if `stack` were a production stack (`productionStacks`), so the
 * production-only rules do their work too, as they would in the production stack's preview.
 */
export async function timePolicyPack(registrations: Registration[], stack: string): Promise<PolicyTiming> {
    const resources: FakeResource[] = registrations
        .filter((r) => r.custom)
        .map((r) => ({ type: r.type, name: r.name, props: r.inputs, opts: { protect: r.protect } }));
    const config = { productionStacks: [stack] };
    const start = process.hrtime.bigint();
    const policies = createPolicies({ stackName: () => stack });
    let violations = 0;
    for (const p of policies) {
        if ("validateStack" in p) {
            violations += (await validateStack(p, resources, config)).violations.length;
        } else {
            for (const r of resources) violations += (await validateResource(p, r, config)).violations.length;
        }
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return { seconds, resources: resources.length, policies: policies.length, violations };
}
