// What a policy needs to know beyond the object itself: which stack it runs in, and the
// per-policy config (read with defaults, since the engine passes only what the operator set).
import * as pulumi from "@pulumi/pulumi";
import type { PolicyConfigSchema, ReportViolation, ResourceValidation, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import { asWorkload, Workload } from "./objects";

export interface PolicyContext {
    /**
     * The name of the stack under preview. In a real run this is `pulumi.getStack()`: the CLI
     * (v3.248 language host) passes the stack to the policy-pack process as PULUMI_NODEJS_STACK.
     * @pulumi/policy 1.21.0 exposes only `stackTags` on the args, and those hold the stack's
     * tags, not its name, so production is decided by name.
     */
    stackName(): string;
}

export const defaultContext: PolicyContext = { stackName: () => pulumi.getStack() };

/** The stack name of the Pulumi program's production stack (Pulumi.production.yaml). */
export const DEFAULT_PRODUCTION_STACKS = ["production"];

export interface ProductionScopedConfig {
    /** Stacks on which the production-only rule applies. */
    productionStacks?: string[];
}

export const productionStacksSchema: PolicyConfigSchema["properties"] = {
    productionStacks: {
        type: "array",
        items: { type: "string" },
        default: DEFAULT_PRODUCTION_STACKS,
        description: "Stack names treated as production (the rule is not applicable on other stacks).",
    },
};

type ConfigArgs = Pick<ResourceValidationArgs, "getConfig" | "notApplicable"> | Pick<StackValidationArgs, "getConfig" | "notApplicable">;

/** Marks the policy not applicable unless the current stack is a production stack. */
export function requireProductionStack(args: ConfigArgs, ctx: PolicyContext): void {
    const stacks = args.getConfig<ProductionScopedConfig>().productionStacks ?? DEFAULT_PRODUCTION_STACKS;
    const stack = ctx.stackName();
    if (!stacks.includes(stack)) {
        args.notApplicable(`stack "${stack}" is not a production stack (${stacks.join(", ")})`);
    }
}

/** A resource validation that runs `check` on every resource that runs pods. */
export function validateWorkload(
    check: (w: Workload, args: ResourceValidationArgs, report: ReportViolation) => void,
    opts: { longRunningOnly?: boolean } = {},
): ResourceValidation {
    return (args, report) => {
        const w = asWorkload(args);
        if (!w) {
            return args.notApplicable("not a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, Job, CronJob)");
        }
        if (opts.longRunningOnly && !w.longRunning) {
            return args.notApplicable(`${w.kind} runs to completion`);
        }
        check(w, args, report);
    };
}
