// Issue 14 item 2: every app connects to PostgreSQL and MongoDB as its own least-privileged user; the superuser
// passwords reach only the stores and the users Jobs.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import {
    CATALOG,
    DATA_STORE_PASSWORD_KEY,
    DATABASE_CREDENTIAL_KEYS,
    DATABASES_WITH_USERS,
    DatabaseWithUsers,
    databaseSecretName,
    databasesOf,
    EXPORTER_CREDENTIALS,
    hasOwnUsers,
} from "../../components/model/catalog";
import { databaseUsersJobName } from "../../components/data/database-users";
import { databasePrincipals, derivePassword, passwordEnv, userName } from "../../components/data/principals";
import {
    AWAIT_POSTGRES,
    elasticsearchRole,
    elasticsearchUsersScript,
    mongodbUsersScript,
    postgresUsersCommand,
    postgresUsersSql,
} from "../../components/data/user-scripts";
import { DATA_STORE_SPECS } from "../../components/data/stores";
import { SECRET_CHECKSUM_ANNOTATION } from "../../components/model/rollout";
import { GENERATED_SECRETS } from "../../config";
import { asKubeletRuns, byType, generatedValue, named, Registration, stackFileConfig } from "./support/harness";
import { DEP, JOB, RANDOM_PASSWORD, SECRET, STS } from "./support/kinds";
import { evaluatePlatform, evaluateProduction } from "./support/platform";
import { THIRD_PARTY_IMAGES } from "../../components/model/third-party-images";

const deployed = CATALOG.filter((a) => a.enabledByDefault);
const withUsers = deployed.filter((a) => databasesOf(a).length > 0);
const podOf = (r: Registration) => r.inputs.spec.template.spec;
const migrationJobs = (regs: Registration[]) =>
    byType(regs, JOB).filter((j) => j.inputs.metadata.labels["app.kubernetes.io/component"] === "migration");
const usersJob = (regs: Registration[], store: DatabaseWithUsers) => byType(regs, JOB).find((j) => j.name === databaseUsersJobName(store))!;
const dependsOn = (r: Registration, target: Registration) => r.dependencies.includes(target.urn);
const SEED = generatedValue("database-users-seed");

/**
 * Runs the Elasticsearch users script with /bin/sh and the host's curl against a loopback stand-in for the security
 * API (Basic auth required; `answer` may refuse a request), every curl and awk argv logged by a shim on PATH.
 */
