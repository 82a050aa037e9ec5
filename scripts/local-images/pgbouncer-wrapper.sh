#!/bin/sh
# /usr/local/bin/pgbouncer of ultramarket.local/pgbouncer:1-standin, first on PATH (and /usr/bin/pgbouncer, where the
# CloudNativePG image has its binary): Debian 12's PgBouncer 1.18 refuses to start on a setting it does not know, and
# the platform's pgbouncer.ini uses one from 1.21 (max_prepared_statements). This drops exactly the settings newer
# than 1.18, each with a log line, writes the rest to /tmp (an emptyDir in the platform's pod; the root filesystem is
# read-only) and execs Debian's binary, which then is the container's main process (signals, exit code).
set -eu
real=/usr/sbin/pgbouncer
# setting (the version that introduced it): what is lost without it on 1.18
newer_settings='
max_prepared_statements (1.21): protocol-level named prepared statements are not tracked across server connections in transaction pooling
'
# The config file is the first argument that is not an option.
conf=""
for a in "$@"; do case "$a" in -*) ;; *) conf=$a; break ;; esac; done
if [ -z "$conf" ] || [ ! -r "$conf" ]; then exec "$real" "$@"; fi

pattern=$(printf '%s\n' "$newer_settings" | awk 'NF { printf "%s%s", sep, $1; sep = "|" }')
if ! grep -Eq "^[[:space:]]*($pattern)[[:space:]]*=" "$conf"; then exec "$real" "$@"; fi

filtered=${TMPDIR:-/tmp}/pgbouncer.ini
printf '%s\n' "$newer_settings" | while read -r key rest; do
  [ -n "$key" ] || continue
  if grep -Eq "^[[:space:]]*$key[[:space:]]*=" "$conf"; then
    echo "pgbouncer stand-in: PgBouncer $("$real" --version | awk 'NR == 1 { print $2 }') does not know $key, introduced in $rest; dropped from $conf" >&2
  fi
done
(umask 077 && grep -Ev "^[[:space:]]*($pattern)[[:space:]]*=" "$conf" > "$filtered")
# The same arguments with the filtered file in place of the original.
first=1
for a in "$@"; do
  if [ $first = 1 ]; then set --; first=0; fi
  if [ "$a" = "$conf" ]; then set -- "$@" "$filtered"; else set -- "$@" "$a"; fi
done
exec "$real" "$@"
