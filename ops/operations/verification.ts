// The program's post-deployment verification report, read from the stack output and judged for this update.
import { OpsStack, VERIFICATION_OUTPUT } from "../types";
import { isObject, scalarText, tryJson } from "./util";

/** What deploy makes of the program's verification output (components/verification/checks.ts' report, read from the stack). */
export interface VerificationVerdict {
    status: "passed" | "failed" | "skipped";
    summary: string;
    /** What failed, one line each. */
    failures: string[];
    /** The report was produced by another update than the one checked (a failure: this update is not verified). */
    stale?: boolean;
}

/** Post-deployment verification, run by deploy after `up`. */
export interface Verifier {
    /** `updateId`: the nonce of the update just run; a report that does not carry it belongs to another update. */
    verify(stack: OpsStack, updateId?: string): Promise<VerificationVerdict>;
}

/** Reads the program's `verification` stack output (the report its in-graph checks produce). */
export class StackOutputVerifier implements Verifier {
    async verify(stack: OpsStack, updateId?: string): Promise<VerificationVerdict> {
        const outputs = await stack.outputs();
        return interpretVerificationOutput(outputs[VERIFICATION_OUTPUT]?.value, updateId);
    }
}

/**
 * Accepts the program's report (components/verification/checks.ts: `{ok, passed: <count>, failed: [names], checks: [{name,
 * ok, detail}]}`, or `{status: "skipped"|"pending"}`), and generally `{passed|ok|success: boolean}` or
 * `{status: "passed"|"failed"|...}` with optional `checks: [{name, passed|ok|status, detail|message}]` or
 * `failures: string[]`. Missing or unknown shapes are "skipped" (with a warning in the summary), so a program
 * without verification never triggers a rollback. With `expectedUpdateId`, a report whose `updateId` (the
 * UPDATE_ID_ENV of the update that ran the checks) is missing or different is stale: it says nothing about this
 * update, so it is a failure, never a pass.
 */
export function interpretVerificationOutput(value: unknown, expectedUpdateId?: string): VerificationVerdict {
    if (value === undefined || value === null) {
        return {
            status: "skipped",
            summary: `the stack exports no "${VERIFICATION_OUTPUT}" output; post-deployment verification did not run`,
            failures: [],
        };
    }
    const report = (typeof value === "string" ? tryJson(value) : value) as Record<string, unknown> | undefined;
    if (!isObject(report))
        return {
            status: "skipped",
            summary: `the "${VERIFICATION_OUTPUT}" output is not a report object; treated as not verified`,
            failures: [],
        };

    const checks = Array.isArray(report.checks)
        ? (report.checks as unknown[]).filter(isObject).map((c) => c as Record<string, unknown>)
        : [];
    const failedChecks = checks
        .filter((c) => passedFlag(c) === false)
        .map((c) => `${scalarText(c.name, "check")}: ${scalarText(c.detail ?? c.message, "failed")}`);
    const listed = Array.isArray(report.failures) ? (report.failures as unknown[]).map(String) : [];
    const failures = [...failedChecks, ...listed];
    const overall = passedFlag(report);
    if (overall === undefined && typeof report.status === "string" && checks.length === 0) {
        // The program says it did not verify (e.g. {status: "skipped", reason}, or "pending" before the check ran).
        return {
            status: "skipped",
            summary: `verification ${report.status}${typeof report.reason === "string" ? `: ${report.reason}` : ""}`,
            failures: [],
        };
    }
    if (overall === undefined && checks.length === 0 && listed.length === 0) {
        return {
            status: "skipped",
            summary: `the "${VERIFICATION_OUTPUT}" output has no passed/status field; treated as not verified`,
            failures: [],
        };
    }
    if (expectedUpdateId !== undefined && report.updateId !== expectedUpdateId) {
        const owner =
            typeof report.updateId === "string" && report.updateId !== ""
                ? `update ${report.updateId}`
                : "an update that recorded no updateId";
        const failure = `verification report belongs to another update (${owner}, not this update ${expectedUpdateId}): the checks did not run for this update`;
        return { status: "failed", stale: true, summary: "verification failed: the report is stale", failures: [failure] };
    }
    const passed = overall ?? failures.length === 0;
    const total = checks.length ? ` (${checks.length - failedChecks.length}/${checks.length} checks passed)` : "";
    return passed && failures.length === 0
        ? { status: "passed", summary: `verification passed${total}`, failures: [] }
        : {
              status: "failed",
              summary: `verification failed${total}`,
              failures: failures.length ? failures : ["the report says it failed without naming a check"],
          };
}

function passedFlag(o: Record<string, unknown>): boolean | undefined {
    for (const key of ["passed", "ok", "success"]) if (typeof o[key] === "boolean") return o[key];
    if (typeof o.status === "string") {
        const s = o.status.toLowerCase();
        if (["passed", "pass", "ok", "success", "succeeded"].includes(s)) return true;
        if (["failed", "fail", "error", "failure"].includes(s)) return false;
    }
    return undefined;
}
