import { strict as assert } from "assert";
import { ExitCode } from "../../../ops/errors";
import {
    deploy,
    interpretVerificationOutput,
    rollback,
    SKIP_CHECKPOINTS_ENV,
    StackOutputVerifier,
    UPDATE_ID_ENV,
} from "../../../ops/operations";
import { FakeCode, FakeStack, FakeVerifier, historyEntry, MemoryIO, PASSED, SHA_NEW, SHA_OLD, UpdateSpec } from "./fakes";

const HISTORY: UpdateSpec[] = [
    { version: 1, imageTag: "1.0.0", commit: SHA_OLD },
    { version: 2, imageTag: "1.1.0", commit: SHA_OLD },
];

function newDeploy() {
    const stack = new FakeStack("production", HISTORY);
    stack.config["ultramarket:imageTag"] = { value: "1.2.0", secret: false };
    return { stack, io: new MemoryIO(), code: new FakeCode(SHA_NEW, { [SHA_OLD]: [], [SHA_NEW]: [] }) };
}

/** Another operator's update, landing in the history while this deploy runs. */
function foreignUpdate(stack: FakeStack, result = "succeeded") {
    const version = Math.max(...stack.history_.map((h) => h.version)) + 1;
    stack.history_.unshift(historyEntry({ version, result, message: "manual pulumi up by someone else", commit: SHA_OLD }));
}

/** The program's report as it will be: the checks' result plus the update id it ran for. */
const echoingProgram = (stack: FakeStack, ...reports: Array<Record<string, unknown>>) => {
    stack.afterUp = (s) =>
        s.outputsQueue.push({
            verification: { value: { ...(reports.shift() ?? { ok: true }), updateId: s.workspace.envVars[UPDATE_ID_ENV] }, secret: false },
        });
};

describe("ops: deploy never undoes another's update", () => {
    it("a lock conflict is reported with its own exit code and rolls nothing back", async () => {
        const { stack, io, code } = newDeploy();
        stack.upScript = ["fail-before-start"];
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]) });
        assert.equal(report.exitCode, ExitCode.Conflict);
        assert.match(
            report.summary.join("\n"),
            /stack "production" is locked by another update that is running now, so this deploy did not start: nothing changed and nothing is rolled back/,
        );
        assert.equal(stack.callsTo("up").length, 1);
        assert.equal(stack.callsTo("setAllConfigJson").length + stack.callsTo("setSecretConfig").length, 0);
    });

    it("recognises the Automation API's ConcurrentUpdateError by name too", async () => {
        const { stack, io, code } = newDeploy();
        stack.up = async () => {
            const err = new Error("code: 255\n stderr: error: [409] Conflict: Another update is currently in progress.");
            err.name = "ConcurrentUpdateError";
            throw err;
        };
        assert.equal((await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]) })).exitCode, ExitCode.Conflict);
    });

    it("an up that failed before recording its own update rolls nothing back, even when someone else's update is newer", async () => {
        const { stack, io, code } = newDeploy();
        const up = stack.up.bind(stack);
        stack.up = async (opts) => {
            foreignUpdate(stack); // version 3, not this deploy's
            return up(opts);
        };
        stack.upScript = ["error-before-start"];
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]) });
        assert.equal(report.exitCode, ExitCode.OperationFailed);
        assert.match(report.summary.join("\n"), /never started \(no update=[0-9a-f]{16} in its history\)/);
        assert.equal(stack.callsTo("up").length, 1, "no rollback update");
    });

    it("when another update landed after this deploy's failed one, the rollback refuses rather than undo it", async () => {
        const { stack, io, code } = newDeploy();
        stack.upScript = ["fail"];
        stack.afterUp = (s) => foreignUpdate(s); // version 4 lands after this deploy's failed version 3
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]) });
        assert.equal(report.exitCode, ExitCode.RollbackFailed);
        assert.equal(report.version, 3);
        assert.match(
            report.rollbackError ?? "",
            /the newest update of stack "production" \(version 4: "manual pulumi up by someone else"\) is not the one this deploy started \(update=[0-9a-f]{16}\): another update ran since/,
        );
        assert.equal(stack.callsTo("up").length, 1);
        assert.equal(stack.callsTo("setAllConfigJson").length, 0);
    });

    it("finds its own update by the nonce in its message, not by being the newest", async () => {
        const { stack, io, code } = newDeploy();
        stack.afterUp = (s) => {
            stack.afterUp = undefined;
            foreignUpdate(s);
        };
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]) });
        assert.equal(report.exitCode, ExitCode.Ok);
        assert.equal(report.version, 3, "version 4 is someone else's");
    });
});

