#!/bin/sh
# Run once by the postgres image when it creates the primary's database
# (/docker-entrypoint-initdb.d): lets the standby (compose's postgres-standby) stream the
# WAL with the app's credentials (docs/deploying.md, "Past one machine").
set -eu
echo "host replication ${POSTGRES_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
