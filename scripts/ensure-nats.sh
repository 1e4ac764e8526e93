#!/usr/bin/env bash
# Make sure a NATS server with JetStream answers on 127.0.0.1:4222 (the relay's tests).
# Uses a running server if there is one; otherwise installs nats-server (Debian package)
# and starts it in the background with JetStream on, its data under a temporary folder.
set -euo pipefail

HOST=127.0.0.1
PORT="${CASESTREAM_TEST_NATS_PORT:-4222}"
STORE_DIR="${CASESTREAM_TEST_NATS_DIR:-${TMPDIR:-/tmp}/casestream-nats}"

answers() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

if ! answers; then
  if ! command -v nats-server >/dev/null 2>&1; then
    echo "ensure-nats: installing nats-server from Debian packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nats-server >/dev/null
  fi
  mkdir -p "$STORE_DIR"
  # setsid: the server outlives this script (and make), as PostgreSQL's does.
  setsid nats-server -js -a "$HOST" -p "$PORT" -sd "$STORE_DIR" \
    >"$STORE_DIR/nats-server.log" 2>&1 < /dev/null &
  for _ in $(seq 1 50); do answers && break; sleep 0.2; done
  answers || { echo "ensure-nats: server did not start (see $STORE_DIR/nats-server.log)" >&2; exit 1; }
fi
echo "ensure-nats: nats://$HOST:$PORT is ready" >&2
