import { strict as assert } from "assert";
import { ExitCode, OpsError } from "../../../ops/errors";
import { assertCodeMatches, chooseRollbackTarget, isProgramFile, parseHistory, planConfigRestore, redact, rollback, UPDATE_ID_ENV, updateMessage } from "../../../ops/operations";
import { FakeCode, FakeStack, FakeVerifier, MemoryIO, PASSED, SHA_NEW, SHA_OLD, UpdateSpec, historyEntry } from "./fakes";

const records = (specs: UpdateSpec[]) => parseHistory(specs.map(historyEntry));

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<OpsError> {
    try {
        await (typeof p === "function" ? p() : p);
    } catch (err) {
        assert.ok(err instanceof OpsError, `expected OpsError, got ${String(err)}`);
        return err;
    }
    assert.fail("expected a refusal");
}

describe("ops: choosing the rollback target", () => {
    it("defaults to the newest successful update before the current one", () => {
        const choice = chooseRollbackTarget("production", records([{ version: 1 }, { version: 2 }, { version: 3, kind: "refresh" }, { version: 4 }]));
        assert.equal(choice.current.version, 4);
        assert.equal(choice.target.version, 2);
    });

    it("when the current update failed, goes back to the newest successful one", () => {
        const choice = chooseRollbackTarget("production", records([{ version: 1 }, { version: 2 }, { version: 3, result: "failed" }]));
        assert.equal(choice.current.version, 3);
        assert.equal(choice.target.version, 2);
    });

    it("skips versions a later rollback undid, and goes below the version a current rollback restored", () => {
        const history = records([
            { version: 1 },
            { version: 2 },
            { version: 3 },
            { version: 4, message: updateMessage("rollback", SHA_NEW, { to: 2, from: 3 }) },
        ]);
        // v4 restored v2 (undoing v3): the next rollback goes to v1, never back to the bad v3.
        assert.equal(chooseRollbackTarget("production", history).target.version, 1);
        const afterNewDeploy = records([
            { version: 1 },
            { version: 2 },
            { version: 3 },
            { version: 4, message: updateMessage("rollback", SHA_NEW, { to: 2, from: 3 }) },
            { version: 5 },
        ]);
        assert.equal(chooseRollbackTarget("production", afterNewDeploy).target.version, 4);
    });

    it("--to picks exactly that version", () => {
        assert.equal(chooseRollbackTarget("production", records([{ version: 1 }, { version: 2 }, { version: 3 }]), 1).target.version, 1);
    });

    it("refuses a version the stack does not have, listing the successful ones", async () => {
        const err = await refusal(() => chooseRollbackTarget("production", records([{ version: 1 }, { version: 2, result: "failed" }, { version: 3 }]), 9));
        assert.equal(err.exitCode, ExitCode.Refused);
        assert.match(err.message, /stack "production" has no version 9 \(successful updates: 3, 1\)/);
    });

    it("refuses a failed update, a refresh, and the current version", async () => {
        const history = records([{ version: 1 }, { version: 2, result: "failed" }, { version: 3, kind: "refresh" }, { version: 4 }]);
        assert.match((await refusal(() => chooseRollbackTarget("production", history, 2))).message, /version 2 .* is an update that failed/);
        assert.match((await refusal(() => chooseRollbackTarget("production", history, 3))).message, /version 3 .* is a refresh, not an update/);
        assert.match((await refusal(() => chooseRollbackTarget("production", history, 4))).message, /already the current version/);
    });

    it("refuses when there is nothing earlier to go back to", async () => {
        assert.match((await refusal(() => chooseRollbackTarget("local", []))).message, /stack "local" has no updates/);
        assert.match((await refusal(() => chooseRollbackTarget("local", records([{ version: 1 }])))).message, /no successful update before version 1/);
    });
});

