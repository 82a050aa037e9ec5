// The platform's own artefacts for `scripts/local-images.sh verify`: how the program runs each stand-in image (env,
// commands, probes, the users Job's script, the backup steps, PgBouncer's config), written as JSON to argv[2], with
// a throwaway seed. Addresses are the verification's: every store behind one address (argv[3]) on its usual port.
import { writeFileSync } from "fs";
import { CATALOG } from "../../components/model/catalog";
import { DATA_STORE_SPECS } from "../../components/data/stores";
import { databasePrincipals, derivePassword, passwordEnv } from "../../components/data/principals";
import { postgresUsersCommand } from "../../components/data/user-scripts";
import { pgbouncerIni, userlist, PGBOUNCER } from "../../components/data/pgbouncer";
import { BACKED_UP_STORES, backupSteps, LIST_SCRIPT, RESTORE_STEPS } from "../../components/data/backup-jobs";
import { DATA_STORE_CHECKS } from "../../components/verification/deployment-verification";
import { randomBytes } from "crypto";

const [out, host] = process.argv.slice(2);
const seed = randomBytes(32).toString("hex");
const secret = () => randomBytes(16).toString("hex");
const tuning = { redis: { maxMemoryPercent: 75, evictionPolicy: "volatile-lru" } };
// Literal env values only (the secretKeyRef ones are filled in below, as the Secret would).
const literalEnv = (store: "postgres" | "redis") =>
    Object.fromEntries(
        DATA_STORE_SPECS[store]
            .env(() => undefined)
            .filter((e) => e.value !== undefined)
            .map((e) => [e.name, e.value as string]),
    );

const pg = databasePrincipals(CATALOG).filter((p) => p.store === "postgres");
const services = pg.filter((p) => p.kind === "service");
const password = (p: (typeof pg)[number]) => derivePassword(seed, p.store, p.user, 1);
const postgresPassword = secret();
const redisPassword = secret();
const backupStep = (name: string) => backupSteps(BACKED_UP_STORES).find((s) => s.name === name)!.script;
const app = services.find((p) => p.id === "order-service")!;

const artefacts = {
    postgres: {
        uid: DATA_STORE_SPECS.postgres.uid,
        env: { ...literalEnv("postgres"), POSTGRES_PASSWORD: postgresPassword },
        readiness: DATA_STORE_SPECS.postgres.readiness,
        liveness: DATA_STORE_SPECS.postgres.liveness,
        usersCommand: postgresUsersCommand(pg),
        usersEnv: Object.fromEntries(pg.map((p) => [passwordEnv(p), password(p)])),
        check: DATA_STORE_CHECKS.postgres.command,
        backup: {
            dump: backupStep("dump-postgres"),
            finish: backupStep("finish"),
            list: LIST_SCRIPT,
            restore: RESTORE_STEPS.postgres.script,
        },
    },
    redis: {
        uid: DATA_STORE_SPECS.redis.uid,
        password: redisPassword,
        init: DATA_STORE_SPECS.redis.init!.command,
        command: DATA_STORE_SPECS.redis.command!(tuning),
        readiness: DATA_STORE_SPECS.redis.readiness,
        check: DATA_STORE_CHECKS.redis.command,
    },
    pgbouncer: {
        ini: pgbouncerIni(
            host,
            DATA_STORE_SPECS.postgres.port,
            services.map((p) => ({ user: p.user, pool: 4 })),
            1000,
        ),
        userlist: userlist(services.map((p) => ({ user: p.user, password: password(p) }))),
        port: PGBOUNCER.port,
    },
    // order-service's env as the program renders it (PostgreSQL through PgBouncer, Redis), and its migration's.
    app: {
        id: app.id,
        user: app.user,
        password: password(app),
    },
};
writeFileSync(out, JSON.stringify(artefacts, null, 2), { mode: 0o600 });
