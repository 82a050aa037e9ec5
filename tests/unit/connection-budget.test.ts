// Issue 14 item 3: PgBouncer in front of PostgreSQL, and a connection budget checked before anything is deployed.
import { strict as assert } from "assert";
import { CATALOG } from "../../components/model/catalog";
import {
    connectionBudget,
    DIRECT_CONNECTIONS,
    PGBOUNCER_PODS_AT_MOST,
    poolDemands,
    POSTGRES_DEFAULT_MAX_CONNECTIONS,
} from "../../components/data/connection-budget";
import { PGBOUNCER } from "../../components/data/pgbouncer";
import { THIRD_PARTY_IMAGES } from "../../components/model/third-party-images";
import { userName } from "../../components/data/principals";
import { ConfigError, parseConfig, SECRET_CONFIG_KEYS } from "../../config";
import { byType, named, Registration, REPO_ROOT } from "./support/harness";
import { CM, DEP, JOB, NP, PDB, SECRET, STS, SVC } from "./support/kinds";
import { evaluateProduction, productionValues } from "./support/platform";

const deployed = CATALOG.filter((a) => a.enabledByDefault);
const postgresApps = deployed.filter((a) => a.dataStores.includes("postgres"));
const podOf = (r: Registration) => r.inputs.spec.template.spec;
const envOf = (r: Registration, name: string) => podOf(r).containers[0].env.find((e: any) => e.name === name);
const peersOf = (policy: Registration) =>
    (policy.inputs.spec.ingress ?? []).flatMap((r: any) => r.from.map((p: any) => p.podSelector?.matchLabels["app.kubernetes.io/name"]));
const egressTo = (policy: Registration) =>
    (policy.inputs.spec.egress ?? []).flatMap((r: any) => r.to.map((p: any) => p.podSelector?.matchLabels["app.kubernetes.io/name"]));

function refusal(values: Record<string, string>): string[] {
    try {
        parseConfig({ stack: "production", values, secretKeys: new Set(SECRET_CONFIG_KEYS), baseDir: REPO_ROOT });
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.problems;
    }
    return assert.fail("expected the configuration to be refused");
}

