// `npm run bench -- --scale 20,40,80`: the program at each total number of apps (the catalog's 20, the rest
// synthetic: `syntheticApps`), timed on the cluster through the same code paths as the default benchmark (preview and
// `up` from empty, the one-service change, `refresh --preview-only`, and the runbook's way beside `up`) and without
// one (the program's evaluation on the mock monitor, the policy pack). `--no-cluster` runs only the latter. Prints
// the cost per resource and its growth, and draws bench/scale.svg.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CATALOG } from "../../components/model/catalog";
import { cpuMillis } from "../../components/model/cpu-scale";
import { syntheticApps } from "../../components/model/synthetic";
import { connectionBudget, poolDemands, POSTGRES_DEFAULT_MAX_CONNECTIONS } from "../../components/data/connection-budget";
import { missingPrerequisites, REPO_ROOT, toolchainEnv } from "../../tests/e2e/support/env";
import { describeMachine, Figures } from "./baseline";
import { renderLineChart } from "./chart";
import { kubectlAsync, recycleNodeVolumes, runbookWay } from "./kubectl";
import { KubeObject, renderObjects, runbookSteps } from "./manifests";
import { timePolicyPack } from "./policies";
import { pulumi } from "./pulumi";
import { formatScaleReport, median, ScalePoint, scaleFigures, ScaleSeries } from "./scale-stats";
import { benchConfig, IMAGE_CHANGE_APP, NAMESPACE, openSession, STACK } from "./session";

export const CHART_FILE = path.join(REPO_ROOT, "bench", "scale.svg");
/** `--real-node --scale`'s chart, beside the simulated nodes' one. */
export const REAL_NODE_CHART_FILE = path.join(REPO_ROOT, "bench", "scale-real-node.svg");
/** The cluster operations' figures on the real node carry it, so a baseline never compares them with the simulated nodes'. */
const REAL_NODE_SUFFIX = ", real node";
/** PgBouncer's default client limit (pgbouncerMaxClientConnections). */
const PGBOUNCER_DEFAULT_CLIENTS = 1000;

const OP = {
    evaluation: "program evaluation (mock monitor)",
    policies: "policy pack (every policy)",
    runbook: "runbook's way (kubectl)",
    preview: "pulumi preview from empty",
    up: "pulumi up from empty",
    image: "one-service image change (pulumi up)",
    refresh: "pulumi refresh --preview-only",
};
const WHAT: Record<string, string> = {
    [OP.evaluation]:
        "index.ts evaluated on Pulumi's mock monitor with the bench stack's config (tests/unit/support/harness runProgram, including its ~50 ms wait for the last registration); resources: every registration",
    [OP.policies]:
        "every policy of the pack (policies/rules createPolicies, production rules included) on the rendered custom resources, as tests/unit/policies/harness.ts runs them; resources: the custom resources",
    [OP.runbook]: "the rendered objects applied the runbook's way, phase by phase and service by service, each awaited in turn",
    [OP.preview]: "pulumi preview on a new, empty stack",
    [OP.up]: "pulumi up --yes --skip-preview on that stack",
    [OP.image]: `serviceImageTags.${IMAGE_CHANGE_APP} set to a new tag, then pulumi up --yes --skip-preview`,
    [OP.refresh]: "pulumi refresh --preview-only on the deployed stack",
};

/** The stack settings for a total of `apps` apps: the whole catalog, synthetic apps, and the connections they need. */
export function scaleSettings(apps: number): Record<string, string> {
    const synthetic = apps - CATALOG.length;
    if (synthetic < 0) throw new Error(`--scale ${apps}: the catalog alone has ${CATALOG.length} apps; sizes start there`);
    const budget = connectionBudget(poolDemands([...CATALOG, ...syntheticApps(synthetic)]), {
        maxConnections: POSTGRES_DEFAULT_MAX_CONNECTIONS,
        maxClientConnections: PGBOUNCER_DEFAULT_CLIENTS,
    });
    return {
        enableMobileApp: "true",
        ...(synthetic ? { syntheticApps: String(synthetic) } : {}),
        ...(budget.server.total > POSTGRES_DEFAULT_MAX_CONNECTIONS ? { postgresMaxConnections: String(budget.server.total) } : {}),
        ...(budget.client.total > PGBOUNCER_DEFAULT_CLIENTS ? { pgbouncerMaxClientConnections: String(budget.client.total) } : {}),
    };
}

/** A kubeconfig with no cluster in it, for the cluster-free measurements (the program is evaluated on mocks). */
export function stubKubeconfig(): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-bench-")), "kubeconfig");
    fs.writeFileSync(file, "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n");
    return file;
}

const emptyPoint = (apps: number): ScalePoint => ({ apps, resources: 0, seconds: [] });

export interface ScaleArgs {
    scale: number[];
    runs: number;
    noCluster: boolean;
    /** Run the cluster operations with the local stack's placement, every synthetic app on the real node too. */
    realNode?: boolean;
}

