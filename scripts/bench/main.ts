// npm run bench [-- --runs N]: deploys the same platform the runbook's way, the kubectl floor's way and with
// `pulumi up` on the local control plane, times the day-2 commands, and prints the table and the ratios of the
// performance targets (README "Performance"). `-- --parallel-sweep 8,16,32` times only `pulumi up` from empty at
// each engine parallelism instead. Never part of the test suite.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT } from "../../config";
import { ENGINE_PARALLELISM, openStack } from "../../ops/workspace";
import { missingPrerequisites, REPO_ROOT, toolchainEnv } from "../../tests/e2e/support/env";
import { throwawayStackConfig } from "../../tests/e2e/support/stack";
import { kubectlAsync, kubectlFloor, removeObjects, runbookWay } from "./kubectl";
import { renderObjects, runbookSteps } from "./manifests";
import { describeChanges, emptyProgram, EngineEnv, lastChanges, pulumi, timeline, UpTimeline } from "./pulumi";
import { formatReport, Measurement, Ratio, ratios } from "./stats";

const STACK = "bench";
const NAMESPACE = "ultramarket-bench";
const STACK_FILE = path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`);
/** The one-service change: a new tag for this app (`serviceImageTags`). */
const IMAGE_CHANGE_APP = "cart-service";

const M = {
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

const TARGETS: Ratio[] = [
    { label: "up from empty / kubectl floor", numerator: M.up, denominator: M.floor, target: 1.5 },
    { label: "up from empty / runbook's way", numerator: M.up, denominator: M.runbook },
    { label: "no-op preview / empty-program preview (same options)", numerator: M.noop, denominator: M.empty, target: 1.5 },
    { label: "one-service image change / empty-program preview (same options)", numerator: M.image, denominator: M.empty, target: 2 },
    { label: "no-op preview / empty-program preview (template defaults)", numerator: M.noop, denominator: M.emptyDefault },
    { label: "one-service image change / empty-program preview (template defaults)", numerator: M.image, denominator: M.emptyDefault },
];

function parseArgs(argv: string[]): { runs: number; sweep: number[] } {
    let runs = 3;
    let sweep: number[] = [];
    for (let i = 0; i < argv.length; i++) {
        const [flag, inline] = argv[i].split("=", 2);
        const value = inline ?? argv[++i];
        if (flag === "--runs" && /^[1-9][0-9]?$/.test(value ?? "")) runs = Number(value);
        else if (flag === "--parallel-sweep" && /^[0-9]+(,[0-9]+)*$/.test(value ?? "")) sweep = value.split(",").map(Number);
        else throw new Error(`unknown or invalid argument "${argv[i]}"; usage: npm run bench -- [--runs 1-99] [--parallel-sweep 8,16,32]`);
    }
    return { runs, sweep };
}

async function main(): Promise<void> {
    const { runs, sweep } = parseArgs(process.argv.slice(2));
    const missing = missingPrerequisites();
    if (missing) throw new Error(missing);
    if (fs.existsSync(STACK_FILE)) throw new Error(`${STACK_FILE} exists (an interrupted benchmark?); delete it and run again`);
    Object.assign(process.env, toolchainEnv());

    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ultramarket-bench-"));
    const passphrase = crypto.randomBytes(24).toString("hex");
    // The parallelism operators get from ops and the workflows (ENGINE_PARALLELISM), unless PULUMI_PARALLEL is set here.
    const parallel = process.env.PULUMI_PARALLEL || String(ENGINE_PARALLELISM);
    const engine: EngineEnv = {
        env: { PULUMI_CONFIG_PASSPHRASE: passphrase, PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_PARALLEL: parallel },
        logDir: tmp,
    };
    const config: Record<string, { value: string; secret?: boolean }> = {
        ...throwawayStackConfig(),
        [`${PROJECT}:namespace`]: { value: NAMESPACE },
    };
    const plain = Object.fromEntries(Object.entries(config).map(([k, v]) => [k.slice(PROJECT.length + 1), v.value]));
    const secretKeys = Object.entries(config)
        .filter(([, v]) => v.secret)
        .map(([k]) => k.slice(PROJECT.length + 1));
    const objects = await renderObjects(plain, secretKeys);
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

    const freshStack = async (round: string): Promise<EngineEnv> => {
        fs.rmSync(STACK_FILE, { force: true });
        const backend = path.join(tmp, `state-${round}`);
        fs.mkdirSync(backend);
        const stack = await openStack({ stackName: STACK, create: true, backendUrl: `file://${backend}`, passphrase });
        await stack.setAllConfig(config);
        return { ...engine, env: { ...engine.env, PULUMI_BACKEND_URL: `file://${backend}` } };
    };
    const clean = async () => {
        const t = Date.now();
        await removeObjects(tmp, objects);
        console.log(`[bench]   (cleanup ${((Date.now() - t) / 1000).toFixed(1)} s)`);
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
        console.log(formatReport(measurements, ratios(measurements, TARGETS)));
        if (sweepResults.length) console.log(`\n${formatReport(sweepResults, [])}`);
        console.log(`\nSteps the changes made (pulumi stack history):\n${changes.map((c) => `- ${c}`).join("\n")}`);
        for (const [i, tl] of timelines.entries()) {
            console.log(
                `\nup from empty, round ${i + 1}: first resource registered at ${tl.firstRegistration.toFixed(1)} s, last finished at ${tl.lastDone.toFixed(1)} s; slowest steps: ` +
                    tl.slowest.map((s) => `${s.urn.split("::").pop()} ${s.op} ${s.seconds.toFixed(0)} s`).join(", "),
            );
        }
    } finally {
        await clean().catch((err) => console.error(`[bench] cleanup: ${err instanceof Error ? err.message : err}`));
        fs.rmSync(STACK_FILE, { force: true });
        // The manifests hold the Secret's (throwaway) values: nothing of the run is kept but the engine log.
        for (const f of fs.readdirSync(tmp))
            if (f.endsWith(".json") || f.startsWith("state-")) fs.rmSync(path.join(tmp, f), { recursive: true, force: true });
    }
}

function describeMachine(): string {
    const cpus = os.cpus();
    return `machine: ${cpus.length} × ${cpus[0]?.model ?? "cpu"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`;
}

main().catch((err) => {
    console.error(`[bench] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
});
