// End-to-end: operations you can trust, on the local control plane. Stack "e2e-ops-safety" (namespace
// ultramarket-e2e-ops-safety, state in a temp file backend):
//   - a mistyped stack name fails (exit 3) and creates no stack and no Pulumi.<name>.yaml;
//   - the engine killed (SIGKILL) in the middle of `up`: the next `deploy` cancels the stale lock, adopts what the
//     killed run created, and leaves no orphaned object and no pending operation;
//   - two deploys at once: one runs, the other is refused (exit 9) and rolls nothing back;
//   - SIGINT, then SIGTERM, to the whole process group of `npm run deploy` mid-update (what a terminal's Ctrl-C and a
//     cancelled CI job do): the engine stops at a safe point once, nothing is pending, and the message says so;
//   - a second Ctrl-C terminates the engine: the message lists exactly the pending operations the state then holds,
//     and the next deploy repairs them.
//
// Needs what tests/e2e/platform.e2e.test.ts needs: `npm run toolchain`, `bash scripts/local-cluster.sh start`.
// Run alone: npx mocha --config .mocharc.e2e.json tests/e2e/ops-safety.e2e.test.ts
import * as assert from "assert";
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { PROJECT } from "../../config";
import { ExitCode, OpsError } from "../../ops/errors";
import { deploy, GitCodeInspector } from "../../ops/operations";
import { BURST_MS } from "../../ops/interrupts";
import { descendants, killSurvivors } from "../../ops/process-tree";
import { pendingOperationsOf } from "../../ops/recovery";
import { openStack } from "../../ops/workspace";
import { kubeObjectsInState, recordingIO, requireLocalEngine, SKIPPED_VERIFIER, throwawayStackConfig } from "./support/stack";
import { kubectl, kubectlJson, REPO_ROOT, timed, TOOLCHAIN_BIN, waitFor } from "./support/env";