describe("ops: verification belongs to this update", () => {
    it("sets UPDATE_ID_ENV to the deploy's nonce for its up only, and the verifier checks the report against it", async () => {
        const { stack, io, code } = newDeploy();
        echoingProgram(stack, { ok: true, passed: 3, failed: [], checks: [] });
        const report = await deploy({ stack, io, code, verifier: new StackOutputVerifier() });
        assert.equal(report.exitCode, ExitCode.Ok);
        assert.equal(stack.callsTo("up")[0].env?.[UPDATE_ID_ENV], report.updateId);
        assert.equal(report.verification?.status, "passed");
        assert.ok(!(UPDATE_ID_ENV in stack.workspace.envVars), "the variable does not outlive the up");
    });

    it("previews without the engine's per-step checkpoints and ups with them: PULUMI_SKIP_CHECKPOINTS is set for the preview alone", async () => {
        const { stack, io, code } = newDeploy();
        stack.workspace.envVars.PULUMI_PARALLEL = "64";
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]) });
        assert.equal(report.exitCode, ExitCode.Ok);
        assert.equal(stack.callsTo("preview")[0].env?.[SKIP_CHECKPOINTS_ENV], "true");
        assert.ok(!(SKIP_CHECKPOINTS_ENV in (stack.callsTo("up")[0].env ?? {})), "the up checkpoints every step");
        assert.deepEqual(stack.workspace.envVars, { PULUMI_PARALLEL: "64" }, "the workspace's environment is put back as it was");
    });

    it("a report from another update is stale: not a pass, said so, and the update is rolled back", async () => {
        const { stack, io, code } = newDeploy();
        stack.afterUp = (s) => {
            // The first report still carries the previous update's id; the rollback's report is its own.
            const updateId = s.callsTo("up").length === 1 ? "0123456789abcdef" : s.workspace.envVars[UPDATE_ID_ENV];
            s.outputsQueue.push({ verification: { value: { ok: true, checks: [], updateId }, secret: false } });
        };
        const report = await deploy({ stack, io, code, verifier: new StackOutputVerifier() });
        assert.equal(report.verification?.status, "failed");
        assert.match(
            io.text,
            new RegExp(
                `FAILED verification report belongs to another update \\(update 0123456789abcdef, not this update ${report.updateId}\\)`,
            ),
        );
        assert.equal(report.exitCode, ExitCode.RolledBack);
        assert.equal(report.rollback?.verification?.status, "passed");
        assert.notEqual(report.rollback?.updateId, report.updateId);
    });

    it("reads the report's updateId: missing or different is stale; skipped and pending reports stay not-verified", () => {
        assert.equal(
            interpretVerificationOutput({ ok: true, checks: [], updateId: "aaaaaaaaaaaaaaaa" }, "aaaaaaaaaaaaaaaa").status,
            "passed",
        );
        const missing = interpretVerificationOutput({ ok: true, checks: [] }, "aaaaaaaaaaaaaaaa");
        assert.deepEqual([missing.status, missing.stale], ["failed", true]);
        assert.match(
            missing.failures[0],
            /verification report belongs to another update \(an update that recorded no updateId, not this update aaaaaaaaaaaaaaaa\)/,
        );
        assert.equal(interpretVerificationOutput({ ok: false, checks: [], updateId: "bbbbbbbbbbbbbbbb" }, "aaaaaaaaaaaaaaaa").stale, true);
        assert.equal(
            interpretVerificationOutput({ status: "skipped", reason: "ultramarket:verifyDeployment is false" }, "aaaaaaaaaaaaaaaa").status,
            "skipped",
        );
        assert.equal(interpretVerificationOutput({ status: "pending", plan: {} }, "aaaaaaaaaaaaaaaa").status, "skipped");
        assert.equal(interpretVerificationOutput(undefined, "aaaaaaaaaaaaaaaa").status, "skipped");
    });

    it("a manual rollback runs with its own update id and checks its report against it", async () => {
        const stack = new FakeStack("production", HISTORY);
        echoingProgram(stack, { ok: true, checks: [] });
        const report = await rollback({ stack, io: new MemoryIO(), code: new FakeCode(), verifier: new StackOutputVerifier() });
        assert.match(report.updateId ?? "", /^[0-9a-f]{16}$/);
        assert.equal(stack.callsTo("up")[0].env?.[UPDATE_ID_ENV], report.updateId);
        assert.equal(report.verification?.status, "passed");
    });
});

