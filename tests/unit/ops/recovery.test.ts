import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { ExitCode, OpsError } from "../../../ops/errors";
import { deploy, rollback } from "../../../ops/operations";
import {
    FileBackendLocks,
    judgeLocks,
    kubernetesId,
    localProcesses,
    LockHolder,
    planPendingResolution,
    ProcessTable,
    recoverInterruptedUpdate,
    RecoveryDeps,
} from "../../../ops/recovery";
import { FakeCode, FakeStack, FakeVerifier, MemoryIO, PASSED, SHA_OLD } from "./fakes";

const HERE = "ci-runner-1";
const holder = (hostname: string, pid: number): LockHolder => ({
    file: `/state/.pulumi/locks/organization/ultramarket/production/${pid}.json`,
    pid,
    username: "runner",
    hostname,
    timestamp: "2026-11-27T04:00:00Z",
});
/** This machine runs Pulumi processes with these pids. */
const processes = (...running: number[]): ProcessTable => ({ hostname: () => HERE, isPulumiRunning: (pid) => running.includes(pid) });
const recoveryWith = (holders: LockHolder[] | undefined, running: number[] = []): RecoveryDeps => ({
    locks: { locks: async () => holders },
    processes: processes(...running),
});

// State as `pulumi stack export` writes it: the provider, the namespace and a Deployment are in the state.
const NS = "ultramarket-production";
const urn = (type: string, name: string) => `urn:pulumi:production::ultramarket::${type}::${name}`;
const PROVIDER = urn("pulumi:providers:kubernetes", "k8s");
const PROVIDER_REF = `${PROVIDER}::04da6b54-80e4-46f7-96ec-b56ff0331ba9`;
const NAMESPACE = urn("kubernetes:core/v1:Namespace", "namespace");
const DEPLOYMENT = urn("kubernetes:apps/v1:Deployment", "auth-service");
const MIGRATE_AUTH = urn("kubernetes:batch/v1:Job", "auth-service-migrate");
const MIGRATE_USER = urn("kubernetes:batch/v1:Job", "user-service-migrate");
const PASSWORD = urn("random:index/randomPassword:RandomPassword", "postgres-password");

const k8s = (type: string, u: string, name: string, extra: Record<string, unknown> = {}) => ({
    urn: u,
    type,
    custom: true,
    provider: PROVIDER_REF,
    dependencies: [NAMESPACE],
    inputs: { metadata: { name, namespace: NS } },
    ...extra,
});