const STACK = "e2e-ops-safety";
const TYPO = "e2e-ops-safty";
const NAMESPACE = `ultramarket-${STACK}`;
const STACK_FILE = path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`);
const PASSPHRASE = crypto.randomBytes(24).toString("hex");

const io = recordingIO();
const verifier = SKIPPED_VERIFIER;

/** The namespace's Jobs (the objects an interrupted update creates first: migrations). */
function liveJobs(): string[] {
    return (kubectlJson<{ items: Array<{ metadata: { name: string } }> }>(["get", "jobs.v1.batch", "-n", NAMESPACE]).items ?? [])
        .map((j) => j.metadata.name)
        .sort();
}

/**
 * `npm run deploy` in a process group of its own, as a terminal's foreground job: a signal to the group reaches npm
 * and ops at once, exactly as Ctrl-C does. `closed` settles when every process holding its output is gone (npm, and
 * ops, which npm must wait for), with npm's exit code.
 */
function npmDeployInItsOwnGroup(env: NodeJS.ProcessEnv) {
    const child = spawn("npm", ["run", "deploy", "--", "--stack", STACK, "--no-policy"], {
        cwd: REPO_ROOT,
        env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
    });
    const run = {
        pid: child.pid!,
        stdout: "",
        stderr: "",
        closed: new Promise<number | null>((r) => child.once("close", (code) => r(code))),
    };
    child.stdout.setEncoding("utf8").on("data", (d: string) => (run.stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (run.stderr += d));
    return run;
}

describe("e2e: operations you can trust (stack names, interrupted and concurrent deploys)", function () {
    let stack: Stack;
    let stateDir: string;
    let stackFileExisted = false;
    let env: NodeJS.ProcessEnv;

    before(async function () {
        requireLocalEngine(this);
        stackFileExisted = fs.existsSync(STACK_FILE);
        assert.ok(!stackFileExisted, `${STACK_FILE} exists: a previous run did not clean up; delete it and rerun`);
        kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]);

        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-e2e-ops-safety-state-"));
        env = { ...process.env, PULUMI_BACKEND_URL: `file://${stateDir}`, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE };
        stack = await openStack({ stackName: STACK, backendUrl: `file://${stateDir}`, passphrase: PASSPHRASE, create: true });
        await stack.setAllConfig(throwawayStackConfig());
    });

    after(async function () {
        if (!stack) return;
        try {
            await timed("ops-safety: delete namespace", async () =>
                kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]),
            );
        } finally {
            if (!stackFileExisted) fs.rmSync(STACK_FILE, { force: true });
            fs.rmSync(path.join(REPO_ROOT, `Pulumi.${TYPO}.yaml`), { force: true });
            if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
        }
    });

    it("a mistyped stack name exits 3 with a suggestion, and creates no stack and no stack file", async function () {
        for (const command of ["drift", "status", "deploy"]) {
            const r = await timed(`ops-safety: ${command} --stack ${TYPO}`, async () =>
                spawnSync(
                    process.execPath,
                    [
                        require.resolve("ts-node/dist/bin"),
                        "--transpile-only",
                        "ops/cli.ts",
                        command,
                        "--stack",
                        TYPO,
                        ...(command === "deploy" ? ["--no-policy"] : []),
                    ],
                    { cwd: REPO_ROOT, env, encoding: "utf8" },
                ),
            );
            assert.strictEqual(r.status, ExitCode.Refused, `${command}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`stack "${TYPO}" does not exist .*Did you mean "${STACK}"\\?`), command);
            assert.ok(!fs.existsSync(path.join(REPO_ROOT, `Pulumi.${TYPO}.yaml`)), `${command} wrote Pulumi.${TYPO}.yaml`);
        }
        const names = (await stack.workspace.listStacks()).map((s) => s.name);
        assert.ok(names.includes(STACK) && !names.includes(TYPO), `stacks in the backend: ${names.join(", ")}`);
    });

    it("deploys the platform through ops deploy", async function () {
        const report = await timed("ops-safety: deploy (full platform)", () =>
            deploy({ stack, io, code: new GitCodeInspector(REPO_ROOT), verifier }),
        );
        assert.strictEqual(report.exitCode, ExitCode.Ok, report.summary.join("\n"));
    });

    it("after the engine is killed mid-up, the next deploy recovers: no orphaned object, no pending operation", async function () {
        // A new tag: the next up replaces the migration Jobs (new, generated names) before the services roll.
        await stack.setConfig(`${PROJECT}:imageTag`, { value: "1.0.1-e2e" });
        const jobsBefore = liveJobs();
        const engine: ChildProcess = spawn(
            path.join(TOOLCHAIN_BIN, "pulumi"),
            ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", STACK],
            {
                cwd: REPO_ROOT,
                env,
                stdio: "ignore",
                detached: true, // its own process group: the kill below reaches the engine at once
            },
        );
        await timed("ops-safety: up until a new Job exists", () =>
            waitFor("a Job created by the interrupted up", 600_000, () => liveJobs().some((j) => !jobsBefore.includes(j))),
        );
        // The plugins run in process groups of their own: a crashed engine leaves them running, so the test ends them.
        const plugins = descendants(engine.pid!);
        process.kill(-engine.pid!, "SIGKILL");
        await new Promise((r) => engine.once("exit", r));
        killSurvivors(plugins);

        const pendingBefore = pendingOperationsOf(await stack.exportStack());
        assert.ok(pendingBefore.length > 0, "the killed up left no pending operation: it was killed too late to test recovery");
        const locks = path.join(stateDir, ".pulumi", "locks");
        assert.ok(
            fs.existsSync(locks) && fs.readdirSync(locks, { recursive: true }).some((f) => String(f).endsWith(".json")),
            "the killed up left no lock",
        );

        const report = await timed("ops-safety: deploy after the kill (recovery + up)", () =>
            deploy({ stack, io, code: new GitCodeInspector(REPO_ROOT), verifier }),
        );
        assert.strictEqual(report.exitCode, ExitCode.Ok, report.summary.join("\n"));
        assert.ok((report.recovery?.cancelledLocks.length ?? 0) > 0, "the stale lock was not cancelled");
        assert.ok((report.recovery?.adopted.length ?? 0) + (report.recovery?.cleared.length ?? 0) > 0, "no pending create was resolved");
        assert.deepStrictEqual(pendingOperationsOf(await stack.exportStack()), [], "pending operations remain");

        const inState = new Set(
            (await kubeObjectsInState(stack)).filter((o) => o.kind === "Job" && o.namespace === NAMESPACE).map((o) => o.name),
        );
        const orphans = liveJobs().filter((j) => !inState.has(j));
        assert.deepStrictEqual(orphans, [], `Jobs in the cluster that the state does not know: ${orphans.join(", ")}`);
    });

    for (const [signal, tag] of [
        ["SIGINT", "1.0.3-e2e"],
        ["SIGTERM", "1.0.4-e2e"],
    ] as const) {
        it(`${signal} to the whole process group of npm run deploy mid-update: one safe stop, nothing pending, a truthful message`, async function () {
            await stack.setConfig(`${PROJECT}:imageTag`, { value: tag });
            const jobsBefore = liveJobs();
            const deployRun = npmDeployInItsOwnGroup(env);
            await timed(`ops-safety: npm run deploy until a new Job exists (${signal})`, () =>
                waitFor("a Job created by the deploy's up", 600_000, () => liveJobs().some((j) => !jobsBefore.includes(j))),
            );
            process.kill(-deployRun.pid, signal);
            const code = await timed(`ops-safety: deploy stopping after ${signal}`, () => deployRun.closed);
            const { stdout, stderr } = deployRun;
            const output = `${stdout}\n${stderr}`;
            console.log(
                output
                    .split("\n")
                    .filter((l) => /ops:|interrupted|received;/.test(l))
                    .join("\n"),
            );

            assert.strictEqual(code, ExitCode.OperationFailed, output);
            // ops heard the signal from the group and again from npm: one interrupt, one SIGINT to the engine.
            assert.strictEqual((stderr.match(new RegExp(`ops: ${signal}: stopping at a safe point`, "g")) ?? []).length, 1, stderr);
            assert.doesNotMatch(stderr, /terminating the engine now/);
            assert.strictEqual((stdout.match(/received; cancelling/g) ?? []).length, 1, "the engine was not cancelled exactly once");
            assert.doesNotMatch(stdout, /received; terminating/);
            assert.match(
                output,
                /deploy of stack "e2e-ops-safety" was interrupted \(SIGINT\/SIGTERM\), and the engine stopped at a safe point: no operation is pending, the lock is released and nothing is rolled back/,
            );
            // ... and that is true.
            assert.deepStrictEqual(pendingOperationsOf(await stack.exportStack()), [], "pending operations remain");
            const locks = path.join(stateDir, ".pulumi", "locks");
            const lockFiles = fs.existsSync(locks)
                ? fs.readdirSync(locks, { recursive: true }).filter((f) => String(f).endsWith(".json"))
                : [];
            assert.deepStrictEqual(lockFiles, [], "a lock was left");
            assert.ok(!(await stack.history()).some((h) => /ops rollback/.test(h.message ?? "")), "something was rolled back");

            // The next deploy finishes the update with nothing to recover.
            const report = await timed(`ops-safety: deploy after the ${signal}`, () =>
                deploy({ stack, io, code: new GitCodeInspector(REPO_ROOT), verifier }),
            );
            assert.strictEqual(report.exitCode, ExitCode.Ok, report.summary.join("\n"));
            assert.deepStrictEqual([report.recovery?.cancelledLocks.length, report.recovery?.adopted.length], [0, 0]);
        });
    }

    // The second Ctrl-C races the engine's own stop: when the first one's safe stop is quick (CI, 2026-12-07: the
    // deploy ended 0.6 s after the two Ctrl-C), the engine may already be exiting when ops passes the second one on, and
    // never prints "terminating". Either way what ops finally says must be what the state holds.
    it("a second Ctrl-C terminates the engine, and the message says exactly what it left; the next deploy repairs it", async function () {
        await stack.setConfig(`${PROJECT}:imageTag`, { value: "1.0.5-e2e" });
        const jobsBefore = liveJobs();
        const deployRun = npmDeployInItsOwnGroup(env);
        await timed("ops-safety: npm run deploy until a new Job exists (two Ctrl-C)", () =>
            waitFor("a Job created by the deploy's up", 600_000, () => liveJobs().some((j) => !jobsBefore.includes(j))),
        );
        process.kill(-deployRun.pid, "SIGINT");
        await new Promise((r) => setTimeout(r, BURST_MS + 100)); // a second Ctrl-C, not the first one delivered twice
        process.kill(-deployRun.pid, "SIGINT");
        const code = await timed("ops-safety: deploy stopping after two Ctrl-C", () => deployRun.closed);
        const { stdout, stderr } = deployRun;
        const output = `${stdout}\n${stderr}`;
        console.log(
            output
                .split("\n")
                .filter((l) => /ops:|interrupted|received;/.test(l))
                .join("\n"),
        );
        assert.strictEqual(code, ExitCode.OperationFailed, output.slice(-3000));
        const pending = pendingOperationsOf(await stack.exportStack());
        if (/ops: SIGINT again: terminating the engine now/.test(stderr)) {
            // The engine heard it, or had just stopped at its safe point by itself (then nothing is pending).
            if (!/received; terminating/.test(stdout))
                assert.match(
                    output,
                    /the engine stopped at a safe point: no operation is pending/,
                    "ops said it terminated the engine, which neither heard it nor had stopped by itself",
                );
        } else {
            assert.match(stderr, /ops: SIGINT again: the engine has already stopped/, stderr);
        }
        // Truthful either way: the message lists exactly the pending operations the state holds, or says there are none.
        if (pending.length === 0) {
            assert.match(output, /the engine stopped at a safe point: no operation is pending/);
        } else {
            const listed = /it left (\d+) pending operation\(s\): (.*?)(?:, and the stack's lock.*)?\. Nothing is rolled back/.exec(output);
            assert.ok(listed, `no list of what was left:\n${output.slice(-3000)}`);
            assert.strictEqual(Number(listed[1]), pending.length);
            for (const op of pending)
                assert.ok(listed[2].includes(op.resource.urn.split("::").pop()!), `${op.resource.urn} is not in the message`);
            assert.match(output, /The next npm run deploy -- --stack e2e-ops-safety repairs this first/);
        }
        const report = await timed("ops-safety: deploy after two Ctrl-C", () =>
            deploy({ stack, io, code: new GitCodeInspector(REPO_ROOT), verifier }),
        );
        assert.strictEqual(report.exitCode, ExitCode.Ok, report.summary.join("\n"));
        assert.deepStrictEqual(pendingOperationsOf(await stack.exportStack()), [], "pending operations remain after the repairing deploy");
    });

    it("two deploys at once: one runs, the other is refused and rolls nothing back", async function () {
        await stack.setConfig(`${PROJECT}:imageTag`, { value: "1.0.2-e2e" });
        const second = await openStack({ stackName: STACK, backendUrl: `file://${stateDir}`, passphrase: PASSPHRASE, create: false });
        // All of it: `pulumi stack history` returns 10 entries unless asked for more, and this stack has more by now.
        const fullHistory = () => stack.history(1000);
        const before = (await fullHistory()).length;
        const reports = await timed("ops-safety: two deploys at once", () =>
            Promise.all(
                [stack, second].map((s) =>
                    // The one that finds the other's live lock before its own up is refused by the recovery step (an OpsError).
                    deploy({ stack: s, io, code: new GitCodeInspector(REPO_ROOT), verifier }).catch((err: unknown) => {
                        if (err instanceof OpsError)
                            return { exitCode: err.exitCode, summary: [err.message], updateId: "", upError: undefined };
                        throw err;
                    }),
                ),
            ),
        );
        assert.deepStrictEqual(
            reports.map((r) => r.exitCode).sort(),
            [ExitCode.Ok, ExitCode.Conflict],
            reports.map((r) => r.summary.join("\n")).join("\n---\n"),
        );
        const loser = reports.find((r) => r.exitCode === ExitCode.Conflict)!;
        assert.match(loser.summary.join("\n") + (loser.upError ?? ""), /locked by another update/);
        const after = await fullHistory();
        const newer = after.slice(0, after.length - before);
        assert.deepStrictEqual(
            newer.map((h) => h.kind),
            ["update"],
            "exactly one update ran",
        );
        assert.ok(!newer.some((h) => /ops rollback/.test(h.message ?? "")), "something was rolled back");
        assert.match(newer[0].message ?? "", new RegExp(`update=${reports.find((r) => r.exitCode === ExitCode.Ok)!.updateId}`));
    });
});
