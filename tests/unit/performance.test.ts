// What makes `pulumi up` fast without weakening a guarantee, and the arithmetic of `npm run bench`
// (scripts/bench; its figures are measured there, never asserted here).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { DATA_STORE_NAMES } from "../../components/data/stores";
import { APP_NAMES } from "../../components/model/catalog";
import { KubeObject, kubeObjects, runbookSteps } from "../../scripts/bench/manifests";
import { formatReport, ratios, summarize } from "../../scripts/bench/stats";
import { EXPORTERS } from "../../components/observability/exporters";
import { ENGINE_PARALLELISM } from "../../ops/workspace";
import { REPO_ROOT, Registration } from "./support/harness";
import { evaluateProduction } from "./support/platform";

const SKIP_AWAIT = "pulumi.com/skipAwait";
const kind = (r: Registration) => r.type.split(":").pop();

describe("performance: awaits and ordering", () => {
    let regs: Registration[];
    before(async () => {
        regs = (await evaluateProduction()).registrations;
    });

    it("creates each app's Service after its Deployment is awaited, and only such a Service skips its own await", () => {
        const deployments = new Map(regs.filter((r) => kind(r) === "Deployment").map((r) => [r.inputs.metadata.name, r]));
        const skipped = regs.filter((r) => kind(r) === "Service" && r.inputs?.metadata?.annotations?.[SKIP_AWAIT] === "true");
        // The apps', the data-store exporters' (components/observability/exporters.ts) and PgBouncer's Services, each behind its awaited Deployment.
        const behindDeployments = [...APP_NAMES, ...EXPORTERS.map((e) => e.name)].filter((a) => deployments.has(a));
        assert.deepEqual(
            skipped.map((r) => r.inputs.metadata.name).sort(),
            [...behindDeployments, "pgbouncer"].sort(),
            "exactly the Services behind an awaited Deployment skip the await",
        );
        for (const svc of skipped) {
            const deployment = deployments.get(svc.inputs.metadata.name)!;
            assert.ok(svc.dependencies.includes(deployment.urn), `${svc.urn} must wait for its (awaited) Deployment`);
            // What the provider's Service await would have caught: a selector that matches no pod of the Deployment.
            const podLabels = deployment.inputs.spec.template.metadata.labels;
            assert.deepEqual(svc.inputs.spec.selector, deployment.inputs.spec.selector.matchLabels);
            for (const [k, v] of Object.entries(svc.inputs.spec.selector))
                assert.equal(podLabels[k], v, `${svc.urn} selects ${k}=${String(v)}, which its pods lack`);
        }
    });

    it("awaits every workload: no Deployment, StatefulSet, Job or data-store Service skips its await", () => {
        const dataStoreServices = regs.filter((r) => kind(r) === "Service" && DATA_STORE_NAMES.includes(r.inputs.metadata.labels?.app));
        assert.equal(dataStoreServices.length, DATA_STORE_NAMES.length);
        for (const r of [...regs.filter((x) => ["Deployment", "StatefulSet", "Job"].includes(kind(x) ?? "")), ...dataStoreServices]) {
            assert.equal(r.inputs.metadata.annotations?.[SKIP_AWAIT], undefined, `${r.urn} must be awaited`);
        }
    });

    it("runs the engine with a slot for every workload awaited at once, so no rollout queues behind another's await", () => {
        const awaited = regs.filter((r) => ["Deployment", "StatefulSet", "Job"].includes(kind(r) ?? ""));
        assert.ok(awaited.length > 8, "more than the engine's default on a 2-core runner (4 per CPU)");
        assert.ok(ENGINE_PARALLELISM >= awaited.length, `ENGINE_PARALLELISM ${ENGINE_PARALLELISM} < ${awaited.length} awaited workloads`);
    });

    it("runs the program transpiled by SWC without a type-check, and ships SWC as a runtime dependency", () => {
        const project = parseYaml(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8"));
        const tsconfigFile = project.runtime.options.tsconfig;
        // tsconfig files allow comments; drop the leading ones.
        const tsconfig = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, tsconfigFile), "utf8").replace(/^\s*\/\/.*$/gm, ""));
        assert.equal(tsconfig.compilerOptions.noCheck, true, "the @pulumi/pulumi runner reads noCheck as transpile-only");
        assert.equal(tsconfig["ts-node"]?.swc, true);
        const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8"));
        assert.ok(pkg.dependencies["@swc/core"], "`pulumi up` loads @swc/core: it must survive npm ci --omit=dev");
        assert.equal(require.resolve("@swc/core").length > 0, true);
    });
});