/** The label of the real node in the local stack's placement (Pulumi.local.yaml), and the entry whose placement synthetic apps copy. */
const REAL_NODE_LABEL = "ultramarket.local/node";
const PLACED_LIKE = "pgbouncer";
/**
 * What the real node's pods may request in all, in millicores: its 2 cores, less ~0.2 for CoreDNS, kube-router and a
 * Job starting while the apps run. Each size's cpuScalePercent is lowered until the pods fit (the scheduler would leave
 * the rest Pending and `up` would wait for them until it timed out).
 */
export const REAL_NODE_CPU_BUDGET = 1800;

/** The CPU the pods placed on the real node request, in millicores: every replica of every workload, each Job's pod once. */
export function realNodeCpuRequests(objects: KubeObject[]): number {
    let total = 0;
    for (const o of objects as any[]) {
        const pod = o.spec?.template?.spec;
        if (!pod || pod.nodeSelector?.[REAL_NODE_LABEL] !== "real") continue;
        const copies = o.kind === "Job" ? 1 : (o.spec.replicas ?? 1);
        total += copies * pod.containers.reduce((sum: number, c: any) => sum + (cpuMillis(c.resources?.requests?.cpu) ?? 0), 0);
    }
    return total;
}

/**
 * The stack config of a size on the real node: the local stack's (placement, stand-in images, volumes) with every
 * synthetic app placed on the real node like PgBouncer, at one replica (the kubelet runs at most 110 pods; 60 apps at
 * two would be 120 more), and cpuScalePercent lowered from the local stack's so what the node's pods request fits
 * REAL_NODE_CPU_BUDGET. Memory is never scaled: 24 GiB hold it.
 */
export async function realNodeScaleConfig(
    apps: number,
    overrides: Record<string, string> = {},
): Promise<ReturnType<typeof benchConfig> & { cpuScalePercent: number }> {
    const settings = { ...scaleSettings(apps), ...overrides };
    const base = benchConfig(settings, { realNode: true });
    const placement = JSON.parse(base.plain.workloadPlacement ?? "{}");
    if (!placement[PLACED_LIKE])
        throw new Error(`Pulumi.local.yaml places no ${PLACED_LIKE} on the real node: nothing to place the synthetic apps like`);
    const synthetic = syntheticApps(apps - CATALOG.length).map((a) => a.name);
    const extra = {
        ...settings,
        workloadPlacement: JSON.stringify({ ...placement, ...Object.fromEntries(synthetic.map((n) => [n, placement[PLACED_LIKE]])) }),
        replicas: JSON.stringify({ ...JSON.parse(base.plain.replicas ?? "{}"), ...Object.fromEntries(synthetic.map((n) => [n, 1])) }),
    };
    const local = Number(base.plain.cpuScalePercent ?? 100);
    const first = benchConfig(extra, { realNode: true });
    const requested = realNodeCpuRequests((await renderObjects(first.plain, first.secretKeys)).objects);
    const percent = Math.max(1, Math.min(local, Math.floor((local * REAL_NODE_CPU_BUDGET) / requested)));
    return { ...benchConfig({ ...extra, cpuScalePercent: String(percent) }, { realNode: true }), cpuScalePercent: percent };
}

export async function runScale(args: ScaleArgs): Promise<Figures> {
    const sizes = args.scale.length ? args.scale : [CATALOG.length];
    const ops = args.noCluster ? [OP.evaluation, OP.policies] : Object.values(OP);
    const onCluster = (op: string) => op !== OP.evaluation && op !== OP.policies;
    const label = (op: string) => (args.realNode && onCluster(op) ? `${op}${REAL_NODE_SUFFIX}` : op);
    const series: ScaleSeries[] = ops.map((operation) => ({ operation: label(operation), what: WHAT[operation], points: [] }));
    const point = (operation: string, p: ScalePoint) => series.find((s) => s.operation === label(operation))!.points.push(p);
    const chart = args.realNode ? REAL_NODE_CHART_FILE : CHART_FILE;
    const log = (label: string, seconds: number, resources: number) =>
        console.log(`[bench]   ${label}: ${seconds.toFixed(3)} s (${resources} resources)`);
    for (const apps of sizes) scaleSettings(apps); // refuse a bad size before anything runs
    // The program only reads the kubeconfig's path: without a cluster it gets a file that reaches none.
    const offline: Record<string, string> = args.noCluster ? { kubeconfig: stubKubeconfig() } : {};

    // The first evaluation loads and compiles every module: not a cost of the program's size.
    const warm = benchConfig({ ...scaleSettings(sizes[0]), ...offline });
    await renderObjects(warm.plain, warm.secretKeys);

    // Rounds go through every size in turn, so a burst of load elsewhere on the machine lands on all sizes alike.
    const cases = sizes.map((apps) => ({
        apps,
        ...benchConfig({ ...scaleSettings(apps), ...offline }),
        evaluation: emptyPoint(apps),
        policies: emptyPoint(apps),
    }));
    for (let round = 1; round <= args.runs; round++) {
        console.log(`[bench] round ${round}/${args.runs}`);
        for (const c of cases) {
            const { registrations, seconds } = await renderObjects(c.plain, c.secretKeys);
            c.evaluation.resources = registrations.length;
            c.evaluation.seconds.push(seconds);
            log(`${c.apps} apps, ${OP.evaluation}`, seconds, registrations.length);
            const pack = await timePolicyPack(registrations, STACK);
            c.policies.resources = pack.resources;
            c.policies.seconds.push(pack.seconds);
            log(`${c.apps} apps, ${OP.policies} (${pack.policies} policies, ${pack.violations} violations)`, pack.seconds, pack.resources);
        }
    }
    for (const c of cases) {
        point(OP.evaluation, c.evaluation);
        point(OP.policies, c.policies);
    }
    if (!args.noCluster) await clusterScale(sizes, args.runs, point, log, args.realNode === true);

    console.log(`\n${describeMachine()}${args.noCluster ? " (cluster-free figures: --no-cluster)" : ""}\n`);
    console.log(formatScaleReport(series));
    fs.mkdirSync(path.dirname(chart), { recursive: true });
    fs.writeFileSync(
        chart,
        renderLineChart({
            title: `npm run bench -- --scale ${sizes.join(",")}${args.noCluster ? " --no-cluster" : ""}${args.realNode ? " --real-node" : ""}`,
            xLabel: "number of apps",
            yLabel: "seconds (median)",
            series: series.map((s) => ({ label: s.operation, points: s.points.map((p) => ({ x: p.apps, y: median(p) })) })),
        }),
    );
    console.log(`\n[bench] wrote ${path.relative(process.cwd(), chart)}`);
    return scaleFigures(series);
}

