// Issue 23 items 3 and 5: the arithmetic of `npm run bench -- --scale`, its chart, and the comparison with
// bench/baseline.json (scripts/bench; figures are measured there, never asserted here).
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CATALOG } from "../../components/model/catalog";
import { parseArgs } from "../../scripts/bench/args";
import { compareFigures, formatComparison, Machine, readBaseline, writeBaseline } from "../../scripts/bench/baseline";
import { escapeXml, renderLineChart, ticks } from "../../scripts/bench/chart";
import { formatScaleReport, growths, scaleFigures, ScaleSeries } from "../../scripts/bench/scale-stats";
import { REAL_NODE_CPU_BUDGET, realNodeCpuRequests, realNodeScaleConfig, scaleSettings, stubKubeconfig } from "../../scripts/bench/scale";
import { renderObjects } from "../../scripts/bench/manifests";

/** Every tag opened is closed in order (self-closing ones aside): a well-formed document, as far as tags go. */
function assertBalanced(svg: string): void {
    const stack: string[] = [];
    for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
        const [, closing, name, selfClosing] = m;
        if (selfClosing) continue;
        if (closing) assert.equal(stack.pop(), name, `</${name}> closes another tag`);
        else stack.push(name);
    }
    assert.deepEqual(stack, [], "unclosed tags");
}

const MACHINE: Machine = { cpuModel: "AMD EPYC", cpus: 2, memoryGiB: 24, node: "v24.21.0", commit: "abc1234" };

