import { strict as assert } from "assert";
import { summarize } from "../../../components/verification/checks";
import { ExitCode } from "../../../ops/errors";
import { deploy, interpretVerificationOutput, StackOutputVerifier, UPDATE_ID_ENV, updateMessage } from "../../../ops/operations";
import { FAILED, FakeCode, FakeStack, FakeVerifier, MemoryIO, PASSED, SHA_NEW, SHA_OLD, UpdateSpec } from "./fakes";

// v1 and v2 were good; this deploy bumps the image tag to 1.2.0 from commit SHA_NEW.
const HISTORY: UpdateSpec[] = [
    { version: 1, imageTag: "1.0.0", commit: SHA_OLD },
    { version: 2, imageTag: "1.1.0", commit: SHA_OLD, serviceImageTags: { "cart-service": "1.1.1" } },
];

function newDeploy(history = HISTORY) {
    const stack = new FakeStack("production", history);
    stack.config["ultramarket:imageTag"] = { value: "1.2.0", secret: false };
    return { stack, io: new MemoryIO(), code: new FakeCode(SHA_NEW, { [SHA_OLD]: ["docs/operations.md"], [SHA_NEW]: [] }) };
}

describe("ops: deploy", () => {
    it("previews, updates and verifies; a passing verification changes nothing else", async () => {
        const { stack, io, code } = newDeploy();
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]), policyPacks: ["/repo/policies"] });
        assert.equal(report.exitCode, ExitCode.Ok);
        assert.deepEqual(
            stack.calls.map((c) => c.method).filter((m) => m !== "history"),
            ["exportStack", "preview", "up"],
        );
        assert.deepEqual((stack.callsTo("preview")[0].args[0] as { policyPacks: string[] }).policyPacks, ["/repo/policies"]);
        assert.match(report.updateId, /^[0-9a-f]{16}$/);
        assert.equal(
            (stack.callsTo("up")[0].args[0] as { message: string }).message,
            updateMessage("deploy", SHA_NEW, { updateId: report.updateId }),
        );
        assert.equal(
            (stack.callsTo("up")[0].args[0] as { message: string }).message,
            `ops deploy commit=${SHA_NEW} update=${report.updateId}`,
        );
        assert.equal(report.version, 3);
        assert.equal(stack.callsTo("setAllConfigJson").length, 0);
    });

    it("streams Pulumi's progress as it happens", async () => {
        const { stack, io, code } = newDeploy();
        await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]) });
        assert.match(io.streamed, /Previewing update \(fake\)\nUpdating \(fake\)/);
    });

    it("when verification fails, restores the last good version's config, runs up again and reports both", async () => {
        const { stack, io, code } = newDeploy();
        const verifier = new FakeVerifier([FAILED, PASSED]);
        const report = await deploy({ stack, io, code, verifier });
        assert.equal(report.exitCode, ExitCode.RolledBack);
        assert.equal(report.verification?.status, "failed");
        assert.deepEqual([report.rollback?.from, report.rollback?.to, report.rollback?.version], [3, 2, 4]);
        assert.equal(stack.config["ultramarket:imageTag"].value, "1.1.0");
        assert.equal(stack.config["ultramarket:serviceImageTags"].value, '{"cart-service":"1.1.1"}');
        const ups = stack.callsTo("up").map((c) => (c.args[0] as { message: string }).message);
        assert.equal(ups.length, 2);
        // The rollback ran version 2's program: its commit is the one recorded.
        assert.match(
            ups[1],
            /^ops rollback to=v2 from=v3 commit=1{40} update=[0-9a-f]{16} \(automatic: verification of version 3 failed\)$/,
        );
        assert.deepEqual(code.checkouts, [{ commit: SHA_OLD, dir: "/tmp/fake-worktree-1", removed: true }]);
        assert.equal(verifier.calls, 2);
        const summary = report.summary.join("\n");
        assert.match(
            summary,
            /verification of version 3 failed; rolled back stack "production" to version 2 \(new version 4\); verification passed/,
        );
        assert.match(
            summary,
            /the cluster runs version 2 again \(program of commit 111111111111, its config and images\).*revert the change on main/,
        );
        assert.match(io.text, /FAILED gateway \/health: 503/);
    });

    it("rolls back on a self-managed backend too, where Pulumi records no version numbers", async () => {
        const { stack, io, code } = newDeploy();
        stack.diy = true;
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([FAILED, PASSED]) });
        assert.equal(report.exitCode, ExitCode.RolledBack);
        assert.equal(report.version, 3);
        assert.deepEqual([report.rollback?.from, report.rollback?.to, report.rollback?.version], [3, 2, 4]);
        assert.equal(stack.config["ultramarket:imageTag"].value, "1.1.0");
    });

    it("when up itself fails, rolls back the same way", async () => {
        const { stack, io, code } = newDeploy();
        stack.upScript = ["fail", "ok"];
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]) });
        assert.equal(report.exitCode, ExitCode.RolledBack);
        assert.match(report.upError ?? "", /stack "production": up failed\.[\s\S]*cart-service failed to become ready/);
        assert.deepEqual([report.rollback?.from, report.rollback?.to], [3, 2]);
        assert.equal(stack.config["ultramarket:imageTag"].value, "1.1.0");
    });

    it("does not roll back when the update never started (nothing changed)", async () => {
        const { stack, io, code } = newDeploy();
        stack.upScript = ["error-before-start"];
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([PASSED]) });
        assert.equal(report.exitCode, ExitCode.OperationFailed);
        assert.equal(stack.callsTo("up").length, 1);
        assert.equal(stack.callsTo("setAllConfigJson").length, 0);
        assert.match(
            report.summary.join("\n"),
            new RegExp(`never started \\(no update=${report.updateId} in its history\\), so nothing changed and nothing is rolled back`),
        );
        assert.match(report.upError ?? "", /Missing required configuration variable 'ultramarket:imageTag'/);
    });

    it("reports a failed deploy it could not roll back: the first deploy has no earlier version", async () => {
        const { stack, io, code } = newDeploy([]);
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([FAILED]) });
        assert.equal(report.exitCode, ExitCode.RollbackFailed);
        assert.match(
            report.summary.join("\n"),
            /automatic rollback did not happen: stack "production" has no successful update before version 1/,
        );
        assert.equal(stack.callsTo("up").length, 1);
    });

    it("rolls back across a program change: deploys the last good version's commit from a worktree", async () => {
        const { stack, io } = newDeploy();
        const code = new FakeCode(SHA_NEW, { [SHA_OLD]: ["components/apps/microservice.ts"], [SHA_NEW]: [] });
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([FAILED, PASSED]) });
        assert.equal(report.exitCode, ExitCode.RolledBack);
        assert.deepEqual(
            code.checkouts.map((c) => [c.commit, c.removed]),
            [[SHA_OLD, true]],
        );
        assert.equal(stack.callsTo("up").length, 2);
    });

    it("refuses the automatic rollback when the last good version's commit is missing, naming it", async () => {
        const { stack, io } = newDeploy();
        const code = new FakeCode(SHA_NEW, { [SHA_NEW]: [] });
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([FAILED]) });
        assert.equal(report.exitCode, ExitCode.RollbackFailed);
        assert.match(
            report.rollbackError ?? "",
            new RegExp(
                `commit ${SHA_OLD}, which this repository does not have.*git fetch origin ${SHA_OLD}.*npm run rollback -- --stack production --to 2`,
            ),
        );
        assert.equal(stack.callsTo("up").length, 1);
    });

    it("exits 7 when the rolled-back version does not verify either", async () => {
        const { stack, io, code } = newDeploy();
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([FAILED, FAILED]) });
        assert.equal(report.exitCode, ExitCode.RollbackFailed);
        assert.match(report.summary.join("\n"), /does not verify either/);
    });

    it("with automatic rollback off, leaves the stack and says how to roll back", async () => {
        const { stack, io, code } = newDeploy();
        const report = await deploy({ stack, io, code, verifier: new FakeVerifier([FAILED]), autoRollback: false });
        assert.equal(report.exitCode, ExitCode.RollbackFailed);
        assert.equal(stack.callsTo("up").length, 1);
        assert.match(report.summary.join("\n"), /npm run rollback -- --stack production/);
    });

    it("a deploy without a verification report succeeds but says it is not verified", async () => {
        const { stack, io, code } = newDeploy();
        const report = await deploy({ stack, io, code, verifier: new StackOutputVerifier() });
        assert.equal(report.exitCode, ExitCode.Ok);
        assert.equal(report.verification?.status, "skipped");
        assert.match(report.summary.join("\n"), /deployed but NOT verified/);
    });

    it("the default verifier reads the stack's verification output", async () => {
        const { stack, io, code } = newDeploy();
        // The program echoes the update id it ran with (UPDATE_ID_ENV) in its report.
        const reports = [{ passed: false, checks: [{ name: "tls", passed: false, detail: "certificate expired" }] }, { passed: true }];
        stack.afterUp = (s) =>
            s.outputsQueue.push({
                verification: { value: { ...reports.shift(), updateId: s.workspace.envVars[UPDATE_ID_ENV] }, secret: false },
            });
        const report = await deploy({ stack, io, code, verifier: new StackOutputVerifier() });
        assert.equal(report.exitCode, ExitCode.RolledBack);
        assert.deepEqual(report.verification?.failures, ["tls: certificate expired"]);
        assert.equal(report.rollback?.verification?.status, "passed");
    });
});

