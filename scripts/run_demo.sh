#!/bin/sh
# The demo: the store's orders service on loopback (what the demo intents call) beside the
# chat service. `make run` and the Docker image both start the demo this way.
#   scripts/run_demo.sh [HOST] [PORT]    (defaults 127.0.0.1 8000; orders on ORDERS_PORT=8077)
# Ctrl-C or SIGTERM stops both; if either exits, the other is stopped too.
# Both get the same identity secret (SWITCHBOARD_IDENTITY__SECRET, or one generated for this
# run): the orders service stands in for the shop's back office, whose demo sign-in signs the
# customer's id with it, and the chat service checks that signature.
set -eu
cd "$(dirname "$0")/.."
HOST="${1:-127.0.0.1}"
PORT="${2:-8000}"
ORDERS_PORT="${ORDERS_PORT:-8077}"
PY="${PYTHON:-.venv/bin/python}"
if [ -z "${SWITCHBOARD_IDENTITY__SECRET:-}" ]; then
  SWITCHBOARD_IDENTITY__SECRET="$("$PY" -c 'import secrets; print(secrets.token_hex(32))')"
fi
export SWITCHBOARD_IDENTITY__SECRET
# The admin console's Tests page offers the repository's conversation suites.
if [ -z "${SWITCHBOARD_TEST_SUITES_DIR:-}" ] && [ -d tests/suites ]; then
  SWITCHBOARD_TEST_SUITES_DIR=tests/suites
  export SWITCHBOARD_TEST_SUITES_DIR
fi

DEMO_IDENTITY_SECRET="$SWITCHBOARD_IDENTITY__SECRET" \
  "$PY" scripts/demo_orders_api.py --host "${ORDERS_HOST:-127.0.0.1}" --port "$ORDERS_PORT" &
ORDERS_PID=$!
"$PY" -m app serve --host "$HOST" --port "$PORT" &
SERVE_PID=$!
stop() { kill "$SERVE_PID" "$ORDERS_PID" 2>/dev/null || true; }
trap 'stop; wait; exit 0' INT TERM
STATUS=0
wait "$SERVE_PID" || STATUS=$?
stop
wait || true
exit "$STATUS"
