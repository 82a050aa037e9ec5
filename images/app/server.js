"use strict";
// The stand-in for every UltraMarket app (docs/app-contract.md): /health checks the logins of the stores this app
// uses, /metrics serves the request metrics the platform's alerts query, and a fault switch makes it fail on demand.
const http = require("http");
const { readEnv, redactor, FAULTS } = require("./lib/env");
const { logger } = require("./lib/log");
const { openStores, checkStores } = require("./lib/stores");
const { requestMetrics } = require("./lib/metrics");
const { gatewayRoutes, proxy } = require("./lib/gateway");

const { config, problems, secrets } = readEnv();
const redact = redactor(secrets);
const log = logger(config.service, config.logLevel, redact);
if (problems.length) {
    log.error(`cannot start: ${problems.join("; ")}`);
    process.exit(2);
}
if (config.fault === "crash") {
    log.error("STANDIN_FAULT=crash: exiting as a crashing app would");
    process.exit(1);
}

const LIVENESS_PATH = "/livez";
const FAULT_PATH = "/__standin/fault";
const stores = openStores(config, log);
const metrics = requestMetrics();
const routes = gatewayRoutes(config.service);
let fault = config.fault;
let shuttingDown = false;

const json = (res, status, body) => {
    const text = redact(JSON.stringify(body));
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
};

async function health(res) {
    if (shuttingDown) return json(res, 503, { status: "shutting down", service: config.service });
    const results = await checkStores(stores, config.healthTimeoutMs);
    const failed = Object.entries(results).filter(([, r]) => !r.ok);
    if (fault === "unready") return json(res, 503, { status: "unavailable", service: config.service, fault, stores: results });
    if (failed.length) {
        log.warn("health: store check failed", { stores: Object.fromEntries(failed.map(([n, r]) => [n, r.error])) });
        return json(res, 503, { status: "unavailable", service: config.service, stores: results });
    }
    return json(res, 200, { status: "ok", service: config.service, stores: results });
}

function readBody(req, limit = 1024) {
    return new Promise((resolve, reject) => {
        let body = "";
        req.setEncoding("utf8");
        req.on("data", (chunk) => {
            body += chunk;
            if (body.length > limit) reject(new Error("body too large"));
        });
        req.on("end", () => resolve(body));
        req.on("error", reject);
    });
}

async function faultApi(req, res) {
    if (req.method === "GET") return json(res, 200, { fault });
    if (req.method !== "POST") return json(res, 405, { error: "use GET or POST" });
    const body = (await readBody(req)).trim();
    let wanted = body;
    if (body.startsWith("{")) wanted = JSON.parse(body).fault;
    if (!FAULTS.includes(wanted)) return json(res, 400, { error: `fault must be one of ${FAULTS.join(", ")}` });
    log.warn("fault switched", { from: fault, to: wanted });
    fault = wanted;
    json(res, 200, { fault });
    if (wanted === "crash") res.on("finish", () => setImmediate(() => process.exit(1)));
}

/** The route label: a fixed path, never the raw URL, so the series stay few. */
function routeOf(path) {
    if (path === "/health" || path === LIVENESS_PATH || path === "/" || path === FAULT_PATH) return path;
    const r = routes.find((g) => path === g.prefix || path.startsWith(g.prefix + "/"));
    return r ? r.prefix : "other";
}

async function handle(req, res) {
    const path = new URL(req.url, "http://app").pathname;
    if (path === "/metrics") {
        res.writeHead(200, { "content-type": metrics.registry.contentType });
        return res.end(await metrics.registry.metrics());
    }
    const start = process.hrtime.bigint();
    res.on("finish", () => metrics.observe(req.method, routeOf(path), res.statusCode, Number(process.hrtime.bigint() - start) / 1e9));
    if (path === FAULT_PATH && config.faultApi) return faultApi(req, res);
    if (path === LIVENESS_PATH) return json(res, 200, { status: "alive", service: config.service });
    if (path === "/health") return health(res);
    if (fault === "5xx") return json(res, 500, { error: "fault injected (STANDIN_FAULT=5xx)", service: config.service });
    const route = routes.find((g) => path === g.prefix || path.startsWith(g.prefix + "/"));
    if (route) return proxy(req, res, route, log);
    if (path === "/") return json(res, 200, { service: config.service, stores: config.stores, standin: true });
    return json(res, 404, { error: "not found", path });
}

const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
        log.error("request failed", { path: req.url, error: e.message });
        if (!res.headersSent) json(res, 500, { error: "internal error" });
        else res.destroy();
    });
});

server.listen(config.port, () => {
    log.info("listening", { port: config.port, stores: config.stores, fault, faultApi: config.faultApi });
});

async function shutdown(signal) {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info("shutting down", { signal });
    const force = setTimeout(() => {
        log.error("shutdown took too long: exiting");
        process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    // Stop accepting, let in-flight requests finish (idle keep-alive sockets are closed now), then close the pools.
    const closed = new Promise((resolve) => server.close(resolve));
    server.closeIdleConnections();
    await closed;
    await Promise.allSettled(Object.values(stores).map((s) => s.close()));
    log.info("stopped");
    process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