describe("ops: reading the verification report", () => {
    it("passes when the report says so, with a check count", () => {
        assert.deepEqual(
            interpretVerificationOutput({
                passed: true,
                checks: [
                    { name: "a", passed: true },
                    { name: "b", ok: true },
                ],
            }),
            { status: "passed", summary: "verification passed (2/2 checks passed)", failures: [] },
        );
        assert.equal(interpretVerificationOutput({ status: "succeeded" }).status, "passed");
        assert.equal(interpretVerificationOutput(JSON.stringify({ ok: true })).status, "passed");
    });

    it("fails naming each failed check, also when only the checks say so", () => {
        const r = interpretVerificationOutput({
            checks: [
                { name: "gateway /health", status: "failed", message: "503" },
                { name: "migrations", passed: true },
            ],
        });
        assert.equal(r.status, "failed");
        assert.deepEqual(r.failures, ["gateway /health: 503"]);
        assert.deepEqual(interpretVerificationOutput({ status: "failed", failures: ["rate limit: no 429"] }).failures, [
            "rate limit: no 429",
        ]);
        assert.equal(interpretVerificationOutput({ passed: false }).status, "failed");
    });

    it("reads the report the program exports (components/verification/checks.ts summarize, plus its plan)", () => {
        const checks = [
            { name: "health: api-gateway", category: "health" as const, ok: true, detail: "200 in 12 ms" },
            { name: "tls: api.ultramarket.uz", category: "tls" as const, ok: false, detail: "certificate expires in 3 days" },
        ];
        const failed = interpretVerificationOutput({ ...summarize(checks), plan: { hosts: {} } });
        assert.equal(failed.status, "failed");
        assert.deepEqual(failed.failures, ["tls: api.ultramarket.uz: certificate expires in 3 days"]);
        assert.equal(failed.summary, "verification failed (1/2 checks passed)");
        assert.equal(interpretVerificationOutput({ ...summarize([checks[0]]), plan: {} }).status, "passed");
        assert.deepEqual(interpretVerificationOutput({ status: "skipped", reason: "ultramarket:verifyDeployment is false" }), {
            status: "skipped",
            summary: "verification skipped: ultramarket:verifyDeployment is false",
            failures: [],
        });
        assert.equal(interpretVerificationOutput({ status: "pending", plan: {} }).status, "skipped");
    });

    it("treats a missing or unreadable report as not verified, never as a failure", () => {
        assert.equal(interpretVerificationOutput(undefined).status, "skipped");
        assert.equal(interpretVerificationOutput("not json").status, "skipped");
        assert.equal(interpretVerificationOutput({ something: 1 }).status, "skipped");
    });
});
