#!/usr/bin/env bash
# Installs (Debian, as root) and starts a local PostgreSQL for the test suite, then prints the
# URL to export as SWITCHBOARD_TEST_DATABASE_URL. Idempotent: safe to run again.
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^${version} main"; then
    pg_createcluster "$version" main >/dev/null
fi
pg_ctlcluster "$version" main start 2>/dev/null || true
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 && break
    sleep 1
done
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_roles WHERE rolname='switchboard'\"" | grep -q 1 \
    || su postgres -c "psql -q -c \"CREATE ROLE switchboard LOGIN PASSWORD 'switchboard'\""
su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname='switchboard_test'\"" | grep -q 1 \
    || su postgres -c "createdb -O switchboard switchboard_test"
echo "postgresql+asyncpg://switchboard:switchboard@127.0.0.1:5432/switchboard_test"
