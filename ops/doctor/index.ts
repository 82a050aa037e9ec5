// `doctor`: the runbook's phase 1.1 checks, each failure printed with how to fix it.
// Runs without the Pulumi CLI or a passphrase: it reads Pulumi.<stack>.yaml itself and validates it with the
// program's own parseConfig (config/parse.ts), so doctor and `pulumi up` agree on what is missing.
import {
    checkBackend,
    checkDocker,
    checkGatewayCrds,
    checkKubernetes,
    checkNode,
    checkPolicyPack,
    checkPrometheusCrds,
    checkPulumiCli,
    checkStackConfig,
} from "./checks";
import { checkLocalNode } from "./local-node";
import { checkFileUploadsClass } from "./storage";

import { Check, DoctorInput, realHost } from "./types";

export { readStackConfigFile } from "./stack-config";
export { compareVersions, withStack } from "./checks";
export { processProbe, realHost } from "./types";
export type { Check, DoctorInput, DoctorProbe, HostFiles, ProbeResult } from "./types";

/**
 * The runbook's phase 1.1 checks, one named step each (checks.ts), in the order they print; the local stack also
 * gets its real node's prerequisites (local-node.ts).
 */
export async function runDoctor(input: DoctorInput): Promise<Check[]> {
    const checks: Check[] = [];
    checks.push(checkNode(input));
    checks.push(await checkPulumiCli(input));
    checks.push(checkBackend(input));
    const stack = checkStackConfig(input);
    checks.push(...stack.checks);
    const cluster = await checkKubernetes(input, stack);
    checks.push(...cluster.checks);
    checks.push(...(await checkFileUploadsClass(input, stack, cluster)));
    if (stack.build) checks.push(await checkDocker(input));
    if (stack.prometheusOperator && !stack.installsMonitoring) checks.push(await checkPrometheusCrds(input, cluster));
    if (stack.gatewayEdge && !stack.installsGateway) checks.push(await checkGatewayCrds(input, cluster));
    checks.push(...checkPolicyPack(input));
    checks.push(...(await checkLocalNode(input, input.host ?? realHost)));
    return checks;
}

export function formatChecks(stackName: string, checks: readonly Check[]): string[] {
    const lines = [`doctor: stack "${stackName}"`];
    for (const c of checks) {
        const tag = c.ok ? (c.warning ? "WARN" : "ok  ") : "FAIL";
        lines.push(`  ${tag}  ${c.name}: ${c.detail}`);
        if ((!c.ok || c.warning) && c.fix) lines.push(`        fix: ${c.fix}`);
    }
    const failed = checks.filter((c) => !c.ok).length;
    lines.push(failed ? `${failed} problem(s) found.` : "all checks passed.");
    return lines;
}
