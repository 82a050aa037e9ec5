#!/bin/sh
# docker-entrypoint.sh of ultramarket.local/redis:7-standin: the official redis image's entrypoint contract
# (https://hub.docker.com/_/redis) on Debian's Redis 7.0. The platform itself never runs it: its StatefulSet gives a
# command (`redis-server <auth.conf> --maxmemory ...`), which replaces the entrypoint, as it does with the official image.
#   - a first argument that is an option (-x, --x) or a *.conf file means redis-server's arguments;
#   - started as root, it hands the working directory (/data) to redis and runs again as redis;
#   - umask 0077 unless one was set, so the dump and append-only files are the redis user's only;
#   - protected mode off unless asked for: the official image compiles it off (a container is reached from outside
#     its own loopback), Debian's build has it on.
set -eu

case "${1:-redis-server}" in -*|*.conf) set -- redis-server "$@" ;; esac
[ $# -gt 0 ] || set -- redis-server

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis {} + 2>/dev/null || :
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

[ "$(umask)" != 0022 ] || umask 0077

if [ "$1" = redis-server ]; then
  case " $* " in *" --protected-mode "*) ;; *) set -- "$@" --protected-mode no ;; esac
fi
exec "$@"
