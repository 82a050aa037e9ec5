#!/usr/bin/env bash
# Runs inside `unshare --mount --pid --net --fork --mount-proc` (scripts/local-images.sh verify): starts the unpacked
# stand-in images the way the platform's pods run them and proves their contracts. Every mount, process and address
# here belongs to these private namespaces and goes when they end; nothing reaches the host's network.
#   $1  the verify directory: <image>/rootfs and <image>/config.json (umoci unpack), artefacts.json (the program's
#       env, commands, probes and scripts: artefacts.ts), vol/ (the volumes' host side)
set -euo pipefail
V=$1
A=$V/artefacts.json
HOST=192.0.2.1   # the Services' address here (TEST-NET-1, on this namespace's own loopback device): not 127.0.0.1,
                 # so PostgreSQL's `host all all all scram-sha-256` line applies, as it does to another pod
pids=()
pass() { printf '  ok  %s\n' "$*"; }
fail() { printf '  FAIL %s\n' "$*"; exit 1; }
step() { printf '== %s\n' "$*"; }
j() { jq -r "$1" "$A"; }
# A JSON array of strings as one NUL-separated stream (arguments with newlines survive).
jarr() { jq -j "$1[] | ., \"\\u0000\"" "$A"; }

ip link set lo up
ip addr add "$HOST/32" dev lo

# A container's root as the platform gives it: read-only, /proc, a minimal /dev with /dev/shm, and its volumes:
# emptyDirs (tmpfs) and persistent volumes, both group-owned by the pod's fsGroup with the setgid bit, root-owned.
# prepare <image> <fsGroup> <path>=<tmpfs|host dir[:ro]> ...
prepare() {
  local img=$1 gid=$2 r=$V/$1/rootfs spec path src specs=(); shift 2
  # Paths as the image resolves them (/var/run is a link to /run), never through a link to the host's; then the
  # mount points, as the runtime makes them.
  for spec in "$@"; do path=$(chroot "$r" /usr/bin/realpath -m "${spec%%=*}"); specs+=("$path=${spec#*=}"); mkdir -p "$r$path"; done
  set -- "${specs[@]}"
  mkdir -p "$r/proc" "$r/dev"
  mount --bind "$r" "$r"
  mount -o remount,bind,ro "$r"
  mount -t proc proc "$r/proc"
  mount -t tmpfs -o mode=0755,size=1m dev "$r/dev"
  local d
  for d in null zero full random urandom tty; do touch "$r/dev/$d"; mount --bind "/dev/$d" "$r/dev/$d"; done
  ln -s /proc/self/fd "$r/dev/fd"; ln -s fd/0 "$r/dev/stdin"; ln -s fd/1 "$r/dev/stdout"; ln -s fd/2 "$r/dev/stderr"
  mkdir "$r/dev/shm"; mount -t tmpfs -o mode=1777,size=64m shm "$r/dev/shm"
  for spec in "$@"; do
    path=${spec%%=*}; src=${spec#*=}
    case "$src" in
      tmpfs) mount -t tmpfs -o "mode=2777,gid=$gid,size=256m" tmpfs "$r$path" ;;
      *:ro) mount --bind "${src%:ro}" "$r$path"; mount -o remount,bind,ro "$r$path" ;;
      *) chown "0:$gid" "$src"; chmod 2775 "$src"; mount --bind "$src" "$r$path" ;;
    esac
  done
}

