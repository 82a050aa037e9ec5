// What the database users Job runs: idempotent scripts that create or update every principal. They name users,
// never passwords: each password is read inside the tool from the Job's environment (secretKeyRef), so none reaches
// a command line, a statement text (pg_stat_activity, the server log) or the Job's log.
import { APP_DATABASE, DatabasePrincipal, PASSWORD_ENV_PREFIX, passwordEnv } from "./principals";
import { printFromEnv } from "./stores";

/** PostgreSQL session settings the passwords travel in (set through PGOPTIONS in the connection's startup packet). */
const PASSWORD_SETTING_PREFIX = "ultramarket.";

/**
 * A shell step exporting PGOPTIONS with one `-c ultramarket.user_password_<user>=<password>` per USER_PASSWORD_<USER> variable.
 * awk reads the values from its own environment, so they never appear in argv; derived passwords are hex, so need no quoting.
 */
const PGOPTIONS_FROM_ENV = `export PGOPTIONS="$(awk 'BEGIN { for (k in ENVIRON) if (k ~ /^${PASSWORD_ENV_PREFIX}/) printf "-c ${PASSWORD_SETTING_PREFIX}%s=%s ", tolower(k), ENVIRON[k] }')"`;

const sqlList = (names: string[]) => names.map((n) => `('${n}')`).join(", ");

/**
 * PostgreSQL: per service a LOGIN role without SUPERUSER/CREATEDB/CREATEROLE, CONNECT and TEMPORARY on the database,
 * its own schema (owned by it, and everything moved into it handed over to it) as its search_path; the monitoring
 * role with pg_monitor. No one but the superuser may create in `public`. Tables still in `public` (created by the
 * superuser before services had users) fail the step after the users exist, naming them, so no app switches to an
 * empty schema: README "Moving existing tables".
 */
export function postgresUsersSql(principals: DatabasePrincipal[]): string {
    const services = principals.filter((p) => p.store === "postgres" && p.kind === "service").map((p) => p.user);
    const monitors = principals.filter((p) => p.store === "postgres" && p.kind === "monitor").map((p) => p.user);
    // The setting PGOPTIONS_FROM_ENV made of the role's USER_PASSWORD_<ROLE> variable.
    const setting = (role: string) => `current_setting('${PASSWORD_SETTING_PREFIX}${PASSWORD_ENV_PREFIX.toLowerCase()}' || ${role})`;
    return `\\set ON_ERROR_STOP on
\\set VERBOSITY terse
\\set SHOW_CONTEXT never
-- A failing statement's text is never logged (its dynamic SQL carries a password).
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE ${APP_DATABASE} FROM PUBLIC;
DO $$
DECLARE
    r record;
    o record;
BEGIN
    FOR r IN SELECT name, kind FROM (VALUES ${[...services.map((s) => `('${s}', 'service')`), ...monitors.map((m) => `('${m}', 'monitor')`)].join(", ")}) AS t(name, kind) LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r.name) THEN
            EXECUTE format('CREATE ROLE %I', r.name);
        END IF;
        EXECUTE format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', r.name, ${setting("r.name")});
        EXECUTE format('GRANT CONNECT ON DATABASE ${APP_DATABASE} TO %I', r.name);
        IF r.kind = 'monitor' THEN
            EXECUTE format('GRANT pg_monitor TO %I', r.name);
            CONTINUE;
        END IF;
        EXECUTE format('GRANT TEMPORARY ON DATABASE ${APP_DATABASE} TO %I', r.name);
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', r.name, r.name);
        EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.name, r.name);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', r.name);
        EXECUTE format('ALTER ROLE %I SET search_path = %I', r.name, r.name);
        -- Tables, views and free-standing sequences an operator moved into the schema become the service's (owned sequences follow their table).
        FOR o IN
            SELECT c.relname, CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS what
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = r.name AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND pg_get_userbyid(c.relowner) <> r.name
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
        LOOP
            EXECUTE format('ALTER %s %I.%I OWNER TO %I', o.what, r.name, o.relname, r.name);
        END LOOP;
    END LOOP;
END $$;
SELECT format('database users: %s ready', string_agg(rolname, ', ' ORDER BY rolname)) AS report FROM pg_roles WHERE rolname IN (SELECT column1 FROM (VALUES ${sqlList([...services, ...monitors])}) AS t);
DO $$
DECLARE
    left_behind text;
BEGIN
    SELECT string_agg(format('%I.%I', schemaname, tablename), ', ' ORDER BY tablename) INTO left_behind FROM pg_tables WHERE schemaname = 'public';
    IF left_behind IS NOT NULL THEN
        RAISE EXCEPTION 'tables left in schema public of database ${APP_DATABASE}: %. The service users cannot reach them, so no app is switched to its own user yet. Move each into its service''s schema (README: Moving existing tables), then run pulumi up again', left_behind;
    END IF;
END $$;
`;
}

