// npm run bench [-- --runs N]: deploys the same platform the runbook's way, the kubectl floor's way and with
// `pulumi up` on the local control plane, times the day-2 commands, and prints the table and the ratios of the
// performance targets (README "Performance"). `-- --parallel-sweep 8,16,32` times only `pulumi up` from empty at
// each engine parallelism instead; `-- --scale 20,40,80` times the program at each number of apps (scale.ts);
// `--no-cluster` only what needs no cluster; `--compare` / `--save-baseline` against bench/baseline.json.
// Never part of the test suite.
import * as fs from "fs";
import * as path from "path";
import { missingPrerequisites, toolchainEnv } from "../../tests/e2e/support/env";
import { parseArgs } from "./args";
import { compareFigures, describeMachine, formatComparison, Figures, machineOf, readBaseline, writeBaseline } from "./baseline";
import { kubectlAsync, kubectlFloor, recycleNodeVolumes, runbookWay } from "./kubectl";
import { renderObjects, runbookSteps } from "./manifests";
import { describeChanges, emptyProgram, EngineEnv, lastChanges, pulumi, timeline, UpTimeline } from "./pulumi";
import { runScale } from "./scale";
import { benchConfig, IMAGE_CHANGE_APP, NAMESPACE, openSession, STACK } from "./session";
import { formatReport, Measurement, Ratio, ratios, summarize } from "./stats";

const KWOK_LABELS = {
    runbook: "runbook's way (kubectl, phase by phase)",
    floor: "kubectl floor (one server-side apply, wait for all)",
    up: "pulumi up from empty",
    noop: "no-op pulumi preview",
    empty: "empty-program preview, this project's runtime options",
    emptyDefault: "empty-program preview, `pulumi new typescript` defaults",
    image: "one-service image change (pulumi up)",
    setting: "setting change (pulumi up)",
    refresh: "pulumi refresh --preview-only",
};
/** `--real-node` figures carry it in their labels, so a baseline never compares them with the simulated nodes'. */
const REAL_NODE_SUFFIX = ", real node";
type Labels = typeof KWOK_LABELS;
/** The figures' labels; the empty program's previews deploy nothing, so they keep theirs on the real node. */
const labelsFor = (realNode: boolean): Labels =>
    Object.fromEntries(
        Object.entries(KWOK_LABELS).map(([k, label]) => [
            k,
            realNode && !["empty", "emptyDefault"].includes(k) ? `${label}${REAL_NODE_SUFFIX}` : label,
        ]),
    ) as Labels;

const targets = (M: Labels): Ratio[] => [
    { label: "up from empty / kubectl floor", numerator: M.up, denominator: M.floor, target: 1.5 },
    { label: "up from empty / runbook's way", numerator: M.up, denominator: M.runbook },
    { label: "no-op preview / empty-program preview (same options)", numerator: M.noop, denominator: M.empty, target: 1.5 },
    { label: "one-service image change / empty-program preview (same options)", numerator: M.image, denominator: M.empty, target: 2 },
    { label: "no-op preview / empty-program preview (template defaults)", numerator: M.noop, denominator: M.emptyDefault },
    { label: "one-service image change / empty-program preview (template defaults)", numerator: M.image, denominator: M.emptyDefault },
];

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    const figures = args.scale.length || args.noCluster ? await runScale(args) : await clusterBench(args.runs, args.sweep, args.realNode);
    if (args.compare) {
        const baseline = readBaseline();
        if (!baseline) console.log("\n[bench] --compare: there is no bench/baseline.json yet (write one with --save-baseline)");
        else console.log(`\n${formatComparison(compareFigures(baseline.figures, figures), baseline, machineOf())}`);
    }
    if (args.saveBaseline) {
        const file = writeBaseline(figures, machineOf(), { clusterFree: args.noCluster });
        console.log(`\n[bench] wrote ${path.relative(process.cwd(), file)}`);
    }
}