# run_as <image> <uid> <gid> <cwd|-> <env file> -- <args...>: the image's env (config.json) + the pod's env (a file of
# NUL-separated KEY=value), as uid:gid with the fsGroup as supplementary group, no capabilities, no new privileges.
# exec-chained (chroot -> setpriv -> env -> the command), so the caller's $! is the container's main process.
run_as() {
  local img=$1 uid=$2 gid=$3 cwd=$4 envf=$5; shift 6
  local r=$V/$img/rootfs env=()
  mapfile -d '' env < <(jq -j '.process.env[] | ., "\u0000"' "$V/$img/config.json"; [[ -z $envf ]] || cat "$envf")
  [[ $cwd != - ]] || cwd=$(jq -r '.process.cwd' "$V/$img/config.json")
  # uid 0 stands for a container without runAsUser: root with a runtime's default capabilities (here: all of root's)
  local caps=(--no-new-privs --bounding-set=-all --inh-caps=-all)
  [[ $uid != 0 ]] || caps=()
  exec chroot "$r" /usr/bin/setpriv --reuid="$uid" --regid="$gid" --groups="$gid" "${caps[@]}" \
    /usr/bin/env -i -C "$cwd" "${env[@]}" "$@"
}
# The image's own entrypoint and command (config.json's process.args), with the pod's args in place of Cmd if given.
image_args() { jq -j '.process.args[] | ., "\u0000"' "$V/$1/config.json"; }
envfile() { # <file> KEY=value...  (NUL-separated)
  local f=$1; shift; : > "$f"; chmod 600 "$f"
  local kv; for kv in "$@"; do printf '%s\0' "$kv" >> "$f"; done
}
wait_until() { # <seconds> <command...>
  local i; for ((i = 0; i < $1 * 5; i++)); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1
}
uid_of() { awk '/^Uid:/ { print $2 }' "/proc/$1/status"; }
comm_of() { cat "/proc/$1/comm"; }

# ---- PostgreSQL ------------------------------------------------------------------------------------------
step "postgres: ultramarket.local/postgres:15-standin as the StatefulSet runs it (uid 70, read-only root, PGDATA a subdirectory of the volume)"
mkdir -p "$V/vol/pgdata" "$V/vol/backups" "$V/vol/initdb"
# An init script of each kind: they must run on the first start only.
cat > "$V/vol/initdb/10-marker.sql" <<'SQL'
CREATE SCHEMA initdb; -- not public: the users Job refuses tables left there
CREATE TABLE initdb.marker (via text, at timestamptz DEFAULT now());
INSERT INTO initdb.marker (via) VALUES ('sql');
SQL
cat > "$V/vol/initdb/20-marker.sh" <<'SH'
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -c "INSERT INTO initdb.marker (via) VALUES ('sh')"
SH
chmod 0644 "$V/vol/initdb/"*
PGUID=$(j .postgres.uid)
prepare postgres "$PGUID" /var/lib/postgresql/data="$V/vol/pgdata" /var/run/postgresql=tmpfs /tmp=tmpfs \
  /docker-entrypoint-initdb.d="$V/vol/initdb:ro" /backups="$V/vol/backups" /run/backup=tmpfs