function killedUpdateState() {
    return {
        resources: [
            { urn: PROVIDER, type: "pulumi:providers:kubernetes", custom: true, id: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" },
            {
                urn: NAMESPACE,
                type: "kubernetes:core/v1:Namespace",
                custom: true,
                id: NS,
                provider: PROVIDER_REF,
                inputs: { metadata: { name: NS } },
            },
            k8s("kubernetes:apps/v1:Deployment", DEPLOYMENT, "auth-service", { id: `${NS}/auth-service` }),
        ],
        pending: [
            { type: "creating", resource: k8s("kubernetes:batch/v1:Job", MIGRATE_AUTH, "auth-service-migrate-x1y2z3") },
            { type: "creating", resource: k8s("kubernetes:batch/v1:Job", MIGRATE_USER, "user-service-migrate-a9b8c7") },
            {
                type: "creating",
                resource: { urn: PASSWORD, type: "random:index/randomPassword:RandomPassword", custom: true, inputs: { length: 32 } },
            },
            { type: "updating", resource: k8s("kubernetes:apps/v1:Deployment", DEPLOYMENT, "auth-service", { id: `${NS}/auth-service` }) },
        ],
    };
}

/** A stack a killed `up` left behind: pending operations; the first Job reached the cluster, the second did not. */
function interruptedStack() {
    const stack = new FakeStack("production", [
        { version: 1, commit: SHA_OLD },
        { version: 2, commit: SHA_OLD },
    ]);
    const state = killedUpdateState();
    stack.resources = state.resources;
    stack.pendingOperations = state.pending;
    stack.clusterIds = new Set([NS, `${NS}/auth-service`, `${NS}/auth-service-migrate-x1y2z3`]);
    return stack;
}

describe("ops: recovering from an interrupted update", () => {
    describe("the stack's lock", () => {
        it("is free, stale (every holder ran here and is gone), held, or cannot be inspected", () => {
            assert.equal(judgeLocks([], processes()).kind, "unlocked");
            assert.equal(judgeLocks(undefined, processes()).kind, "uninspectable");
            assert.equal(judgeLocks([holder(HERE, 4242)], processes()).kind, "stale");
            const live = judgeLocks([holder(HERE, 4242)], processes(4242));
            assert.equal(live.kind, "held");
            assert.match(live.kind === "held" ? live.reason : "", /running on this machine \(pid 4242\)/);
            const elsewhere = judgeLocks([holder(HERE, 4242), holder("ci-runner-2", 77)], processes());
            assert.match(elsewhere.kind === "held" ? elsewhere.reason : "", /another machine \(ci-runner-2\)/);
        });

        it("reads the file backend's lock files as the 3.248 engine writes them", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ops-locks-"));
            const lockDir = path.join(dir, ".pulumi", "locks", "organization", "ultramarket", "production");
            fs.mkdirSync(lockDir, { recursive: true });
            fs.writeFileSync(
                path.join(lockDir, "9f1c.json"),
                JSON.stringify({ pid: 31337, username: "runner", hostname: "ci-runner-1", timestamp: "2026-11-27T04:00:00.123Z" }),
            );
            fs.mkdirSync(path.join(dir, ".pulumi", "locks", "organization", "ultramarket", "staging"), { recursive: true });
            const stack = new FakeStack("production", []);
            stack.workspace.envVars.PULUMI_BACKEND_URL = `file://${dir}`;
            const [lock, ...rest] = (await new FileBackendLocks({}).locks(stack)) ?? [];
            assert.deepEqual(rest, []);
            assert.deepEqual(
                { ...lock, file: path.basename(lock.file) },
                { file: "9f1c.json", pid: 31337, username: "runner", hostname: "ci-runner-1", timestamp: "2026-11-27T04:00:00.123Z" },
            );
            stack.workspace.envVars.PULUMI_BACKEND_URL = "s3://bucket/state";
            assert.equal(await new FileBackendLocks({}).locks(stack), undefined, "a bucket's locks cannot be read from here");
            fs.rmSync(dir, { recursive: true, force: true });
        });

        it("a process that has exited holds nothing", () => {
            const exited = spawnSync(process.execPath, ["-e", ""]).pid;
            assert.equal(localProcesses.isPulumiRunning(exited), false);
            assert.equal(localProcesses.isPulumiRunning(-1), true, "an unreadable pid is never judged dead");
        });

        it("a live update's lock is never broken: exit 9 before anything is read or changed", async () => {
            const stack = interruptedStack();
            await assert.rejects(
                recoverInterruptedUpdate(stack, new MemoryIO(), recoveryWith([holder(HERE, 4242)], [4242])),
                (err: unknown) => {
                    assert.ok(err instanceof OpsError);
                    assert.equal(err.exitCode, ExitCode.Conflict);
                    assert.match(
                        err.message,
                        /stack "production" is locked by another update \(update running on this machine \(pid 4242\)\): runner@ci-runner-1 \(pid 4242\) since 2026-11-27T04:00:00Z\. Nothing was changed/,
                    );
                    return true;
                },
            );
            assert.deepEqual(stack.calls, []);
        });

        it("a lock from another machine is not broken either: it says how to clear it by hand", async () => {
            const stack = interruptedStack();
            await assert.rejects(
                recoverInterruptedUpdate(stack, new MemoryIO(), recoveryWith([holder("ci-runner-2", 77)])),
                /cannot tell whether it still runs.*pulumi cancel --stack production/,
            );
            assert.equal(stack.callsTo("cancel").length, 0);
        });
    });

    describe("pending operations", () => {
        it("adopts pending creates of Kubernetes objects under their ID, clears the rest, rereads interrupted updates", () => {
            const state = killedUpdateState();
            const plan = planPendingResolution({
                version: 3,
                deployment: { resources: state.resources, pending_operations: state.pending },
            });
            assert.deepEqual(plan.adopt, [
                { urn: MIGRATE_AUTH, id: `${NS}/auth-service-migrate-x1y2z3` },
                { urn: MIGRATE_USER, id: `${NS}/user-service-migrate-a9b8c7` },
            ]);
            assert.deepEqual(plan.clear, [{ urn: PASSWORD, reason: "not a Kubernetes object; the next update creates it again" }]);
            assert.deepEqual(plan.reread, [{ urn: DEPLOYMENT, operation: "updating" }]);
            const d = plan.state.deployment as { resources: Array<{ urn: string; id?: string }>; pending_operations: unknown[] };
            assert.deepEqual(d.pending_operations, []);
            assert.deepEqual(
                d.resources.map((r) => r.urn),
                [PROVIDER, NAMESPACE, DEPLOYMENT, MIGRATE_AUTH, MIGRATE_USER],
                "adopted after what they depend on",
            );
        });

        it("clears a create whose dependencies are not in the state; marks the old object of an interrupted replacement for deletion", () => {
            const state = killedUpdateState();
            const orphanDep = k8s("kubernetes:core/v1:Service", urn("kubernetes:core/v1:Service", "x"), "x", {
                dependencies: [urn("kubernetes:core/v1:Secret", "missing")],
            });
            const replacement = k8s("kubernetes:apps/v1:Deployment", DEPLOYMENT, "auth-service-v2");
            const plan = planPendingResolution({
                version: 3,
                deployment: {
                    resources: state.resources,
                    pending_operations: [
                        { type: "creating", resource: orphanDep },
                        { type: "creating", resource: replacement },
                    ],
                },
            });
            assert.match(
                plan.clear[0].reason,
                /depends on urn:pulumi:production::ultramarket::kubernetes:core\/v1:Secret::missing, which the state lacks/,
            );
            const deployments = (
                plan.state.deployment as { resources: Array<{ urn: string; id?: string; delete?: boolean }> }
            ).resources.filter((r) => r.urn === DEPLOYMENT);
            assert.deepEqual(
                deployments.map((r) => [r.id, r.delete === true]),
                [
                    [`${NS}/auth-service`, true],
                    [`${NS}/auth-service-v2`, false],
                ],
            );
        });

        it("knows pulumi-kubernetes' IDs: namespace/name, or name for cluster-scoped objects", () => {
            assert.equal(kubernetesId(k8s("kubernetes:batch/v1:Job", MIGRATE_AUTH, "j")), `${NS}/j`);
            assert.equal(
                kubernetesId({ urn: NAMESPACE, type: "kubernetes:core/v1:Namespace", custom: true, inputs: { metadata: { name: NS } } }),
                NS,
            );
            assert.equal(kubernetesId({ urn: PROVIDER, type: "pulumi:providers:kubernetes", custom: true }), undefined);
        });

        it("cancels a stale lock, imports the adopted state and refreshes it: what exists is kept, what never got created is dropped", async () => {
            const stack = interruptedStack();
            const io = new MemoryIO();
            const report = await recoverInterruptedUpdate(stack, io, recoveryWith([holder(HERE, 4242)]));
            assert.deepEqual(
                stack.calls.map((c) => c.method),
                ["cancel", "exportStack", "importStack", "refresh", "exportStack"],
            );
            assert.deepEqual((stack.callsTo("refresh")[0].args[0] as { target: string[] }).target, [
                MIGRATE_AUTH,
                MIGRATE_USER,
                DEPLOYMENT,
            ]);
            assert.deepEqual(
                report.adopted.map((a) => [a.urn, a.kept]),
                [
                    [MIGRATE_AUTH, true],
                    [MIGRATE_USER, false],
                ],
            );
            assert.deepEqual(stack.pendingOperations, [], "no pending operations left");
            assert.ok(
                (stack.resources as Array<{ urn: string }>).some((r) => r.urn === MIGRATE_AUTH),
                "the Job the killed run created is in the state: no orphan",
            );
            assert.ok(!(stack.resources as Array<{ urn: string }>).some((r) => r.urn === MIGRATE_USER));
            assert.match(io.text, /cancelled the stale lock of runner@ci-runner-1 \(pid 4242\)/);
            assert.match(io.text, /4 pending operation\(s\) left by an interrupted update/);
            assert.match(
                io.text,
                /adopted .*auth-service-migrate \(ultramarket-production\/auth-service-migrate-x1y2z3 exists in the cluster; the next update manages it\)/,
            );
            assert.match(
                io.text,
                /dropped .*user-service-migrate \(ultramarket-production\/user-service-migrate-a9b8c7 was never created in the cluster\)/,
            );
            assert.match(io.text, /cleared the pending create of .*postgres-password: not a Kubernetes object/);
        });

        it("a clean stack is only inspected", async () => {
            const stack = new FakeStack("production", [{ version: 1 }]);
            await recoverInterruptedUpdate(stack, new MemoryIO(), recoveryWith([]));
            assert.deepEqual(
                stack.calls.map((c) => c.method),
                ["exportStack"],
            );
        });
    });

    describe("deploy and rollback recover first", () => {
        it("deploy resolves the interruption before its preview, then deploys", async () => {
            const stack = interruptedStack();
            const report = await deploy({
                stack,
                io: new MemoryIO(),
                code: new FakeCode(),
                verifier: new FakeVerifier([PASSED]),
                recovery: recoveryWith([holder(HERE, 4242)]),
            });
            assert.equal(report.exitCode, ExitCode.Ok);
            const methods = stack.calls.map((c) => c.method).filter((m) => m !== "history");
            assert.deepEqual(methods, ["cancel", "exportStack", "importStack", "refresh", "exportStack", "preview", "up"]);
            assert.equal(report.recovery?.adopted.length, 2);
        });

        it("deploy refuses while another update runs, without a preview or up", async () => {
            const stack = interruptedStack();
            await assert.rejects(
                deploy({
                    stack,
                    io: new MemoryIO(),
                    code: new FakeCode(),
                    verifier: new FakeVerifier([PASSED]),
                    recovery: recoveryWith([holder(HERE, 4242)], [4242]),
                }),
                (err: unknown) => err instanceof OpsError && err.exitCode === ExitCode.Conflict,
            );
            assert.deepEqual(stack.calls, []);
        });

        it("rollback recovers too; its dry run only says what it would do", async () => {
            const dry = interruptedStack();
            const io = new MemoryIO();
            await rollback({
                stack: dry,
                io,
                code: new FakeCode(),
                verifier: new FakeVerifier([PASSED]),
                dryRun: true,
                recovery: recoveryWith([holder(HERE, 4242)]),
            });
            assert.deepEqual(
                dry.calls.map((c) => c.method).filter((m) => !["history", "getAllConfig"].includes(m)),
                ["exportStack"],
            );
            assert.match(io.text, /would cancel the stale lock/);
            assert.match(io.text, /would adopt .*auth-service-migrate/);

            const real = interruptedStack();
            await rollback({
                stack: real,
                io: new MemoryIO(),
                code: new FakeCode(),
                verifier: new FakeVerifier([PASSED]),
                recovery: recoveryWith([holder(HERE, 4242)]),
            });
            assert.deepEqual(real.calls.map((c) => c.method).slice(0, 5), [
                "cancel",
                "exportStack",
                "importStack",
                "refresh",
                "exportStack",
            ]);
            assert.equal(real.callsTo("up").length, 1);
        });
    });
});
