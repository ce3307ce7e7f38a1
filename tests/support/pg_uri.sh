#!/usr/bin/env bash
# Print the PostgreSQL server URI the tests use. TRACL_TEST_PG_URI wins.
# Otherwise the local server as `postgres` over 127.0.0.1: the machines this
# project runs on trust loopback connections; a fresh Debian install asks for
# a password instead, so give the local `postgres` role a test password
# (through the peer-authenticated socket, as root) and use it.
set -euo pipefail
if [ -n "${TRACL_TEST_PG_URI:-}" ]; then
    echo "$TRACL_TEST_PG_URI"; exit 0
fi
uri=postgres://postgres@127.0.0.1:5432/postgres
if PGCONNECT_TIMEOUT=5 psql "$uri" -qAtc 'SELECT 1' >/dev/null 2>&1 </dev/null; then
    echo "$uri"; exit 0
fi
password=tracl-local-test
runuser -u postgres -- psql -qc "ALTER ROLE postgres PASSWORD '$password'" >&2
echo "postgres://postgres:$password@127.0.0.1:5432/postgres"
