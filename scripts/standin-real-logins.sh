#!/usr/bin/env bash
# By hand, not in CI: proves the stand-in app's logins against real servers with the program's own artefacts.
# Starts Debian's PostgreSQL 15, PgBouncer and Redis 7 as this script's own processes on loopback high ports in a
# temp dir; creates the users with the program's users SQL (postgresUsersCommand), configures PgBouncer with its
# pgbouncer.ini and userlist; then runs the stand-in's /health and `npm run migrate` as apps, and the refusals.
# Needs: apt-get install -y postgresql-15 pgbouncer redis-server (their services need not run). Stops everything it
# started, by PID, on exit. STANDIN_CHROOT=1 runs the app as the image would: the files images/app/stage.sh lays out
# (plus the host's libc, /bin/sh and /usr/bin/env), in a chroot, as uid 1000, with the app tree root-owned and only /tmp and HOME
# writable.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export PGPORT=${PGPORT:-55432} BOUNCERPORT=${BOUNCERPORT:-56432} REDISPORT=${REDISPORT:-56379}
PGBIN=/usr/lib/postgresql/15/bin
work=$(mktemp -d /tmp/standin-real-logins.XXXXXX)
chown postgres "$work"
pids=()
cleanup() {
  local rc=$?
  (( rc == 0 )) || tail -n 5 "$work"/*.log 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -f $work/pg/postmaster.pid ]] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "== $*"; }

# The program's artefacts for the catalog's apps, with a throwaway seed.
export STANDIN_SEED=$(openssl rand -hex 32) SUPERUSER_PASSWORD=$(openssl rand -hex 16) REDIS_PASSWORD=$(openssl rand -hex 16)
node -r ts-node/register/transpile-only -e '
const fs = require("fs");
const { CATALOG } = require("./components/model/catalog");
const { databasePrincipals, derivePassword, passwordEnv } = require("./components/data/principals");
const { postgresUsersCommand } = require("./components/data/user-scripts");
const { pgbouncerIni, userlist } = require("./components/data/pgbouncer");
const seed = process.env.STANDIN_SEED, dir = process.argv[1];
const pg = databasePrincipals(CATALOG).filter((p) => p.store === "postgres");
const pw = (p) => derivePassword(seed, p.store, p.user);
fs.writeFileSync(dir + "/users.sh", postgresUsersCommand(pg)[2]);
fs.writeFileSync(dir + "/users.env", pg.map((p) => `export ${passwordEnv(p)}=${pw(p)}\n`).join(""));
const services = pg.filter((p) => p.kind === "service");
fs.writeFileSync(dir + "/pgbouncer.ini", pgbouncerIni("127.0.0.1", Number(process.env.PGPORT), services.map((p) => ({ user: p.user, pool: 4 })), 200));
fs.writeFileSync(dir + "/userlist.txt", userlist(services.map((p) => ({ user: p.user, password: pw(p) }))));
fs.writeFileSync(dir + "/apps.json", JSON.stringify(Object.fromEntries(pg.map((p) => [p.id, { user: p.user, password: pw(p) }]))));
' "$work"
chown postgres "$work"/*

step "PostgreSQL 15 on 127.0.0.1:$PGPORT (superuser postgres, database ultramarket, SCRAM over TCP)"
echo "$SUPERUSER_PASSWORD" > "$work/su"; chown postgres "$work/su"
runuser -u postgres -- "$PGBIN/initdb" -D "$work/pg" -U postgres --pwfile="$work/su" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -o "-c listen_addresses=127.0.0.1 -c port=$PGPORT -c unix_socket_directories=$work" -w start >/dev/null
runuser -u postgres -- "$PGBIN/psql" -h "$work" -p "$PGPORT" -U postgres -qc "create database ultramarket"

step "the program's users SQL, as the users Job runs it (passwords through PGOPTIONS)"
(. "$work/users.env"; PGHOST=127.0.0.1 PGPORT=$PGPORT PGUSER=postgres PGDATABASE=ultramarket PGPASSWORD=$SUPERUSER_PASSWORD sh -c "$(cat "$work/users.sh")")

step "PgBouncer $(pgbouncer --version | head -1 | awk '{print $2}') on 127.0.0.1:$BOUNCERPORT with the program's pgbouncer.ini and userlist"
# Loopback and this temp dir instead of the pod's paths; max_prepared_statements needs PgBouncer 1.21+ (Debian 12 has 1.18).
sed -e "s|^listen_addr = .*|listen_addr = 127.0.0.1|" -e "s|^listen_port = .*|listen_port = $BOUNCERPORT|" \
    -e "s|^auth_file = .*|auth_file = $work/userlist.txt|" -e "/^max_prepared_statements/d" "$work/pgbouncer.ini" > "$work/bouncer.ini"
chown postgres "$work/bouncer.ini"
runuser -u postgres -- pgbouncer "$work/bouncer.ini" > "$work/pgbouncer.log" 2>&1 & pids+=($!)

step "Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$REDISPORT with requirepass"
printf 'bind 127.0.0.1\nport %s\nrequirepass "%s"\nsave ""\nappendonly no\ndir %s\n' "$REDISPORT" "$REDIS_PASSWORD" "$work" > "$work/redis.conf"
chmod 600 "$work/redis.conf"
redis-server "$work/redis.conf" > "$work/redis.log" 2>&1 & pids+=($!)
sleep 1

# How the app runs: from the checkout, or (STANDIN_CHROOT=1) from the staged image files in a chroot as uid 1000.
if [[ ${STANDIN_CHROOT:-0} == 1 ]]; then
  step "staging the image's files (images/app/stage.sh) into a chroot, with the host's libc, /bin/sh and /usr/bin/env"
  rootfs=$work/rootfs
  bash images/app/stage.sh "$rootfs" >/dev/null
  # What a Debian base gives the image: the loader and libraries of node, /bin/sh (npm run) and /usr/bin/env (npm's shebang).
  for f in $(ldd "$rootfs/usr/local/bin/node" /bin/sh /usr/bin/env | grep -oE '/[^ ]+\.so[^ ]*' | sort -u) /bin/sh /usr/bin/env; do
    mkdir -p "$rootfs$(dirname "$f")"; cp -L "$f" "$rootfs$f"
  done
  mkdir -p "$rootfs/tmp" "$rootfs/home/migrate"
  chmod 1777 "$rootfs/tmp"; chown 1000:1000 "$rootfs/home/migrate"
  # in_app ENV... -- COMMAND...: execs (run it in a subshell or in the background), so its PID is the app's.
  in_app() {
    local env=(); while [[ $1 != -- ]]; do env+=("$1"); shift; done; shift
    exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/migrate "${env[@]}" "$(command -v chroot)" --userspec=1000:1000 "$rootfs" /bin/sh -c 'cd /app && exec "$@"' sh "$@"
  }
else
  in_app() {
    local env=(); while [[ $1 != -- ]]; do env+=("$1"); shift; done; shift
    cd images/app && exec env -i PATH="$PATH" HOME="$work" "${env[@]}" "$@"
  }
fi

cred() { node -e 'const a = require(process.argv[1])[process.argv[2]]; process.stdout.write(a[process.argv[3]])' "$work/apps.json" "$1" "$2"; }
app_env() { # the env the program gives app $1's pods (postgres + redis), with PgBouncer as POSTGRES_URL
  echo SERVICE_NAME="$1" POSTGRES_URL="postgresql://127.0.0.1:$BOUNCERPORT/ultramarket" POSTGRES_POOL_MAX=10 \
       POSTGRES_USER="$(cred "$1" user)" POSTGRES_PASSWORD="$(cred "$1" password)" REDIS_URL="redis://127.0.0.1:$REDISPORT" REDIS_PASSWORD="$REDIS_PASSWORD"
}
health() { # app env...: starts the stand-in, prints /health's status and body, stops it with SIGTERM
  local port; port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  in_app PORT="$port" "$@" -- node server.js > "$work/app.log" 2>&1 & local pid=$!
  for _ in $(seq 50); do curl -s "127.0.0.1:$port/livez" >/dev/null && break; sleep 0.1; done
  curl -s -w ' -> HTTP %{http_code}\n' "127.0.0.1:$port/health"
  kill -TERM "$pid"; wait "$pid" && echo "   (SIGTERM: exit 0)"
  if grep -qF -e "$REDIS_PASSWORD" -e "$(cred order-service password)" "$work/app.log"; then echo "SECRET IN LOG"; exit 1; fi
}
migrate() { (in_app "$@" -- npm run --silent migrate); }
direct() { echo "$@" | sed "s|127.0.0.1:$BOUNCERPORT|127.0.0.1:$PGPORT|"; }

step "order-service: /health through PgBouncer (select 1) and Redis (AUTH + PING)"
health $(app_env order-service) | tee "$work/ok"; grep -q 'HTTP 200' "$work/ok"
step "order-service: npm run migrate, directly to PostgreSQL as its own user, twice (idempotent)"
migrate $(direct $(app_env order-service)); migrate $(direct $(app_env order-service))
runuser -u postgres -- "$PGBIN/psql" -h "$work" -p "$PGPORT" -U postgres -d ultramarket -tAc \
  "select schemaname||'.'||tablename||' owned by '||tableowner from pg_tables where tablename='standin_markers'; select 'runs='||runs from order_service.standin_markers"
step "refusals: a wrong PostgreSQL password, a wrong Redis password, an unknown user at PgBouncer"
health $(app_env order-service | sed -e "s/POSTGRES_PASSWORD=[^ ]*/POSTGRES_PASSWORD=wrong-$RANDOM/" -e "s/REDIS_PASSWORD=[^ ]*/REDIS_PASSWORD=wrong-$RANDOM/") | tee "$work/bad"
grep -q 'HTTP 503' "$work/bad"
health $(app_env order-service | sed -e "s/POSTGRES_USER=[^ ]*/POSTGRES_USER=nobody_here/") | tee "$work/unknown"; grep -q "HTTP 503" "$work/unknown"
step "payment-service can't read order-service's table"
PGPASSWORD=$(cred payment-service password) runuser -u postgres -- "$PGBIN/psql" -h 127.0.0.1 -p "$BOUNCERPORT" -U payment_service -d ultramarket -tAc "select * from order_service.standin_markers" 2>&1 | tee "$work/denied" || true; grep -q "permission denied" "$work/denied"
echo "== all real logins verified"
