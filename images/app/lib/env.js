"use strict";
// What the platform hands each app, read once: which data stores it uses (from the credentials it was given), where
// they are and how to log in. Nothing here is ever logged whole: the passwords are only read.

/** The data stores, in the order /health reports them, and the env that says an app uses each. */
const STORES = {
    // Its own user, from the app's `<app>-database` Secret (the ConfigMap gives every app every URL).
    postgres: { uses: "POSTGRES_USER", url: "POSTGRES_URL" },
    mongodb: { uses: "MONGODB_USER", url: "MONGODB_URL" },
    // No users of their own yet: the platform Secret's password reaches only the apps that use the store.
    redis: { uses: "REDIS_PASSWORD", url: "REDIS_URL" },
    elasticsearch: { uses: "ELASTICSEARCH_PASSWORD", url: "ELASTICSEARCH_URL" },
};

const FAULTS = ["none", "5xx", "unready", "crash"];

/** Env names whose values are secrets: redacted from every log line and response. */
const SECRET_ENV = /PASSWORD|SECRET|_KEY$|TOKEN|MERCHANT_ID|LOGIN$|EMAIL$/;

function readEnv(env = process.env) {
    const missing = [];
    const required = (name) => {
        const v = env[name];
        if (v === undefined || v === "") missing.push(name);
        return v;
    };
    const stores = Object.keys(STORES).filter((s) => env[STORES[s].uses] !== undefined && env[STORES[s].uses] !== "");
    const config = {
        service: env.SERVICE_NAME || "standin-app",
        port: Number(env.PORT || 3000),
        logLevel: env.LOG_LEVEL || "info",
        stores,
        healthTimeoutMs: Number(env.STANDIN_HEALTH_TIMEOUT_MS || 2500),
        shutdownTimeoutMs: Number(env.STANDIN_SHUTDOWN_TIMEOUT_MS || 10000),
        fault: env.STANDIN_FAULT || "none",
        faultApi: env.STANDIN_FAULT_API === "1",
    };
    if (stores.includes("postgres")) {
        config.postgres = {
            url: required("POSTGRES_URL"),
            user: env.POSTGRES_USER,
            password: required("POSTGRES_PASSWORD"),
            poolMax: Number(env.POSTGRES_POOL_MAX || 10),
        };
    }
    if (stores.includes("mongodb")) {
        config.mongodb = { url: required("MONGODB_URL"), user: env.MONGODB_USER, password: required("MONGODB_PASSWORD") };
    }
    if (stores.includes("redis")) config.redis = { url: required("REDIS_URL"), password: env.REDIS_PASSWORD };
    if (stores.includes("elasticsearch")) {
        config.elasticsearch = {
            url: required("ELASTICSEARCH_URL"),
            // The program renders no user yet: the platform's Elasticsearch password is the `elastic` user's.
            user: env.ELASTICSEARCH_USER || "elastic",
            password: env.ELASTICSEARCH_PASSWORD,
        };
    }
    const problems = [];
    if (missing.length) problems.push(`missing env: ${missing.join(", ")}`);
    if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535) problems.push(`PORT is not a port number`);
    if (!FAULTS.includes(config.fault)) problems.push(`STANDIN_FAULT is "${config.fault}"; use one of ${FAULTS.join(", ")}`);
    const secrets = Object.entries(env)
        .filter(([k, v]) => SECRET_ENV.test(k) && typeof v === "string" && v.length >= 4)
        .map(([, v]) => v);
    return { config, problems, secrets };
}

/** A redactor for the given secret values: every occurrence becomes `[redacted]`. */
function redactor(secrets) {
    const values = [...new Set(secrets)].sort((a, b) => b.length - a.length);
    return (text) => values.reduce((t, s) => t.split(s).join("[redacted]"), String(text));
}

module.exports = { STORES, FAULTS, readEnv, redactor };