envfile "$V/pg.env" $(jq -r '.postgres.env | to_entries[] | "\(.key)=\(.value)"' "$A")
mapfile -d '' pgcmd < <(image_args postgres)
start_postgres() {
  (run_as postgres "$PGUID" "$PGUID" - "$V/pg.env" -- "${pgcmd[@]}") >> "$V/postgres.log" 2>&1 &
  PGPID=$!; pids+=("$PGPID")
}
t0=$(date +%s.%N)
start_postgres
probe() { # <image> <uid> <jq path of a command array> [env file]
  local cmd; mapfile -d '' cmd < <(jarr "$3")
  (run_as "$1" "$2" "$2" / "${4:-}" -- "${cmd[@]}")
}
# The probe also passes against the entrypoint's socket-only server of the init phase (as with the official image):
# wait for the server that stays.
wait_until 120 grep -q 'ready for start up' "$V/postgres.log" || { tail -n 30 "$V/postgres.log"; fail "initialisation did not finish"; }
wait_until 60 probe postgres "$PGUID" .postgres.readiness || { tail -n 30 "$V/postgres.log"; fail "postgres never became ready"; }
pass "initdb from env and ready in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4)s: the readiness probe (psql over the socket) passes"
probe postgres "$PGUID" .postgres.liveness >/dev/null && pass "the liveness probe (pg_isready) passes" || fail "the liveness probe (pg_isready) passes"
[[ $(comm_of "$PGPID") == postgres && $(uid_of "$PGPID") == "$PGUID" ]] && pass "the container's main process is postgres itself (pid $PGPID, uid $PGUID): exec all the way" || fail "main process is $(comm_of "$PGPID") uid $(uid_of "$PGPID")"
[[ $(stat -c %u "$V/vol/pgdata") == 0 && $(stat -c %u "$V/vol/pgdata/pgdata") == "$PGUID" ]] && pass "PGDATA is a subdirectory owned by $PGUID; the volume's root stays root's (fsGroup $PGUID)" || fail "PGDATA is a subdirectory owned by $PGUID; the volume's root stays root"
psql_su() { # [psql args...]: the superuser over TCP to the Service address, as the Jobs connect
  envfile "$V/su.env" PGHOST=$HOST PGPORT=5432 PGUSER=postgres PGDATABASE=ultramarket "PGPASSWORD=$(j .postgres.env.POSTGRES_PASSWORD)" HOME=/tmp
  (run_as postgres "$PGUID" "$PGUID" / "$V/su.env" -- psql -X -v ON_ERROR_STOP=1 -tA "$@")
}
[[ $(psql_su -c "select current_user || ' ' || current_database() || ' ' || (select auth_method from pg_hba_file_rules where type = 'host' and address = 'all' limit 1)") == "postgres ultramarket scram-sha-256" ]] \
  && pass "POSTGRES_USER/POSTGRES_DB/POSTGRES_PASSWORD: postgres logs in to ultramarket over TCP with scram-sha-256" || fail "superuser login over TCP"
[[ $(psql_su -c "select rolpassword like 'SCRAM-SHA-256\$%' from pg_authid where rolname = 'postgres'") == t ]] && pass "the password is stored as a SCRAM verifier" || fail "the password is stored as a SCRAM verifier"
envfile "$V/bad.env" PGHOST=$HOST PGPORT=5432 PGUSER=postgres PGDATABASE=ultramarket PGPASSWORD=wrong HOME=/tmp
if (run_as postgres "$PGUID" "$PGUID" / "$V/bad.env" -- psql -X -tAc 'select 1') 2>"$V/bad.out"; then fail "a wrong password was accepted"; fi
grep -q 'password authentication failed' "$V/bad.out" && pass "a wrong password is refused (password authentication failed)" || fail "a wrong password is refused (password authentication failed)"
[[ $(psql_su -c "select string_agg(via, ',' order by via) from initdb.marker") == "sh,sql" ]] && pass "/docker-entrypoint-initdb.d: the .sql and the .sh ran on first init" || fail "/docker-entrypoint-initdb.d: the .sql and the .sh ran on first init"
[[ $(psql_su -c "show listen_addresses") == '*' ]] && pass "listen_addresses = '*'" || fail "listen_addresses = '*'"

