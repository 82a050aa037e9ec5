#!/bin/sh
# /entrypoint.sh of ultramarket.local/pgbouncer:1-standin, as in ghcr.io/cloudnative-pg/pgbouncer: PgBouncer with
# /etc/pgbouncer/pgbouncer.ini, as the image's user (pgbouncer, 998:996). The platform gives its own command
# (`pgbouncer /etc/pgbouncer/pgbouncer.ini`), which replaces this; exec here, so PgBouncer gets the signals.
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
