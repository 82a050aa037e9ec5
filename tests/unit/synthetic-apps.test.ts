// Issue 23 item 2: `syntheticApps` widens the catalog for the benchmark's scale mode with apps shaped like the real
// gateway-routed backends; 0 changes nothing, and the production stack refuses the key.
import { strict as assert } from "assert";
import { CATALOG } from "../../components/model/catalog";
import { MAX_SYNTHETIC_APPS, SYNTHETIC_POSTGRES_POOL, syntheticApps, syntheticName } from "../../components/model/synthetic";
import { connectionBudget, poolDemands, POSTGRES_DEFAULT_MAX_CONNECTIONS } from "../../components/data/connection-budget";
import { ConfigError } from "../../config";
import { byType, named, Registration } from "./support/harness";
import { DEP, HPA, JOB, NP, PDB, SECRET, SVC } from "./support/kinds";
import { evaluatePlatform, evaluateProduction } from "./support/platform";

const MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor";
const PER_APP = [DEP, SVC, HPA, PDB, MONITOR];
/** The real backend the synthetic apps on PostgreSQL and Redis are shaped like (gateway-routed, no migrations). */
const REAL = "config-service";
const N = 6;
const deployed = CATALOG.filter((a) => a.enabledByDefault);

/** A value's shape: its keys and the types of its leaves, so two apps' objects compare apart from names and numbers. */
function shape(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(shape);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)]));
    return typeof v;
}
/** Everything registered for one app: its objects, named after it or labelled with it. */
const ofApp = (regs: Registration[], app: string) =>
    regs
        .filter((r) => r.name === app || r.name.startsWith(`${app}-`) || r.inputs?.metadata?.labels?.app === app)
        .map((r) => `${r.type}::${r.name.replace(app, "<app>")}`)
        .sort();
const budgetTotal = (n: number) =>
    connectionBudget(poolDemands([...deployed, ...syntheticApps(n)]), {
        maxConnections: POSTGRES_DEFAULT_MAX_CONNECTIONS,
        maxClientConnections: 1000,
    });