step "postgres: its entrypoint without runAsUser (root: it drops to postgres) and as a uid the image does not know (nss_wrapper), with POSTGRES_PASSWORD_FILE"
other_start() { # <uid> <gid (the pod's fsGroup)> <expected uid of the server> <port>
  local dir=/tmp/pg-as-$1 r=$V/postgres/rootfs pid
  mkdir -p "$r$dir"; printf '%s\n' "$(j .postgres.env.POSTGRES_PASSWORD)" > "$r$dir/password"
  chown "$1:$2" "$r$dir" "$r$dir/password"; chmod 0400 "$r$dir/password"
  envfile "$V/pg-as-$1.env" POSTGRES_USER=postgres POSTGRES_DB=ultramarket "POSTGRES_PASSWORD_FILE=$dir/password" "PGDATA=$dir/pgdata" "PGPORT=$4"
  (run_as postgres "$1" "$2" - "$V/pg-as-$1.env" -- "${pgcmd[@]}" -c "listen_addresses=") >> "$V/postgres-as-$1.log" 2>&1 &
  pid=$!
  wait_until 60 grep -q 'ready for start up' "$V/postgres-as-$1.log" && wait_until 30 bash -c "exec 3<>/dev/null; [[ -S $r/run/postgresql/.s.PGSQL.$4 ]]" \
    || { tail -n 20 "$V/postgres-as-$1.log"; fail "postgres started as uid $1 did not come up"; }
  envfile "$V/pg-as-$1.q.env" HOME=/tmp PGPORT="$4"
  [[ $(comm_of "$pid") == postgres && $(uid_of "$pid") == "$3" ]] \
    && [[ $( (run_as postgres "$3" "$2" / "$V/pg-as-$1.q.env" -- psql -X -U postgres -d ultramarket -tAc 'select 1') ) == 1 ]] \
    && pass "started as uid $1 (gid $2): initdb from POSTGRES_PASSWORD_FILE, the server is postgres as uid $3 (pid $pid)" || fail "started as uid $1: $(comm_of "$pid") as uid $(uid_of "$pid")"
  kill -INT "$pid"; wait "$pid" || fail "postgres started as uid $1 did not stop cleanly"
  rm -rf "${r:?}$dir"
}
other_start 0 0 "$PGUID" 5433
other_start 4242 "$PGUID" 4242 5434

step "postgres: the program's users Job, verification check and backup steps, with the image's client tools (uid $PGUID)"
envfile "$V/users.env" PGHOST=$HOST PGPORT=5432 PGUSER=postgres PGDATABASE=ultramarket "PGPASSWORD=$(j .postgres.env.POSTGRES_PASSWORD)" HOME=/tmp \
  $(jq -r '.postgres.usersEnv | to_entries[] | "\(.key)=\(.value)"' "$A")
mapfile -d '' users < <(jarr .postgres.usersCommand)
(run_as postgres "$PGUID" "$PGUID" / "$V/users.env" -- "${users[@]}") > "$V/users.out" 2>&1 || { cat "$V/users.out"; fail "the users Job's script failed"; }
pass "users Job (sh, awk, psql): $(grep -o 'database users: .*' "$V/users.out" | cut -c1-60)..."
mapfile -d '' check < <(jarr .postgres.check | sed -e "s/\$(DATASTORE_HOST)/$HOST/g" -e 's/\$(DATASTORE_PORT)/5432/g')
envfile "$V/check.env" "PGPASSWORD=$(j .postgres.env.POSTGRES_PASSWORD)" HOME=/tmp
[[ $( (run_as postgres "$PGUID" "$PGUID" / "$V/check.env" -- "${check[@]}") ) == 1 ]] && pass "verify-postgres's check (psql -h <Service> ... SELECT 1)" || fail "verify-postgres's check (psql -h <Service> ... SELECT 1)"
psql_su -c "create table public_marker_for_backup (v text); insert into public_marker_for_backup values ('before')" >/dev/null
psql_su -c "alter table public_marker_for_backup set schema order_service" >/dev/null
envfile "$V/backup.env" PGHOST=$HOST PGPORT=5432 PGUSER=postgres "PGPASSWORD=$(j .postgres.env.POSTGRES_PASSWORD)" HOME=/tmp \
  BACKUP_TRIGGER=0123456789 "BACKUP_IMAGES=ultramarket.local/postgres:15-standin" BACKUP_STORES=postgres BACKUP_RETENTION=7
for s in dump finish; do
  (run_as postgres "$PGUID" "$PGUID" / "$V/backup.env" -- sh -c "$(j .postgres.backup.$s)") > "$V/backup-$s.out" 2>&1 || { cat "$V/backup-$s.out"; fail "backup step $s"; }
