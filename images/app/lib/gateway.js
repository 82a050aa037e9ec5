"use strict";
// api-gateway's part of the contract: `/<prefix>/<rest>` on the API host reaches the service behind that prefix as
// `/<rest>` (so `/orders/health` is order-service's /health). The table is generated from the catalog (routes.json).
const fs = require("fs");
const http = require("http");
const path = require("path");

const ROUTES_FILE = path.join(__dirname, "..", "routes.json");

/** The gateway's routes when this app is the gateway; none for every other app. */
function gatewayRoutes(service) {
    const table = JSON.parse(fs.readFileSync(ROUTES_FILE, "utf8"));
    return service === table.gateway ? table.routes : [];
}

function proxy(req, res, route, log) {
    const url = new URL(req.url, "http://gateway");
    const rest = url.pathname.slice(route.prefix.length) || "/";
    const upstream = http.request(
        { host: route.service, port: route.port, path: rest + url.search, method: req.method, headers: req.headers, timeout: 5000 },
        (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
        },
    );
    upstream.on("timeout", () => upstream.destroy(new Error(`${route.service} did not answer within 5 s`)));
    upstream.on("error", (e) => {
        log.warn("gateway: upstream failed", { service: route.service, error: e.message });
        if (!res.headersSent) {
            res.writeHead(502, { "content-type": "application/json" });
            res.end(JSON.stringify({ error: `${route.service} unreachable`, service: route.service }));
        } else res.destroy();
    });
    req.pipe(upstream);
}

module.exports = { gatewayRoutes, proxy, ROUTES_FILE };