describe("synthetic apps (issue 23): the benchmark's scale mode", () => {
    let base: Registration[];
    let wide: Registration[];
    before(async () => {
        base = (await evaluatePlatform("dev", {})).registrations;
        wide = (
            await evaluatePlatform("dev", {
                syntheticApps: String(N),
                postgresMaxConnections: String(budgetTotal(N).server.total),
            })
        ).registrations;
    });

    it("names them synthetic-001 onwards, gateway-routed, on PostgreSQL and/or Redis, every third on PostgreSQL with migrations", () => {
        const apps = syntheticApps(12);
        assert.deepEqual(
            apps.slice(0, 3).map((a) => a.name),
            ["synthetic-001", "synthetic-002", "synthetic-003"],
        );
        assert.equal(syntheticName(120), "synthetic-120");
        const realPorts = new Set(CATALOG.map((a) => a.port));
        for (const a of apps) {
            assert.deepEqual(a.route, { kind: "gateway", prefix: `/${a.name}` });
            assert.ok(!realPorts.has(a.port), `${a.name} reuses port ${a.port}`);
            assert.ok(
                a.dataStores.every((s) => s === "postgres" || s === "redis"),
                `${a.name}: only the real node's stores`,
            );
            assert.equal(a.migrations, a.dataStores.includes("postgres") && Number(a.name.slice(-3)) % 3 === 0);
        }
        assert.ok(apps.some((a) => a.dataStores.includes("postgres")) && apps.some((a) => a.dataStores.includes("redis")));
        assert.ok(apps.some((a) => a.migrations));
    });

    it(`adds exactly N Deployments, Services, HPAs, PDBs and ServiceMonitors for N = ${N}`, () => {
        for (const type of PER_APP) {
            const added = byType(wide, type).length - byType(base, type).length;
            assert.equal(added, N, `${type}: ${added} added`);
        }
        const names = new Set(byType(wide, DEP).map((d) => d.name));
        for (let i = 1; i <= N; i++) assert.ok(names.has(syntheticName(i)), `no Deployment ${syntheticName(i)}`);
    });

    it("gives an app on PostgreSQL and Redis the same objects, of the same shape, as the real gateway-routed backend", () => {
        const app = syntheticApps(N).find((a) => a.dataStores.join() === "postgres,redis" && !a.migrations)!.name;
        assert.deepEqual(ofApp(wide, app), ofApp(wide, REAL));
        for (const type of PER_APP) {
            const of = (name: string) => byType(wide, type).find((r) => r.name === name || r.name === `${name}-monitor`)!;
            assert.deepEqual(shape(of(app).inputs), shape(of(REAL).inputs), `${type} of ${app}`);
        }
        assert.ok(named(wide, SECRET, `${app}-database`), "its own database user");
    });

    it("lets only api-gateway reach it, gives it a PgBouncer pool and the store edges, and runs migrations for every third", () => {
        const app = syntheticApps(N).find((a) => a.dataStores.join() === "postgres,redis")!;
        const own = named(wide, NP, `allow-${app.name}`).inputs.spec;
        const from = JSON.stringify(own.ingress);
        assert.ok(from.includes('"api-gateway"') && from.includes(String(app.port)), `ingress of ${app.name}: ${from}`);
        const reachedBy = (policy: string) => JSON.stringify(named(wide, NP, policy).inputs.spec.ingress).includes(app.name);
        assert.ok(reachedBy("allow-pgbouncer") && reachedBy("allow-redis"), "store edges");
        assert.ok(
            JSON.stringify(wide.filter((r) => r.name.startsWith("pgbouncer"))).includes(app.name.replace(/-/g, "_")),
            "PgBouncer pool",
        );
        const migrating = syntheticApps(N).filter((a) => a.migrations);
        const jobs = byType(wide, JOB).filter((j) => j.inputs.metadata.labels["app.kubernetes.io/component"] === "migration");
        for (const a of migrating)
            assert.ok(
                jobs.some((j) => j.name === `${a.name}-migrate`),
                `no migration Job for ${a.name}`,
            );
    });

    it("keeps PostgreSQL's connection budget small: 80 synthetic apps need at most 250 server connections and fit PgBouncer's default", () => {
        // 40 of them on PostgreSQL: 3 PgBouncer pods × 1, plus 2 per migration Job, on top of the real stack's 100.
        const budget = budgetTotal(80);
        assert.ok(budget.server.total <= 250, `server: ${budget.server.total}`);
        assert.ok(budget.client.total <= 1000, `client: ${budget.client.total}`);
        assert.deepEqual(SYNTHETIC_POSTGRES_POOL, { server: 1, client: 2 });
        // The real catalog alone takes PostgreSQL's default: a synthetic app on PostgreSQL needs the setting raised.
        assert.ok(budgetTotal(0).server.total <= POSTGRES_DEFAULT_MAX_CONNECTIONS);
    });

    it("names the budget's fix when synthetic apps on PostgreSQL exceed postgresMaxConnections", async () => {
        await assert.rejects(evaluatePlatform("dev", { syntheticApps: "10" }), (e: ConfigError) =>
            e.problems.some((p) => p.includes("postgresMaxConnections") && p.includes("synthetic-001")),
        );
    });

    it("sizes and places a synthetic app like a catalog app (replicas, workloadPlacement), and refuses one the stack does not add, naming it", async () => {
        const onNode = { nodeSelector: { pool: "bench" } };
        const settings = {
            syntheticApps: "4",
            postgresMaxConnections: "150",
            replicas: JSON.stringify({ "synthetic-002": 1 }),
            workloadPlacement: JSON.stringify({ "synthetic-002": onNode }),
        };
        const regs = (await evaluatePlatform("dev", settings)).registrations;
        const dep = named(regs, DEP, "synthetic-002").inputs.spec;
        assert.equal(dep.replicas, 1);
        assert.deepEqual(dep.template.spec.nodeSelector, onNode.nodeSelector);
        assert.equal(named(regs, DEP, "synthetic-001").inputs.spec.template.spec.nodeSelector, undefined, "only the one named");
        const beyond = {
            ...settings,
            replicas: JSON.stringify({ "synthetic-005": 1 }),
            workloadPlacement: JSON.stringify({ "synthetic-005": onNode }),
        };
        await assert.rejects(evaluatePlatform("dev", beyond), (e: ConfigError) =>
            ["replicas.synthetic-005", "workloadPlacement.synthetic-005"].every((k) =>
                e.problems.some((p) => p.includes(`ultramarket:${k}`)),
            ),
        );
    });

    it("changes nothing at 0", async () => {
        const zero = (await evaluatePlatform("dev", { syntheticApps: "0" })).registrations;
        assert.deepEqual(
            zero.map((r) => r.urn),
            base.map((r) => r.urn),
        );
        assert.deepEqual(syntheticApps(0), []);
    });

    it(`refuses more than ${MAX_SYNTHETIC_APPS}, and refuses the key in the production stack, naming the fix`, async () => {
        await assert.rejects(evaluatePlatform("dev", { syntheticApps: String(MAX_SYNTHETIC_APPS + 1) }), /syntheticApps must be at most/);
        for (const value of ["5", "0"])
            await assert.rejects(evaluateProduction({ syntheticApps: value }), (e: ConfigError) =>
                e.problems.some((p) => p.includes("ultramarket:syntheticApps") && p.includes("pulumi config rm syntheticApps")),
            );
    });
});
