"use strict";
// One login check per data store, each with the credentials exactly as the platform hands them over. Clients are
// kept between checks (a pool for PostgreSQL, as a real app has) and closed on shutdown.
const { Pool } = require("pg");
const { parse: parsePgUrl } = require("pg-connection-string");
const { MongoClient } = require("mongodb");
const { createClient } = require("redis");

/** A promise that rejects after `ms`, so a store that hangs fails its check in time for the probe. */
function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * node-postgres lets a connection string's (empty) user and password override explicit ones, so the URL is parsed and
 * the app's own credentials laid over it.
 */
function postgresConfig(c, timeoutMs) {
    return {
        ...parsePgUrl(c.url),
        user: c.user,
        password: c.password,
        max: c.poolMax,
        connectionTimeoutMillis: timeoutMs,
        idleTimeoutMillis: 10_000,
        application_name: process.env.SERVICE_NAME || "standin-app",
    };
}

function postgresStore(c, timeoutMs, log) {
    const pool = new Pool(postgresConfig(c, timeoutMs));
    // An idle client's error (server restart, PgBouncer reload) must not end the process.
    pool.on("error", (e) => log.warn("postgres: idle connection failed", { error: e.message }));
    return {
        // A simple query: no named prepared statement, so PgBouncer's transaction pooling needs nothing of the session.
        check: async () => {
            await pool.query("select 1");
        },
        pool,
        close: () => pool.end(),
    };
}

function mongodbStore(c, timeoutMs) {
    const client = new MongoClient(c.url, {
        auth: { username: c.user, password: c.password },
        serverSelectionTimeoutMS: timeoutMs,
        connectTimeoutMS: timeoutMs,
        maxPoolSize: 5,
        appName: process.env.SERVICE_NAME || "standin-app",
    });
    const noAuthSource = !/[?&]authSource=/i.test(c.url);
    return {
        // Every connection authenticates in its handshake: a refused login fails the ping. The app's db is the URL's.
        check: async () => {
            try {
                await client.db().command({ ping: 1 });
            } catch (e) {
                if (noAuthSource && /auth/i.test(e.message)) {
                    e.message +=
                        " (MONGODB_URL has no authSource, so the driver authenticated against its database; the users live in admin: authSource=admin)";
                }
                throw e;
            }
        },
        client,
        close: () => client.close(),
    };
}

function redisStore(c, timeoutMs, log) {
    let client;
    let connecting;
    const connect = async () => {
        if (client?.isReady) return client;
        // A client whose connect failed is closed already, and destroying it again throws "The client is closed".
        if (client?.isOpen) client.destroy();
        // No reconnect loop and no offline queue: a check fails now, and the next check connects afresh.
        client = createClient({
            url: c.url,
            password: c.password,
            disableOfflineQueue: true,
            socket: { connectTimeout: timeoutMs, reconnectStrategy: false },
        });
        client.on("error", (e) => log.debug("redis: connection error", { error: e.message }));
        await client.connect();
        return client;
    };
    return {
        // connect() sends AUTH with the password before anything else; PING must answer PONG.
        check: async () => {
            connecting ??= connect().finally(() => (connecting = undefined));
            const ready = await connecting;
            const pong = await ready.ping();
            if (pong !== "PONG") throw new Error(`PING answered ${pong}`);
        },
        close: async () => {
            if (client?.isOpen) await client.close();
            else client?.destroy();
        },
    };
}

function elasticsearchStore(c, timeoutMs) {
    const authorization = "Basic " + Buffer.from(`${c.user}:${c.password}`).toString("base64");
    const url = new URL("/_security/_authenticate", c.url.endsWith("/") ? c.url : c.url + "/");
    return {
        // Answers 200 to any user whose login is accepted, whatever its privileges; 401 otherwise.
        check: async () => {
            const res = await fetch(url, { headers: { authorization }, signal: AbortSignal.timeout(timeoutMs) });
            if (res.status !== 200) {
                const body = await res.text().catch(() => "");
                const reason = /"type"\s*:\s*"([^"]+)"/.exec(body)?.[1];
                throw new Error(`GET ${url.pathname} as ${c.user} answered ${res.status}${reason ? ` (${reason})` : ""}`);
            }
        },
        close: async () => {},
    };
}

const FACTORIES = { postgres: postgresStore, mongodb: mongodbStore, redis: redisStore, elasticsearch: elasticsearchStore };

/** The app's stores, by name, each with check() and close(). */
function openStores(config, log) {
    return Object.fromEntries(config.stores.map((s) => [s, FACTORIES[s](config[s], config.healthTimeoutMs, log)]));
}

/** Runs every store's check at once; each result is `{ ok, ms }` or `{ ok: false, ms, error }`. */
async function checkStores(stores, timeoutMs) {
    const entries = await Promise.all(
        Object.entries(stores).map(async ([name, store]) => {
            const start = Date.now();
            try {
                await withTimeout(store.check(), timeoutMs, name);
                return [name, { ok: true, ms: Date.now() - start }];
            } catch (e) {
                return [name, { ok: false, ms: Date.now() - start, error: describe(e) }];
            }
        }),
    );
    return Object.fromEntries(entries);
}

/** An error as one line: aggregate errors (a host with several addresses) name each cause. */
function describe(e) {
    if (e instanceof AggregateError && e.errors?.length) return e.errors.map(describe).join("; ");
    const msg = e?.message || e?.code || e?.constructor?.name || "failed";
    // fetch says only "fetch failed"; why is in its cause (ECONNREFUSED, a timeout).
    return e?.cause && !msg.includes(describe(e.cause)) ? `${msg}: ${describe(e.cause)}` : msg;
}

module.exports = { openStores, checkStores, postgresConfig, withTimeout };
