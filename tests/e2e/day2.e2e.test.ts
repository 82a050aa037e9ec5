// End-to-end, day two: the updates operators run after the first deploy, on the real engine and the local
// control plane, each asserting the live objects (UIDs, generations, pod templates) and the engine's steps.
// In order: a stack deployed by the program as it was before the root component and the day-2 changes is
// carried to this commit with no replace and no delete; a setting change; an HPA-style scale kept across
// an unrelated change; secret rotations (a third-party key and a generated one); a migration Job that fails,
// is re-run by the next `up` without a new tag, and succeeds once fixed.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { PROJECT } from "../../config";
import { CONFIG_CHECKSUM_ANNOTATION, SECRET_CHECKSUM_ANNOTATION } from "../../components/model/rollout";
import { openStack } from "../../ops/workspace";
import { kubectl, kubectlJson, REPO_ROOT, timed } from "./support/env";
import {
    changedSteps,
    DESTRUCTIVE_OPS,
    getLive,
    KubeObjectRef,
    kubeObjectsInState,
    requireLocalEngine,
    Step,
    throwawayStackConfig,
} from "./support/stack";

const STACK = "e2e-day2";
const NAMESPACE = `ultramarket-${STACK}`;
const STACK_FILE = `Pulumi.${STACK}.yaml`;
/** The last commit before the root component and the day-2 changes: stacks it deployed must upgrade in place. */
const BASELINE_COMMIT = "c192da5";
const EDGE_KEY = `${PROJECT}:edge`;
const SEED_KEY = `${PROJECT}:databaseUsersSeed`;
const CPU_SCALE_KEY = `${PROJECT}:cpuScalePercent`;
const CHECKSUM_KEY = `${PROJECT}:rolloutChecksumKey`;
/** An image the local cluster's kwok stage fails like a container exiting 1 (scripts/local-cluster/stages). */
const UNRUNNABLE_TAG = "e2e-unrunnable";

interface Workload {
    kind: string;
    name: string;
    uid: string;
    generation: number;
    template: any;
    replicas: number;
}

/** Every Deployment and StatefulSet in the namespace, by kind/name. */
function workloads(): Map<string, Workload> {
    const out = new Map<string, Workload>();
    for (const kind of ["deployments.v1.apps", "statefulsets.v1.apps"]) {
        for (const o of kubectlJson<{ items: any[] }>(["get", kind, "-n", NAMESPACE]).items) {
            out.set(`${o.kind}/${o.metadata.name}`, {
                kind: o.kind,
                name: o.metadata.name,
                uid: o.metadata.uid,
                generation: o.metadata.generation,
                template: o.spec.template,
                replicas: o.spec.replicas,
            });
        }
    }
    return out;
}

/** The workloads whose pod template changed, asserting none was deleted or recreated (same UIDs). */
function rolledSince(before: Map<string, Workload>): string[] {
    const after = workloads();
    assert.deepStrictEqual([...after.keys()].sort(), [...before.keys()].sort(), "workloads appeared or disappeared");
    const rolled: string[] = [];
    for (const [key, b] of before) {
        const a = after.get(key)!;
        assert.strictEqual(a.uid, b.uid, `${key} was deleted and recreated (new UID)`);
        if (JSON.stringify(a.template) !== JSON.stringify(b.template)) {
            assert.ok(a.generation > b.generation, `${key}: template changed without a new generation`);
            rolled.push(key);
        } else {
            assert.strictEqual(a.generation, b.generation, `${key} changed although its pod template did not`);
        }
    }
    return rolled.sort();
}

function uidOf(kind: string, name: string): string {
    return kubectlJson<any>(["get", kind, name, "-n", NAMESPACE]).metadata.uid;
}

function assertNothingDestroyed(steps: Step[], what: string): void {
    const destructive = steps.filter((s) => DESTRUCTIVE_OPS.has(s.op));
    assert.deepStrictEqual(destructive, [], `${what}: steps that delete or replace`);
}

