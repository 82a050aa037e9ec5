#!/bin/sh
# mmdebstrap --customize-hook for the stand-ins' Debian base (scripts/local-images.sh): runs on the host as root
# with the finished root filesystem as $1, before mmdebstrap tars it up.
set -eu
root=$1

# No cluster from the package: every stand-in initialises its own data directory (the entrypoint, like the official image).
rm -rf "$root/var/lib/postgresql/15" "$root/etc/postgresql/15"

# psql, pg_dump, ... in /usr/bin are links to postgresql-common's pg_wrapper, a perl script that picks a cluster:
# point them at the PostgreSQL 15 binaries themselves, so the client tools need no perl (and behave as in the
# official image, where they are the plain binaries).
for link in "$root"/usr/bin/*; do
  [ -L "$link" ] && [ "$(readlink "$link")" = ../share/postgresql-common/pg_wrapper ] || continue
  tool=$(basename "$link")
  if [ -x "$root/usr/lib/postgresql/15/bin/$tool" ]; then ln -sf "../lib/postgresql/15/bin/$tool" "$link"; else rm -f "$link"; fi
done

# perl was needed only by the packages' maintainer scripts (postgresql-common, adduser, ...): gone at run time.
# perl-base stays (Essential); the dpkg database keeps saying what was forced out.
chroot "$root" dpkg --remove --force-depends perl perl-modules-5.36 libperl5.36 libjson-perl >/dev/null

# A generated private key has no place in a shared image layer.
rm -f "$root/etc/ssl/private/ssl-cert-snakeoil.key" "$root/etc/ssl/certs/ssl-cert-snakeoil.pem"

# Fixed ids, those of the images the stand-ins replace: postgres 70:70 (postgres:*-alpine), redis 999:999 (redis),
# pgbouncer 998:996 (ghcr.io/cloudnative-pg/pgbouncer), node 1000:1000 (the node images). Packages chose theirs at
# install time: move every file they own to the fixed ids, then rewrite the account lines.
remap() { # <user> <uid> <gid> <gecos> <home> <shell>
  old_uid=$(awk -F: -v u="$1" '$1 == u { print $3 }' "$root/etc/passwd")
  old_gid=$(awk -F: -v u="$1" '$1 == u { print $3 }' "$root/etc/group")
  if [ -n "$old_uid" ] && [ "$old_uid" != "$2" ]; then find "$root" -xdev -uid "$old_uid" -exec chown -h "$2" {} +; fi
  if [ -n "$old_gid" ] && [ "$old_gid" != "$3" ]; then find "$root" -xdev -gid "$old_gid" -exec chgrp -h "$3" {} +; fi
  sed -i "/^$1:/d" "$root/etc/passwd" "$root/etc/group" "$root/etc/shadow" "$root/etc/gshadow"
  printf '%s:x:%s:%s:%s:%s:%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >> "$root/etc/passwd"
  printf '%s:x:%s:\n' "$1" "$3" >> "$root/etc/group"
  printf '%s:*:19000:0:99999:7:::\n' "$1" >> "$root/etc/shadow"
  printf '%s:*::\n' "$1" >> "$root/etc/gshadow"
}
for id in 70 996 998 999 1000; do
  if awk -F: -v i="$id" '$3 == i { found = 1 } END { exit !found }' "$root/etc/passwd" "$root/etc/group"; then
    grep -qE "^(postgres|redis|pgbouncer|node):x:$id:" "$root/etc/passwd" "$root/etc/group" || { echo "id $id is taken in the base" >&2; exit 1; }
  fi
done
remap postgres 70 70 "PostgreSQL administrator" /var/lib/postgresql /bin/sh
remap redis 999 999 "Redis" /data /usr/sbin/nologin
remap pgbouncer 998 996 "PgBouncer" /var/lib/pgbouncer /usr/sbin/nologin
remap node 1000 1000 "Node.js app" /home/node /usr/sbin/nologin
# ssl-cert's group is a supplementary group of postgres in Debian: drop the membership (and with it the old uid's name)
sed -i 's/^\(ssl-cert:x:[0-9]*:\).*/\1/' "$root/etc/group"

# Caches and logs of the build.
rm -rf "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old "$root"/var/log/* "$root"/var/lib/dpkg/*-old