describe("ops: can config alone restore that version?", () => {
    const target = records([{ version: 5, commit: SHA_OLD }])[0];

    it("yes, when only docs, tests, tooling or stack config files changed since its commit", async () => {
        const code = new FakeCode(SHA_NEW, { [SHA_OLD]: ["docs/operations.md", "tests/unit/ops/x.test.ts", "ops/cli.ts", "Pulumi.production.yaml", ".github/workflows/pulumi-up.yml", "README.md"] });
        assert.deepEqual(await assertCodeMatches("production", target, code), []);
    });

    it("no, when program files changed: names the commit to check out", async () => {
        const code = new FakeCode(SHA_NEW, { [SHA_OLD]: ["components/microservice.ts", "docs/x.md", "package-lock.json"] });
        const err = await refusal(assertCodeMatches("production", target, code));
        assert.equal(err.exitCode, ExitCode.Refused);
        assert.match(err.message, /program changed since commit 1{40} \(components\/microservice\.ts, package-lock\.json\)/);
        assert.match(err.message, new RegExp(`git checkout ${SHA_OLD} && npm ci && npm run rollback -- --stack production --to 5`));
    });

    it("no, when this clone lacks the commit, or none was recorded", async () => {
        assert.match((await refusal(assertCodeMatches("production", target, new FakeCode(SHA_NEW, {})))).message, new RegExp(`git fetch origin ${SHA_OLD}`));
        const unrecorded = records([{ version: 5, message: "manual up" }])[0];
        assert.match((await refusal(assertCodeMatches("production", unrecorded, new FakeCode()))).message, /recorded no git commit.*--force/);
    });

    it("program files are everything but docs, tests, ops tooling, CI, policies and stack config", () => {
        for (const f of ["index.ts", "config.ts", "components/catalog.ts", "package.json", "Pulumi.yaml"]) assert.ok(isProgramFile(f), f);
        for (const f of ["docs/a.md", "tests/unit/x.ts", "ops/cli.ts", ".github/workflows/a.yml", "policies/index.ts", "Pulumi.local.yaml", "README.md"]) assert.ok(!isProgramFile(f), f);
    });
});

describe("ops: restoring a version's config", () => {
    const target = records([{ version: 2, imageTag: "1.0.0", commit: SHA_OLD, config: { "ultramarket:kubeconfig": { value: "/old/kubeconfig", secret: false } } }])[0];

    it("sets the version's values, removes keys added since, and keeps where the cluster is", () => {
        const current = {
            "ultramarket:imageTag": { value: "1.1.0", secret: false },
            "ultramarket:namespace": { value: "ultramarket-production", secret: false },
            "ultramarket:clickSecretKey": { value: "rotated-secret", secret: true },
            "ultramarket:serviceImageTags": { value: '{"cart-service":"1.1.1"}', secret: false },
            "ultramarket:kubeconfig": { value: "/ci/kubeconfig", secret: false },
        };
        const plan = planConfigRestore("production", target, current);
        assert.deepEqual(plan.set["ultramarket:imageTag"], { value: "1.0.0", secret: false });
        // A changed secret is written on its own (on stdin), never in the set-all JSON that goes on a command line.
        assert.ok(!("ultramarket:clickSecretKey" in plan.set));
        assert.deepEqual(plan.secretWrites, { "ultramarket:clickSecretKey": "click-secret-of-v2" });
        assert.ok(!("ultramarket:kubeconfig" in plan.set));
        assert.deepEqual(plan.remove, ["ultramarket:serviceImageTags"]);
        assert.ok(plan.changes.includes('ultramarket:imageTag: "1.1.0" -> "1.0.0"'));
        assert.ok(plan.changes.includes("ultramarket:clickSecretKey: [secret] changed"));
        assert.ok(!plan.changes.join("\n").includes("secret-of-v2") && !plan.changes.join("\n").includes("rotated-secret"));
        assert.deepEqual(plan.secretValues, ["click-secret-of-v2"]);
    });

    it("refuses when a recorded secret cannot be decrypted", async () => {
        const bad = records([{ version: 2, config: { "ultramarket:jwtSecret": { value: "ERROR_UNABLE_TO_DECRYPT", secret: true } } }])[0];
        assert.match((await refusal(() => planConfigRestore("production", bad, {}))).message, /cannot read the secret ultramarket:jwtSecret recorded in version 2.*PULUMI_CONFIG_PASSPHRASE/);
    });

    it("redacts secret values from error text", () => {
        assert.equal(redact("pulumi config set-all --secret k=abc123 --plaintext x=1", ["abc123"]), "pulumi config set-all --secret k=[secret] --plaintext x=1");
    });
});

