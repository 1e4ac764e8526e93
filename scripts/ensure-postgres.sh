#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 and the test database exists.
# Uses a running server if there is one; otherwise installs (Debian) and starts one.
set -euo pipefail

DB="${CASESTREAM_TEST_DB:-casestream_test}"
HOST=127.0.0.1
PORT=5432

answers() { pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! answers; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "ensure-postgres: installing PostgreSQL from Debian packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  fi
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  conf="/etc/postgresql/$version/main"
  # Trust local TCP connections for the test user (a throwaway CI/dev server).
  if ! grep -q "casestream-test" "$conf/pg_hba.conf"; then
    sed -i '1i host all all 127.0.0.1/32 trust # casestream-test' "$conf/pg_hba.conf"
    sed -i '1i local all all trust # casestream-test' "$conf/pg_hba.conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do answers && break; sleep 1; done
  answers || { echo "ensure-postgres: server did not start" >&2; exit 1; }
fi

if ! psql -h "$HOST" -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
  psql -h "$HOST" -p "$PORT" -U postgres -qc "CREATE DATABASE $DB"
fi
echo "ensure-postgres: postgresql://postgres@$HOST:$PORT/$DB is ready" >&2