/**
 * Asserts the backup Job completed no later than each migration Job was created (the API server's timestamps have
 * one-second resolution, hence "no later").
 */
function assertBackedUpBefore(backup: KubeObjectRef, migrations: KubeObjectRef[]): void {
    const live = getLive(backup);
    assert.ok(
        (live?.status?.conditions ?? []).some((c: any) => c.type === "Complete" && c.status === "True"),
        `backup Job ${backup.name} did not complete`,
    );
    const done = Date.parse(live.status.completionTime);
    assert.ok(migrations.length > 0, "no migration Job to compare with");
    for (const m of migrations) {
        const created = Date.parse(getLive(m)?.metadata.creationTimestamp);
        assert.ok(
            done <= created,
            `migration Job ${m.name} was created at ${getLive(m)?.metadata.creationTimestamp}, before the backup completed (${live.status.completionTime})`,
        );
    }
}

/** An app's migration Job (a Microservice's Job): its pod template is immutable, so a new one replaces it and runs again. */
const isMigrationJob = (urn: string) => urn.includes("ultramarket:apps:Microservice$kubernetes:batch/v1:Job::");

describe("e2e: day two on the local control plane", function () {
    let stack: Stack;
    let stateDir: string;
    let worktree: string | undefined;
    let passphrase: string;
    let engineLog = "";
    /** Set once this run owns the stack file and namespace: cleanup never touches another run's. */
    let owned = false;

    async function up(what: string): Promise<Step[]> {
        const events: EngineEvent[] = [];
        await timed(what, () => stack.up({ onEvent: (e) => events.push(e), onOutput: (o) => (engineLog += o) }));
        return changedSteps(events);
    }

    before(async function () {
        requireLocalEngine(this);
        assert.ok(
            !fs.existsSync(path.join(REPO_ROOT, STACK_FILE)),
            `${STACK_FILE} exists: another e2e run is in progress, or a previous one did not clean up; delete it and rerun`,
        );
        owned = true;
        kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]);
        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-e2e-day2-state-"));
        passphrase = crypto.randomBytes(24).toString("hex");
    });

    after(async function () {
        if (!owned) return;
        try {
            kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]);
        } finally {
            fs.rmSync(path.join(REPO_ROOT, STACK_FILE), { force: true });
            if (worktree) execFileSync("git", ["-C", REPO_ROOT, "worktree", "remove", "--force", worktree], { stdio: "pipe" });
            if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
        }
    });

    it("carries a stack deployed by the program before the root component to this commit: no replace, no delete, same UIDs", async function () {
        const sha = execFileSync("git", ["-C", REPO_ROOT, "rev-parse", "--verify", `${BASELINE_COMMIT}^{commit}`], {
            encoding: "utf8",
        }).trim();
        worktree = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-baseline-"));
        fs.rmdirSync(worktree);
        execFileSync("git", ["-C", REPO_ROOT, "worktree", "prune"], { stdio: "pipe" });
        execFileSync("git", ["-C", REPO_ROOT, "worktree", "add", "--detach", worktree, sha], { stdio: "pipe" });
        // Same lockfile: the baseline runs on this checkout's dependencies.
        const sameLock =
            execFileSync("git", ["-C", REPO_ROOT, "diff", "--stat", sha, "--", "package-lock.json"], { encoding: "utf8" }).trim() === "";
        if (sameLock) fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(worktree, "node_modules"), "dir");
        else
            await timed("npm ci (baseline commit)", async () =>
                execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: worktree, stdio: "pipe" }),
            );

        const base = await openStack({ stackName: STACK, workDir: worktree, backendUrl: `file://${stateDir}`, passphrase, create: true });
        // The baseline knows no `edge` key (it always rendered the ingress-nginx Ingresses), nor the database users' seed,
        // nor cpuScalePercent (left off after the upgrade too: a Job's pod template cannot change in place), nor the
        // rollout checksum key (its checksums were unkeyed SHA-256).
        const {
            [EDGE_KEY]: _edge,
            [SEED_KEY]: seed,
            [CPU_SCALE_KEY]: _cpu,
            [CHECKSUM_KEY]: checksumKey,
            ...baselineConfig
        } = throwawayStackConfig();
        await base.setAllConfig(baselineConfig);
        await timed(`up at ${BASELINE_COMMIT} (baseline program, cold)`, () => base.up({ onOutput: (o) => (engineLog += o) }));
        const before = await kubeObjectsInState(base);
        const uids = new Map(before.map((o) => [o.urn.split("::").pop() + "/" + o.kind, getLive(o)?.metadata.uid]));

        // The same stack (state, config and its encryption salt) with this commit's program.
        fs.copyFileSync(path.join(worktree, STACK_FILE), path.join(REPO_ROOT, STACK_FILE));
        stack = await openStack({ stackName: STACK, backendUrl: `file://${stateDir}`, passphrase });
        // An existing stack keeps its Ingresses until the operator moves off ingress-nginx (README "Moving off
        // ingress-nginx"), and admin is served only to an allowlist now (no admin Ingress without one): with both set,
        // upgrading the program must not take any host down.
        await stack.setConfig(EDGE_KEY, { value: "ingress-nginx" });
        // The random provider cannot be built here: the upgraded stack gets its seed from config, as local:up gives it.
        await stack.setConfig(SEED_KEY, seed);
        await stack.setConfig(CHECKSUM_KEY, checksumKey);
        await stack.setConfig(`${PROJECT}:adminAllowedCidrs`, { value: JSON.stringify(["10.0.0.0/8"]) });
        const previewEvents: EngineEvent[] = [];
        await timed("preview (baseline -> this commit)", () => stack.preview({ onEvent: (e) => previewEvents.push(e) }));
        // This commit gives the migration Jobs a writable HOME and bounded scratch space: a new pod template, so each
        // Job is replaced (created before the old one is deleted) and runs again before its Deployment rolls. Nothing
        // else may be replaced or deleted.
        const rerun = (steps: Step[]) => steps.filter((x) => isMigrationJob(x.urn));
        assertNothingDestroyed(
            changedSteps(previewEvents).filter((x) => !isMigrationJob(x.urn)),
            "preview of the upgrade",
        );
        const steps = await up("up (baseline -> this commit)");
        assertNothingDestroyed(
            steps.filter((x) => !isMigrationJob(x.urn)),
            "up of the upgrade",
        );
        for (const job of new Set(rerun(steps).map((x) => x.urn)))
            console.log(`    note: migration Job re-run by the upgrade (new pod template): ${job}`);
        for (const o of await kubeObjectsInState(stack)) {
            const key = o.urn.split("::").pop() + "/" + o.kind;
            // New with this commit: the users Jobs run before any app switches to its own user, and must complete.
            if (o.urn.includes("ultramarket:data:DatabaseUsers$kubernetes:batch/v1:Job::")) {
                assert.ok(
                    (getLive(o)?.status?.conditions ?? []).some((c: any) => c.type === "Complete" && c.status === "True"),
                    `database users Job ${o.name} did not complete`,
                );
                continue;
            }
            if (isMigrationJob(o.urn)) {
                assert.ok(
                    (getLive(o)?.status?.conditions ?? []).some((c: any) => c.type === "Complete" && c.status === "True"),
                    `migration Job ${o.name} did not complete`,
                );
                continue;
            }
            if (uids.has(key))
                assert.strictEqual(getLive(o)?.metadata.uid, uids.get(key), `${o.kind} ${o.name} was recreated by the upgrade`);
        }
        const noop: EngineEvent[] = [];
        await timed("preview (no-op after the upgrade)", () => stack.preview({ onEvent: (e) => noop.push(e) }));
        // The provider re-checks a completed Job marked replaceUnready against the live object and now and then
        // plans an input-less update of it (its detailed diff is only that annotation): an await, no change.
        const unsettled = noop.flatMap((e) => {
            const md = e.resourcePreEvent?.metadata;
            if (!md || md.op === "same" || md.op === "read" || md.type === "pulumi:pulumi:Stack") return [];
            const detailed = Object.keys(md.detailedDiff ?? {});
            const recheck =
                md.type === "kubernetes:batch/v1:Job" &&
                md.op === "update" &&
                detailed.every((k) => k.includes("pulumi.com/replaceUnready")) &&
                JSON.stringify(md.old?.inputs) === JSON.stringify(md.new?.inputs);
            if (recheck) console.log(`    note: provider re-check of a completed Job (no input change): ${md.urn}`);
            return recheck ? [] : [{ op: md.op, urn: md.urn, detailedDiff: md.detailedDiff }];
        });
        assert.deepStrictEqual(unsettled, [], "the upgraded stack is not settled");
    });

    it("a setting change (logLevel) updates the ConfigMap in place and rolls every app, replacing nothing", async function () {
        const cmUid = uidOf("configmaps", "ultramarket-config");
        const before = workloads();
        await stack.setConfig(`${PROJECT}:logLevel`, { value: "debug" });
        const steps = await up("up (logLevel debug)");
        assertNothingDestroyed(steps, "logLevel change");
        assert.ok(
            steps.some((s) => s.type === "kubernetes:core/v1:ConfigMap" && s.op === "update"),
            "the ConfigMap was not updated in place",
        );
        assert.strictEqual(uidOf("configmaps", "ultramarket-config"), cmUid, "the ConfigMap was recreated");
        assert.strictEqual(kubectlJson<any>(["get", "configmaps", "ultramarket-config", "-n", NAMESPACE]).data.LOG_LEVEL, "debug");
        const rolled = rolledSince(before);
        // The data stores' exporters read none of the ConfigMap: they stay, as the stores do.
        const apps = [...before.keys()]
            .filter((k) => k.startsWith("Deployment/") && !k.endsWith("-exporter") && k !== "Deployment/pgbouncer")
            .sort();
        assert.deepStrictEqual(
            rolled,
            apps,
            "exactly the apps (every reader of the ConfigMap) roll; no data store, exporter or PgBouncer (which reads its own)",
        );
        for (const key of apps)
            assert.notStrictEqual(
                workloads().get(key)!.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION],
                before.get(key)!.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION],
            );
    });

    it("an HPA-style scale survives an unrelated change (rateLimitMax), which rolls the apps without replacing them", async function () {
        const target = "cart-service";
        kubectl(["scale", "deployments.v1.apps", target, "-n", NAMESPACE, "--replicas=5"]);
        const before = workloads();
        await stack.setConfig(`${PROJECT}:rateLimitMax`, { value: "250" });
        const steps = await up("up (rateLimitMax 250 after kubectl scale)");
        assertNothingDestroyed(steps, "rateLimitMax change");
        const after = workloads();
        assert.strictEqual(after.get(`Deployment/${target}`)!.replicas, 5, "the scaled replica count was reset by the update");
        assert.deepStrictEqual(
            rolledSince(before),
            [...before.keys()]
                .filter((k) => k.startsWith("Deployment/") && !k.endsWith("-exporter") && k !== "Deployment/pgbouncer")
                .sort(),
        );
        assert.strictEqual(kubectlJson<any>(["get", "configmaps", "ultramarket-config", "-n", NAMESPACE]).data.RATE_LIMIT_MAX, "250");
    });

    for (const rotation of [
        { key: "paymeSecretKey", secretKey: "PAYME_SECRET_KEY", readers: ["payment-service"] },
        { key: "jwtSecret", secretKey: "JWT_SECRET", readers: ["api-gateway", "auth-service", "user-service"] },
    ]) {
        it(`rotating ${rotation.key} updates the Secret in place and rolls only its readers (${rotation.readers.join(", ")}); the value appears nowhere else`, async function () {
            const secretUid = uidOf("secrets", "ultramarket-secrets");
            const before = workloads();
            const value = `rotated-${rotation.key}-${crypto.randomBytes(16).toString("hex")}`;
            await stack.setConfig(`${PROJECT}:${rotation.key}`, { value, secret: true });
            engineLog = "";
            const steps = await up(`up (rotate ${rotation.key})`);
            assertNothingDestroyed(steps, `${rotation.key} rotation`);
            assert.strictEqual(uidOf("secrets", "ultramarket-secrets"), secretUid, "the Secret was recreated");
            const live = kubectlJson<any>(["get", "secrets", "ultramarket-secrets", "-n", NAMESPACE]);
            assert.strictEqual(
                Buffer.from(live.data[rotation.secretKey], "base64").toString(),
                value,
                "the Secret does not hold the new value",
            );
            assert.deepStrictEqual(rolledSince(before), rotation.readers.map((r) => `Deployment/${r}`).sort());
            for (const r of rotation.readers)
                assert.match(
                    workloads().get(`Deployment/${r}`)!.template.metadata.annotations[SECRET_CHECKSUM_ANNOTATION],
                    /^[0-9a-f]{64}$/,
                );

            const state = JSON.stringify(await stack.exportStack());
            assert.ok(!state.includes(value), "the new value is in the stack state in plain text");
            assert.ok(!JSON.stringify(await stack.outputs()).includes(value), "the new value is in the stack outputs");
            assert.ok(!engineLog.includes(value), "the new value is in the engine's log");
            assert.ok(
                !fs.readFileSync(path.join(REPO_ROOT, STACK_FILE), "utf8").includes(value),
                "the new value is in the stack file in plain text",
            );
            const others = kubectl(["get", "configmaps,deployments,statefulsets,replicasets,pods,jobs", "-n", NAMESPACE, "-o", "json"]);
            assert.ok(
                !others.includes(value) && !others.includes(Buffer.from(value).toString("base64")),
                "the new value is in a live object other than the Secret",
            );
        });
    }

    it("a migration Job that failed is re-run by the next up without a new tag, and the fixed one succeeds", async function () {
        // The migration's Jobs in the state (a replacement that failed leaves the old one pending deletion beside it).
        const migrationJobs = async () =>
            (await kubeObjectsInState(stack)).filter((o) => o.kind === "Job" && o.urn.endsWith("::auth-service-migrate"));
        const hasFailed = (o: KubeObjectRef) =>
            ((getLive(o)?.status?.conditions ?? []) as any[]).some((c) => c.type === "Failed" && c.status === "True");
        /**
         * The newest backup Job taken before migrations (components/data/backups.ts). A failed update leaves the Job it
         * replaced in the state, pending deletion, until an update succeeds: `only` asserts that none is left.
         */
        const backupJob = async (only = false) => {
            const jobs = (await kubeObjectsInState(stack)).filter(
                (o) => o.kind === "Job" && o.urn.endsWith("ultramarket:data:DatabaseBackups$kubernetes:batch/v1:Job::database-backup"),
            );
            assert.ok(jobs.length >= 1, "no backup Job in the state");
            if (only) assert.strictEqual(jobs.length, 1, `expected one backup Job in the state, got ${jobs.length}`);
            const created = (o: KubeObjectRef) => Date.parse(getLive(o)?.metadata.creationTimestamp ?? "");
            return jobs.reduce((newest, o) => (created(o) > created(newest) ? o : newest));
        };
        const deploymentImage = () =>
            kubectlJson<any>(["get", "deployments.v1.apps", "auth-service", "-n", NAMESPACE]).spec.template.spec.containers[0].image;
        const goodImage = deploymentImage();
        const backupBefore = await backupJob(true);
        await stack.setConfig(`${PROJECT}:serviceImageTags`, { value: JSON.stringify({ "auth-service": UNRUNNABLE_TAG }) });
        await assert.rejects(up("up (auth-service migration fails)"), /auth-service-migrate|Job|failed/i);
        // A new image of a migrating app: the databases were dumped first (a new backup Job, completed before the
        // migration Job was created), then the migration failed.
        const backupForTag = await backupJob();
        assert.notStrictEqual(backupForTag.uid, backupBefore.uid, "no backup was taken before the new image's migration");
        assertBackedUpBefore(backupForTag, (await migrationJobs()).filter(hasFailed));
        const failed = (await migrationJobs()).filter(hasFailed);
        assert.strictEqual(failed.length, 1, "the failed migration Job is not in the state");
        const failedUid = failed[0].uid;
        assert.strictEqual(deploymentImage(), goodImage, "auth-service rolled out although its migration failed");

        // The retry: nothing changed in the program or config, yet the failed Job is replaced and runs again.
        const events: EngineEvent[] = [];
        await assert.rejects(
            timed("up (retry: the failed Job is replaced and re-run)", () => stack.up({ onEvent: (e) => events.push(e) })),
        );
        const retried = changedSteps(events).filter((s) => s.urn.endsWith("::auth-service-migrate"));
        assert.strictEqual((await backupJob()).uid, backupForTag.uid, "the retry took another backup although the images did not change");
        assert.ok(
            retried.some((s) => s.op === "replace" || s.op === "create-replacement"),
            `the failed Job was not re-run; steps: ${JSON.stringify(retried)}`,
        );
        const rerun = (await migrationJobs()).filter(hasFailed);
        assert.ok(
            rerun.some((o) => o.uid !== undefined && o.uid !== failedUid),
            "the retry awaited the old Job instead of running a new one",
        );

        await stack.removeConfig(`${PROJECT}:serviceImageTags`);
        await up("up (fixed: migration succeeds, auth-service rolls out)");
        const fixed = await migrationJobs();
        assert.strictEqual(fixed.length, 1, "the failed Jobs were not cleaned up");
        assert.strictEqual(getLive(fixed[0])?.status?.succeeded, 1, "the fixed migration did not succeed");
        // Back to the good image: its migration runs again, after a fresh backup.
        const backupForFix = await backupJob(true);
        assert.ok(backupForFix.uid !== backupForTag.uid, "no backup was taken before the fixed image's migration");
        assertBackedUpBefore(backupForFix, fixed);
        assert.strictEqual(deploymentImage(), goodImage);
        // No Job left behind by the failed runs: the namespace holds exactly the Jobs in the state.
        const inState = new Set((await kubeObjectsInState(stack)).filter((o) => o.kind === "Job").map((o) => o.name));
        const live = kubectlJson<{ items: any[] }>(["get", "jobs.v1.batch", "-n", NAMESPACE]).items.map((j) => j.metadata.name as string);
        assert.deepStrictEqual(live.sort(), [...inState].sort(), "Jobs in the cluster that the state does not know");

        // A Job that succeeded is not run again by an unrelated update (a setting change rolls the apps only).
        await stack.setConfig(`${PROJECT}:logLevel`, { value: "info" });
        const steps = await up("up (logLevel back to info after the migration succeeded)");
        assert.ok(!steps.some((s) => s.urn.endsWith("::auth-service-migrate") && s.op !== "update"), "the succeeded migration ran again");
        const after = await migrationJobs();
        assert.ok(after.length === 1 && after[0].uid === fixed[0].uid, "the succeeded migration Job was replaced (run again)");
        assert.strictEqual((await backupJob(true)).uid, backupForFix.uid, "a setting change took a backup (only a migrating image does)");
    });
});
