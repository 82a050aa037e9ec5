// PostgreSQL's connection budget as arithmetic: what may connect at the worst moment, against what is allowed.
// Pure, so config/parse.ts refuses a configuration that does not fit before anything is deployed.
import { AppSpec } from "../model/catalog";

/** PostgreSQL's default max_connections: what a stack runs with until `postgresMaxConnections` is set. */
export const POSTGRES_DEFAULT_MAX_CONNECTIONS = 100;

/** PgBouncer pods: the Deployment's replicas, plus the one a rolling update surges (maxSurge 1) while the old pod drains. */
export const PGBOUNCER_REPLICAS = 2;
export const PGBOUNCER_PODS_AT_MOST = PGBOUNCER_REPLICAS + 1;

/** Connections that bypass PgBouncer, each counted at its most. */
export const DIRECT_CONNECTIONS = {
    /** superuser_reserved_connections (PostgreSQL's default): slots only a superuser may take. */
    superuserReserved: 3,
    /** An operator's psql session, a manual pg_dump: kept free so a full pool never locks a human out. */
    operatorReserve: 5,
    /** The metrics exporter (postgres_exporter holds one connection; two while it reconnects). */
    monitoring: 2,
    /** The database users Job (one psql session). */
    databaseUsersJob: 1,
    /** The backup Job that runs before migrations (one pg_dump). */
    backupJob: 1,
    /** Each migration Job: migration tools open a small pool of their own, DDL needs a session (not PgBouncer). */
    perMigrationJob: 2,
} as const;

export interface PoolDemand {
    app: string;
    /** Server connections per PgBouncer pod for this app's user. */
    server: number;
    /** Pool per app pod towards PgBouncer. */
    client: number;
    /** The HPA's maximum. */
    maxReplicas: number;
    migrations: boolean;
}

export interface ConnectionBudget {
    server: { total: number; limit: number; pools: number; direct: number; explain: string };
    client: { total: number; limit: number; explain: string };
    /** One sentence per exceeded bound, naming the services and the numbers (empty: the budget holds). */
    overruns: string[];
}

/** The PostgreSQL demand of the deployed apps (replica overrides applied: maxReplicas never below the minimum). */
export function poolDemands(apps: readonly AppSpec[]): PoolDemand[] {
    return apps.flatMap((a) =>
        a.dataStores.includes("postgres") && a.postgresPool
            ? [
                  {
                      app: a.name,
                      server: a.postgresPool.server,
                      client: a.postgresPool.client,
                      maxReplicas: Math.max(a.maxReplicas, a.replicas),
                      migrations: a.migrations,
                  },
              ]
            : [],
    );
}

/**
 * Server side: every PgBouncer pod × Σ(server pool per app) + the direct connections ≤ max_connections.
 * Client side: Σ(HPA maximum × client pool per app) ≤ PgBouncer's max_client_conn, per pod: the Service spreads
 * connections unevenly, and during a PgBouncer rollout or a node drain one pod may hold them all.
 */
export function connectionBudget(
    demands: readonly PoolDemand[],
    limits: { maxConnections: number; maxClientConnections: number },
): ConnectionBudget {
    const pools = PGBOUNCER_PODS_AT_MOST * demands.reduce((n, d) => n + d.server, 0);
    const migrations = demands.filter((d) => d.migrations).length;
    const d = DIRECT_CONNECTIONS;
    const direct =
        d.superuserReserved + d.operatorReserve + d.monitoring + d.databaseUsersJob + d.backupJob + migrations * d.perMigrationJob;
    const serverExplain =
        `PgBouncer's server pools ${PGBOUNCER_PODS_AT_MOST} pods × (${demands.map((x) => `${x.app} ${x.server}`).join(" + ")}) = ${pools}, ` +
        `plus ${d.superuserReserved} superuser-reserved, ${d.operatorReserve} operator reserve, ${d.monitoring} monitoring, ` +
        `${d.databaseUsersJob + d.backupJob + migrations * d.perMigrationJob} for Jobs (database users ${d.databaseUsersJob}, backup ${d.backupJob}, migrations ${migrations} × ${d.perMigrationJob})`;
    const clientTotal = demands.reduce((n, x) => n + x.maxReplicas * x.client, 0);
    const clientExplain = demands.map((x) => `${x.app} ${x.maxReplicas} pods × ${x.client} = ${x.maxReplicas * x.client}`).join(", ");
    const server = { total: pools + direct, limit: limits.maxConnections, pools, direct, explain: serverExplain };
    const client = { total: clientTotal, limit: limits.maxClientConnections, explain: clientExplain };
    const overruns: string[] = [];
    if (server.total > server.limit)
        overruns.push(`PostgreSQL would need ${server.total} connections but allows ${server.limit}: ${serverExplain}`);
    if (client.total > client.limit)
        overruns.push(
            `the apps may open ${client.total} connections to PgBouncer at their HPA maximum but it accepts ${client.limit}: ${clientExplain}`,
        );
    return { server, client, overruns };
}