/**
 * Waits up to a minute for PostgreSQL to accept this pod's connections. A new pod's first connections can be refused
 * although the server is Ready: the NetworkPolicy enforcer admits the pod once it has seen its address (on the real
 * node kube-router rejected the users Job's first two attempts, ~20 s). Then the script fails on its own errors only.
 */
export const AWAIT_POSTGRES = `i=0; until pg_isready -q -t 2; do i=$((i + 1)); [ "$i" -lt 30 ] || { echo "PostgreSQL at $PGHOST:$PGPORT did not accept connections for 60 s" >&2; exit 1; }; sleep 2; done`;

/** The PostgreSQL users Job's shell command: wait for the server, the passwords into PGOPTIONS, the script on psql's stdin. */
export function postgresUsersCommand(principals: DatabasePrincipal[]): string[] {
    return ["sh", "-c", `${AWAIT_POSTGRES}\n${PGOPTIONS_FROM_ENV}\nexec psql -X -q -f - <<'SQL'\n${postgresUsersSql(principals)}SQL\n`];
}

/**
 * MongoDB: every user in `admin`, the authentication database the apps already use (the superuser lives there), so
 * their connection settings stay as they are. A service gets readWrite on the shared `ultramarket` database only:
 * the collections the apps wrote as the superuser stay where they are and reachable; the monitoring user gets
 * clusterMonitor and read on `local` (the oplog, for replication metrics).
 */
export function mongodbUsersScript(principals: DatabasePrincipal[]): string {
    const users = principals
        .filter((p) => p.store === "mongodb")
        .map((p) => ({
            user: p.user,
            env: passwordEnv(p),
            roles:
                p.kind === "monitor"
                    ? [
                          { role: "clusterMonitor", db: "admin" },
                          { role: "read", db: "local" },
                      ]
                    : [{ role: "readWrite", db: APP_DATABASE }],
        }));
    return [
        "const admin = db.getSiblingDB('admin');",
        "admin.auth('root', process.env.MONGODB_ROOT_PASSWORD);",
        `for (const u of ${JSON.stringify(users)}) {`,
        "  const pwd = process.env[u.env];",
        "  if (!pwd) throw new Error('no password for ' + u.user);",
        "  if (admin.getUser(u.user) === null) admin.createUser({ user: u.user, pwd, roles: u.roles });",
        "  else admin.updateUser(u.user, { pwd, roles: u.roles });",
        "  print('database users: ' + u.user + ' ready');",
        "}",
    ].join("\n");
}

/** What an app's Elasticsearch user may do on its own indices (`<app>` and `<app>-*`); nothing on any other index. */
export const ELASTICSEARCH_APP_PRIVILEGES = ["create_index", "read", "write", "view_index_metadata", "manage"] as const;

/** The index names an app's Elasticsearch user owns: its name, and its name as a prefix. */
export const elasticsearchIndicesOf = (app: string) => [app, `${app}-*`];

/**
 * The Elasticsearch role of a principal (named after its user): an app's is ELASTICSEARCH_APP_PRIVILEGES on its own
 * indices and no cluster privilege (an app checks its login with `GET /_security/_authenticate`, which needs none); the
 * monitoring user's is what elasticsearch_exporter reads, the `monitor` cluster and index privileges.
 */
export function elasticsearchRole(p: DatabasePrincipal): object {
    return p.kind === "monitor"
        ? { cluster: ["monitor"], indices: [{ names: ["*"], privileges: ["monitor"] }] }
        : { cluster: [], indices: [{ names: elasticsearchIndicesOf(p.id), privileges: [...ELASTICSEARCH_APP_PRIVILEGES] }] };
}