describe("ops: a cancelled deploy stops the engine cleanly", () => {
    it("the signal reaches up; a cancelled update is reported, not rolled back", async () => {
        const { stack, io, code } = newDeploy();
        const controller = new AbortController();
        const up = stack.up.bind(stack);
        stack.up = async (opts) => {
            assert.equal(opts?.signal, controller.signal);
            controller.abort();
            stack.upScript = ["fail"];
            return up(opts);
        };
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]), signal: controller.signal });
        assert.equal(report.exitCode, ExitCode.OperationFailed);
        assert.match(
            report.summary.join("\n"),
            /deploy of stack "production" was interrupted \(SIGINT\/SIGTERM\), and the engine stopped at a safe point: no operation is pending, the lock is released and nothing is rolled back/,
        );
        const methods = stack.calls.map((c) => c.method);
        assert.ok(methods.lastIndexOf("exportStack") > methods.indexOf("up"), "the state was not read back after up to say what was left");
        assert.equal(stack.callsTo("up").length, 1);
        assert.equal(
            stack.callsTo("preview")[0].args[0] && (stack.callsTo("preview")[0].args[0] as { signal?: AbortSignal }).signal,
            controller.signal,
        );
    });
});

describe("ops: an interrupted deploy says exactly what the engine left", () => {
    const interruptedUp = (pending: unknown[]) => {
        const { stack, io, code } = newDeploy();
        const controller = new AbortController();
        const up = stack.up.bind(stack);
        stack.up = async (opts) => {
            controller.abort();
            stack.upScript = ["fail"];
            stack.pendingOperations = pending;
            return up(opts);
        };
        return { run: () => deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]), signal: controller.signal }), stack };
    };

    it("a terminated engine's pending operations are listed, with the command that repairs them", async () => {
        const job = "urn:pulumi:production::ultramarket::ultramarket:index:Platform$kubernetes:batch/v1:Job::auth-service-migrate";
        const { run } = interruptedUp([{ type: "creating", resource: { urn: job, type: "kubernetes:batch/v1:Job" } }]);
        const report = await run();
        assert.equal(report.exitCode, ExitCode.OperationFailed);
        const text = report.summary.join("\n");
        assert.match(
            text,
            /the engine did not stop cleanly .*it left 1 pending operation\(s\): creating kubernetes:batch\/v1:Job auth-service-migrate\./,
        );
        assert.match(text, /The next npm run deploy -- --stack production repairs this first/);
        assert.doesNotMatch(text, /safe point: no operation is pending/);
        assert.equal(report.rollback, undefined, "an interrupted deploy was rolled back");
    });

    it("interrupted during the preview: nothing was changed, and no up ran", async () => {
        const { stack, io, code } = newDeploy();
        const controller = new AbortController();
        stack.preview = async () => {
            controller.abort();
            throw new Error("code: 255\n stderr: error: preview canceled");
        };
        const report = deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]), signal: controller.signal });
        await assert.rejects(
            report,
            /deploy of stack "production" was interrupted \(SIGINT\/SIGTERM\) before its update started: nothing was changed/,
        );
        assert.equal(stack.callsTo("up").length, 0);
    });
});

describe("ops: a preview refused by another update's lock", () => {
    it("is a conflict (exit 9), not an operation failure", async () => {
        const stack = new FakeStack("production", HISTORY);
        stack.preview = async () => {
            throw new Error(
                "code: 255\n stderr: error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.",
            );
        };
        await assert.rejects(
            deploy({ stack, io: new MemoryIO(), code: new FakeCode(), verifier: new FakeVerifier([PASSED]) }),
            (err: unknown) => (err as { exitCode?: number }).exitCode === ExitCode.Conflict,
        );
        assert.equal(stack.callsTo("up").length, 0);
    });
});

describe("ops: a failed up whose history cannot be read", () => {
    it("is not rolled back and not called harmless: exit 7, saying why", async () => {
        const { stack, io, code } = newDeploy();
        stack.upScript = ["fail"];
        const history = stack.history.bind(stack);
        stack.history = async (...args) => {
            if (stack.callsTo("up").length > 0) throw new Error("code: 255\n stderr: error: could not read the backend");
            return history(...args);
        };
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]) });
        assert.equal(report.exitCode, ExitCode.RollbackFailed);
        assert.match(
            report.summary.join("\n"),
            /the stack history could not be read to tell whether this deploy's update \(update=[0-9a-f]{16}\) ran, so nothing is rolled back/,
        );
        assert.equal(stack.callsTo("up").length, 1);
    });
});
