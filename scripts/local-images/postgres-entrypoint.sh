#!/bin/sh
# docker-entrypoint.sh of ultramarket.local/postgres:15-standin: the official postgres image's entrypoint contract
# (https://hub.docker.com/_/postgres, "Environment Variables" and "Initialization scripts") on Debian's PostgreSQL 15.
#   POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE)  the superuser's password; required on first start unless
#                                                   POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER (default postgres), POSTGRES_DB (default $POSTGRES_USER), POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR,
#   POSTGRES_HOST_AUTH_METHOD (default scram-sha-256: the `host all all all` line), PGDATA (default
#   /var/lib/postgresql/data; a subdirectory of a mounted volume works whoever owns the mount's root)
# On the first start only (no $PGDATA/PG_VERSION): initdb, then /docker-entrypoint-initdb.d/*.sh, *.sql, *.sql.gz run
# against a server listening on the socket only. Then `postgres` replaces this script (exec: it gets the signals).
set -eu

# "-c x=y" alone means postgres's arguments
case "${1:-postgres}" in -*) set -- postgres "$@" ;; esac
[ $# -gt 0 ] || set -- postgres

# Anything but the server (psql, pg_dump, sh -c ... of the Jobs) runs as given.
[ "$1" = postgres ] || exec "$@"

log() { echo "docker-entrypoint: $*" >&2; }

# VAR from VAR or VAR_FILE, not both (the official file_env)
file_env() { # <var> [default]
  eval "val=\${$1:-} file=\${$1_FILE:-}"
  if [ -n "$val" ] && [ -n "$file" ]; then log "error: both $1 and $1_FILE are set (but are exclusive)"; exit 1; fi
  if [ -n "$file" ]; then val=$(cat "$file"); fi
  [ -n "$val" ] || val=${2:-}
  eval "$1=\$val"; export "$1"; unset "$1_FILE"
}

file_env POSTGRES_PASSWORD
file_env POSTGRES_USER postgres
file_env POSTGRES_DB "$POSTGRES_USER"
file_env POSTGRES_INITDB_ARGS
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

# Directories: PGDATA 0700 (initdb insists); the socket directory may be a read-only image path with a volume on it.
mkdir -p "$PGDATA"
chmod 700 "$PGDATA" 2>/dev/null || :
mkdir -p /var/run/postgresql 2>/dev/null || :
chmod 3775 /var/run/postgresql 2>/dev/null || :
if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then mkdir -p "$POSTGRES_INITDB_WALDIR"; chmod 700 "$POSTGRES_INITDB_WALDIR" 2>/dev/null || :; fi

# Started as root (no runAsUser): hand the directories to postgres and run again as postgres (the official gosu step).
if [ "$(id -u)" = 0 ]; then
  find "$PGDATA" /var/run/postgresql ${POSTGRES_INITDB_WALDIR:+"$POSTGRES_INITDB_WALDIR"} \! -user postgres -exec chown postgres {} + 2>/dev/null || :
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "$POSTGRES_PASSWORD" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]; then
    log "error: database is uninitialized and superuser password is not specified."
    log "  You must specify POSTGRES_PASSWORD to a non-empty value for the superuser (or POSTGRES_HOST_AUTH_METHOD=trust)."
    exit 1
  fi
  ls /docker-entrypoint-initdb.d/ >/dev/null

  # initdb needs a passwd entry for the uid; an arbitrary uid gets one through nss_wrapper (as in the official image).
  if ! getent passwd "$(id -u)" >/dev/null 2>&1; then
    NSS_WRAPPER_PASSWD=$(mktemp) NSS_WRAPPER_GROUP=$(mktemp)
    export NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP LD_PRELOAD=libnss_wrapper.so
    printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$(id -u)" "$(id -g)" "$PGDATA" > "$NSS_WRAPPER_PASSWD"
    printf 'postgres:x:%s:\n' "$(id -g)" > "$NSS_WRAPPER_GROUP"
  fi
  # The password reaches initdb on a pipe, never in a file or on a command line.
  # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of arguments, as in the official image
  printf '%s\n' "$POSTGRES_PASSWORD" | initdb --username="$POSTGRES_USER" --pwfile=/dev/stdin \
    ${POSTGRES_INITDB_WALDIR:+--waldir="$POSTGRES_INITDB_WALDIR"} $POSTGRES_INITDB_ARGS
  if [ -n "${LD_PRELOAD:-}" ]; then rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"; unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP; fi

  # Everything not on this host (initdb's own lines trust the local socket and loopback, as in the official image).
  printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >> "$PGDATA/pg_hba.conf"

  # A server on the socket only for the init scripts.
  PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start
  export PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD"
  psql_init() { psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"; }
  if [ "$POSTGRES_DB" != postgres ]; then
    psql_init --dbname postgres --set db="$POSTGRES_DB" <<-'SQL'
	SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
	SQL
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi ;;
      *.sql) log "running $f"; psql_init --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | psql_init --dbname "$POSTGRES_DB" ;;
      *.sql.xz) log "running $f"; xz -dc "$f" | psql_init --dbname "$POSTGRES_DB" ;;
      *.sql.zst) log "running $f"; zstd -dc "$f" | psql_init --dbname "$POSTGRES_DB" ;;
      */\*) ;;
      *) log "ignoring $f" ;;
    esac
  done
  PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  log "PostgreSQL init process complete; ready for start up."
else
  log "PostgreSQL Database directory appears to contain a database; Skipping initialization"
fi

exec "$@"
