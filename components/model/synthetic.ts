// Synthetic apps for the benchmark's scale mode (`syntheticApps`, never in production): N more catalog entries shaped
// like the real gateway-routed backends, so the program, the policy pack and the engine can be timed at 40, 80, 200
// apps. They run the same app image as the others (the local registry serves the stand-in app for any app name).
import { AppSpec, CATALOG, PostgresPool } from "./catalog";

/** The most synthetic apps a stack may ask for (the schema's bound). */
export const MAX_SYNTHETIC_APPS = 200;

/** The name of the i-th synthetic app (1-based): synthetic-001, synthetic-002, ... */
export const syntheticName = (i: number) => `synthetic-${String(i).padStart(3, "0")}`;

/**
 * Small PostgreSQL pools: the real catalog's pools take PostgreSQL's default 100 connections already, so a stack with
 * synthetic apps on PostgreSQL sets postgresMaxConnections (the budget rule names the number); one server connection
 * per PgBouncer pod and a pool of 2 per app pod keep that number near the real stack's.
 */
export const SYNTHETIC_POSTGRES_POOL: PostgresPool = { server: 1, client: 2 };

/** The first port after the real catalog's. */
const FIRST_PORT = Math.max(...CATALOG.map((a) => a.port).filter((p) => p < 8000)) + 1;

/**
 * `count` synthetic apps, cycling through the data-store mixes of the real backends: PostgreSQL and Redis (a users
 * Secret, a PgBouncer pool and both store edges), Redis only, PostgreSQL only, and none; every third runs migrations
 * (only on PostgreSQL, as the real apps' migrations do). Each is routed through api-gateway at /synthetic-NNN.
 */
export function syntheticApps(count: number): AppSpec[] {
    const real = CATALOG.find((a) => a.name === "config-service")!;
    return Array.from({ length: count }, (_, k) => {
        const i = k + 1;
        const name = syntheticName(i);
        const dataStores = ([["postgres", "redis"], ["redis"], ["postgres"], []] as const)[k % 4];
        const postgres = dataStores.includes("postgres" as never);
        return {
            ...real,
            name,
            group: "business",
            context: `microservices/business/${name}/`,
            port: FIRST_PORT + k,
            route: { kind: "gateway", prefix: `/${name}` },
            dataStores: [...dataStores],
            secrets: [],
            migrations: postgres && i % 3 === 0,
            enabledByDefault: true,
            replicas: 2,
            maxReplicas: 3,
            postgresPool: postgres ? SYNTHETIC_POSTGRES_POOL : undefined,
        };
    });
}