async function runElasticsearchUsers(
    principals: ReturnType<typeof databasePrincipals>,
    superuser: string,
    answer: (req: { method: string; url: string }) => [number, object] | undefined,
    store: { indices: string[]; aliases: [string, string][] } = { indices: [], aliases: [] },
) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "es-users-"));
    const requests: { method: string; url: string; auth: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            const auth = Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString();
            requests.push({ method: req.method!, url: req.url!, auth, body });
            const cat = req.url!.startsWith("/_cat/indices?")
                ? store.indices.map((i) => `${i}\n`).join("")
                : req.url!.startsWith("/_cat/aliases?")
                  ? store.aliases.map(([i, a]) => `${i} ${a}\n`).join("")
                  : undefined;
            if (cat !== undefined && auth === `elastic:${superuser}`) {
                res.writeHead(200, { "content-type": "text/plain" }).end(cat);
                return;
            }
            const [code, reply] =
                auth !== `elastic:${superuser}`
                    ? [401, { error: { type: "security_exception" } }]
                    : (answer({ method: req.method!, url: req.url! }) ?? [200, { created: true }]);
            res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(reply));
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
        for (const tool of ["curl", "awk"])
            fs.writeFileSync(path.join(dir, tool), `#!/bin/sh\nprintf '%s\\n' "$*" >> "${dir}/argv"\nexec /usr/bin/${tool} "$@"\n`, {
                mode: 0o755,
            });
        const env = {
            PATH: `${dir}:/usr/bin:/bin`,
            TMPDIR: dir,
            ES_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            ELASTIC_PASSWORD: superuser,
            ...Object.fromEntries(principals.map((p) => [passwordEnv(p), derivePassword(SEED, "elasticsearch", p.user)])),
        };
        const child = spawn("sh", ["-c", elasticsearchUsersScript(principals)], { env });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c) => (stdout += c));
        child.stderr.on("data", (c) => (stderr += c));
        const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
        const scratch = fs.existsSync(path.join(dir, "es-users")) ? fs.readdirSync(path.join(dir, "es-users")) : [];
        return { code, stdout, stderr, requests, argv: fs.readFileSync(path.join(dir, "argv"), "utf8"), scratch };
    } finally {
        server.close();
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("database users (issue 14): a user per app, the superuser for the stores and the users step only", () => {
    let regs: Registration[];
    before(async () => {
        ({ registrations: regs } = await evaluateProduction());
    });

    it("hands no app Deployment or migration Job the superuser password of PostgreSQL, MongoDB or Elasticsearch", () => {
        const workloads = [...byType(regs, DEP), ...migrationJobs(regs)];
        assert.ok(workloads.length >= 20);
        for (const w of workloads) {
            for (const c of podOf(w).containers) {
                for (const e of c.env ?? []) {
                    const ref = e.valueFrom?.secretKeyRef;
                    if (ref?.name !== "ultramarket-secrets") continue;
                    assert.ok(
                        !["POSTGRES_PASSWORD", "MONGODB_PASSWORD", "ELASTICSEARCH_PASSWORD"].includes(ref.key),
                        `${w.name} reads the superuser's ${ref.key}`,
                    );
                }
            }
        }
    });

    it("gives every PostgreSQL, MongoDB and Elasticsearch app, and its migrations, its own user and password from its own Secret", () => {
        const passwords = new Set<string>();
        for (const app of withUsers) {
            const secret = named(regs, SECRET, databaseSecretName(app.name));
            for (const store of databasesOf(app)) {
                const keys = DATABASE_CREDENTIAL_KEYS[store];
                assert.equal(secret.inputs.stringData[keys.user], userName(app.name));
                const password = secret.inputs.stringData[keys.password];
                assert.equal(password, derivePassword(SEED, store, userName(app.name)));
                assert.ok(!passwords.has(password), `${app.name} shares a password`);
                passwords.add(password);
            }
            const readers = [named(regs, DEP, app.name), ...migrationJobs(regs).filter((j) => j.name === `${app.name}-migrate`)];
            for (const w of readers) {
                const env = podOf(w).containers[0].env;
                for (const store of databasesOf(app)) {
                    for (const key of Object.values(DATABASE_CREDENTIAL_KEYS[store])) {
                        const e = env.find((x: any) => x.name === key);
                        assert.deepEqual(e?.valueFrom?.secretKeyRef, { name: databaseSecretName(app.name), key }, `${w.name} ${key}`);
                    }
                }
            }
        }
        assert.ok(
            withUsers.some((a) => a.migrations),
            "migration Jobs are covered",
        );
        assert.ok(
            DATABASES_WITH_USERS.every((s) => withUsers.some((a) => a.dataStores.includes(s))),
            "every store with users is covered",
        );
        for (const app of deployed.filter((a) => databasesOf(a).length === 0))
            assert.ok(!regs.some((r) => r.type === SECRET && r.inputs.metadata.name === databaseSecretName(app.name)), app.name);
    });

    it("creates the exporters' read-only monitoring users: a <store>-exporter-credentials Secret with username and password per store", () => {
        for (const store of DATABASES_WITH_USERS) {
            const secret = named(regs, SECRET, EXPORTER_CREDENTIALS[store].secretName);
            assert.deepEqual(Object.keys(secret.inputs.stringData).sort(), ["password", "username"]);
            assert.equal(secret.inputs.stringData.username, EXPORTER_CREDENTIALS[store].user);
            assert.equal(secret.inputs.stringData.password, derivePassword(SEED, store, EXPORTER_CREDENTIALS[store].user));
        }
        const sql = postgresUsersSql(databasePrincipals(deployed));
        assert.match(sql, /\('ultramarket_monitor', 'monitor'\)/);
        assert.match(sql, /IF r\.kind = 'monitor' THEN\s+EXECUTE format\('GRANT pg_monitor TO %I', r\.name\);\s+CONTINUE;/);
        const mongo = mongodbUsersScript(databasePrincipals(deployed));
        assert.ok(
            mongo.includes(
                '{"user":"ultramarket_monitor","env":"USER_PASSWORD_ULTRAMARKET_MONITOR","roles":[{"role":"clusterMonitor","db":"admin"},{"role":"read","db":"local"}]}',
            ),
        );
    });

    it("runs a users Job per store with the store's own image, after the store, reading every password from a Secret", () => {
        for (const store of DATABASES_WITH_USERS) {
            const job = usersJob(regs, store);
            assert.ok(job, `no ${databaseUsersJobName(store)} Job`);
            assert.ok(dependsOn(job, named(regs, STS, store)), `${job.name} must wait for ${store}`);
            const c = podOf(job).containers[0];
            assert.equal(c.image, THIRD_PARTY_IMAGES[DATA_STORE_SPECS[store].image].reference);
            const secretEnv = c.env.filter((e: any) => e.valueFrom?.secretKeyRef);
            const superuser = secretEnv
                .filter((e: any) => e.valueFrom.secretKeyRef.name === "ultramarket-secrets")
                .map((e: any) => e.valueFrom.secretKeyRef.key);
            assert.deepEqual(superuser, [DATA_STORE_PASSWORD_KEY[store]]);
            const principals = databasePrincipals(deployed).filter((p) => p.store === store);
            for (const p of principals) {
                const e = c.env.find((x: any) => x.name === passwordEnv(p));
                assert.deepEqual(e?.valueFrom?.secretKeyRef, { name: p.secretName, key: p.keys.password }, `${job.name}: ${p.user}`);
            }
            // Passwords never on a command line: no value, and no shell expansion of a password variable.
            const argv = JSON.stringify(c.command ?? []) + JSON.stringify(c.args ?? []);
            for (const p of principals)
                assert.ok(!argv.includes(derivePassword(SEED, store, p.user)), `${job.name} carries ${p.user}'s password in argv`);
            for (const e of secretEnv) assert.doesNotMatch(argv, new RegExp(`\\$[({]?${e.name}\\b`), `${job.name} expands ${e.name}`);
            assert.equal(c.securityContext.readOnlyRootFilesystem, true);
            assert.equal(podOf(job).securityContext.runAsNonRoot, true);
            if (store === "elasticsearch")
                assert.deepEqual(
                    asKubeletRuns(c.command),
                    ["sh", "-c", elasticsearchUsersScript(databasePrincipals(deployed))],
                    "the script as written",
                );
        }
    });

    it("starts every app with a user of its own, and its migrations, only after the users of its stores exist", () => {
        for (const app of withUsers) {
            const jobs = app.dataStores.filter(hasOwnUsers).map((s) => usersJob(regs, s));
            for (const job of jobs) {
                assert.ok(dependsOn(named(regs, DEP, app.name), job), `${app.name} -> ${job.name}`);
                const migration = migrationJobs(regs).find((j) => j.name === `${app.name}-migrate`);
                if (migration) assert.ok(dependsOn(migration, job), `${migration.name} -> ${job.name}`);
            }
        }
    });

    it("re-runs the users Job when a password or a principal changes: its template carries a secret digest, and a new service is in its script", async () => {
        const job = usersJob(regs, "postgres");
        assert.match(job.inputs.spec.template.metadata.annotations[SECRET_CHECKSUM_ANNOTATION], /^[0-9a-f]{64}$/);
        assert.deepEqual(job.inputs.metadata.annotations, { "pulumi.com/replaceUnready": "true" });
        const reseeded = (await evaluateProduction({ databaseUsersSeed: "an-operator-chosen-seed-0123456789abcdef" })).registrations;
        assert.notEqual(
            usersJob(reseeded, "postgres").inputs.spec.template.metadata.annotations[SECRET_CHECKSUM_ANNOTATION],
            job.inputs.spec.template.metadata.annotations[SECRET_CHECKSUM_ANNOTATION],
        );
        assert.ok(
            !byType(reseeded, RANDOM_PASSWORD).some((r) => r.name === "database-users-seed"),
            "a configured seed is used, not generated",
        );
        const script = postgresUsersCommand(databasePrincipals(deployed)).join(" ");
        for (const app of withUsers.filter((a) => a.dataStores.includes("postgres")))
            assert.ok(script.includes(`('${userName(app.name)}', 'service')`), app.name);
    });

    it("creates PostgreSQL roles idempotently, without superuser rights, each in its own schema, and keeps everyone out of public", () => {
        const sql = postgresUsersSql(databasePrincipals(deployed));
        assert.match(
            sql,
            /IF NOT EXISTS \(SELECT FROM pg_roles WHERE rolname = r\.name\) THEN\s+EXECUTE format\('CREATE ROLE %I', r\.name\);/,
        );
        assert.match(sql, /ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L/);
        assert.match(
            sql,
            /current_setting\('ultramarket\.user_password_' \|\| r\.name\)/,
            "the password comes from the session, not the statement",
        );
        assert.match(sql, /REVOKE CREATE ON SCHEMA public FROM PUBLIC;/);
        assert.match(sql, /CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I/);
        assert.match(sql, /REVOKE ALL ON SCHEMA %I FROM PUBLIC/);
        assert.match(sql, /ALTER ROLE %I SET search_path = %I/);
        assert.doesNotMatch(sql, /\bDROP\b|\bTRUNCATE\b|\bDELETE\b/i, "the users step never destroys data");
        assert.match(sql, /RAISE EXCEPTION 'tables left in schema public/, "tables left in public stop the switch-over, naming them");
        // The passwords travel from the environment into the session through awk, never through argv.
        const command = postgresUsersCommand(databasePrincipals(deployed))[2];
        assert.match(command, /export PGOPTIONS="\$\(awk 'BEGIN \{ for \(k in ENVIRON\) if \(k ~ \/\^USER_PASSWORD_\/\)/);
    });

    it("hands psql its script exactly as written: the kubelet's `$$` -> `$` expansion does not break the DO $$ blocks", () => {
        // A running pod found it: psql got `DO $` and failed with 'syntax error at or near "$"'.
        const c = podOf(usersJob(regs, "postgres")).containers[0];
        const [shell, flag, script] = asKubeletRuns(c.command);
        assert.deepEqual([shell, flag], ["sh", "-c"]);
        assert.equal(script, postgresUsersCommand(databasePrincipals(deployed))[2]);
        assert.match(script, /^DO \$\$$/m);
        assert.match(script, /^END \$\$;$/m);
    });

    it("waits (bounded) for PostgreSQL to accept the Job's connections before running the script", () => {
        // A fake pg_isready refusing the first N calls, and a sleep that returns at once, run by a real shell.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "await-postgres-"));
        try {
            fs.writeFileSync(
                path.join(dir, "pg_isready"),
                `#!/bin/sh\nn=$(cat "${dir}/calls" 2>/dev/null || echo 0); echo $((n + 1)) > "${dir}/calls"; [ "$n" -ge "$REFUSALS" ]\n`,
                { mode: 0o755 },
            );
            fs.writeFileSync(path.join(dir, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
            const run = (refusals: number) => {
                fs.rmSync(path.join(dir, "calls"), { force: true });
                const r = spawnSync("sh", ["-c", `${AWAIT_POSTGRES}; echo ready`], {
                    env: { PATH: `${dir}:/usr/bin:/bin`, REFUSALS: String(refusals), PGHOST: "postgres-service", PGPORT: "5432" },
                    encoding: "utf8",
                });
                return { code: r.status, out: r.stdout, err: r.stderr, calls: Number(fs.readFileSync(path.join(dir, "calls"), "utf8")) };
            };
            assert.deepEqual(run(2), { code: 0, out: "ready\n", err: "", calls: 3 });
            const never = run(1000);
            assert.equal(never.code, 1);
            assert.equal(never.calls, 30, "bounded: 30 tries, 2 s apart");
            assert.match(never.err, /PostgreSQL at postgres-service:5432 did not accept connections for 60 s/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
        assert.ok(postgresUsersCommand(databasePrincipals(deployed))[2].startsWith(`${AWAIT_POSTGRES}\n`), "the users Job waits first");
    });

    it("gives each MongoDB service readWrite on the shared ultramarket database only", () => {
        const script = mongodbUsersScript(databasePrincipals(deployed));
        for (const app of withUsers.filter((a) => a.dataStores.includes("mongodb"))) {
            assert.ok(
                script.includes(
                    `{"user":"${userName(app.name)}","env":"${passwordEnv({ user: userName(app.name) })}","roles":[{"role":"readWrite","db":"ultramarket"}]}`,
                ),
                app.name,
            );
        }
        assert.match(script, /admin\.auth\('root', process\.env\.MONGODB_ROOT_PASSWORD\)/);
        assert.match(script, /if \(admin\.getUser\(u\.user\) === null\) admin\.createUser\(.*\);\s+else admin\.updateUser\(/);
    });

    it("creates Elasticsearch roles and users through the security API (a real shell and curl): each app owns only its indices, the exporter only monitors, no password in any argv", async () => {
        const principals = databasePrincipals(deployed);
        const mine = principals.filter((p) => p.store === "elasticsearch");
        assert.deepEqual(
            mine.filter((p) => p.kind === "service").map((p) => p.id),
            deployed.filter((a) => a.dataStores.includes("elasticsearch")).map((a) => a.name),
        );
        const superuser = 'sup"er\\pw';
        const run = await runElasticsearchUsers(mine, superuser, (req) =>
            req.url === "/_security/role/audit_service"
                ? [400, { error: { type: "parse_exception", reason: "bad role" }, status: 400 }]
                : undefined,
        );
        // A refused role fails the Job, naming the status, the path and Elasticsearch's reason.
        assert.equal(run.code, 1);
        assert.match(run.stderr, /Elasticsearch answered 400 to PUT \/_security\/role\/audit_service: parse_exception: bad role/);

        const ok = await runElasticsearchUsers(mine, superuser, (req) =>
            req.url === "/_security/user/search_service"
                ? [400, { error: { type: "illegal_argument_exception", reason: "the password of search_service is weak" } }]
                : undefined,
        );
        assert.equal(ok.code, 1);
        assert.match(
            ok.stderr,
            /Elasticsearch answered 400 to PUT \/_security\/user\/search_service: illegal_argument_exception$/m,
            "a user's error names only its type",
        );

        const good = await runElasticsearchUsers(mine, superuser, () => undefined);
        assert.equal(good.code, 0, good.stderr);
        assert.deepEqual(
            good.stdout.trim().split("\n"),
            mine.map((p) => `database users: ${p.user} ready`),
        );
        for (const r of good.requests) assert.equal(r.auth, `elastic:${superuser}`, `${r.method} ${r.url} as the superuser`);
        for (const p of mine) {
            const role = good.requests.find((r) => r.method === "PUT" && r.url === `/_security/role/${p.user}`);
            const user = good.requests.find((r) => r.method === "PUT" && r.url === `/_security/user/${p.user}`);
            assert.deepEqual(JSON.parse(role!.body), elasticsearchRole(p));
            assert.deepEqual(JSON.parse(user!.body), { password: derivePassword(SEED, "elasticsearch", p.user), roles: [p.user] });
        }
        const app = JSON.parse(good.requests.find((r) => r.url === "/_security/role/search_service")!.body);
        assert.deepEqual(app, {
            cluster: [],
            indices: [
                {
                    names: ["search-service", "search-service-*"],
                    privileges: ["create_index", "read", "write", "view_index_metadata", "manage"],
                },
            ],
        });
        const monitor = JSON.parse(good.requests.find((r) => r.url === `/_security/role/${EXPORTER_CREDENTIALS.elasticsearch.user}`)!.body);
        assert.deepEqual(monitor, { cluster: ["monitor"], indices: [{ names: ["*"], privileges: ["monitor"] }] });
        assert.match(good.argv, /-K - -X PUT .*\/_security\/user\/search_service$/m, "the shim saw curl's command lines");
        for (const secret of [superuser, ...mine.map((p) => derivePassword(SEED, "elasticsearch", p.user))])
            assert.ok(!good.argv.includes(secret), "a password reached a command line");
        assert.deepEqual(good.scratch, [], "the request bodies are removed");
    });

    it("fails the Elasticsearch users step, naming them, while indices exist that no app's user can reach (so no app switches to its own user and loses its data)", async () => {
        const mine = databasePrincipals(deployed).filter((p) => p.store === "elasticsearch");
        const run = (indices: string[], aliases: [string, string][] = []) =>
            runElasticsearchUsers(mine, "pw", () => undefined, { indices, aliases });
        const owned = ["search-service", "search-service-products", "audit-service-2026.12", ".kibana_1"];
        assert.equal((await run(owned)).code, 0, "an app's own indices (and dot-named ones) pass");
        const left = await run([...owned, "products", "events"]);
        assert.equal(left.code, 1);
        assert.match(
            left.stderr,
            /indices no app's user can reach: products events\. No app is switched to its own Elasticsearch user yet/,
        );
        assert.match(left.stderr, /README: Moving existing indices/);
        assert.ok(
            left.requests.some((r) => r.url === "/_security/user/search_service"),
            "the users exist before the check fails",
        );
        const aliased = await run(
            [...owned, "products"],
            [
                ["products", "search-service-products-v1"],
                ["events", "x"],
            ],
        );
        assert.equal(aliased.code, 0, `an index an app reaches through its own alias passes: ${aliased.stderr}`);
        const foreign = await run(["products"], [["products", "cart-service-products"]]);
        assert.match(foreign.stderr, /reach: products\./, "an alias of an app without Elasticsearch gives no access");
    });

    it("derives each password from the seed: stable, distinct per principal, and rotated alone by its version", () => {
        const a = derivePassword("seed-one", "postgres", "auth_service");
        assert.equal(a, derivePassword("seed-one", "postgres", "auth_service"));
        assert.match(a, /^[0-9a-f]{64}$/);
        assert.notEqual(a, derivePassword("seed-one", "mongodb", "auth_service"));
        assert.notEqual(a, derivePassword("seed-one", "postgres", "user_service"));
        assert.notEqual(a, derivePassword("seed-two", "postgres", "auth_service"));
        assert.notEqual(a, derivePassword("seed-one", "postgres", "auth_service", 2));
        assert.equal(a, derivePassword("seed-one", "postgres", "auth_service", 1));
    });

    it("keeps derived passwords and the seed out of every object but the database Secrets and PgBouncer's userlist", () => {
        const holders = new Set([
            ...withUsers.map((a) => databaseSecretName(a.name)),
            ...Object.values(EXPORTER_CREDENTIALS).map((e) => e.secretName),
            "pgbouncer-userlist",
        ]);
        const values = databasePrincipals(deployed).map((p) => derivePassword(SEED, p.store, p.user));
        for (const r of regs.filter((x) => !x.type.startsWith("random:") && !(x.type === SECRET && holders.has(x.inputs.metadata.name)))) {
            const text = JSON.stringify(r.inputs);
            for (const v of [...values, SEED]) assert.ok(!text.includes(v), `${r.type} ${r.name} carries a database password`);
        }
    });

    it("renders the local stack, whose seed comes from config (no random provider there)", async () => {
        const { kubeconfig: _k, kubeContext: _c, ...local } = stackFileConfig("local");
        const generated = Object.fromEntries(Object.keys(GENERATED_SECRETS).map((k) => [k, `local-${k}-0123456789abcdefghijklmnop`]));
        const { registrations } = await evaluatePlatform("local", { ...local, ...generated });
        assert.deepEqual(byType(registrations, RANDOM_PASSWORD), []);
        for (const store of DATABASES_WITH_USERS) assert.ok(usersJob(registrations, store), store);
        named(registrations, DEP, "pgbouncer");
        const secret = named(registrations, SECRET, databaseSecretName("auth-service"));
        assert.equal(secret.inputs.stringData.POSTGRES_PASSWORD, derivePassword(generated.databaseUsersSeed, "postgres", "auth_service"));
    });
});