describe("ops: rollback command", () => {
    const history: UpdateSpec[] = [
        { version: 1, imageTag: "1.0.0", commit: SHA_OLD },
        { version: 2, imageTag: "1.1.0", commit: SHA_NEW },
    ];

    it("restores the last good version's config, runs up with a rollback message and verifies", async () => {
        const stack = new FakeStack("production", history);
        const verifier = new FakeVerifier([PASSED]);
        const report = await rollback({ stack, io: new MemoryIO(), code: new FakeCode(), verifier });
        assert.deepEqual([report.from, report.to], [2, 1]);
        const written = JSON.parse(stack.callsTo("setAllConfigJson")[0].args[0] as string);
        assert.equal(written["ultramarket:imageTag"].value, "1.0.0");
        assert.equal(stack.config["ultramarket:imageTag"].value, "1.0.0");
        const up = stack.callsTo("up")[0].args[0] as { message: string };
        assert.match(up.message, new RegExp(`^ops rollback to=v1 from=v2 commit=${SHA_NEW} update=${report.updateId}`));
        assert.equal(stack.callsTo("up")[0].env?.[UPDATE_ID_ENV], report.updateId);
        assert.equal(verifier.calls, 1);
        assert.equal(report.version, 3);
    });

    it("--dry-run prints the plan and changes nothing", async () => {
        const stack = new FakeStack("production", history);
        const io = new MemoryIO();
        await rollback({ stack, io, code: new FakeCode(), verifier: new FakeVerifier([PASSED]), dryRun: true });
        assert.equal(stack.callsTo("setAllConfigJson").length + stack.callsTo("up").length, 0);
        assert.match(io.text, /ultramarket:imageTag: "1\.1\.0" -> "1\.0\.0"/);
        assert.match(io.text, /dry run, nothing changed/);
    });

    it("refuses before touching the stack when the program changed", async () => {
        const stack = new FakeStack("production", history);
        const err = await refusal(rollback({ stack, io: new MemoryIO(), code: new FakeCode(SHA_NEW, { [SHA_OLD]: ["index.ts"] }), verifier: new FakeVerifier([PASSED]) }));
        assert.equal(err.exitCode, ExitCode.Refused);
        assert.equal(stack.callsTo("setAllConfigJson").length + stack.callsTo("up").length, 0);
    });

    it("--force skips the code check and says so", async () => {
        const stack = new FakeStack("production", history);
        const io = new MemoryIO();
        await rollback({ stack, io, code: new FakeCode(SHA_NEW, { [SHA_OLD]: ["index.ts"] }), verifier: new FakeVerifier([PASSED]), force: true });
        assert.equal(stack.callsTo("up").length, 1);
        assert.match(io.text, /--force: not checking that the program matches commit 1{40}/);
    });

    it("when up fails after the config was restored, says so and how to retry or undo", async () => {
        const stack = new FakeStack("production", history);
        stack.upScript = ["fail"];
        const err = await refusal(rollback({ stack, io: new MemoryIO(), code: new FakeCode(), verifier: new FakeVerifier([PASSED]) }));
        assert.equal(err.exitCode, ExitCode.OperationFailed);
        assert.match(err.message, /stack "production": up \(rollback\) failed/);
        assert.match(err.message, /Pulumi\.production\.yaml already holds version 1's config: .*npm run rollback -- --stack production --to 1.*git checkout -- Pulumi\.production\.yaml/s);
    });

    it("a secret in a failing config write never reaches the error message", async () => {
        const stack = new FakeStack("production", history);
        stack.setAllConfigJson = async (json: string) => {
            throw new Error(`Command failed: pulumi config set-all --json ${json}`);
        };
        const err = await refusal(rollback({ stack, io: new MemoryIO(), code: new FakeCode(), verifier: new FakeVerifier([PASSED]) }));
        assert.equal(err.exitCode, ExitCode.OperationFailed);
        assert.ok(!err.message.includes("click-secret-of-v1"), err.message);
    });
});
