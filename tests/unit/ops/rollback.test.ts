import { strict as assert } from "assert";
import { ExitCode, OpsError } from "../../../ops/errors";
import {
    absolutePathsFor,
    assertCommitAvailable,
    chooseRollbackTarget,
    parseHistory,
    planConfigRestore,
    redact,
    rollback,
    UPDATE_ID_ENV,
    updateMessage,
} from "../../../ops/operations";
import type { ImageHistory } from "../../../ops/image-history";
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
        const choice = chooseRollbackTarget(
            "production",
            records([{ version: 1 }, { version: 2 }, { version: 3, kind: "refresh" }, { version: 4 }]),
        );
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
        const err = await refusal(() =>
            chooseRollbackTarget("production", records([{ version: 1 }, { version: 2, result: "failed" }, { version: 3 }]), 9),
        );
        assert.equal(err.exitCode, ExitCode.Refused);
        assert.match(err.message, /stack "production" has no version 9 \(successful updates: 3, 1\)/);
    });

    it("refuses a failed update, a refresh, and the current version", async () => {
        const history = records([{ version: 1 }, { version: 2, result: "failed" }, { version: 3, kind: "refresh" }, { version: 4 }]);
        assert.match(
            (await refusal(() => chooseRollbackTarget("production", history, 2))).message,
            /version 2 .* is an update that failed/,
        );
        assert.match(
            (await refusal(() => chooseRollbackTarget("production", history, 3))).message,
            /version 3 .* is a refresh, not an update/,
        );
        assert.match((await refusal(() => chooseRollbackTarget("production", history, 4))).message, /already the current version/);
    });

    it("refuses when there is nothing earlier to go back to", async () => {
        assert.match((await refusal(() => chooseRollbackTarget("local", []))).message, /stack "local" has no updates/);
        assert.match(
            (await refusal(() => chooseRollbackTarget("local", records([{ version: 1 }])))).message,
            /no successful update before version 1/,
        );
    });
});

describe("ops: can the program of that version be checked out?", () => {
    const target = records([{ version: 5, commit: SHA_OLD }])[0];

    it("yes, whatever changed since, when the repository has its commit", async () => {
        assert.deepEqual(
            await assertCommitAvailable(
                "production",
                target,
                new FakeCode(SHA_NEW, { [SHA_OLD]: ["components/apps/microservice.ts", "package-lock.json"] }),
            ),
            [],
        );
    });

    it("no, when the repository lacks the commit: names it and how to fetch it", async () => {
        const err = await refusal(assertCommitAvailable("production", target, new FakeCode(SHA_NEW, {})));
        assert.equal(err.exitCode, ExitCode.Refused);
        assert.match(
            err.message,
            new RegExp(
                `deployed from commit ${SHA_OLD}, which this repository does not have.*nothing was changed.*git fetch origin ${SHA_OLD}.*npm run rollback -- --stack production --to 5`,
            ),
        );
    });

    it("no, when no commit was recorded, unless --force runs the program checked out now", async () => {
        const unrecorded = records([{ version: 5, message: "manual up" }])[0];
        assert.match(
            (await refusal(assertCommitAvailable("production", unrecorded, new FakeCode()))).message,
            /recorded no git commit.*--force/,
        );
        assert.match(
            (await assertCommitAvailable("production", unrecorded, new FakeCode(), true))[0],
            /--force: version 5 recorded no git commit/,
        );
    });

    it("relative paths in the config (kubeconfig, sourceRoot) are made absolute for the program run from a worktree", () => {
        const fixed = absolutePathsFor(
            {
                "ultramarket:kubeconfig": { value: ".local/kubeconfig" },
                "ultramarket:sourceRoot": { value: "/abs/apps" },
                "ultramarket:imageTag": { value: "x" },
            },
            "/repo",
        );
        assert.deepEqual(fixed, { "ultramarket:kubeconfig": { value: "/repo/.local/kubeconfig", secret: false } });
    });
});

describe("ops: restoring a version's config", () => {
    const target = records([
        {
            version: 2,
            imageTag: "1.0.0",
            commit: SHA_OLD,
            config: { "ultramarket:kubeconfig": { value: "/old/kubeconfig", secret: false } },
        },
    ])[0];

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
        assert.match(
            (await refusal(() => planConfigRestore("production", bad, {}))).message,
            /cannot read the secret ultramarket:jwtSecret recorded in version 2.*PULUMI_CONFIG_PASSPHRASE/,
        );
    });

    it("redacts secret values from error text", () => {
        assert.equal(
            redact("pulumi config set-all --secret k=abc123 --plaintext x=1", ["abc123"]),
            "pulumi config set-all --secret k=[secret] --plaintext x=1",
        );
    });
});