describe("performance: the benchmark's runbook order and figures", () => {
    let objects: KubeObject[];
    before(async () => {
        const regs = (await evaluateProduction()).registrations;
        objects = kubeObjects(regs).map((k) => k.object);
    });

    it("applies every object exactly once, in the runbook's phases: namespace, secrets, config, each data store awaited, then the services", () => {
        const steps = runbookSteps(objects);
        const applied = steps.flatMap((s) => s.objects);
        assert.equal(applied.length, objects.length);
        assert.equal(new Set(applied).size, objects.length);
        const titles = steps.map((s) => s.title);
        assert.equal(titles[0], "1.1 namespace");
        const at = (t: string) => titles.findIndex((x) => x.startsWith(t));
        for (const store of DATA_STORE_NAMES) {
            const step = steps[at(`2.1 ${store}`)];
            assert.ok(
                step.waits.some((w) => w.kind === "StatefulSet" && w.metadata.name === store),
                `the runbook waits for ${store}`,
            );
            assert.ok(at(`2.1 ${store}`) < at("3 "), `${store} before any service`);
        }
        assert.ok(at("3 api-gateway") < at("3 web-app"), "catalog order: the gateway before the frontends");
        // A real pod waits for what it reads: every Secret and ConfigMap a pod template names is applied no later than
        // its workload (on kwok nothing reads them, and the platform Secret once came last, after the awaited stores).
        const stepOf = (kind: string, name: string) =>
            steps.findIndex((s) => s.objects.some((o) => o.kind === kind && o.metadata.name === name));
        for (const [i, step] of steps.entries())
            for (const w of step.objects.filter((o) => ["Deployment", "StatefulSet", "Job"].includes(o.kind))) {
                const template = JSON.stringify((w as any).spec.template);
                for (const [kind, ref] of [
                    ["Secret", /"secretKeyRef":\{[^}]*"name":"([^"]+)"/g],
                    ["ConfigMap", /"configMapKeyRef":\{[^}]*"name":"([^"]+)"/g],
                ] as const)
                    for (const m of template.matchAll(ref))
                        if (stepOf(kind, m[1]) >= 0)
                            assert.ok(
                                stepOf(kind, m[1]) <= i,
                                `${w.kind}/${w.metadata.name ?? w.metadata.labels?.app} (step "${step.title}") reads ${kind}/${m[1]}, applied later`,
                            );
            }
        const migrations = objects.filter((o) => o.kind === "Job" && o.metadata.labels?.["app.kubernetes.io/component"] === "migration");
        const backup = at("2.2 backup before the migrations");
        assert.ok(
            steps[backup].waits.some((w) => w.kind === "Job"),
            "the runbook's way does not wait for the backup",
        );
        assert.equal(migrations.length, 2);
        for (const m of migrations)
            assert.ok(backup < steps.findIndex((s) => s.objects.includes(m)), `${m.metadata.labels?.app} migrates before the backup`);
        const rollout = steps[at("3.5 rollout status")];
        const ofApp = (o: KubeObject) => APP_NAMES.some((a) => o.metadata.labels?.app === a || o.metadata.labels?.app?.startsWith(`${a}-`));
        const waitsFor = (o: KubeObject) =>
            (o.metadata.annotations as Record<string, string> | undefined)?.["pulumi.com/waitFor"] !== undefined;
        const awaited = objects.filter(
            (o) => (o.kind === "Deployment" && ofApp(o)) || (o.kind === "Job" && ofApp(o)) || (waitsFor(o) && ofApp(o)),
        );
        assert.ok(
            awaited.some((o) => o.kind === "Certificate"),
            "an app's Certificate is waited for, as pulumi up does",
        );
        assert.deepEqual(
            new Set(rollout.waits),
            new Set(awaited),
            "rollout status for every Deployment and migration Job, and a wait on each app's awaited custom resource",
        );
        // A data store's exporter is rolled out with its store, before any service.
        for (const store of DATA_STORE_NAMES) {
            assert.ok(
                steps[at(`2.1 ${store}`)].waits.some((w) => w.kind === "Deployment" && w.metadata.name === `${store}-exporter`),
                `the runbook waits for ${store}-exporter`,
            );
        }
        // The users Jobs and PgBouncer are awaited after the stores and before the first service, as pulumi up orders them.
        const access = steps[at("2.1 database users")];
        assert.ok(
            at("2.1 database users") > at("2.1 postgres") && at("2.1 database users") < at("3 "),
            "database users between the stores and the services",
        );
        assert.deepEqual(access.waits.map((o) => `${o.kind}/${o.metadata.labels?.app}`).sort(), [
            "Deployment/pgbouncer",
            "Job/database-users-elasticsearch",
            "Job/database-users-mongodb",
            "Job/database-users-postgres",
        ]);
    });

    it("summarizes runs by median and spread, and ratios of medians against their targets", () => {
        assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, runs: 3 });
        assert.equal(summarize([4, 1, 3, 2]).median, 2.5);
        assert.throws(() => summarize([]), /no runs/);
        const ms = [
            { label: "up", seconds: [12, 9, 30], what: "" },
            { label: "floor", seconds: [6, 6, 7], what: "" },
            { label: "never run", seconds: [], what: "" },
        ];
        const [met, missed, ...rest] = ratios(ms, [
            { label: "up/floor", numerator: "up", denominator: "floor", target: 2 },
            { label: "up/floor strict", numerator: "up", denominator: "floor", target: 1.5 },
            { label: "left out", numerator: "never run", denominator: "floor", target: 1 },
        ]);
        assert.deepEqual([met.value, met.met, missed.met, rest.length], [2, true, false, 0]);
        const table = formatReport(ms, [met, missed]);
        assert.match(table, /\| up +\| 12\.0 s \| 9\.0–30\.0 s \| 3 \|/);
        assert.match(table, /\| up\/floor strict \| 2\.00× \| ≤ 1\.5 \(missed\) \|/);
        assert.doesNotMatch(table, /never run \|/);
    });
});