/** The cluster operations at each size, through the default benchmark's code paths (session, pulumi, kubectl). */
async function clusterScale(
    sizes: number[],
    runs: number,
    point: (operation: string, p: ScalePoint) => void,
    log: (label: string, seconds: number, resources: number) => void,
    realNode: boolean,
): Promise<void> {
    const missing = missingPrerequisites();
    if (missing) throw new Error(missing);
    Object.assign(process.env, toolchainEnv());
    const session = openSession();
    let objects: Awaited<ReturnType<typeof renderObjects>>["objects"] = [];
    try {
        await kubectlAsync(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=300s"]);
        for (const apps of sizes) {
            const scaled = realNode ? await realNodeScaleConfig(apps) : undefined;
            const { config, plain, secretKeys } = scaled ?? benchConfig(scaleSettings(apps));
            const rendered = await renderObjects(plain, secretKeys);
            objects = rendered.objects;
            const resources = rendered.registrations.length;
            const appNames = [...CATALOG.map((a) => a.name), ...syntheticApps(apps - CATALOG.length).map((a) => a.name)];
            const steps = runbookSteps(objects, appNames);
            const timed: Record<string, number[]> = Object.fromEntries(Object.values(OP).map((op) => [op, []]));
            const record = (op: string, seconds: number, n = resources) => (timed[op].push(seconds), log(op, seconds, n));
            console.log(
                `[bench] ${apps} apps on the cluster: ${objects.length} objects, ${steps.length} runbook steps; logs in ${session.tmp}` +
                    (scaled
                        ? `; on the real node: the local stack's workloads and ${apps - CATALOG.length} synthetic apps at 1 replica, cpuScalePercent ${scaled.cpuScalePercent} (${realNodeCpuRequests(objects)}m requested)`
                        : ""),
            );
            const clean = async () => {
                await session.clean(objects);
                if (realNode) await recycleNodeVolumes();
            };
            for (let round = 1; round <= runs; round++) {
                const t = Date.now();
                await runbookWay(session.tmp, steps);
                record(OP.runbook, (Date.now() - t) / 1000, objects.length);
                await clean();
                const stack = await session.freshStack(`s${apps}-r${round}`, config);
                record(OP.preview, (await pulumi(stack, ["preview", "--stack", STACK])).seconds);
                record(OP.up, (await pulumi(stack, ["up", "--stack", STACK, "--yes", "--skip-preview"])).seconds);
                await pulumi(stack, ["config", "set", "--stack", STACK, "--path", `serviceImageTags.${IMAGE_CHANGE_APP}`, `1.0.${round}`]);
                record(OP.image, (await pulumi(stack, ["up", "--stack", STACK, "--yes", "--skip-preview"])).seconds);
                record(OP.refresh, (await pulumi(stack, ["refresh", "--stack", STACK, "--preview-only"])).seconds);
                await clean();
            }
            for (const op of [OP.runbook, OP.preview, OP.up, OP.image, OP.refresh])
                point(op, { apps, resources: op === OP.runbook ? objects.length : resources, seconds: timed[op] });
        }
    } finally {
        await session.clean(objects).catch((err) => console.error(`[bench] cleanup: ${err instanceof Error ? err.message : err}`));
        session.dispose();
    }
}