/**
 * Elasticsearch: a native-realm role and user per principal, through the security API as `elastic` (PUT creates or
 * updates, so the script is idempotent). The superuser's credentials reach curl on stdin (`-K -`, written by awk from
 * the environment), a user's password only the request body, which awk writes from the environment to a 0600 file:
 * no password is in any argv. A refused request fails the Job with Elasticsearch's status and error type (and, for a
 * role, its reason: a role holds no secret). Then, like PostgreSQL's tables left in `public`, indices no app's user
 * can reach fail the step, naming them, so no app switches from `elastic` to a user that cannot read its data.
 */
export function elasticsearchUsersScript(principals: DatabasePrincipal[]): string {
    const mine = principals.filter((p) => p.store === "elasticsearch");
    const auth = printFromEnv("ELASTIC_PASSWORD", 'user = "elastic:%s"');
    return [
        "set -eu",
        "umask 077",
        // Where a request's body (0600) is written and its response read: the pod's /tmp emptyDir.
        'scratch="${TMPDIR:-/tmp}/es-users"',
        'mkdir -p "$scratch"',
        `auth() { ${auth}; }`,
        // <path> <body (curl's --data-binary: JSON, or @file)> <what to print on failure: reason|type>
        "put() {",
        `    code=$(auth | curl -sS -o "$scratch/response" -w '%{http_code}' -K - -X PUT -H 'Content-Type: application/json' --data-binary "$2" "$ES_URL$1") || code=000`,
        '    case "$code" in 2??) return 0 ;; esac',
        `    if [ "$3" = reason ]; then detail=$(sed -n 's/.*"type":"\\([^"]*\\)","reason":"\\([^"]*\\)".*/\\1: \\2/p' "$scratch/response" 2>/dev/null); else detail=$(sed -n 's/.*"type":"\\([^"]*\\)".*/\\1/p' "$scratch/response" 2>/dev/null); fi`,
        '    echo "Elasticsearch answered $code to PUT $1${detail:+: $detail}" >&2',
        "    exit 1",
        "}",
        // Bounded, like AWAIT_POSTGRES: the NetworkPolicy enforcer may refuse a new pod's first connections.
        `i=0; until auth | curl -fsS -o /dev/null -K - "$ES_URL/_security/_authenticate" 2>/dev/null; do i=$((i + 1)); [ "$i" -lt 30 ] || { echo "Elasticsearch at $ES_URL did not accept the elastic user's login for 60 s" >&2; exit 1; }; sleep 2; done`,
        ...mine.flatMap((p) => [
            `put /_security/role/${p.user} '${JSON.stringify(elasticsearchRole(p))}' reason`,
            `${printFromEnv(passwordEnv(p), `{"password":"%s","roles":["${p.user}"]}`)} > "$scratch/body"`,
            `put /_security/user/${p.user} "@$scratch/body" type`,
            `echo 'database users: ${p.user} ready'`,
        ]),
        `rm -f "$scratch/body" "$scratch/response"`,
        ...unownedIndicesCheck(mine.filter((p) => p.kind === "service").map((p) => p.id)),
    ].join("\n");
}

/**
 * Fails, naming them, when open or closed indices (not hidden, system or dot-named ones) are neither named `<app>`/`<app>-*` for an
 * app that uses Elasticsearch nor reached through such an alias: their data would be out of every app user's reach.
 */
function unownedIndicesCheck(apps: string[]): string[] {
    const patterns = apps.flatMap(elasticsearchIndicesOf).join("|");
    const list = (path: string) => `auth | curl -fsS -K - "$ES_URL${path}"`;
    return [
        `owned() { case "$1" in ${patterns || "''"}) return 0 ;; esac; return 1; }`,
        `aliases=$(${list("/_cat/aliases?h=index,alias")})`,
        "left=''",
        `for index in $(${list("/_cat/indices?h=index&expand_wildcards=open,closed")}); do`,
        '    case "$index" in .*) continue ;; esac',
        '    owned "$index" && continue',
        `    for alias in $(printf '%s\\n' "$aliases" | awk -v i="$index" '$1 == i { print $2 }'); do owned "$alias" && continue 2; done`,
        '    left="$left $index"',
        "done",
        `[ -z "$left" ] || { echo "indices no app's user can reach:$left. No app is switched to its own Elasticsearch user yet: give each the name, or an alias, <app>-<name> of the app that owns it (README: Moving existing indices), then run pulumi up again" >&2; exit 1; }`,
    ];
}