describe("connection budget (issue 14): PgBouncer and the arithmetic that keeps PostgreSQL under max_connections", () => {
    describe("the budget", () => {
        const demand = (app: string, server: number, client: number, maxReplicas: number, migrations = false) => ({
            app,
            server,
            client,
            maxReplicas,
            migrations,
        });

        it("counts every PgBouncer pod's pools, the reserves, monitoring and the Jobs against max_connections", () => {
            const b = connectionBudget([demand("a", 4, 10, 10, true), demand("b", 6, 5, 4)], {
                maxConnections: 100,
                maxClientConnections: 1000,
            });
            const d = DIRECT_CONNECTIONS;
            assert.equal(b.server.pools, PGBOUNCER_PODS_AT_MOST * 10);
            assert.equal(
                b.server.direct,
                d.superuserReserved + d.operatorReserve + d.monitoring + d.databaseUsersJob + d.backupJob + d.perMigrationJob,
            );
            assert.equal(b.server.total, b.server.pools + b.server.direct);
            assert.equal(b.client.total, 10 * 10 + 4 * 5);
            assert.deepEqual(b.overruns, []);
        });

        it("names each service and its numbers when a bound is exceeded", () => {
            const b = connectionBudget([demand("order-service", 30, 20, 50), demand("auth-service", 10, 10, 10, true)], {
                maxConnections: 100,
                maxClientConnections: 500,
            });
            assert.equal(b.overruns.length, 2);
            assert.match(
                b.overruns[0],
                /PostgreSQL would need \d+ connections but allows 100: PgBouncer's server pools 3 pods × \(order-service 30 \+ auth-service 10\) = 120/,
            );
            assert.match(
                b.overruns[1],
                /the apps may open 1100 connections to PgBouncer .* accepts 500: order-service 50 pods × 20 = 1000, auth-service 10 pods × 10 = 100/,
            );
        });

        it("fits the catalog's defaults into PostgreSQL's default 100 connections and PgBouncer's default 1000 clients", () => {
            const b = connectionBudget(poolDemands(deployed), {
                maxConnections: POSTGRES_DEFAULT_MAX_CONNECTIONS,
                maxClientConnections: 1000,
            });
            assert.deepEqual(b.overruns, []);
            assert.equal(poolDemands(deployed).length, 7, "the seven PostgreSQL apps");
        });
    });

    describe("config validation", () => {
        it("refuses a max_connections that the pools exceed, naming the key, the services, the numbers and the fix", () => {
            const problems = refusal(productionValues({ postgresMaxConnections: "60" }));
            const hit = problems.find((p) => p.includes("ultramarket:postgresMaxConnections"));
            assert.ok(hit, problems.join("\n"));
            assert.match(hit, /is 60, but PostgreSQL would need 100 connections but allows 60/);
            for (const app of postgresApps) assert.ok(hit.includes(`${app.name} 4`), `${app.name} is not named: ${hit}`);
            assert.match(hit, /pulumi config set postgresMaxConnections 100/);
        });

        it("refuses replicas whose HPA maximum would open more client connections than PgBouncer accepts", () => {
            const problems = refusal(productionValues({ replicas: JSON.stringify({ "order-service": 60 }) }));
            const hit = problems.find((p) => p.includes("ultramarket:pgbouncerMaxClientConnections"));
            assert.ok(hit, problems.join("\n"));
            assert.match(hit, /is 1000, but the apps may open 1200 connections to PgBouncer .*order-service 60 pods × 10 = 600/);
            assert.match(hit, /pulumi config set pgbouncerMaxClientConnections 1200/);
        });

        it("accepts a raised limit, and refuses a password version for someone who is no database user", () => {
            parseConfig({
                stack: "production",
                values: productionValues({ replicas: JSON.stringify({ "order-service": 60 }), pgbouncerMaxClientConnections: "1200" }),
                secretKeys: new Set(SECRET_CONFIG_KEYS),
                baseDir: REPO_ROOT,
            });
            const problems = refusal(productionValues({ databasePasswordVersions: JSON.stringify({ "cart-service": 2 }) }));
            assert.ok(
                problems.some((p) => p.startsWith("ultramarket:databasePasswordVersions.cart-service names no database user")),
                problems.join("\n"),
            );
        });
    });

    describe("the production stack", () => {
        let regs: Registration[];
        before(async () => {
            ({ registrations: regs } = await evaluateProduction());
        });

        it("runs PgBouncer as 2 restricted replicas with a PDB and a Service on 6432, its image pinned", () => {
            const dep = named(regs, DEP, PGBOUNCER.name);
            assert.equal(dep.inputs.spec.replicas, 2);
            assert.deepEqual(dep.inputs.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 }, "the budget counts one surge pod");
            const c = podOf(dep).containers[0];
            assert.equal(c.image, THIRD_PARTY_IMAGES.pgbouncer.reference);
            assert.match(c.image, /:\d+\.\d+\.\d+$/);
            assert.equal(c.securityContext.readOnlyRootFilesystem, true);
            assert.equal(podOf(dep).securityContext.runAsNonRoot, true);
            for (const p of ["startupProbe", "readinessProbe", "livenessProbe"]) assert.ok(c[p], p);
            assert.ok(c.resources.limits["ephemeral-storage"] && c.resources.requests.memory);
            assert.equal(named(regs, PDB, PGBOUNCER.name).inputs.spec.maxUnavailable, 1);
            assert.equal(named(regs, SVC, PGBOUNCER.name).inputs.spec.ports[0].port, 6432);
        });

        it("pools in transaction mode with each service's budgeted server connections, and keeps the passwords in a Secret file", () => {
            const ini: string = named(regs, CM, PGBOUNCER.name).inputs.data["pgbouncer.ini"];
            assert.match(ini, /^pool_mode = transaction$/m);
            assert.match(ini, /^ultramarket = host=postgres-service port=5432 dbname=ultramarket$/m);
            assert.match(ini, /^max_client_conn = 1000$/m);
            for (const app of postgresApps)
                assert.match(ini, new RegExp(`^${userName(app.name)} = max_user_connections=${app.postgresPool!.server}$`, "m"));
            const userlist: string = named(regs, SECRET, "pgbouncer-userlist").inputs.stringData["userlist.txt"];
            assert.deepEqual(
                userlist
                    .trim()
                    .split("\n")
                    .map((l) => l.split(" ")[0]),
                postgresApps.map((a) => `"${userName(a.name)}"`),
            );
            const volume = podOf(named(regs, DEP, PGBOUNCER.name)).volumes.find((v: any) => v.secret);
            assert.equal(volume.secret.defaultMode, 0o440);
        });

        it("points the apps' POSTGRES_URL at PgBouncer and leaves migrations on PostgreSQL itself", () => {
            const cm = named(regs, CM, "ultramarket-config").inputs.data;
            assert.equal(cm.POSTGRES_URL, "postgresql://postgres-service:5432/ultramarket", "the ConfigMap keeps the direct URL");
            for (const app of postgresApps) {
                assert.equal(envOf(named(regs, DEP, app.name), "POSTGRES_URL")?.value, "postgresql://pgbouncer:6432/ultramarket", app.name);
                assert.equal(envOf(named(regs, DEP, app.name), "POSTGRES_POOL_MAX")?.value, String(app.postgresPool!.client), app.name);
                assert.ok(
                    named(regs, DEP, app.name).dependencies.includes(named(regs, DEP, PGBOUNCER.name).urn),
                    `${app.name} starts after PgBouncer`,
                );
            }
            const migrations = byType(regs, JOB).filter((j) => j.inputs.metadata.labels["app.kubernetes.io/component"] === "migration");
            assert.ok(migrations.length >= 2);
            for (const j of migrations)
                assert.equal(envOf(j, "POSTGRES_URL"), undefined, `${j.name} must reach PostgreSQL directly (DDL, session features)`);
        });

        it("opens exactly the new edges: apps to PgBouncer, PgBouncer and migrations and the users Job to PostgreSQL, the users Job to MongoDB", () => {
            const postgres = peersOf(named(regs, NP, "allow-postgres"));
            assert.ok(
                postgres.includes("pgbouncer") && postgres.includes("database-users-postgres") && postgres.includes("auth-service-migrate"),
                postgres.join(", "),
            );
            for (const app of postgresApps) assert.ok(!postgres.includes(app.name), `${app.name} reaches PostgreSQL around PgBouncer`);
            assert.deepEqual(peersOf(named(regs, NP, "allow-pgbouncer")).sort(), postgresApps.map((a) => a.name).sort());
            assert.deepEqual(egressTo(named(regs, NP, "allow-pgbouncer")), ["postgres"]);
            for (const app of postgresApps) assert.ok(egressTo(named(regs, NP, `allow-${app.name}`)).includes("pgbouncer"), app.name);
            assert.deepEqual(egressTo(named(regs, NP, "allow-database-users-postgres")), ["postgres"]);
            assert.deepEqual(egressTo(named(regs, NP, "allow-database-users-mongodb")), ["mongodb"]);
            assert.ok(peersOf(named(regs, NP, "allow-mongodb")).includes("database-users-mongodb"));
        });

        it("leaves PostgreSQL's command line alone unless postgresMaxConnections is set (a change restarts it)", async () => {
            assert.equal(podOf(named(regs, STS, "postgres")).containers[0].args, undefined);
            const raised = (await evaluateProduction({ postgresMaxConnections: "200" })).registrations;
            assert.deepEqual(podOf(named(raised, STS, "postgres")).containers[0].args, ["postgres", "-c", "max_connections=200"]);
        });
    });
});
