import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

export type LoadTestProfile = "smoke" | "load" | "stress" | "endurance";

/** The runbook's phase 4.3 scripts; "smoke" is the load test at a few requests per second. */
export const LOAD_TEST_SCRIPTS: Record<LoadTestProfile, { script: string; env: Record<string, string> }> = {
    smoke: { script: "tests/performance/load-test.js", env: { PROFILE: "smoke" } },
    load: { script: "tests/performance/load-test.js", env: {} },
    stress: { script: "tests/performance/stress-test.js", env: {} },
    endurance: { script: "tests/performance/endurance-test.js", env: {} },
};

/** The shell command for a profile: k6 must be installed on the machine running `pulumi up`. */
export function loadTestCommand(profile: LoadTestProfile, baseUrl: string): string {
    const { script, env } = LOAD_TEST_SCRIPTS[profile];
    const envArgs = Object.entries({ BASE_URL: baseUrl, ...env })
        .map(([k, v]) => `--env ${k}=${v}`)
        .join(" ");
    const missing = `ultramarket:loadTest is "${profile}" but k6 is not installed on this machine; install k6 (https://grafana.com/docs/k6/latest/set-up/install-k6/) or turn the step off with: pulumi config set loadTest off`;
    // k6 exits 99 when a threshold (a success criterion) fails, which fails the update.
    return `command -v k6 >/dev/null 2>&1 || { echo '${missing}' >&2; exit 127; }; k6 run --quiet ${envArgs} ${script}`;
}

export interface PerformanceTestArgs {
    profile: LoadTestProfile;
    /** The gateway's public URL, as the runbook's `--env BASE_URL=https://api.<domain>`. */
    baseUrl: string;
    /** Runs after these (the verification): no load on a deployment that is not healthy. */
    dependsOn: pulumi.Resource[];
    /** Changes whenever the deployment does: the test runs again then. */
    trigger: pulumi.Input<string>;
}

/** A k6 run as a post-deploy step; a failed threshold fails the update. */
export class PerformanceTest extends pulumi.ComponentResource {
    public readonly command: command.local.Command;

    constructor(name: string, args: PerformanceTestArgs, opts?: pulumi.ComponentResourceOptions) {
        super("ultramarket:verification:PerformanceTest", name, {}, opts);
        this.command = new command.local.Command(
            `k6-${args.profile}`,
            { create: loadTestCommand(args.profile, args.baseUrl), triggers: [args.trigger], logging: "stdoutAndStderr" },
            { parent: this, dependsOn: args.dependsOn },
        );
        this.registerOutputs({});
    }
}
