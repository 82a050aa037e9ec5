// The stand-in app (images/app), run as a process on loopback: /health names each store it uses and why it failed,
// /metrics serves what the alerts query, the fault switch fails it on demand, and no secret ever reaches its output.
import { strict as assert } from "assert";
import * as http from "http";
import { alertRuleGroups } from "../../components/observability/alerts";
import { dataStoresDashboard, platformOverviewDashboard } from "../../components/observability/dashboards";
import { CATALOG } from "../../components/model/catalog";
import { DATA_STORE_NAMES } from "../../components/data/stores";
import { EXPORTERS } from "../../components/observability/exporters";
import { promqlNames } from "./support/promql";
import { APP_DIR, closedPort, ensureStandinInstalled, RunningApp, runStandin, startStandin } from "./support/standin";

const PASSWORDS = {
    POSTGRES_PASSWORD: "pg-secret-7f3a9c",
    MONGODB_PASSWORD: "mongo-secret-2b8e4d",
    REDIS_PASSWORD: "redis-secret-5c1f6a",
    ELASTICSEARCH_PASSWORD: "es-secret-9d2e7b",
    JWT_SECRET: "jwt-secret-4a6c8e",
};

/** An app that uses all four stores, every one on a loopback port nothing listens on. */
async function unreachableStores(): Promise<Record<string, string>> {
    const [pg, mongo, redis, es] = await Promise.all([closedPort(), closedPort(), closedPort(), closedPort()]);
    return {
        SERVICE_NAME: "order-service",
        POSTGRES_URL: `postgresql://127.0.0.1:${pg}/ultramarket`,
        POSTGRES_USER: "order_service",
        MONGODB_URL: `mongodb://127.0.0.1:${mongo}/ultramarket`,
        MONGODB_USER: "order_service",
        REDIS_URL: `redis://127.0.0.1:${redis}`,
        ELASTICSEARCH_URL: `http://127.0.0.1:${es}`,
        ...PASSWORDS,
    };
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; text: string; json: () => any }> {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) };
}

const assertNoSecret = (text: string, where: string) => {
    for (const [name, value] of Object.entries(PASSWORDS)) assert.ok(!text.includes(value), `${where} shows ${name}`);
};

