// End-to-end: the real Pulumi engine (built by scripts/toolchain.sh) deploys the whole platform to the
// local control plane (scripts/local-cluster.sh) through the Automation API. One scenario, in order:
// preview with the policy pack, up, no-op preview, drift, one service's image tag, rollback, destroy.
//
// Needs: `npm run toolchain`, `bash scripts/local-cluster.sh start`, `npm ci --prefix policies`.
// When they are missing the suite fails and says what to run; with ULTRAMARKET_E2E_ALLOW_SKIP=1 it is
// skipped instead, with the same explanation printed.
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { CATALOG, DATABASES_WITH_USERS } from "../../components/model/catalog";
import { databaseUsersJobName } from "../../components/data/database-users";
import { PROJECT } from "../../config";
import { ExitCode } from "../../ops/errors";
import { detectDrift, GitCodeInspector, rollback } from "../../ops/operations";
import { openStack } from "../../ops/workspace";
import { kubectl, kubectlJson, POLICY_PACK, REPO_ROOT, timed } from "./support/env";
import {
    changedSteps,
    getLive,
    KubeObjectRef,
    kubeObjectsInState,
    recordingIO,
    requireLocalEngine,
    StateResource,
    stateResources,
    throwawayStackConfig,
} from "./support/stack";

const STACK = "e2e";
const NAMESPACE = `ultramarket-${STACK}`;
const STACK_FILE = path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`);
const TAG_CHANGE = "1.0.1-e2e";

const io = recordingIO();

/** URNs of the protected resources and of everything they depend on (dependencies and parents, transitively). */
function protectedClosure(resources: StateResource[]): Set<string> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const keep = new Set<string>();
    const todo = resources.filter((r) => r.protect).map((r) => r.urn);
    while (todo.length) {
        const urn = todo.pop()!;
        if (keep.has(urn)) continue;
        keep.add(urn);
        const r = byUrn.get(urn);
        if (!r) continue;
        todo.push(...(r.dependencies ?? []), ...Object.values(r.propertyDependencies ?? {}).flat(), ...(r.parent ? [r.parent] : []));
    }
    return keep;
}

/** The raw state entry of one resource. */
async function stateOf(stack: Stack, urn: string): Promise<StateResource | undefined> {
    const deployment = await stack.exportStack();
    return ((deployment.deployment as { resources?: StateResource[] }).resources ?? []).find((r) => r.urn === urn);
}

/** deployment name -> container images, for every Deployment in the namespace. */
function deploymentImages(): Map<string, string[]> {
    const list = kubectlJson<{ items: any[] }>(["get", "deployments.v1.apps", "-n", NAMESPACE]);
    return new Map(
        list.items.map((d) => [d.metadata.name as string, (d.spec.template.spec.containers as any[]).map((c) => c.image as string)]),
    );
}

/** An app (label `app`) whose Deployment is in the state and not protected; not a data store's exporter (component monitoring). */
function appDeployments(objects: KubeObjectRef[]): KubeObjectRef[] {
    return objects.filter(
        (o) =>
            o.kind === "Deployment" && !o.protect && o.labels.app !== undefined && o.labels["app.kubernetes.io/component"] !== "monitoring",
    );
}

/** The data stores' exporters (components/observability/exporters.ts): one Deployment each, scraped like the apps. */
function exporterDeployments(objects: KubeObjectRef[]): KubeObjectRef[] {
    return objects.filter((o) => o.kind === "Deployment" && o.labels["app.kubernetes.io/component"] === "monitoring");
}

describe("e2e: the platform on the local control plane", function () {
    let stack: Stack;
    let stateDir: string;
    let deployed: KubeObjectRef[] = [];
    let initialImages = new Map<string, string[]>();
    let stackFileExisted = false;

    before(async function () {
        requireLocalEngine(this);
        stackFileExisted = fs.existsSync(STACK_FILE);
        assert.ok(!stackFileExisted, `${STACK_FILE} exists: a previous e2e run did not clean up; delete it and rerun`);
        // A namespace left by an interrupted run would make `up` fail with "already exists".
        kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]);

        // The Automation API finds `pulumi` (and the engine its plugins) through this process's environment.
        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-e2e-state-"));
        stack = await openStack({
            stackName: STACK,
            create: true,
            backendUrl: `file://${stateDir}`,
            // a throwaway per-run passphrase: the state lives in a temp dir deleted after the run
            passphrase: crypto.randomBytes(24).toString("hex"),
        });
        await stack.setAllConfig(throwawayStackConfig());
    });

    after(async function () {
        if (!stack) return;
        try {
            kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]);
        } finally {
            if (!stackFileExisted) fs.rmSync(STACK_FILE, { force: true });
            if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
        }
    });

    it("previews the whole platform with the policy pack and no mandatory violation", async function () {
        const events: EngineEvent[] = [];
        const res = await timed("preview with policy pack (empty stack)", () =>
            stack.preview({ policyPacks: [POLICY_PACK], onEvent: (e) => events.push(e) }),
        );
        assert.ok(
            (res.changeSummary.create ?? 0) > 20,
            `expected the preview to create the platform, got ${JSON.stringify(res.changeSummary)}`,
        );
        const mandatory = events
            .filter((e) => e.policyEvent?.enforcementLevel === "mandatory")
            .map((e) => `${e.policyEvent!.policyName}: ${e.policyEvent!.message}`);
        assert.deepStrictEqual(mandatory, []);
    });

    it("up creates every object, and the API server holds each one", async function () {
        const res = await timed("up (full platform, cold)", () => stack.up({ policyPacks: [POLICY_PACK], onOutput: io.stream }));
        assert.strictEqual(res.summary.result, "succeeded");
        deployed = await kubeObjectsInState(stack);
        assert.ok(deployed.length > 20, `expected the platform's objects in the state, got ${deployed.length}`);
        const missing: string[] = [];
        for (const obj of deployed) {
            const live = getLive(obj);
            if (!live) missing.push(`${obj.kind} ${obj.namespace ?? ""}/${obj.name}`);
            else if (obj.uid)
                assert.strictEqual(live.metadata.uid, obj.uid, `${obj.kind} ${obj.name}: the live object is not the one Pulumi created`);
        }
        assert.deepStrictEqual(missing, [], "objects in the state but not in the cluster");

        const kinds = new Set(deployed.map((o) => o.kind));
        // The production switches (edge gateway, certManager, prometheusOperator) are on: their kinds met the API
        // server's schemas (the real CRDs, scripts/toolchain.sh `crds`).
        for (const kind of [
            "Namespace",
            "Deployment",
            "Service",
            "StatefulSet",
            "PersistentVolumeClaim",
            "Secret",
            "ConfigMap",
            "NetworkPolicy",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Job",
            "Gateway",
            "HTTPRoute",
            "BackendTrafficPolicy",
            "SecurityPolicy",
            "Certificate",
            "PrometheusRule",
            "ServiceMonitor",
        ]) {
            assert.ok(kinds.has(kind), `no ${kind} was deployed (kinds: ${[...kinds].sort().join(", ")})`);
        }
        assert.ok(!deployed.some((o) => o.kind === "Ingress"), "the Gateway edge deploys no Ingress");
        const condition = (o: KubeObjectRef, type: string) =>
            (getLive(o)?.status?.conditions ?? []).find((c: any) => c.type === type)?.status;
        for (const o of deployed.filter((x) => x.kind === "Gateway"))
            assert.strictEqual(condition(o, "Programmed"), "True", `Gateway ${o.name} was not awaited to Programmed`);
        for (const o of deployed.filter((x) => x.kind === "Certificate"))
            assert.strictEqual(condition(o, "Ready"), "True", `Certificate ${o.name} was not awaited to Ready`);
        const monitors = deployed.filter((o) => o.kind === "ServiceMonitor");
        const scraped = [...appDeployments(deployed), ...exporterDeployments(deployed)];
        assert.ok(
            monitors.every((m) => scraped.some((d) => d.name === m.name)),
            "every ServiceMonitor is named after a deployed app or exporter",
        );
        // Database metrics: one exporter per data store, each with its Service and ServiceMonitor, all available.
        const exporters = ["postgres-exporter", "mongodb-exporter", "redis-exporter", "elasticsearch-exporter"];
        assert.deepStrictEqual(
            exporterDeployments(deployed)
                .map((d) => d.name)
                .sort(),
            [...exporters].sort(),
        );
        for (const name of exporters) {
            assert.ok(
                deployed.some((o) => o.kind === "Service" && o.name === name),
                `no Service ${name}`,
            );
            assert.ok(
                monitors.some((m) => m.name === name),
                `no ServiceMonitor ${name}`,
            );
            assert.ok(
                deployed.some((o) => o.kind === "NetworkPolicy" && o.name === `allow-${name}`),
                `no NetworkPolicy allow-${name}`,
            );
        }
        for (const d of deployed.filter((o) => o.kind === "Deployment")) {
            const live = getLive(d);
            assert.strictEqual(live.status?.availableReplicas ?? 0, live.spec.replicas, `Deployment ${d.name} is not fully available`);
        }
        for (const s of deployed.filter((o) => o.kind === "StatefulSet")) {
            const live = getLive(s);
            assert.strictEqual(live.status?.readyReplicas ?? 0, live.spec.replicas, `StatefulSet ${s.name} is not ready`);
        }
        // Least privilege: each app that uses PostgreSQL, MongoDB or Elasticsearch reads its own Secret, never the superuser's; the
        // users Jobs completed; PgBouncer is ready, and PostgreSQL admits it instead of the apps.
        const usersJobs = deployed.filter(
            (o) => o.kind === "Job" && o.urn.includes("ultramarket:data:DatabaseUsers$kubernetes:batch/v1:Job::"),
        );
        assert.deepStrictEqual(usersJobs.map((o) => o.urn.split("::").pop()).sort(), DATABASES_WITH_USERS.map(databaseUsersJobName).sort());
        for (const j of usersJobs)
            assert.ok(
                (getLive(j).status?.conditions ?? []).some((c: any) => c.type === "Complete" && c.status === "True"),
                `users Job ${j.name} did not complete`,
            );
        const pooler = getLive({ apiVersion: "apps/v1", kind: "Deployment", name: "pgbouncer", namespace: NAMESPACE });
        assert.ok(pooler && pooler.status?.availableReplicas === pooler.spec.replicas, "PgBouncer is not available");
        const dbApps = CATALOG.filter(
            (a) => appDeployments(deployed).some((d) => d.name === a.name) && a.dataStores.some((d) => d === "postgres" || d === "mongodb"),
        );
        assert.ok(dbApps.length > 0, "no deployed app uses PostgreSQL or MongoDB");
        for (const a of dbApps) {
            const container = getLive({ apiVersion: "apps/v1", kind: "Deployment", name: a.name, namespace: NAMESPACE }).spec.template.spec
                .containers[0];
            const refs = (container.env ?? [])
                .filter((e: any) => e.valueFrom?.secretKeyRef)
                .map((e: any) => `${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`);
            assert.ok(
                !refs.some((r: string) => /\/(POSTGRES|MONGODB)_PASSWORD$/.test(r) && !r.startsWith(`${a.name}-database/`)),
                `${a.name} reads a database password that is not its own: ${refs.join(", ")}`,
            );
            assert.ok(
                refs.some((r: string) => r.startsWith(`${a.name}-database/`)),
                `${a.name} does not read its own database Secret`,
            );
            assert.ok(
                getLive({ apiVersion: "v1", kind: "Secret", name: `${a.name}-database`, namespace: NAMESPACE }),
                `no Secret ${a.name}-database`,
            );
            if (a.dataStores.includes("postgres")) {
                assert.match(
                    (container.env ?? []).find((e: any) => e.name === "POSTGRES_URL")?.value ?? "",
                    /pgbouncer/,
                    `${a.name} does not connect through PgBouncer`,
                );
            }
        }
        const allowPostgres = getLive({
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            name: "allow-postgres",
            namespace: NAMESPACE,
        });
        const admitted = JSON.stringify(allowPostgres.spec.ingress);
        assert.ok(
            admitted.includes('"pgbouncer"') && !dbApps.some((a) => a.dataStores.includes("postgres") && admitted.includes(`"${a.name}"`)),
            `allow-postgres admits the apps directly: ${admitted}`,
        );
        // Backups before migrations: the protected volume, and one backup Job that completed before any migration Job was created.
        const backupVolume = deployed.find((o) => o.kind === "PersistentVolumeClaim" && o.name === "database-backups");
        assert.ok(backupVolume?.protect, "the database-backups volume is missing or not protected");
        const backups = deployed.filter((o) => o.kind === "Job" && o.urn.endsWith("$kubernetes:batch/v1:Job::database-backup"));
        assert.strictEqual(backups.length, 1, "expected one backup Job");
        const backupLive = getLive(backups[0]);
        assert.ok(
            (backupLive.status?.conditions ?? []).some((c: any) => c.type === "Complete" && c.status === "True"),
            "the backup Job did not complete",
        );
        for (const m of deployed.filter((o) => o.kind === "Job" && o.urn.includes("ultramarket:apps:Microservice$"))) {
            const created = getLive(m).metadata.creationTimestamp;
            assert.ok(
                Date.parse(backupLive.status.completionTime) <= Date.parse(created),
                `migration Job ${m.name} was created (${created}) before the backup completed (${backupLive.status.completionTime})`,
            );
        }
        const pvcs = kubectlJson<{ items: any[] }>(["get", "persistentvolumeclaims", "-n", NAMESPACE]).items;
        assert.ok(pvcs.length > 0, "no PersistentVolumeClaim in the namespace");
        for (const pvc of pvcs) assert.strictEqual(pvc.status?.phase, "Bound", `PVC ${pvc.metadata.name} is not Bound`);
        initialImages = deploymentImages();
        assert.ok(appDeployments(deployed).length >= 2, "expected at least two application Deployments");
    });

    it("a second preview reports no changes", async function () {
        const res = await timed("preview (no-op)", () => stack.preview({ policyPacks: [POLICY_PACK], expectNoChanges: true }));
        const changed = Object.entries(res.changeSummary).filter(([op, n]) => op !== "same" && (n ?? 0) > 0);
        assert.deepStrictEqual(changed, []);
    });

    it("reports drift after a kubectl edit (refresh --preview-only), without touching the state, and up --refresh repairs it", async function () {
        const target = appDeployments(deployed)[0];
        const before = await stateOf(stack, target.urn);
        const live = getLive(target);
        const container = live.spec.template.spec.containers[0];
        kubectl([
            "patch",
            "deployments.v1.apps",
            target.name,
            "-n",
            NAMESPACE,
            "--type=json",
            "-p",
            JSON.stringify([
                { op: "replace", path: "/spec/template/spec/containers/0/image", value: `${container.image.split(":")[0]}:drifted` },
            ]),
        ]);

        const report = await timed("refresh --preview-only (drift check)", () => detectDrift(stack, io));
        assert.strictEqual(report.exitCode, ExitCode.Drift);
        assert.ok(
            report.drifted.some((d) => d.urn === target.urn),
            `drift report ${JSON.stringify(report.drifted)} does not name ${target.urn}`,
        );
        assert.deepStrictEqual(await stateOf(stack, target.urn), before, "refresh --preview-only changed the state");
        assert.ok(
            getLive(target).spec.template.spec.containers[0].image.endsWith(":drifted"),
            "the drifted object was changed back by the drift check",
        );

        await timed("up --refresh (repairs drift)", () => stack.up({ refresh: true, policyPacks: [POLICY_PACK], onOutput: io.stream }));
        assert.strictEqual(getLive(target).spec.template.spec.containers[0].image, container.image);
    });

    it("changing one service's image tag updates only that service's objects", async function () {
        // An app without migrations: a migrating app's new image also takes a backup first (the day2 suite covers that).
        const migrating = new Set(CATALOG.filter((a) => a.migrations).map((a) => a.name));
        const target = appDeployments(deployed).filter((d) => !migrating.has(d.labels.app))[1];
        const app = target.labels.app;
        await stack.setConfig(`${PROJECT}:serviceImageTags`, { value: JSON.stringify({ [app]: TAG_CHANGE }) });
        const events: EngineEvent[] = [];
        await timed("up (one service's image tag)", () => stack.up({ policyPacks: [POLICY_PACK], onEvent: (e) => events.push(e) }));
        const steps = changedSteps(events);
        assert.ok(steps.length > 0, "the tag change produced no step");
        const foreign = steps.filter((s) => s.app !== app);
        assert.deepStrictEqual(foreign, [], `steps outside ${app}`);

        const after = deploymentImages();
        for (const [name, images] of initialImages) {
            if (name === target.name)
                assert.ok(
                    after.get(name)!.every((i) => i.endsWith(`:${TAG_CHANGE}`)),
                    `${name} runs ${after.get(name)!.join(", ")}`,
                );
            else assert.deepStrictEqual(after.get(name), images, `Deployment ${name} changed although only ${app}'s tag did`);
        }
    });

    it("rollback restores the previous image tag", async function () {
        const target = appDeployments(deployed)[1];
        const report = await timed("rollback (ops)", () =>
            rollback({
                stack,
                io,
                code: new GitCodeInspector(REPO_ROOT),
                verifier: { verify: async () => ({ status: "skipped", summary: "e2e checks the cluster itself", failures: [] }) },
                force: true,
                policyPacks: [POLICY_PACK],
            }),
        );
        assert.ok(report.version !== undefined && report.version > report.from, "the rollback recorded no update");
        assert.deepStrictEqual(deploymentImages().get(target.name), initialImages.get(target.name));
        // Whole-state rollback runs version N's program and config from a worktree: the update it recorded ran
        // without the rolled-back tag, while this checkout's stack file is left as it is (revert on main instead).
        const [latest] = await stack.history(1);
        assert.ok(latest && latest.result === "succeeded", "the rollback's update is not the newest in the history");
        assert.ok(
            !(latest.config?.[`${PROJECT}:serviceImageTags`]?.value ?? "").includes(TAG_CHANGE),
            "the rollback's update ran with the rolled-back tag",
        );
        assert.ok(
            ((await stack.getAllConfig())[`${PROJECT}:serviceImageTags`]?.value ?? "").includes(TAG_CHANGE),
            "rollback changed this checkout's stack file",
        );
    });

    it("destroy removes the applications but refuses to delete the protected data stores", async function () {
        const objects = await kubeObjectsInState(stack);
        const protectedObjs = objects.filter((o) => o.protect);
        assert.ok(
            protectedObjs.some((o) => o.kind === "StatefulSet"),
            "no data store StatefulSet is protected",
        );
        // What a protected resource depends on (its Service, Secret, namespace...) must stay with it.
        const keep = protectedClosure(await stateResources(stack));
        const apps = appDeployments(objects);
        assert.ok(
            apps.length > 0 && apps.every((d) => !keep.has(d.urn)),
            "an application Deployment is (a dependency of) a protected resource",
        );

        await assert.rejects(
            timed("destroy (refused)", () => stack.destroy({ onOutput: io.stream })),
            /protected/i,
        );
        for (const o of protectedObjs) assert.ok(getLive(o), `protected ${o.kind} ${o.name} was deleted by the refused destroy`);

        await timed("destroy --exclude-protected", () => stack.destroy({ excludeProtected: true, onOutput: io.stream }));
        const remaining = new Set((await kubeObjectsInState(stack)).map((o) => o.urn));
        for (const o of objects) {
            const live = getLive(o);
            if (keep.has(o.urn)) {
                assert.ok(
                    live && !live.metadata.deletionTimestamp,
                    `${o.kind} ${o.name} (protected or needed by a protected resource) was deleted`,
                );
                assert.ok(remaining.has(o.urn), `${o.kind} ${o.name} is live but left the state`);
            } else {
                assert.ok(!live || live.metadata.deletionTimestamp, `${o.kind} ${o.name} survived destroy`);
                assert.ok(!remaining.has(o.urn), `${o.kind} ${o.name} is still in the state`);
            }
        }
        const pvcs = kubectlJson<{ items: any[] }>(["get", "persistentvolumeclaims", "-n", NAMESPACE]).items;
        assert.ok(pvcs.length > 0 && pvcs.every((p) => p.status?.phase === "Bound"), "the data stores' volumes were deleted or unbound");
    });
});