/** The default benchmark (and the parallelism sweep) on the cluster; returns the medians for the baseline. */
async function clusterBench(runs: number, sweep: number[], realNode: boolean): Promise<Figures> {
    const missing = missingPrerequisites();
    if (missing) throw new Error(missing);
    Object.assign(process.env, toolchainEnv());
    const M = labelsFor(realNode);
    const session = openSession();
    const { tmp, engine, parallel } = session;
    const { config, plain, secretKeys } = benchConfig({}, { realNode });
    const { objects } = await renderObjects(plain, secretKeys);
    const steps = runbookSteps(objects);
    console.log(`[bench] ${objects.length} objects, ${steps.length} runbook steps; ${runs} run(s) each; logs in ${tmp}`);

    const measurements: Measurement[] = [
        {
            label: M.runbook,
            seconds: [],
            what: `${steps.length} kubectl apply steps in the runbook's order, each data store and then every Deployment, Job, Gateway and Certificate awaited in turn`,
        },
        {
            label: M.floor,
            seconds: [],
            what: `kubectl apply --server-side of all ${objects.length} objects, then kubectl wait/rollout status for all at once (workloads, Gateway Programmed, Certificates Ready)`,
        },
        {
            label: M.up,
            seconds: [],
            what: `pulumi up --yes --skip-preview on a new stack (the same objects, every workload awaited), PULUMI_PARALLEL=${parallel}`,
        },
        { label: M.noop, seconds: [], what: "pulumi preview --expect-no-changes right after that up" },
        {
            label: M.empty,
            seconds: [],
            what: "pulumi preview of a TypeScript program that registers nothing, run with Pulumi.yaml's runtime options (transpile-only) and the same node_modules",
        },
        {
            label: M.emptyDefault,
            seconds: [],
            what: "the same empty program as `pulumi new typescript` sets it up (ts-node type-checks it at run time)",
        },
        { label: M.image, seconds: [], what: `serviceImageTags.${IMAGE_CHANGE_APP} set to a new tag, then pulumi up --yes --skip-preview` },
        { label: M.setting, seconds: [], what: "logLevel changed, then pulumi up --yes --skip-preview (ConfigMap + every app rolls)" },
        { label: M.refresh, seconds: [], what: "pulumi refresh --preview-only on the deployed stack" },
    ];
    const record = (label: string, seconds: number) => {
        measurements.find((m) => m.label === label)!.seconds.push(seconds);
        console.log(`[bench]   ${label}: ${seconds.toFixed(1)} s`);
    };
    const timelines: UpTimeline[] = [];
    const changes: string[] = [];

    const emptyEngine: EngineEnv = { ...engine, env: { ...engine.env, PULUMI_BACKEND_URL: `file://${path.join(tmp, "state-empty")}` } };
    fs.mkdirSync(path.join(tmp, "state-empty"));
    const emptyDirs = {
        same: emptyProgram(path.join(tmp, "empty-same"), true),
        template: emptyProgram(path.join(tmp, "empty-template"), false),
    };
    for (const dir of Object.values(emptyDirs)) await pulumi(emptyEngine, ["stack", "init", "empty"], dir);

    const freshStack = (round: string) => session.freshStack(round, config);
    // The real node's volumes are a fixed dozen: each round's deleted claims leave theirs Released until recycled.
    const clean = async () => {
        await session.clean(objects);
        if (realNode) await recycleNodeVolumes();
    };

    try {
        await kubectlAsync(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=300s"]);
        for (let round = 1; round <= (sweep.length ? 0 : runs); round++) {
            console.log(`[bench] round ${round}/${runs}`);
            let t = Date.now();
            await runbookWay(tmp, steps);
            record(M.runbook, (Date.now() - t) / 1000);
            await clean();
            t = Date.now();
            await kubectlFloor(tmp, objects);
            record(M.floor, (Date.now() - t) / 1000);
            await clean();

            const stack = await freshStack(`r${round}`);
            const eventLog = path.join(tmp, `up-r${round}.events.jsonl`);
            const started = Date.now();
            // --event-log is one of the CLI's debug commands (PULUMI_DEBUG_COMMANDS): where the time went.
            record(
                M.up,
                (
                    await pulumi({ ...stack, env: { ...stack.env, PULUMI_DEBUG_COMMANDS: "true" } }, [
                        "up",
                        "--stack",
                        STACK,
                        "--yes",
                        "--skip-preview",
                        "--event-log",
                        eventLog,
                    ])
                ).seconds,
            );
            const tl = timeline(eventLog, started);
            if (tl) timelines.push(tl);
            record(M.noop, (await pulumi(stack, ["preview", "--stack", STACK, "--expect-no-changes"])).seconds);
            record(M.empty, (await pulumi(emptyEngine, ["preview", "--stack", "empty"], emptyDirs.same)).seconds);
            record(M.emptyDefault, (await pulumi(emptyEngine, ["preview", "--stack", "empty"], emptyDirs.template)).seconds);
            await pulumi(stack, ["config", "set", "--stack", STACK, "--path", `serviceImageTags.${IMAGE_CHANGE_APP}`, `1.0.${round}`]);
            record(M.image, (await pulumi(stack, ["up", "--stack", STACK, "--yes", "--skip-preview"])).seconds);
            changes.push(`image change, round ${round}: ${describeChanges(await lastChanges(stack, STACK))}`);
            await pulumi(stack, ["config", "set", "--stack", STACK, "logLevel", "debug"]);
            record(M.setting, (await pulumi(stack, ["up", "--stack", STACK, "--yes", "--skip-preview"])).seconds);
            changes.push(`setting change, round ${round}: ${describeChanges(await lastChanges(stack, STACK))}`);
            record(M.refresh, (await pulumi(stack, ["refresh", "--stack", STACK, "--preview-only"])).seconds);
            await clean();
        }
        const sweepResults: Measurement[] = [];
        for (const parallel of sweep) {
            console.log(`[bench] --parallel ${parallel}`);
            const m: Measurement = {
                label: `pulumi up from empty, --parallel ${parallel}`,
                seconds: [],
                what: `as "${M.up}" with --parallel ${parallel}`,
            };
            for (let round = 1; round <= runs; round++) {
                const stack = await freshStack(`p${parallel}-r${round}`);
                m.seconds.push(
                    (await pulumi(stack, ["up", "--stack", STACK, "--yes", "--skip-preview", "--parallel", String(parallel)])).seconds,
                );
                console.log(`[bench]   ${m.seconds[m.seconds.length - 1].toFixed(1)} s`);
                await clean();
            }
            sweepResults.push(m);
        }

        console.log(`\n${describeMachine()}\n`);
        console.log(formatReport(measurements, ratios(measurements, targets(M))));
        if (sweepResults.length) console.log(`\n${formatReport(sweepResults, [])}`);
        console.log(`\nSteps the changes made (pulumi stack history):\n${changes.map((c) => `- ${c}`).join("\n")}`);
        for (const [i, tl] of timelines.entries()) {
            console.log(
                `\nup from empty, round ${i + 1}: first resource registered at ${tl.firstRegistration.toFixed(1)} s, last finished at ${tl.lastDone.toFixed(1)} s; slowest steps: ` +
                    tl.slowest.map((s) => `${s.urn.split("::").pop()} ${s.op} ${s.seconds.toFixed(0)} s`).join(", "),
            );
        }
        return Object.fromEntries(
            [...measurements, ...sweepResults].filter((m) => m.seconds.length).map((m) => [m.label, summarize(m.seconds).median]),
        );
    } finally {
        await clean().catch((err) => console.error(`[bench] cleanup: ${err instanceof Error ? err.message : err}`));
        session.dispose();
    }
}

main().catch((err) => {
    console.error(`[bench] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
});
