// The UltraMarket policy list. Tests import this module; only index.ts wraps it in a PolicyPack
// (constructing a PolicyPack starts the analyzer's gRPC server).
import type { EnforcementLevel, Policies } from "@pulumi/policy";
import { defaultContext, PolicyContext } from "./lib/context";
import { edgePolicies } from "./edge";
import { networkPolicies } from "./network";
import { podSecurityPolicies } from "./pod-security";
import { productionPolicies } from "./production";
import { secretPolicies } from "./secrets";
import { workloadPolicies } from "./workloads";

export { PolicyContext } from "./lib/context";

export const POLICY_PACK_NAME = "ultramarket";

/** Every policy of the pack, with its default enforcement level (overridable via policy config). */
export function createPolicies(ctx: PolicyContext = defaultContext): Policies {
    return [
        ...podSecurityPolicies,
        ...workloadPolicies,
        ...secretPolicies,
        ...networkPolicies(ctx),
        ...edgePolicies(ctx),
        ...productionPolicies(ctx),
    ];
}

/** Names of the policies whose default level is `level`. */
export function policyNames(level?: EnforcementLevel): string[] {
    return createPolicies({ stackName: () => "" })
        .filter((p) => level === undefined || p.enforcementLevel === level)
        .map((p) => p.name);
}
