"use strict";
// `npm run migrate`: as the app's own user, a table in its own schema (PostgreSQL) and a collection (MongoDB), each
// with a marker row; idempotent (a second run updates the marker). Exits non-zero naming what failed.
const { Client } = require("pg");
const { MongoClient } = require("mongodb");
const { readEnv, redactor } = require("./lib/env");
const { logger } = require("./lib/log");
const { postgresConfig } = require("./lib/stores");

const TABLE = "standin_markers";

async function migratePostgres(c, service, log) {
    const client = new Client(postgresConfig(c, 10_000));
    await client.connect();
    try {
        await client.query("begin");
        // The app's schema is named after its user (the users Job creates it, owned by the user).
        const { rows } = await client.query("select current_user as me, quote_ident(current_user) as schema");
        const { me, schema } = rows[0];
        await client.query(
            `create table if not exists ${schema}.${TABLE} (name text primary key, service text not null, runs integer not null default 1, first_applied_at timestamptz not null default now(), last_applied_at timestamptz not null default now())`,
        );
        await client.query(
            `insert into ${schema}.${TABLE} (name, service) values ('migration', $1) on conflict (name) do update set runs = ${TABLE}.runs + 1, last_applied_at = now(), service = excluded.service`,
            [service],
        );
        const owner = await client.query("select tableowner from pg_tables where schemaname = current_user and tablename = $1", [TABLE]);
        if (owner.rows[0]?.tableowner !== me)
            throw new Error(`${me}.${TABLE} is owned by ${owner.rows[0]?.tableowner ?? "nobody"}, not ${me}`);
        await client.query("commit");
        const marker = await client.query(`select runs from ${schema}.${TABLE} where name = 'migration'`);
        log.info("postgres: migrated", { table: `${me}.${TABLE}`, owner: me, runs: marker.rows[0].runs });
    } catch (e) {
        await client.query("rollback").catch(() => {});
        throw e;
    } finally {
        await client.end();
    }
}

async function migrateMongodb(c, service, log) {
    const client = new MongoClient(c.url, { auth: { username: c.user, password: c.password }, serverSelectionTimeoutMS: 10_000 });
    try {
        const db = client.db();
        const name = `${TABLE}_${c.user}`;
        const now = new Date();
        await db
            .collection(name)
            .updateOne(
                { _id: "migration" },
                { $set: { service, lastAppliedAt: now }, $setOnInsert: { firstAppliedAt: now }, $inc: { runs: 1 } },
                { upsert: true },
            );
        const marker = await db.collection(name).findOne({ _id: "migration" });
        log.info("mongodb: migrated", { database: db.databaseName, collection: name, runs: marker.runs });
    } finally {
        await client.close();
    }
}

async function main() {
    const { config, problems, secrets } = readEnv();
    const log = logger(config.service, config.logLevel, redactor(secrets));
    if (problems.length) {
        log.error(`cannot migrate: ${problems.join("; ")}`);
        return 2;
    }
    const steps = [];
    if (config.postgres) steps.push(["postgres", () => migratePostgres(config.postgres, config.service, log)]);
    if (config.mongodb) steps.push(["mongodb", () => migrateMongodb(config.mongodb, config.service, log)]);
    if (!steps.length) log.info("no database with a user of its own (POSTGRES_USER, MONGODB_USER): nothing to migrate");
    for (const [store, step] of steps) {
        try {
            await step();
        } catch (e) {
            log.error(`${store}: migration failed`, { error: e.message || String(e) });
            return 1;
        }
    }
    return 0;
}

main().then((code) => process.exit(code));