done
pass "backup steps dump-postgres (pg_dump -Fc) and finish: $(tail -n 1 "$V/backup-finish.out") kept"
name=$(tail -n 1 "$V/backup-finish.out")
(run_as postgres "$PGUID" "$PGUID" / "" -- sh -c "$(j .postgres.backup.list)") | grep -q "postgres.dump" && pass "the list Job's script sees the dump" || fail "the list Job's script sees the dump"
psql_su -c "drop table order_service.public_marker_for_backup" >/dev/null
envfile "$V/restore.env" PGHOST=$HOST PGPORT=5432 PGUSER=postgres "PGPASSWORD=$(j .postgres.env.POSTGRES_PASSWORD)" HOME=/tmp "BACKUP_NAME=$name"
(run_as postgres "$PGUID" "$PGUID" / "$V/restore.env" -- sh -c "$(j .postgres.backup.restore)") > "$V/restore.out" 2>&1 || { cat "$V/restore.out"; fail "restore"; }
[[ $(psql_su -c "select v from order_service.public_marker_for_backup") == before ]] && pass "the restore step (pg_restore --clean --single-transaction) brings a dropped table back" || fail "the restore step (pg_restore --clean --single-transaction) brings a dr"

# ---- Redis -------------------------------------------------------------------------------------------------
step "redis: ultramarket.local/redis:7-standin as the StatefulSet runs it (init step, then its command; uid 999)"
RUID=$(j .redis.uid)
mkdir -p "$V/vol/redis"
prepare redis "$RUID" /data="$V/vol/redis" /usr/local/etc/redis=tmpfs /tmp=tmpfs
envfile "$V/redis-init.env" "REDIS_PASSWORD=$(j .redis.password)"
mapfile -d '' rinit < <(jarr .redis.init)
(run_as redis "$RUID" "$RUID" - "$V/redis-init.env" -- "${rinit[@]}") || fail "the init step failed"
[[ $(stat -c '%a %u' "$V/redis/rootfs/usr/local/etc/redis/auth.conf") == "600 $RUID" ]] && pass "init step: requirepass written to a 0600 file of uid $RUID" || fail "init step: requirepass written to a 0600 file of uid $RUID"
envfile "$V/redis.env" "REDISCLI_AUTH=$(j .redis.password)"
mapfile -d '' rcmd < <(jarr .redis.command)
(run_as redis "$RUID" "$RUID" - "$V/redis.env" -- "${rcmd[@]}") >> "$V/redis.log" 2>&1 &
RPID=$!; pids+=("$RPID")
wait_until 30 probe redis "$RUID" .redis.readiness "$V/redis.env" || { tail "$V/redis.log"; fail "redis never became ready"; }
pass "the readiness probe (redis-cli ping, REDISCLI_AUTH) passes; main process $(comm_of "$RPID") uid $(uid_of "$RPID")"
rcli() { local e=$1; shift; (run_as redis "$RUID" "$RUID" / "$e" -- redis-cli -h "$HOST" -p 6379 "$@") 2>&1; }
envfile "$V/none.env" HOME=/tmp
[[ $(rcli "$V/none.env" ping) == *NOAUTH* ]] && pass "without AUTH: NOAUTH" || fail "without AUTH: NOAUTH"
envfile "$V/wrong.env" REDISCLI_AUTH=wrong
[[ $(rcli "$V/wrong.env" ping) == *WRONGPASS* ]] && pass "a wrong password: WRONGPASS" || fail "a wrong password: WRONGPASS"
[[ $(rcli "$V/redis.env" config get maxmemory-policy | tail -n 1) == volatile-lru && $(rcli "$V/redis.env" config get appendonly | tail -n 1) == yes ]] \
  && pass "AUTH with the password; maxmemory $(rcli "$V/redis.env" config get maxmemory | tail -n 1), volatile-lru, appendonly on /data" || fail "AUTH with the password; maxmemory …, volatile-lru, appendonly on /data"