describe("ops: rollback command (whole state: program, config, images)", () => {
    const history: UpdateSpec[] = [
        { version: 1, imageTag: "1.0.0", commit: SHA_OLD },
        { version: 2, imageTag: "1.1.0", commit: SHA_NEW },
    ];
    const noImages: ImageHistory = { imagesOf: async () => undefined };

    it("checks out version 1's commit, restores its config there, previews, runs up with a rollback message, verifies and removes the worktree", async () => {
        const stack = new FakeStack("production", history);
        const code = new FakeCode();
        const verifier = new FakeVerifier([PASSED]);
        const report = await rollback({ stack, io: new MemoryIO(), code, verifier });
        assert.deepEqual([report.from, report.to, report.commit], [2, 1, SHA_OLD]);
        assert.deepEqual(code.checkouts, [{ commit: SHA_OLD, dir: "/tmp/fake-worktree-1", removed: true }]);
        assert.deepEqual(stack.openedIn, ["/tmp/fake-worktree-1"], "the stack did not run from the worktree");
        const written = JSON.parse(stack.callsTo("setAllConfigJson")[0].args[0] as string);
        assert.equal(written["ultramarket:imageTag"].value, "1.0.0");
        assert.equal(stack.config["ultramarket:imageTag"].value, "1.0.0");
        const order = stack.calls.map((c) => c.method).filter((m) => ["inCheckout", "setAllConfigJson", "preview", "up"].includes(m));
        assert.deepEqual(order, ["inCheckout", "setAllConfigJson", "preview", "up"]);
        const up = stack.callsTo("up")[0].args[0] as { message: string };
        // The update records the commit whose program ran: version 1's.
        assert.match(up.message, new RegExp(`^ops rollback to=v1 from=v2 commit=${SHA_OLD} update=${report.updateId}`));
        assert.equal(stack.callsTo("up")[0].env?.[UPDATE_ID_ENV], report.updateId);
        assert.equal(verifier.calls, 1);
        assert.equal(report.version, 3);
    });

    it("--dry-run prints the plan and changes nothing, not even a worktree", async () => {
        const stack = new FakeStack("production", history);
        const io = new MemoryIO();
        const code = new FakeCode();
        await rollback({ stack, io, code, verifier: new FakeVerifier([PASSED]), dryRun: true });
        assert.equal(stack.callsTo("setAllConfigJson").length + stack.callsTo("up").length + code.checkouts.length, 0);
        assert.match(io.text, new RegExp(`program at commit ${SHA_OLD}`));
        assert.match(io.text, /ultramarket:imageTag: "1\.1\.0" -> "1\.0\.0"/);
        assert.match(io.text, /dry run, nothing changed/);
    });

    it("refuses cleanly, before any worktree or change, when the repository lacks the version's commit", async () => {
        const stack = new FakeStack("production", history);
        const code = new FakeCode(SHA_NEW, { [SHA_NEW]: [] });
        const err = await refusal(rollback({ stack, io: new MemoryIO(), code, verifier: new FakeVerifier([PASSED]) }));
        assert.equal(err.exitCode, ExitCode.Refused);
        assert.match(err.message, new RegExp(`git fetch origin ${SHA_OLD}`));
        assert.equal(
            code.checkouts.length + stack.callsTo("setAllConfigJson").length + stack.callsTo("preview").length + stack.callsTo("up").length,
            0,
        );
    });

    it("works across program changes: nothing is compared with the checked-out program", async () => {
        const stack = new FakeStack("production", history);
        const code = new FakeCode(SHA_NEW, {
            [SHA_OLD]: ["index.ts", "components/apps/microservice.ts", "package-lock.json"],
            [SHA_NEW]: [],
        });
        const report = await rollback({ stack, io: new MemoryIO(), code, verifier: new FakeVerifier([PASSED]) });
        assert.equal(report.to, 1);
        assert.equal(stack.callsTo("up").length, 1);
    });

    it("--force with no recorded commit runs the program checked out now, and says so", async () => {
        const stack = new FakeStack("production", [
            { version: 1, imageTag: "1.0.0" },
            { version: 2, imageTag: "1.1.0", commit: SHA_NEW },
        ]);
        const io = new MemoryIO();
        const code = new FakeCode();
        await rollback({ stack, io, code, verifier: new FakeVerifier([PASSED]), force: true });
        assert.equal(stack.callsTo("up").length, 1);
        assert.equal(code.checkouts.length, 0);
        assert.match(io.text, /--force: version 1 recorded no git commit/);
    });

    it("when up fails, removes the worktree and says the checkout's stack file is unchanged", async () => {
        const stack = new FakeStack("production", history);
        stack.upScript = ["fail"];
        const code = new FakeCode();
        const err = await refusal(rollback({ stack, io: new MemoryIO(), code, verifier: new FakeVerifier([PASSED]) }));
        assert.equal(err.exitCode, ExitCode.OperationFailed);
        assert.match(err.message, /stack "production": up \(rollback\) failed/);
        assert.match(
            err.message,
            /written only to the temporary worktree, which is removed; Pulumi\.production\.yaml is unchanged.*npm run rollback -- --stack production --to 1/s,
        );
        assert.deepEqual(
            code.checkouts.map((c) => c.removed),
            [true],
        );
    });

    it("when cancelled (SIGINT) during the preview, stops before up and removes the worktree", async () => {
        const stack = new FakeStack("production", history);
        const code = new FakeCode();
        const controller = new AbortController();
        const preview = stack.preview.bind(stack);
        stack.preview = async (opts) => {
            controller.abort();
            return preview(opts);
        };
        const err = await refusal(
            rollback({ stack, io: new MemoryIO(), code, verifier: new FakeVerifier([PASSED]), signal: controller.signal }),
        );
        assert.match(
            err.message,
            /rollback of stack "production" was interrupted \(SIGINT\/SIGTERM\) before its update started: nothing was changed/,
        );
        assert.equal(stack.callsTo("up").length, 0);
        assert.deepEqual(
            code.checkouts.map((c) => c.removed),
            [true],
        );
    });

    it("when the checkout fails (e.g. npm ci), nothing is written and no worktree is left", async () => {
        const stack = new FakeStack("production", history);
        const code = new FakeCode();
        code.checkoutError = new Error("npm ci failed: ETIMEDOUT");
        const err = await refusal(rollback({ stack, io: new MemoryIO(), code, verifier: new FakeVerifier([PASSED]) }));
        assert.equal(err.exitCode, ExitCode.OperationFailed);
        assert.match(err.message, /could not be checked out with its dependencies, so nothing was changed: npm ci failed/);
        assert.equal(stack.callsTo("setAllConfigJson").length + stack.callsTo("up").length, 0);
        assert.deepEqual(
            code.checkouts.map((c) => c.removed),
            [true],
        );
    });

    it("prebuilt mode: the version's tags are restored and no image history is needed", async () => {
        const stack = new FakeStack("production", history);
        let asked = 0;
        await rollback({
            stack,
            io: new MemoryIO(),
            code: new FakeCode(),
            verifier: new FakeVerifier([PASSED]),
            images: { imagesOf: async () => (asked++, undefined) },
        });
        assert.equal(asked, 0);
        assert.ok(!("ultramarket:pinnedImages" in stack.config));
    });

    describe("build mode (ultramarket:buildImages true)", () => {
        const build = { "ultramarket:buildImages": { value: "true", secret: false } };
        const built: UpdateSpec[] = [
            { version: 1, imageTag: "1.0.0", commit: SHA_OLD, config: build },
            { version: 2, imageTag: "1.1.0", commit: SHA_NEW, config: build },
        ];
        const digests = {
            "auth-service": `r/auth-service@sha256:${"1".repeat(64)}`,
            "cart-service": `r/cart-service@sha256:${"2".repeat(64)}`,
        };

        it("pins the digests version 1 ran, so nothing is rebuilt", async () => {
            const stack = new FakeStack("production", built);
            const asked: number[] = [];
            const images: ImageHistory = { imagesOf: async (_s, target) => (asked.push(target.version), digests) };
            await rollback({ stack, io: new MemoryIO(), code: new FakeCode(), verifier: new FakeVerifier([PASSED]), images });
            assert.deepEqual(asked, [1]);
            assert.deepEqual(JSON.parse(stack.config["ultramarket:pinnedImages"].value), digests);
            assert.equal(stack.callsTo("up").length, 1);
        });

        it("refuses, naming what is missing, when the digests it ran cannot be found", async () => {
            const stack = new FakeStack("production", built);
            const code = new FakeCode();
            const err = await refusal(
                rollback({ stack, io: new MemoryIO(), code, verifier: new FakeVerifier([PASSED]), images: noImages }),
            );
            assert.equal(err.exitCode, ExitCode.Refused);
            assert.match(
                err.message,
                /built its images .*the digests it ran \(its "images" stack output\) cannot be found.*would have to rebuild them; nothing was changed/,
            );
            assert.equal(code.checkouts.length + stack.callsTo("up").length, 0);
        });

        it("refuses when the version's program predates pinnedImages, and removes the worktree", async () => {
            const stack = new FakeStack("production", built);
            const code = new FakeCode();
            code.knownKeys.clear();
            const err = await refusal(
                rollback({
                    stack,
                    io: new MemoryIO(),
                    code,
                    verifier: new FakeVerifier([PASSED]),
                    images: { imagesOf: async () => digests },
                }),
            );
            assert.equal(err.exitCode, ExitCode.Refused);
            assert.match(err.message, /predates ultramarket:pinnedImages/);
            assert.equal(stack.callsTo("setAllConfigJson").length + stack.callsTo("up").length, 0);
            assert.deepEqual(
                code.checkouts.map((c) => c.removed),
                [true],
            );
        });
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
