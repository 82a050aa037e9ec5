// End-to-end: the operator's first hour after `npm run local:up`. Runs local:up (toolchain and control plane already
// there, so it deploys the `local` stack), takes the next steps it prints, and runs them exactly as printed in one
// clean shell: no toolchain on PATH, no PULUMI_* variables (a new operator's shell). They must all work: the ops
// commands find the toolchain's CLI by themselves, `eval "$(npm run -s local:env)"` gives plain pulumi and kubectl
// the local stack and cluster, and the setting changed with pulumi is deployed.
//
// Uses the `local` stack of this checkout (.pulumi-state/, Pulumi.local.yaml). When the suite created it, it removes
// it again (state, generated secrets, namespace); when it was there before, Pulumi.local.yaml is restored byte for byte.
// Needs what the other suites need: `npm run toolchain`, `bash scripts/local-cluster.sh start`.
// Run alone: npx mocha --no-config -r ts-node/register/transpile-only --timeout 1800000 tests/e2e/next-steps.e2e.test.ts
import * as assert from "assert";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { KUBE_CONTEXT, KUBECONFIG, kubectl, kubectlJson, REPO_ROOT, timed, TOOLCHAIN_BIN, waitFor } from "./support/env";
import { requireLocalEngine } from "./support/stack";
import { EngineEvent } from "@pulumi/pulumi/automation";
import { LOCAL_STACK, openStack } from "../../ops/workspace";
import { CATALOG, EXPORTER_CREDENTIALS } from "../../components/model/catalog";
import { ENVOY_PROXY_LABELS } from "../../components/edge";
import { promqlNames } from "../unit/support/promql";
import { judge } from "../../scripts/load/criteria";
import { runLoad } from "../../scripts/load/run";
import {
    activeTargets,
    Alert,
    alerts,
    EVALUATION_INTERVAL_SECONDS,
    prometheusApi,
    prometheusFiles,
    selects,
    startPrometheus,
    stopPrometheus,
} from "./support/prometheus";
import { plainSchema } from "../../config/schema";
import { METRICS } from "../../components/model/slo";

const STACK_FILE = path.join(REPO_ROOT, "Pulumi.local.yaml");
const NAMESPACE = "ultramarket-local";
const REAL_NODE = "ultramarket-node";
/**
 * Names the program's rules read that the local stand-ins cannot serve, and why: the stand-in exporters are Debian's
 * (prometheus-postgres-exporter 0.11.1, prometheus-redis-exporter 1.45.0), older than the releases the program pins.
 */
const ABSENT_FROM_THE_LOCAL_STANDINS: Record<string, string> = {
    // 0.11.1 has no replication collector (its binary names only pg_replication_slots); v0.20.1's serves both.
    pg_replication_lag_seconds: "the replication collector came after postgres_exporter 0.11.1",
    pg_replication_is_replica: "the replication collector came after postgres_exporter 0.11.1",
};

/** The indented lines after "Next steps" in local:up's output: the commands it tells the operator to run. */
export function printedNextSteps(output: string): string[] {
    const block = /Next steps[^\n]*\n((?: {2}[^\n]+\n?)+)/.exec(output)?.[1] ?? "";
    return block
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean);
}