mapfile -d '' rcheck < <(jarr .redis.check)
envfile "$V/rcheck.env" "REDISCLI_AUTH=$(j .redis.password)" DATASTORE_HOST=$HOST DATASTORE_PORT=6379 HOME=/tmp
(run_as redis "$RUID" "$RUID" / "$V/rcheck.env" -- "${rcheck[@]}") && pass "verify-redis's check" || fail "verify-redis's check"
# The image's own entrypoint, started as root (no runAsUser): it must drop to redis.
mkdir -p "$V/vol/redis-root"
envfile "$V/redis-root.env" HOME=/tmp
mapfile -d '' rdefault < <(image_args redis)
(run_as redis 0 0 - "" -- "${rdefault[@]}" --port 6380 --bind 127.0.0.1 --save '' --appendonly no) >> "$V/redis-root.log" 2>&1 &
RROOT=$!; pids+=("$RROOT")
wait_until 20 bash -c "[[ \$(awk '/^Uid:/ {print \$2}' /proc/$RROOT/status) == $RUID ]]" && [[ $(comm_of "$RROOT") == redis-server ]] \
  && pass "its entrypoint started as root runs redis-server as redis ($RUID), exec'd (pid $RROOT)" || fail "entrypoint as root: $(comm_of "$RROOT") uid $(uid_of "$RROOT")"
kill -TERM "$RROOT"; wait "$RROOT" || true

# ---- PgBouncer -------------------------------------------------------------------------------------------------
step "pgbouncer: ultramarket.local/pgbouncer:1-standin as the Deployment runs it (pgbouncer /etc/pgbouncer/pgbouncer.ini; uid 998)"
mkdir -p "$V/vol/bouncer-config" "$V/vol/bouncer-auth"
j .pgbouncer.ini > "$V/vol/bouncer-config/pgbouncer.ini"; chmod 0644 "$V/vol/bouncer-config/pgbouncer.ini"
j .pgbouncer.userlist > "$V/vol/bouncer-auth/userlist.txt"; chown 0:998 "$V/vol/bouncer-auth/userlist.txt"; chmod 0440 "$V/vol/bouncer-auth/userlist.txt"
prepare pgbouncer 998 /etc/pgbouncer="$V/vol/bouncer-config:ro" /etc/pgbouncer-auth="$V/vol/bouncer-auth:ro" /tmp=tmpfs
(run_as pgbouncer 998 998 - "" -- pgbouncer /etc/pgbouncer/pgbouncer.ini) >> "$V/pgbouncer.log" 2>&1 &
BPID=$!; pids+=("$BPID")
wait_until 20 bash -c "exec 3<>/dev/tcp/$HOST/6432" || { cat "$V/pgbouncer.log"; fail "pgbouncer is not listening"; }
grep -q 'does not know max_prepared_statements' "$V/pgbouncer.log" && pass "the wrapper dropped max_prepared_statements, with a log line: $(grep -o 'PgBouncer [0-9.]* does not know [a-z_]*' "$V/pgbouncer.log")" || fail "the wrapper dropped max_prepared_statements, with a log line: …"
[[ $(comm_of "$BPID") == pgbouncer && $(uid_of "$BPID") == 998 ]] && pass "main process pgbouncer (pid $BPID, uid 998)" || fail "main process pgbouncer (pid $BPID, uid 998)"
envfile "$V/app-pg.env" PGHOST=$HOST PGPORT=6432 "PGUSER=$(j .app.user)" PGDATABASE=ultramarket "PGPASSWORD=$(j .app.password)" HOME=/tmp
[[ $( (run_as postgres "$PGUID" "$PGUID" / "$V/app-pg.env" -- psql -X -tAc 'select current_user') ) == "$(j .app.user)" ]] \
  && pass "$(j .app.user) logs in through PgBouncer (SCRAM both ways) to PostgreSQL" || fail "… logs in through PgBouncer (SCRAM both ways) to PostgreSQL"
envfile "$V/nobody.env" PGHOST=$HOST PGPORT=6432 PGUSER=nobody_here PGDATABASE=ultramarket PGPASSWORD=x HOME=/tmp
if (run_as postgres "$PGUID" "$PGUID" / "$V/nobody.env" -- psql -X -tAc 'select 1') 2>"$V/nobody.out"; then fail "an unknown user got through"; fi
pass "an unknown user is refused: $(head -n 1 "$V/nobody.out" | sed 's/.*FATAL: *//' | cut -c1-60)"