describe("bench scale mode (issue 23): arguments, cost per resource, chart, baseline", () => {
    it("parses --scale, --no-cluster, --compare, --save-baseline and --real-node, and refuses what does not combine", () => {
        assert.deepEqual(parseArgs(["--scale", "80,20,40", "--no-cluster", "--compare"]), {
            runs: 3,
            sweep: [],
            scale: [20, 40, 80],
            noCluster: true,
            compare: true,
            saveBaseline: false,
            realNode: false,
        });
        assert.equal(parseArgs(["--real-node", "--runs", "3"]).realNode, true);
        assert.deepEqual(parseArgs(["--real-node", "--scale", "40,20"]).scale, [20, 40]);
        assert.equal(parseArgs(["--real-node", "--scale", "20,40"]).realNode, true);
        assert.throws(() => parseArgs(["--real-node", "--no-cluster"]), /--real-node runs on the real node; --no-cluster runs on none/);
        assert.throws(() => parseArgs(["--real-node", "--parallel-sweep", "8,16"]), /does not take --real-node/);
        assert.equal(parseArgs(["--scale=20", "--save-baseline", "--runs", "5"]).saveBaseline, true);
        assert.deepEqual(parseArgs([]).scale, []);
        assert.throws(() => parseArgs(["--scale", "20,,40"]), /invalid argument/);
        assert.throws(() => parseArgs(["--parallel-sweep", "8", "--no-cluster"]), /takes neither/);
        assert.throws(() => parseArgs(["--fast"]), /usage: npm run bench/);
    });

    it("sizes count every app: the catalog's own, then synthetic ones, with the connections they need", () => {
        assert.deepEqual(scaleSettings(CATALOG.length), { enableMobileApp: "true" });
        const wide = scaleSettings(80);
        assert.equal(wide.syntheticApps, String(80 - CATALOG.length));
        assert.ok(Number(wide.postgresMaxConnections) > 100, "synthetic apps on PostgreSQL raise max_connections");
        assert.throws(() => scaleSettings(CATALOG.length - 1), /sizes start there/);
    });

    const series: ScaleSeries[] = [
        {
            operation: "linear",
            what: "x",
            points: [
                { apps: 20, resources: 200, seconds: [1, 1.2, 0.8] },
                { apps: 80, resources: 800, seconds: [4.4, 4, 3.6] },
            ],
        },
        {
            operation: "quadratic",
            what: "y",
            points: [
                { apps: 80, resources: 800, seconds: [16] },
                { apps: 20, resources: 200, seconds: [1] },
                { apps: 40, resources: 400, seconds: [4] },
            ],
        },
        { operation: "once", what: "z", points: [{ apps: 20, resources: 200, seconds: [1] }] },
    ];

    it("counts the CPU the real node's pods request: every replica, each Job's pod once, nothing placed elsewhere", () => {
        const pod = (cpu: string[], real = true) => ({
            spec: {
                ...(real ? { nodeSelector: { "ultramarket.local/node": "real" } } : {}),
                containers: cpu.map((c) => ({ resources: { requests: { cpu: c } } })),
            },
        });
        const objects = [
            { kind: "Deployment", spec: { replicas: 2, template: pod(["30m", "5m"]) } },
            { kind: "StatefulSet", spec: { template: pod(["0.25"]) } },
            { kind: "Job", spec: { parallelism: 3, template: pod(["10m"]) } },
            { kind: "Deployment", spec: { replicas: 9, template: pod(["1"], false) } },
            { kind: "Service", spec: {} },
        ] as any[];
        assert.equal(realNodeCpuRequests(objects), 2 * 35 + 250 + 10);
    });

    it("puts every synthetic app on the real node at one replica in --real-node scale mode, and scales CPU down until the pods fit", async () => {
        // Rendered on the mock monitor: a kubeconfig that reaches no cluster, as --no-cluster gives the program.
        const kubeconfig = stubKubeconfig();
        try {
            for (const apps of [20, 80]) {
                const c = await realNodeScaleConfig(apps, { kubeconfig });
                const placement = JSON.parse(c.plain.workloadPlacement);
                const replicas = JSON.parse(c.plain.replicas);
                for (let i = 1; i <= apps - CATALOG.length; i++) {
                    const name = `synthetic-${String(i).padStart(3, "0")}`;
                    assert.deepEqual(placement[name], placement.pgbouncer, name);
                    assert.equal(replicas[name], 1, name);
                }
                const { objects } = await renderObjects(c.plain, c.secretKeys);
                assert.ok(realNodeCpuRequests(objects) <= REAL_NODE_CPU_BUDGET, `${apps} apps: ${realNodeCpuRequests(objects)}m`);
                if (apps === 20) assert.equal(c.cpuScalePercent, 15, "the local stack's percent when it fits");
                else assert.ok(c.cpuScalePercent < 15, "lowered when it does not");
            }
        } finally {
            fs.rmSync(path.dirname(kubeconfig), { recursive: true, force: true });
        }
    });

    it("flags an operation whose cost per resource grows by more than 20 % from the smallest size to the largest", () => {
        const g = growths(series);
        assert.deepEqual(
            g.map((x) => [x.operation, Number(x.growth.toFixed(3)), x.flagged]),
            [
                ["linear", 0, false],
                ["quadratic", 3, true],
            ],
        );
        assert.equal(
            growths([{ ...series[0], points: [series[0].points[0], { apps: 80, resources: 800, seconds: [4.7] }] }])[0].flagged,
            false,
        );
        assert.equal(
            growths([{ ...series[0], points: [series[0].points[0], { apps: 80, resources: 800, seconds: [4.9] }] }])[0].flagged,
            true,
        );
        const report = formatScaleReport(series);
        assert.match(report, /\| quadratic \| 80 \| 800 \| 16\.0 s \|/);
        assert.match(report, /\| quadratic \| 5\.00 ms \| 20\.00 ms \| \+300\.0 % \| ⚠ grows faster than linearly \|/);
        assert.match(report, /\| linear \| 5\.00 ms \| 5\.00 ms \| \+0\.0 % \| no \|/);
        assert.deepEqual(scaleFigures(series)["quadratic @ 40 apps"], 4);
    });

    it("draws a valid SVG: one path per operation through its points, both axes labelled, names escaped", () => {
        const svg = renderLineChart({
            title: "scale <test> & more",
            xLabel: "number of apps",
            yLabel: "seconds (median)",
            series: series.map((s) => ({ label: s.operation, points: s.points.map((p) => ({ x: p.apps, y: p.seconds[0] })) })),
        });
        assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
        assertBalanced(svg);
        assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(svg), "an unescaped &");
        assert.ok(svg.includes("scale &lt;test&gt; &amp; more"));
        const paths = [...svg.matchAll(/<path class="series" data-series="([^"]+)" d="([^"]+)"/g)];
        assert.deepEqual(
            paths.map((p) => p[1]),
            ["linear", "quadratic", "once"],
        );
        assert.equal(paths[1][2].split(/[ML]/).filter(Boolean).length, 3, "a vertex per size");
        assert.match(svg, /<text class="x-label"[^>]*>number of apps<\/text>/);
        assert.match(svg, /<text class="y-label"[^>]*>seconds \(median\)<\/text>/);
        for (const x of ["20", "40", "80"]) assert.match(svg, new RegExp(`text-anchor="middle">${x}</text>`));
        assert.equal(escapeXml(`a"b'c`), "a&quot;b&apos;c");
        assert.deepEqual(ticks(16), [0, 5, 10, 15, 20]);
        assert.deepEqual(ticks(0.9), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    });

    it("compares each figure with the baseline in %, marking those worse by more than 10 %", () => {
        const changes = compareFigures({ a: 1, b: 2, c: 4, gone: 1 }, { a: 1.05, b: 2.3, c: 3, fresh: 1 });
        assert.deepEqual(
            changes.map((c) => [c.figure, c.percent === undefined ? undefined : Number(c.percent.toFixed(1)), c.worse]),
            [
                ["a", 5, false],
                ["b", 15, true],
                ["c", -25, false],
                ["fresh", undefined, false],
                ["gone", undefined, false],
            ],
        );
        assert.equal(compareFigures({ x: 1 }, { x: 1.1 })[0].worse, false, "exactly 10 % is not worse than 10 %");
        const text = formatComparison(changes, { machine: MACHINE, clusterFree: true }, { ...MACHINE, cpus: 8 });
        assert.match(text, /\| b \| 2\.000 s \| 2\.300 s \| \+15\.0 % ⚠ worse than 10 % \|/);
        assert.match(text, /\| c \| 4\.000 s \| 3\.000 s \| -25\.0 % \|/);
        assert.match(text, /\| fresh \| – \| 1\.000 s \| new \|/);
        assert.match(text, /\| gone \| 1\.000 s \| – \| not measured \|/);
        assert.match(text, /cluster-free figures/);
        assert.match(text, /another machine/);
        assert.match(text, /1 figure\(s\) worse/);
    });

    it("writes and reads the baseline with the machine, marked cluster-free when it is", () => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-baseline-")), "baseline.json");
        writeBaseline({ "op @ 20 apps": 1.23456789 }, MACHINE, { clusterFree: true }, file);
        const read = readBaseline(file)!;
        assert.deepEqual(read.machine, MACHINE);
        assert.equal(read.clusterFree, true);
        assert.match(read.note, /cluster-free/);
        assert.equal(read.figures["op @ 20 apps"], 1.2346);
        assert.equal(readBaseline(path.join(path.dirname(file), "none.json")), undefined);
    });

    it("keeps the committed baseline and chart readable, and the README embeds the chart", () => {
        const root = path.resolve(__dirname, "../..");
        const baseline = readBaseline(path.join(root, "bench/baseline.json"))!;
        assert.ok(baseline && Object.keys(baseline.figures).length > 0 && baseline.machine.cpus > 0);
        for (const chart of ["bench/scale.svg", "bench/scale-real-node.svg"]) {
            assertBalanced(fs.readFileSync(path.join(root, chart), "utf8"));
            assert.ok(fs.readFileSync(path.join(root, "README.md"), "utf8").includes(`](${chart})`), `the README embeds ${chart}`);
        }
    });
});