/** A new operator's shell: Node and the system's tools, nothing of the toolchain or Pulumi. */
function cleanShellEnv(): NodeJS.ProcessEnv {
    const clean: NodeJS.ProcessEnv = {
        HOME: process.env.HOME,
        PATH: [path.dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    };
    // Where the toolchain is, when not the default (CI), and the control plane's ports (local:up already started it).
    for (const [k, v] of Object.entries(process.env)) if (/^ULTRAMARKET_(TOOLCHAIN_DIR|.*_PORT)$/.test(k)) clean[k] = v;
    return clean;
}

/** The pods of a list that are neither Ready nor Succeeded, with their phase (Job pods skipped: a retry leaves a failed one). */
function notReady(pods: any[]): string[] {
    return pods
        .filter((p) => !p.metadata.labels?.["batch.kubernetes.io/job-name"])
        .filter((p) => !(p.status.conditions?.find((c: any) => c.type === "Ready")?.status === "True" || p.status.phase === "Succeeded"))
        .map((p) => `${p.metadata.name} (${p.status.phase})`);
}

/** An exporter's own /metrics, read inside its container (bash's /dev/tcp: the image has no HTTP client). */
function exporterMetrics(exporter: string, port: number): string {
    return kubectl([
        "exec",
        "-n",
        NAMESPACE,
        `deployment/${exporter}`,
        "--",
        "bash",
        "-c",
        'exec 3<>"/dev/tcp/127.0.0.1/$1"; printf "GET /metrics HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3',
        "_",
        String(port),
    ]);
}

const PROMETHEUS_RELEASE: string = plainSchema.shape.prometheusRelease.parse(undefined);
const FAULTY_POD = "e2e-auth-service-5xx";
const POLL_SECONDS = 5;
/** The two alerts the monitoring test breaks things for, by name, when active for what it broke. */
function watched(active: Alert[]): Record<string, Alert> {
    const ours = active.filter(
        (a) =>
            (a.labels.alertname === "DataStoreExporterCannotConnect" && a.labels.job === "redis-exporter") ||
            (a.labels.alertname === "HighErrorRate" && a.labels.service === "auth-service"),
    );
    return Object.fromEntries(ours.map((a) => [a.labels.alertname, a]));
}
const query = (promql: string) => prometheusApi<{ result: unknown[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`).result;
/** Where the local stack puts its real-node workloads (auth-service's pod template). */
function realNodePlacement(): { nodeSelector: Record<string, string>; tolerations: unknown[] } {
    const spec = kubectlJson<any>(["get", "deployment", "auth-service", "-n", NAMESPACE]).spec.template.spec;
    return { nodeSelector: spec.nodeSelector, tolerations: spec.tolerations };
}
/** Polls `check` every POLL_SECONDS (env.ts waitFor) until it returns a value, or fails naming `what` after `seconds`. */
const poll = <T>(what: string, seconds: number, check: () => T | undefined) => waitFor(what, seconds * 1000, check, POLL_SECONDS * 1000);

/** `kubectl port-forward` to a pod or Deployment of the platform on a free loopback port; stop() ends it. */
async function portForward(target: string, port: number): Promise<{ url: string; stop: () => void }> {
    const child = spawn(
        path.join(TOOLCHAIN_BIN, "kubectl"),
        [
            "--kubeconfig",
            KUBECONFIG,
            "--context",
            KUBE_CONTEXT,
            "port-forward",
            "-n",
            NAMESPACE,
            "--address",
            "127.0.0.1",
            target,
            `0:${port}`,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
    );
    const local = await new Promise<number>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (c) => {
            out += c;
            const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
            if (m) resolve(Number(m[1]));
        });
        child.on("exit", (code) => reject(new Error(`port-forward ${target} exited ${code}`)));
    });
    return { url: `http://127.0.0.1:${local}/`, stop: () => child.kill("SIGTERM") };
}

describe("e2e: the next steps local:up prints work as printed", function () {
    let stackFileBefore: string;
    let stackExisted: boolean;
    let upOutput = "";

    before(function () {
        requireLocalEngine(this);
        stackFileBefore = fs.readFileSync(STACK_FILE, "utf8");
        // The file backend's stack file, in the projects layout or the legacy one, gzipped or not.
        const stacks = path.join(REPO_ROOT, ".pulumi-state", ".pulumi", "stacks");
        stackExisted = [path.join(stacks, "ultramarket"), stacks].some(
            (dir) => fs.existsSync(dir) && fs.readdirSync(dir).some((f) => /^local\.json(\.gz)?$/.test(f)),
        );
    });

    after(function () {
        if (stackFileBefore === undefined) return;
        stopPrometheus();
        if (stackExisted) {
            fs.writeFileSync(STACK_FILE, stackFileBefore);
            return;
        }
        // The suite created the local stack: take it out again (as local:down does, without stopping the cluster).
        kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"]);
        const removed = spawnSync(
            process.execPath,
            [require.resolve("ts-node/dist/bin"), "--transpile-only", "scripts/local-stack.ts", "remove"],
            {
                cwd: REPO_ROOT,
                env: process.env,
                encoding: "utf8",
            },
        );
        if (removed.status !== 0) console.log(removed.stderr);
        fs.writeFileSync(STACK_FILE, stackFileBefore);
    });

    it("npm run local:up deploys the local stack and prints the next steps", async function () {
        const up = await timed("next-steps: npm run local:up", async () =>
            spawnSync("npm", ["run", "local:up"], { cwd: REPO_ROOT, env: process.env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }),
        );
        upOutput = `${up.stdout}\n${up.stderr}`;
        assert.strictEqual(up.status, 0, upOutput.slice(-4000));
        assert.deepStrictEqual(printedNextSteps(up.stderr), [
            "npm run status -- --stack local",
            "npm run drift -- --stack local",
            'eval "$(npm run -s local:env)"',
            "kubectl get pods -n ultramarket-local",
            "pulumi config set -s local logLevel debug",
            "npm run deploy -- --stack local",
        ]);
    });

    it("runs PostgreSQL, Redis, PgBouncer and every app that uses only those as real containers, Ready with their logins", function () {
        const node = kubectlJson<any>(["get", "node", REAL_NODE]);
        assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
        const real = CATALOG.filter((a) => a.enabledByDefault && a.dataStores.every((s) => s === "postgres" || s === "redis"));
        const pods = kubectlJson<{ items: any[] }>(["get", "pods", "-n", NAMESPACE]).items;
        const name = (p: any) => p.metadata.labels["app.kubernetes.io/name"];
        const onNode = pods.filter((p) => p.spec.nodeName === REAL_NODE);
        const expected = ["postgres", "redis", "pgbouncer", "database-users-postgres", ...real.map((a) => a.name)];
        for (const workload of expected)
            assert.ok(
                onNode.some((p) => name(p) === workload),
                `no ${workload} pod on ${REAL_NODE}`,
            );
        assert.deepEqual(notReady(onNode), [], `pods on ${REAL_NODE} not Ready`);
        // Each app's own /health, asked inside its container: every store it uses accepted its login.
        for (const app of real) {
            const health = JSON.parse(
                kubectl([
                    "exec",
                    "-n",
                    NAMESPACE,
                    `deployment/${app.name}`,
                    "--",
                    "node",
                    "-e",
                    `fetch("http://127.0.0.1:" + process.env.PORT + "${app.healthPath}").then((r) => r.text()).then(console.log)`,
                ]),
            );
            assert.equal(health.status, "ok", `${app.name}: ${JSON.stringify(health)}`);
            assert.deepEqual(Object.keys(health.stores ?? {}).sort(), [...app.dataStores].sort(), app.name);
            for (const store of app.dataStores) assert.equal(health.stores[store].ok, true, `${app.name} -> ${store}`);
        }
    });

    it("catches a bad probe: the kubelet fails a readiness probe on a wrong path, and the Ready check above names the pod", function () {
        // auth-service's own pod template as a standalone pod whose readiness probe asks a path the app does not serve.
        const template = kubectlJson<any>(["get", "deployment", "auth-service", "-n", NAMESPACE]).spec.template;
        const container = { ...template.spec.containers[0], readinessProbe: { ...template.spec.containers[0].readinessProbe } };
        container.readinessProbe.httpGet = { ...container.readinessProbe.httpGet, path: "/no-such-probe-path" };
        const bad = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "e2e-bad-probe", namespace: NAMESPACE, labels: { "app.kubernetes.io/name": "e2e-bad-probe" } },
            spec: { ...template.spec, containers: [container] },
        };
        try {
            kubectl(["apply", "-f", "-"], JSON.stringify(bad));
            kubectl(["wait", "--for=jsonpath={.status.phase}=Running", "pod/e2e-bad-probe", "-n", NAMESPACE, "--timeout=60s"]);
            let events = "";
            for (let i = 0; i < 30 && !/Readiness probe failed: HTTP probe failed with statuscode: 404/.test(events); i++) {
                execFileSync("sleep", ["2"]);
                events = kubectl([
                    "get",
                    "events",
                    "-n",
                    NAMESPACE,
                    "--field-selector",
                    "involvedObject.name=e2e-bad-probe",
                    "-o",
                    "jsonpath={.items[*].message}",
                ]);
            }
            assert.match(events, /Readiness probe failed: HTTP probe failed with statuscode: 404/, "the kubelet never ran the bad probe");
            const pod = kubectlJson<any>(["get", "pod", "e2e-bad-probe", "-n", NAMESPACE]);
            assert.deepEqual(notReady([pod]), ["e2e-bad-probe (Running)"]);
        } finally {
            kubectl(["delete", "pod", "e2e-bad-probe", "-n", NAMESPACE, "--ignore-not-found", "--wait=false"]);
        }
    });

    it("gives each app a PostgreSQL user that reads its own tables and no other app's, and PgBouncer refuses an unknown user", function () {
        // Inside auth-service's container, through PgBouncer exactly as the app connects (POSTGRES_URL + its user).
        const script = `
            const { Client } = require("pg");
            const { parse } = require("pg-connection-string");
            const as = (user, password) => new Client({ ...parse(process.env.POSTGRES_URL), user, password, connectionTimeoutMillis: 5000 });
            const attempt = async (user, password, sql) => {
                const c = as(user, password);
                try { await c.connect(); const r = await c.query(sql); return "ok " + r.rows[0].n; }
                catch (e) { return "refused: " + e.message; }
                finally { await c.end().catch(() => {}); }
            };
            (async () => {
                const me = process.env.POSTGRES_USER, pw = process.env.POSTGRES_PASSWORD;
                console.log(JSON.stringify({
                    own: await attempt(me, pw, "select count(*)::int as n from auth_service.standin_markers"),
                    other: await attempt(me, pw, "select count(*)::int as n from user_service.standin_markers"),
                    unknown: await attempt("intruder", "not-a-password", "select 1 as n"),
                }));
            })();`;
        const result = JSON.parse(kubectl(["exec", "-n", NAMESPACE, "deployment/auth-service", "--", "node", "-e", script]));
        assert.match(result.own, /^ok [1-9]/, "auth_service cannot read the table its migration created");
        assert.match(result.other, /^refused: permission denied for schema user_service/, JSON.stringify(result));
        assert.match(result.unknown, /^refused: /, JSON.stringify(result));
    });

    it("plans nothing in a no-op preview right after local:up, the Jobs completed on the real node included", async function () {
        const stack = await openStack({ stackName: LOCAL_STACK });
        const events: EngineEvent[] = [];
        await timed("next-steps: no-op preview", () => stack.preview({ onEvent: (e) => events.push(e) }));
        const changed = events
            .map((e) => e.resourcePreEvent?.metadata)
            .filter((m) => m && m.op !== "same")
            .map((m) => `${m!.op} ${m!.urn.split("::").pop()}`);
        assert.deepStrictEqual(changed, [], "a preview right after up planned changes");
    });

    it("runs every real app pod as its restricted context says, and its NetworkPolicies refuse the edges they do not grant", function () {
        // Run inside each container: its uid, whether its root filesystem takes a write, and TCP connects to the stores.
        const script = `
            const net = require("net");
            const fs = require("fs");
            const probe = (host, port) => new Promise((done) => {
                const s = net.connect({ host, port, timeout: 3000 });
                s.on("connect", () => { s.destroy(); done("open"); });
                s.on("timeout", () => { s.destroy(); done("timeout"); });
                s.on("error", (e) => done("error " + e.code));
            });
            let rootWrite;
            try { fs.writeFileSync("/written-by-e2e", "x"); rootWrite = "written"; } catch (e) { rootWrite = e.code; }
            (async () => console.log(JSON.stringify({
                uid: process.getuid(),
                rootWrite,
                postgres: await probe("postgres-service", 5432),
                pgbouncer: await probe("pgbouncer", 6432),
                redis: await probe("redis-service", 6379),
            })))();`;
        const inside = (app: string) => JSON.parse(kubectl(["exec", "-n", NAMESPACE, `deployment/${app}`, "--", "node", "-e", script]));
        const real = CATALOG.filter((a) => a.enabledByDefault && a.dataStores.every((s) => s === "postgres" || s === "redis"));
        for (const app of real) {
            const seen = inside(app.name);
            assert.equal(seen.uid, app.runAsUser, `${app.name} runs as uid ${seen.uid}`);
            assert.equal(seen.rootWrite, "EROFS", `${app.name}'s root filesystem took a write`);
            // PostgreSQL only through PgBouncer (the apps are pooled); Redis only for the apps that use it.
            assert.notEqual(seen.postgres, "open", `${app.name} reached PostgreSQL directly`);
            assert.equal(seen.pgbouncer === "open", app.dataStores.includes("postgres"), `${app.name} -> PgBouncer: ${seen.pgbouncer}`);
            assert.equal(seen.redis === "open", app.dataStores.includes("redis"), `${app.name} -> Redis: ${seen.redis}`);
        }
    });

    it("lets the edge's proxies, and nothing else, reach a cert-manager HTTP-01 solver pod on 8089 under default-deny", function () {
        // cert-manager's solver as pkg/issuer/acme/http/pod.go makes it (its label, port 8089, in the Certificate's
        // namespace), played by the stand-in app's Node serving the token on 8089 and 8090; an Envoy-proxy-labelled pod
        // and an unlabelled one in the Gateway controller's namespace (none runs here) are the callers.
        const image = kubectl([
            "get",
            "deployment",
            "auth-service",
            "-n",
            NAMESPACE,
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ]);
        const gatewayNs = "envoy-gateway-system";
        const createdNs = kubectl(["get", "namespace", gatewayNs, "--ignore-not-found", "-o", "name"]).trim() === "";
        const serve = `const h = require("http"); for (const p of [8089, 8090]) h.createServer((q, r) => r.end("token-" + p)).listen(p);`;
        const pod = (name: string, namespace: string, labels: Record<string, string>, script: string) => ({
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name, namespace, labels },
            spec: {
                nodeSelector: { "ultramarket.local/node": "real" },
                tolerations: [{ key: "ultramarket.local/real-node", operator: "Exists", effect: "NoSchedule" }],
                securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
                automountServiceAccountToken: false,
                containers: [
                    {
                        name: "main",
                        image,
                        command: ["node", "-e", script],
                        resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "100m", memory: "64Mi" } },
                        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true },
                    },
                ],
            },
        });
        const idle = "setInterval(() => {}, 1 << 30);";
        const pods = [
            pod("e2e-acme-solver", NAMESPACE, { "acme.cert-manager.io/http01-solver": "true" }, serve),
            pod("e2e-envoy-proxy", gatewayNs, { ...ENVOY_PROXY_LABELS }, idle),
            pod("e2e-not-the-proxy", gatewayNs, { "app.kubernetes.io/name": "something-else" }, idle),
        ];
        const manifest = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "e2e-solver-")), "pods.json");
        const namespaceDoc = { apiVersion: "v1", kind: "Namespace", metadata: { name: gatewayNs } };
        fs.writeFileSync(
            manifest,
            JSON.stringify({ apiVersion: "v1", kind: "List", items: [...(createdNs ? [namespaceDoc] : []), ...pods] }),
        );
        try {
            kubectl(["apply", "-f", manifest]);
            for (const p of pods)
                kubectl(["wait", "--for=condition=Ready", `pod/${p.metadata.name}`, "-n", p.metadata.namespace, "--timeout=120s"]);
            const solverIp = kubectl(["get", "pod", "e2e-acme-solver", "-n", NAMESPACE, "-o", "jsonpath={.status.podIP}"]).trim();
            const fetchFrom = (caller: string, port: number) =>
                kubectl([
                    "exec",
                    "-n",
                    gatewayNs,
                    caller,
                    "--",
                    "node",
                    "-e",
                    `require("http").get({ host: process.argv[1], port: +process.argv[2], path: "/.well-known/acme-challenge/e2e", timeout: 3000 }, (r) => { let b = ""; r.on("data", (c) => (b += c)); r.on("end", () => console.log(r.statusCode + " " + b)); }).on("timeout", function () { console.log("timeout"); this.destroy(); }).on("error", (e) => console.log("error " + e.code));`,
                    solverIp,
                    String(port),
                ]).trim();
            assert.equal(fetchFrom("e2e-envoy-proxy", 8089), "200 token-8089", "the edge's proxy cannot reach the solver");
            // Refused: dropped (timeout) or rejected (an error), never an answer.
            assert.match(fetchFrom("e2e-envoy-proxy", 8090), /^(timeout|error E)/, "the solver answers the proxy on a port besides 8089");
            assert.match(
                fetchFrom("e2e-not-the-proxy", 8089),
                /^(timeout|error E)/,
                "a pod that is not the edge's proxy reaches the solver",
            );
        } finally {
            kubectl(["delete", "-f", manifest, "--ignore-not-found", "--wait=false"]);
            fs.rmSync(path.dirname(manifest), { recursive: true, force: true });
        }
    });

    it("runs the PostgreSQL and Redis exporters on the real node, logged in (PostgreSQL's as its monitoring user)", function () {
        assert.match(exporterMetrics("postgres-exporter", 9187), /^pg_up 1$/m);
        assert.match(exporterMetrics("redis-exporter", 9121), /^redis_up 1$/m);
        const user = kubectl(["exec", "-n", NAMESPACE, "deployment/postgres-exporter", "--", "printenv", "DATA_SOURCE_USER"]).trim();
        assert.equal(user, EXPORTER_CREDENTIALS.postgres.user);
        const pods = kubectlJson<{ items: any[] }>(["get", "pods", "-n", NAMESPACE]).items;
        for (const exporter of ["postgres-exporter", "redis-exporter"])
            assert.ok(
                pods.some((p) => p.metadata.labels["app.kubernetes.io/name"] === exporter && p.spec.nodeName === REAL_NODE),
                `${exporter} does not run on ${REAL_NODE}`,
            );
    });

    it("serves every metric name the deployed alerts, recording rules and dashboards read from PostgreSQL, Redis and the apps", function () {
        // What the cluster holds (the PrometheusRule and the dashboards' ConfigMaps), against what the running exporters
        // and a stand-in app serve: a name no target serves makes an alert that can never fire or a panel that stays empty.
        const rules = kubectlJson<{ items: any[] }>(["get", "prometheusrules", "-n", NAMESPACE]).items.flatMap((r) =>
            r.spec.groups.flatMap((g: any) => g.rules),
        );
        const panels = kubectlJson<{ items: any[] }>(["get", "configmaps", "-n", NAMESPACE, "-l", "grafana_dashboard=1"]).items.flatMap(
            (cm) => Object.values<string>(cm.data).flatMap((json) => JSON.parse(json).panels ?? []),
        );
        const exprs = [
            ...rules.map((r) => r.expr as string),
            ...panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr as string)),
        ];
        const recorded = new Set(rules.filter((r) => r.record).map((r) => r.record as string));
        const read = [...new Set(exprs.flatMap((e) => promqlNames(e).metrics))].filter((n) => !recorded.has(n)).sort();
        const sampleNames = (text: string) =>
            new Set(
                text
                    .split("\n")
                    .filter((l) => /^[a-zA-Z_]/.test(l))
                    .map((l) => l.split(/[{ ]/)[0]),
            );
        const overTcp = (target: string, port: number, metricsPath: string) =>
            kubectl([
                "exec",
                "-n",
                NAMESPACE,
                `deployment/${target}`,
                "--",
                "node",
                "-e",
                `require("http").get({ host: "127.0.0.1", port: +process.argv[1], path: process.argv[2] }, (r) => r.pipe(process.stdout));`,
                String(port),
                metricsPath,
            ]);
        const auth = CATALOG.find((a) => a.name === "auth-service")!;
        // One request first: the request metrics have no series before the app has answered one.
        overTcp("auth-service", auth.port, auth.healthPath);
        const served: Record<string, Set<string>> = {
            pg_: sampleNames(exporterMetrics("postgres-exporter", 9187)),
            redis_: sampleNames(exporterMetrics("redis-exporter", 9121)),
            http_: sampleNames(overTcp("auth-service", auth.port, auth.metricsPath!)),
        };
        const checked = read.filter((n) => Object.keys(served).some((prefix) => n.startsWith(prefix)));
        const missing = checked.filter((n) => !served[Object.keys(served).find((prefix) => n.startsWith(prefix))!].has(n));
        console.log(
            `    checked ${checked.length} names against the running targets; not checkable here: ${read.filter((n) => !checked.includes(n)).join(", ")}`,
        );
        assert.ok(
            checked.some((n) => n.startsWith("pg_")) &&
                checked.some((n) => n.startsWith("redis_")) &&
                checked.includes("http_requests_total"),
        );
        assert.deepEqual(
            missing.filter((n) => !(n in ABSENT_FROM_THE_LOCAL_STANDINS)),
            [],
            "metric names no running target serves",
        );
    });

    it("holds the runbook's success criteria under a bounded load on a real stand-in app, and fails them when it answers 5xx", async function () {
        // autocannon through kubectl port-forward (a loopback address): 5 s or 5000 requests at most per run. A figure about
        // the stand-in behind a port-forward on this machine, not about UltraMarket; throughput is reported, not judged.
        const auth = CATALOG.find((a) => a.name === "auth-service")!;
        const template = kubectlJson<any>(["get", "deployment", "auth-service", "-n", NAMESPACE]).spec.template;
        const faulty = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "e2e-5xx", namespace: NAMESPACE, labels: { "app.kubernetes.io/name": "e2e-5xx" } },
            spec: {
                ...template.spec,
                containers: [
                    {
                        ...template.spec.containers[0],
                        env: [...(template.spec.containers[0].env ?? []), { name: "STANDIN_FAULT", value: "5xx" }],
                    },
                ],
            },
        };
        const forward = (target: string) => portForward(target, auth.port);
        const bounded = { duration: 5, amount: 5000, connections: 8 };
        try {
            kubectl(["apply", "-f", "-"], JSON.stringify(faulty));
            const healthy = await forward("deployment/auth-service");
            let result;
            try {
                result = await runLoad({ url: healthy.url, ...bounded });
            } finally {
                healthy.stop();
            }
            const verdict = judge(result);
            console.log(
                `    healthy auth-service: ${result.requests} requests, ${result.throughputRps.toFixed(0)} req/s, p95 ${result.p95Ms.toFixed(1)} ms`,
            );
            assert.equal(verdict.passed, true, verdict.lines.join("\n"));
            // Running is enough: its /health fails (no NetworkPolicy admits this pod to the stores), its answers are the point.
            kubectl(["wait", "--for=jsonpath={.status.phase}=Running", "pod/e2e-5xx", "-n", NAMESPACE, "--timeout=90s"]);
            const broken = await forward("pod/e2e-5xx");
            try {
                result = await runLoad({ url: broken.url, ...bounded });
            } finally {
                broken.stop();
            }
            const failing = judge(result);
            console.log(`    auth-service answering 5xx: ${failing.lines.find((l) => l.includes("error rate"))}`);
            assert.equal(failing.passed, false);
            assert.match(
                failing.lines.find((l) => l.includes("error rate"))!,
                /^FAIL/,
            );
        } finally {
            kubectl(["delete", "pod", "e2e-5xx", "-n", NAMESPACE, "--ignore-not-found", "--wait=false"]);
        }
    });

    it("scrapes every target the deployed ServiceMonitors select on the real node with a real Prometheus, and every one is up", async function () {
        const { files, monitors } = prometheusFiles(NAMESPACE, PROMETHEUS_RELEASE);
        startPrometheus(files, realNodePlacement());
        const pods = kubectlJson<{ items: any[] }>(["get", "pods", "-n", NAMESPACE]).items;
        const onRealNode = new Set(pods.filter((p) => p.spec.nodeName === REAL_NODE).map((p) => p.metadata.name as string));
        // The monitors whose Service selects a pod on the real node (the Services select by the monitors' own labels).
        const expected = monitors
            .filter((m) => pods.some((p) => onRealNode.has(p.metadata.name) && selects(m.spec.selector, p.metadata.labels)))
            .map((m) => m.metadata.name);
        // Each target is scraped within its interval (30 s) of Prometheus starting.
        const real = await poll("every real-node target scraped once", 120, () => {
            const targets = activeTargets().filter((t) => onRealNode.has(t.labels.pod));
            return targets.length && targets.every((t) => t.health !== "unknown") ? targets : undefined;
        });
        const scraped = [...new Set(real.map((t) => t.scrapePool.split("/")[2]))].sort();
        console.log(
            `    ${real.length} targets of ${scraped.length} ServiceMonitors on ${REAL_NODE}; ${monitors.length - expected.length} monitors select only kwok's simulated pods (nothing to scrape)`,
        );
        assert.deepEqual(
            real.filter((t) => t.health !== "up").map((t) => `${t.scrapePool} ${t.labels.pod}: ${t.lastError}`),
            [],
            "targets down",
        );
        assert.deepEqual(scraped, [...expected].sort(), "ServiceMonitors of real-node workloads without a scraped target");
        assert.ok(
            ["postgres-exporter", "redis-exporter", "auth-service"].every((m) => scraped.includes(m)),
            scraped.join(", "),
        );
    });

    it("fires DataStoreExporterCannotConnect when Redis stops and HighErrorRate when an app answers 5xx, each after its rule's for, and resolves both", async function () {
        // The rules as deployed: their `for` is what the timing is held to.
        const deployed = kubectlJson<{ items: any[] }>(["get", "prometheusrules", "-n", NAMESPACE]).items.flatMap((r) =>
            r.spec.groups.flatMap((g: any) => g.rules),
        );
        const forSeconds = (alert: string) => {
            const m = /^(\d+)([sm])$/.exec(deployed.find((r) => r.alert === alert)?.for ?? "");
            assert.ok(m, `${alert} has no rule with a for of seconds or minutes`);
            return Number(m[1]) * (m[2] === "m" ? 60 : 1);
        };
        const storeFor = forSeconds("DataStoreExporterCannotConnect");
        const errorsFor = forSeconds("HighErrorRate");
        // Detection takes at most one scrape and one evaluation, firing one more evaluation; the poll adds its own period,
        // and 20 s for the store pod's termination and the poll's kubectl calls (CI saw `for` + 60 s on a busy machine).
        const latency = 30 + 2 * EVALUATION_INTERVAL_SECONDS + POLL_SECONDS + 20;

        // An auth-service pod switched to 5xx (the stand-in's STANDIN_FAULT): the Service selects it, so its ServiceMonitor does.
        const auth = CATALOG.find((a) => a.name === "auth-service")!;
        const template = kubectlJson<any>(["get", "deployment", "auth-service", "-n", NAMESPACE]).spec.template;
        const container = template.spec.containers[0];
        const faulty = {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: FAULTY_POD, namespace: NAMESPACE, labels: template.metadata.labels },
            spec: {
                ...template.spec,
                containers: [{ ...container, env: [...(container.env ?? []), { name: "STANDIN_FAULT", value: "5xx" }] }],
            },
        };
        let forward: { url: string; stop: () => void } | undefined;
        let redisStopped = false;
        try {
            kubectl(["apply", "-f", "-"], JSON.stringify(faulty));
            kubectl(["wait", "--for=condition=Ready", `pod/${FAULTY_POD}`, "-n", NAMESPACE, "--timeout=120s"]);
            // Prometheus again, with the new pod among auth-service's targets (the operator would pick it up by itself).
            startPrometheus(prometheusFiles(NAMESPACE, PROMETHEUS_RELEASE).files, realNodePlacement());
            forward = await portForward(`pod/${FAULTY_POD}`, auth.port);
            const get = async () => (await fetch(forward!.url)).status;
            // One 5xx first, and its series scraped: rate() needs a sample before the burst to count the burst.
            assert.equal(await get(), 500);
            const errors = `${METRICS.requests}{pod="${FAULTY_POD}",${METRICS.status}=~"5.."}`;
            await poll("the faulty pod's 5xx series scraped", 120, () => query(errors).length > 0 || undefined);
            assert.deepEqual(watched(alerts()), {}, "an alert is active before anything failed");

            const t0 = Date.now();
            kubectl(["scale", "statefulset/redis", "-n", NAMESPACE, "--replicas=0"]);
            redisStopped = true;
            // 90 more 5xx: 0.3/s over HighErrorRate's 5-minute window (its threshold is 0.1/s) until they leave it.
            const statuses = [];
            for (let i = 0; i < 90; i++) statuses.push(await get());
            assert.ok(
                statuses.every((s) => s === 500),
                `not every request answered 500: ${[...new Set(statuses)].join(", ")}`,
            );
            forward.stop();
            forward = undefined;

            const fired: Record<string, { at: number; alert: Alert }> = {};
            const resolved: Record<string, number> = {};
            let restoredAt = 0;
            await poll("both alerts fired and resolved", 15 * 60, () => {
                const active = watched(alerts());
                const now = Date.now();
                for (const [name, alert] of Object.entries(active))
                    if (alert.state === "firing" && !fired[name]) {
                        fired[name] = { at: now, alert };
                        console.log(`    ${name} firing ${((now - t0) / 1000).toFixed(0)} s after the failure`);
                    }
                for (const name of Object.keys(fired))
                    if (!active[name] && !resolved[name]) {
                        resolved[name] = now;
                        console.log(`    ${name} resolved ${((now - t0) / 1000).toFixed(0)} s after the failure`);
                    }
                if (fired.DataStoreExporterCannotConnect && !restoredAt) {
                    kubectl(["scale", "statefulset/redis", "-n", NAMESPACE, "--replicas=1"]);
                    redisStopped = false;
                    restoredAt = Date.now();
                }
                return resolved.DataStoreExporterCannotConnect && resolved.HighErrorRate ? true : undefined;
            });

            const store = fired.DataStoreExporterCannotConnect;
            assert.deepEqual(
                { job: store.alert.labels.job, namespace: store.alert.labels.namespace, severity: store.alert.labels.severity },
                { job: "redis-exporter", namespace: NAMESPACE, severity: "warning" },
            );
            assert.match(store.alert.annotations.description, /^redis-exporter answers but cannot query its store/);
            const errorsAlert = fired.HighErrorRate;
            assert.deepEqual(
                {
                    service: errorsAlert.alert.labels.service,
                    namespace: errorsAlert.alert.labels.namespace,
                    severity: errorsAlert.alert.labels.severity,
                },
                { service: "auth-service", namespace: NAMESPACE, severity: "critical" },
            );
            assert.match(errorsAlert.alert.annotations.description, /^auth-service answers 0\.[2-3]\d 5xx responses per second/);
            // Not before its `for`, and not later than the scrape, evaluation and poll periods allow.
            for (const [name, seconds] of [
                ["DataStoreExporterCannotConnect", storeFor],
                ["HighErrorRate", errorsFor],
            ] as const) {
                const after = (fired[name].at - t0) / 1000;
                assert.ok(
                    after >= seconds && after <= seconds + latency,
                    `${name} fired ${after.toFixed(0)} s after the failure; its for is ${seconds} s`,
                );
            }
            // Redis back: the next scrape logs in again, the next evaluation clears it.
            assert.ok((resolved.DataStoreExporterCannotConnect - restoredAt) / 1000 <= 60 + latency);
        } finally {
            forward?.stop();
            if (redisStopped) kubectl(["scale", "statefulset/redis", "-n", NAMESPACE, "--replicas=1"]);
            kubectl(["delete", "pod", FAULTY_POD, "-n", NAMESPACE, "--ignore-not-found", "--wait=false"]);
            stopPrometheus();
        }
        // The apps that use Redis are Ready again before the next test.
        await poll("every real pod Ready again", 180, () => {
            const pods = kubectlJson<{ items: any[] }>(["get", "pods", "-n", NAMESPACE]).items.filter((p) => p.spec.nodeName === REAL_NODE);
            return notReady(pods).length === 0 || undefined;
        });
    });

    it("backs up PostgreSQL on the real node before a new image's migration, and npm run restore brings a dropped table's row back from it and undoes a table added since", async function () {
        // As auth-service's own user, through PgBouncer, exactly as the app connects; its schema is on its search_path.
        const asAuthService = (sql: string): string =>
            kubectl([
                "exec",
                "-n",
                NAMESPACE,
                "deployment/auth-service",
                "--",
                "node",
                "-e",
                `const { Client } = require("pg"); const { parse } = require("pg-connection-string");
                 const c = new Client({ ...parse(process.env.POSTGRES_URL), user: process.env.POSTGRES_USER, password: process.env.POSTGRES_PASSWORD });
                 c.connect().then(() => c.query(process.argv[1])).then((r) => console.log(JSON.stringify(r.rows ?? [])), (e) => console.log("error: " + e.message)).finally(() => c.end());`,
                sql,
            ]).trim();
        const restore = (...args: string[]) => {
            const r = spawnSync("npm", ["run", "-s", "restore", "--", "--stack", LOCAL_STACK, ...args], {
                cwd: REPO_ROOT,
                env: process.env,
                encoding: "utf8",
                maxBuffer: 64 * 1024 * 1024,
            });
            return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
        };
        /** `--list`'s backups: name -> the images its `before` line names. */
        const listed = (): Map<string, string> => {
            const list = restore("--list");
            assert.strictEqual(list.status, 0, list.output);
            const found = new Map<string, string>();
            for (const m of list.output.matchAll(/^ {2}(\S+) {2}taken [^\n]*\n\s+before ([^\n]*)$/gm)) found.set(m[1], m[2]);
            return found;
        };
        const podsOf = (job: string) =>
            kubectlJson<{ items: any[] }>(["get", "pods", "-n", NAMESPACE, "-l", `app.kubernetes.io/name=${job}`]).items;

        // The backup local:up took before the first migrations, written by a pod that is long gone.
        const before = listed();
        assert.ok(before.size >= 1, "local:up took no backup before its migrations");
        assert.ok(
            podsOf("database-backup").every((p) => p.spec.nodeName === REAL_NODE && p.status.phase === "Succeeded"),
            "the backup Job's pod did not run to success on the real node",
        );

        const marker = `e2e-${Date.now()}`;
        assert.strictEqual(
            asAuthService(`insert into standin_markers (name, service) values ('${marker}', 'written before the release') returning name`),
            JSON.stringify([{ name: marker }]),
        );

        // A new auth-service image: the backup Job is replaced (a new backup, holding the marker) before its migration runs.
        const tag = "1.0.1-e2e-backup";
        const stack = await openStack({ stackName: LOCAL_STACK });
        await stack.setConfig("ultramarket:serviceImageTags", { value: JSON.stringify({ "auth-service": tag }) });
        const events: EngineEvent[] = [];
        await timed("next-steps: up with a new auth-service image (backup, migration, rollout)", () =>
            stack.up({ onEvent: (e) => events.push(e) }),
        );
        const done = (name: string) =>
            events.some(
                (e) =>
                    e.resOutputsEvent?.metadata.urn.endsWith(`::${name}`) &&
                    /^(create|replace|create-replacement)$/.test(e.resOutputsEvent.metadata.op),
            );
        assert.ok(done("database-backup"), "the new image took no new backup");
        assert.ok(done("auth-service-migrate"), "the new image ran no migration");

        const after = listed();
        const taken = [...after].filter(([name, images]) => !before.has(name) && images.includes(`auth-service:${tag}`)).map(([n]) => n);
        assert.strictEqual(taken.length, 1, `expected one new backup before auth-service:${tag}:\n${[...after].join("\n")}`);
        for (const name of before.keys()) assert.ok(after.has(name), `${name}, written by an earlier pod, is gone from the volume`);

        // What a release's migration does that a rollback must undo: a table added to the app's schema since the backup
        // (pg_restore's own --clean could not drop the schema then: "other objects depend on it"). Then the mistake.
        assert.strictEqual(asAuthService("create table added_by_the_release (id integer)"), "[]");
        assert.strictEqual(asAuthService("drop table standin_markers"), "[]");
        assert.match(asAuthService("select count(*) from standin_markers"), /^error: relation "standin_markers" does not exist/);

        const restored = restore("--to", taken[0], "--yes");
        assert.strictEqual(restored.status, 0, restored.output);
        assert.match(restored.output, new RegExp(`postgres: database ultramarket restored from ${taken[0]}`));
        const restorePods = podsOf("database-restore");
        assert.ok(
            restorePods.length >= 1 && restorePods.every((p) => p.spec.nodeName === REAL_NODE),
            "the restore did not run on the real node",
        );

        assert.strictEqual(
            asAuthService(`select service from standin_markers where name = '${marker}'`),
            JSON.stringify([{ service: "written before the release" }]),
            "the marker row did not come back",
        );
        assert.strictEqual(
            asAuthService("select to_regclass('added_by_the_release') is null as gone"),
            JSON.stringify([{ gone: true }]),
            "the table added after the backup survived the restore",
        );
        // Owned by the app's user again, so the app (and its next migration) can use it.
        assert.strictEqual(
            asAuthService(
                "select tableowner = current_user as own from pg_tables where tablename = 'standin_markers' and schemaname = current_user",
            ),
            JSON.stringify([{ own: true }]),
        );
    });

    it("runs every printed step, exactly as printed, in one clean shell", async function () {
        const steps = printedNextSteps(upOutput);
        assert.ok(steps.length > 0, "local:up printed no next steps");
        const env = cleanShellEnv();
        const which = spawnSync("bash", ["-c", "command -v pulumi || true"], { env, encoding: "utf8" });
        assert.strictEqual(which.stdout.trim(), "", "the clean shell already has a pulumi on PATH: it would not test the fallback");
        // One shell, the steps in order, stopping at the first that fails; each echoed so a failure names it.
        const script = ["set -euo pipefail", ...steps.flatMap((s) => [`echo "+ ${s.replace(/(["$`\\])/g, "\\$1")}" >&2`, s])].join("\n");
        const run = await timed("next-steps: the printed steps in a clean shell", async () =>
            spawnSync("bash", ["-c", script], { cwd: REPO_ROOT, env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }),
        );
        const output = `${run.stdout}\n${run.stderr}`;
        assert.strictEqual(run.status, 0, output.slice(-6000));
        // The ops commands (before local:env) found the toolchain's CLI and said so, in one line each.
        const notes = output.split("\n").filter((l) => l.startsWith("ops: pulumi is not on PATH; using the local engine toolchain's CLI"));
        assert.ok(notes.length >= 2, `status and drift did not say which CLI they used:\n${output.slice(-3000)}`);
        assert.ok(
            notes.every((n) => n.includes(path.join(TOOLCHAIN_BIN, "pulumi"))),
            notes.join("\n"),
        );
        // kubectl, after local:env, listed the local stack's pods.
        assert.match(run.stdout, /postgres-0\s+1\/1\s+Running/);
        // The setting changed with plain pulumi was deployed.
        const cm = kubectlJson<{ data: Record<string, string> }>(["get", "configmap", "ultramarket-config", "-n", NAMESPACE]);
        assert.strictEqual(cm.data.LOG_LEVEL, "debug");
    });
});