# ---- the app -------------------------------------------------------------------------------------------
step "app: ultramarket.local/app:standin as $(j .app.id) (uid 1000, read-only root; /health against the stand-ins)"
prepare app 1000 /tmp=tmpfs /home/migrate=tmpfs
app_env=(SERVICE_NAME="$(j .app.id)" PORT=3000 "POSTGRES_URL=postgresql://$HOST:6432/ultramarket" POSTGRES_POOL_MAX=5
  "POSTGRES_USER=$(j .app.user)" "POSTGRES_PASSWORD=$(j .app.password)" "REDIS_URL=redis://$HOST:6379" "REDIS_PASSWORD=$(j .redis.password)")
envfile "$V/migrate.env" "${app_env[@]/#POSTGRES_URL=*/POSTGRES_URL=postgresql://$HOST:5432/ultramarket}" HOME=/home/migrate
(run_as app 1000 1000 - "$V/migrate.env" -- npm run --silent migrate) > "$V/migrate.out" 2>&1 || { cat "$V/migrate.out"; fail "npm run migrate"; }
[[ $(psql_su -c "select tableowner from pg_tables where tablename = 'standin_markers'") == "$(j .app.user)" ]] && pass "npm run migrate (the migration Job's command, HOME on a volume) creates its table, owned by $(j .app.user)" || fail "npm run migrate (the migration Job's command, HOME on a volume) create"
envfile "$V/app.env" "${app_env[@]}"
mapfile -d '' appcmd < <(image_args app)
(run_as app 1000 1000 - "$V/app.env" -- "${appcmd[@]}") >> "$V/app.log" 2>&1 &
APID=$!; pids+=("$APID")
wait_until 30 curl -sf "http://$HOST:3000/livez" || { tail "$V/app.log"; fail "the app did not start"; }
code=$(curl -s -o "$V/health.json" -w '%{http_code}' "http://$HOST:3000/health")
[[ $code == 200 ]] && pass "GET /health -> 200: $(head -c 150 "$V/health.json")" || { cat "$V/health.json"; fail "/health -> $code"; }
[[ $(readlink "/proc/$APID/exe") == */usr/local/bin/node && $(uid_of "$APID") == 1000 ]] \
  && pass "main process /usr/local/bin/node (pid $APID, uid 1000; thread name $(comm_of "$APID"))" || fail "main process: $(readlink "/proc/$APID/exe") uid $(uid_of "$APID")"
kill -TERM "$APID"; if wait "$APID"; then pass "SIGTERM: the app exits 0"; else fail "the app exited $? on SIGTERM"; fi

# ---- signals and the second start ------------------------------------------------------------------------------
step "stop by PID and start again"
kill -TERM "$BPID"; wait "$BPID" || true; pass "pgbouncer stopped (SIGTERM)"
kill -TERM "$RPID"; if wait "$RPID"; then pass "redis: SIGTERM, exit 0"; else fail "redis exited $?"; fi
kill -INT "$PGPID"; if wait "$PGPID"; then pass "postgres: SIGINT (the image's StopSignal, fast shutdown), exit 0"; else fail "postgres exited $?"; fi
grep -q 'database system is shut down' "$V/postgres.log" || fail "no clean shutdown in the log"
start_postgres
wait_until 60 probe postgres "$PGUID" .postgres.readiness || fail "postgres did not start again"
grep -q 'Skipping initialization' "$V/postgres.log" && [[ $(psql_su -c "select count(*) from initdb.marker") == 2 ]] \
  && pass "second start: the existing database is kept and the init scripts do not run again" || fail "second start: the existing database is kept and the init scripts do no"
kill -INT "$PGPID"; wait "$PGPID" || true
echo "== every stand-in image honours the contract the platform relies on"