describe("stand-in app (images/app)", function () {
    this.timeout(60_000);
    const running: RunningApp[] = [];
    const start = async (env: Record<string, string>) => {
        const app = await startStandin(env);
        running.push(app);
        return app;
    };

    before(() => ensureStandinInstalled());
    afterEach(async () => {
        await Promise.all(running.splice(0).map((a) => a.stop("SIGKILL")));
    });

    it("answers /health 503 naming each store it uses and its error, without a secret in the answer or the log", async () => {
        const app = await start(await unreachableStores());
        const res = await get(`${app.url}/health`);
        assert.equal(res.status, 503);
        const body = res.json();
        assert.equal(body.service, "order-service");
        assert.deepEqual(Object.keys(body.stores), ["postgres", "mongodb", "redis", "elasticsearch"]);
        for (const [store, r] of Object.entries<any>(body.stores)) {
            assert.equal(r.ok, false, store);
            assert.match(r.error, /ECONNREFUSED/, `${store}: ${r.error}`);
        }
        assertNoSecret(res.text, "/health");
        assertNoSecret(app.output(), "the log");
    });

    it("checks only the stores whose credentials it was given: a frontend is ready with none, a Redis-only app checks Redis", async () => {
        const env = await unreachableStores();
        const frontend = await start({ SERVICE_NAME: "web-app", POSTGRES_URL: env.POSTGRES_URL, REDIS_URL: env.REDIS_URL });
        const ready = await get(`${frontend.url}/health`);
        assert.equal(ready.status, 200);
        assert.deepEqual(ready.json().stores, {});
        const cart = await start({
            SERVICE_NAME: "cart-service",
            POSTGRES_URL: env.POSTGRES_URL,
            REDIS_URL: env.REDIS_URL,
            REDIS_PASSWORD: "x",
        });
        const res = await get(`${cart.url}/health`);
        assert.equal(res.status, 503);
        assert.deepEqual(Object.keys(res.json().stores), ["redis"]);
    });

    it("logs in to Elasticsearch with HTTP Basic as elastic, and reports a refused login with its status", async () => {
        // A loopback server standing in for Elasticsearch's _security/_authenticate.
        const expected = "Basic " + Buffer.from(`elastic:${PASSWORDS.ELASTICSEARCH_PASSWORD}`).toString("base64");
        const es = http.createServer((req, res) => {
            const ok = req.url === "/_security/_authenticate" && req.headers.authorization === expected;
            res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
            res.end(ok ? '{"username":"elastic"}' : '{"error":{"type":"security_exception"},"status":401}');
        });
        await new Promise<void>((resolve) => es.listen(0, "127.0.0.1", resolve));
        try {
            const url = `http://127.0.0.1:${(es.address() as any).port}`;
            const good = await start({
                SERVICE_NAME: "search-service",
                ELASTICSEARCH_URL: url,
                ELASTICSEARCH_PASSWORD: PASSWORDS.ELASTICSEARCH_PASSWORD,
            });
            assert.equal((await get(`${good.url}/health`)).status, 200);
            const bad = await start({ SERVICE_NAME: "search-service", ELASTICSEARCH_URL: url, ELASTICSEARCH_PASSWORD: "wrong-password" });
            const res = await get(`${bad.url}/health`);
            assert.equal(res.status, 503);
            assert.match(res.json().stores.elasticsearch.error, /answered 401 \(security_exception\)/);
            assertNoSecret(good.output() + bad.output(), "the log");
        } finally {
            es.close();
        }
    });

    it("authenticates to MongoDB where MONGODB_URL says, as a driver does: the URL's database unless authSource names admin", async () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { openStores } = require(`${APP_DIR}/lib/stores.js`);
        const source = async (url: string) => {
            const config = { stores: ["mongodb"], healthTimeoutMs: 100, mongodb: { url, user: "product_service", password: "x" } };
            const { mongodb } = openStores(config, { warn: () => undefined, debug: () => undefined });
            const s = mongodb.client.options.credentials.source;
            await mongodb.close();
            return s;
        };
        // What the program renders today (issue 21 item 5): the users are in admin, so this login fails until it is fixed.
        assert.equal(await source("mongodb://127.0.0.1:1/ultramarket"), "ultramarket");
        assert.equal(await source("mongodb://127.0.0.1:1/ultramarket?authSource=admin"), "admin");
    });

    it("stays alive on /livez while its stores are down", async () => {
        const app = await start(await unreachableStores());
        assert.equal((await get(`${app.url}/livez`)).status, 200);
    });

    it("serves every metric and label the platform's PromQL reads from apps", async () => {
        const exprs = [
            ...alertRuleGroups({
                namespace: "ns",
                services: ["order-service"],
                dataStores: DATA_STORE_NAMES,
                runbookBaseUrl: "x",
                exporters: EXPORTERS,
            })
                .flatMap((g) => g.rules)
                .map((r) => r.expr),
            ...[platformOverviewDashboard("ns", CATALOG), dataStoresDashboard("ns", DATA_STORE_NAMES)].flatMap((d) =>
                d.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr as string)),
            ),
        ];
        // Not the app's: Prometheus' own `up`, recorded series (level:metric:ops), and the cluster's and exporters' metrics.
        const notTheApps = /^(up$|.*:|kube_|kubelet_|container_|pg_|mongodb_|redis_|elasticsearch_)/;
        // Labels the scrape target adds (the ServiceMonitor), never the app.
        const targetLabels = new Set(["namespace", "service", "pod", "job", "instance", "endpoint", "container"]);
        const wanted = { metrics: new Set<string>(), labels: new Set<string>() };
        for (const expr of exprs) {
            const names = promqlNames(expr);
            const apps = names.metrics.filter((m) => !notTheApps.test(m));
            apps.forEach((m) => wanted.metrics.add(m));
            if (apps.length) names.labels.filter((l) => !targetLabels.has(l)).forEach((l) => wanted.labels.add(l));
        }
        assert.deepEqual([...wanted.metrics].sort(), ["http_request_duration_seconds_bucket", "http_requests_total"]);

        const app = await start({ SERVICE_NAME: "web-app" });
        await get(`${app.url}/`);
        const text = (await get(`${app.url}/metrics`)).text;
        const samples = text.split("\n").filter((l) => l && !l.startsWith("#"));
        for (const metric of wanted.metrics) {
            const mine = samples.filter((s) => s.startsWith(`${metric}{`));
            assert.ok(mine.length, `/metrics has no ${metric}`);
            for (const label of wanted.labels) {
                if (label === "le" && !metric.endsWith("_bucket")) continue;
                assert.ok(
                    mine.some((s) => new RegExp(`[{,]${label}="`).test(s)),
                    `${metric} lacks the label ${label}`,
                );
            }
            assert.ok(!mine.some((s) => /[{,](namespace|service)="/.test(s)), `${metric} sets a target label itself`);
        }
        assert.match(text, /^http_requests_total\{method="GET",route="\/",status="200"\} 1$/m);
    });

    describe("fault switch", () => {
        it("STANDIN_FAULT=5xx answers 500 and counts it, while /health stays truthful", async () => {
            const app = await start({ SERVICE_NAME: "web-app", STANDIN_FAULT: "5xx" });
            assert.equal((await get(`${app.url}/`)).status, 500);
            assert.equal((await get(`${app.url}/health`)).status, 200);
            assert.match((await get(`${app.url}/metrics`)).text, /^http_requests_total\{method="GET",route="\/",status="500"\} 1$/m);
        });

        it("STANDIN_FAULT=unready fails readiness only", async () => {
            const app = await start({ SERVICE_NAME: "web-app", STANDIN_FAULT: "unready" });
            const res = await get(`${app.url}/health`);
            assert.equal(res.status, 503);
            assert.equal(res.json().fault, "unready");
            assert.equal((await get(`${app.url}/`)).status, 200);
        });

        it("STANDIN_FAULT=crash exits 1, and an unknown fault refuses to start naming the valid ones", async () => {
            const crash = await start({ SERVICE_NAME: "web-app", STANDIN_FAULT: "crash" });
            assert.equal(await crash.exited, 1);
            const typo = await start({ SERVICE_NAME: "web-app", STANDIN_FAULT: "500" });
            assert.equal(await typo.exited, 2);
            assert.match(typo.output(), /STANDIN_FAULT is \\"500\\"; use one of none, 5xx, unready, crash/);
        });

        it("switches at run time only when STANDIN_FAULT_API=1", async () => {
            const closed = await start({ SERVICE_NAME: "web-app" });
            assert.equal((await get(`${closed.url}/__standin/fault`, { method: "POST", body: "5xx" })).status, 404);
            assert.equal((await get(`${closed.url}/`)).status, 200);

            const open = await start({ SERVICE_NAME: "web-app", STANDIN_FAULT_API: "1" });
            assert.equal((await get(`${open.url}/__standin/fault`, { method: "POST", body: "teapot" })).status, 400);
            assert.equal((await get(`${open.url}/__standin/fault`, { method: "POST", body: "5xx" })).status, 200);
            assert.equal((await get(`${open.url}/`)).status, 500);
            assert.equal((await get(`${open.url}/__standin/fault`, { method: "POST", body: '{"fault":"unready"}' })).status, 200);
            assert.equal((await get(`${open.url}/health`)).status, 503);
            assert.equal((await get(`${open.url}/__standin/fault`, { method: "POST", body: "none" })).status, 200);
            assert.equal((await get(`${open.url}/health`)).status, 200);
            assert.equal((await get(`${open.url}/__standin/fault`, { method: "POST", body: "crash" })).status, 200);
            assert.equal(await open.exited, 1);
        });
    });

    it("on SIGTERM stops accepting, closes its pools and exits 0", async () => {
        const app = await start(await unreachableStores());
        await get(`${app.url}/health`);
        assert.equal(await app.stop("SIGTERM"), 0);
        assert.match(app.output(), /"msg":"stopped"/);
        assertNoSecret(app.output(), "the log");
    });

    it("api-gateway forwards a catalog prefix to its app without the prefix; other apps route nothing", async () => {
        // The gateway names upstreams by Service; here the upstream is a loopback server standing in for order-service.
        const seen: string[] = [];
        const upstream = http.createServer((req, res) => {
            seen.push(req.url ?? "");
            res.end("upstream");
        });
        await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
        try {
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const { proxy } = require(`${APP_DIR}/lib/gateway.js`);
            const route = { prefix: "/orders", service: "127.0.0.1", port: (upstream.address() as any).port };
            const front = http.createServer((req, res) => proxy(req, res, route, { warn: () => undefined }));
            await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
            const res = await get(`http://127.0.0.1:${(front.address() as any).port}/orders/health?x=1`);
            front.close();
            assert.equal(res.text, "upstream");
            assert.deepEqual(seen, ["/health?x=1"]);
        } finally {
            upstream.close();
        }
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { gatewayRoutes } = require(`${APP_DIR}/lib/gateway.js`);
        assert.ok(
            gatewayRoutes("api-gateway").some((r: any) => r.prefix === "/orders" && r.service === "order-service" && r.port === 3007),
        );
        assert.deepEqual(gatewayRoutes("order-service"), []);
    });

    describe("npm run migrate", () => {
        it("has nothing to do for an app without a database user, and exits 0", async () => {
            const r = await runStandin("migrate.js", {
                SERVICE_NAME: "cart-service",
                REDIS_URL: "redis://127.0.0.1:1",
                REDIS_PASSWORD: "x",
            });
            assert.equal(r.code, 0, r.output);
            assert.match(r.output, /nothing to migrate/);
        });

        it("fails naming the store when PostgreSQL is unreachable, without a secret in its output", async () => {
            const env = await unreachableStores();
            const r = await runStandin("migrate.js", {
                SERVICE_NAME: "order-service",
                POSTGRES_URL: env.POSTGRES_URL,
                POSTGRES_USER: "order_service",
                POSTGRES_PASSWORD: PASSWORDS.POSTGRES_PASSWORD,
            });
            assert.equal(r.code, 1, r.output);
            assert.match(r.output, /postgres: migration failed.*ECONNREFUSED/);
            assertNoSecret(r.output, "migrate's output");
        });
    });
});
