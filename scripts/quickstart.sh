#!/usr/bin/env bash
# quickstart.sh — the README's first command (`make run`): make sure a Janus
# answers on 127.0.0.1:8088 (installing the Debian package and starting a
# private one on loopback if none runs), then run `janustap serve` in front
# of it with the embedded NATS and the SQLite recorder, data in
# ./janustap-data. Ctrl-C stops serve and the private Janus.
#
# The environment can move it (the quick-start test does, to run beside
# anything else): JANUSTAP_DATA (the data directory), JANUSTAP_JANUS_BASE_PORT
# (Janus's HTTP port; WebSocket +100, admin -1000 and -900), and every
# variable serve reads (JANUSTAP_LISTEN, JANUSTAP_ADMIN_LISTEN, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh run
go build -o bin/janustap ./cmd/janustap

data=${JANUSTAP_DATA:-janustap-data}
base=${JANUSTAP_JANUS_BASE_PORT:-8088}
export JANUSTAP_JANUS_HTTP=${JANUSTAP_JANUS_HTTP:-http://127.0.0.1:$base/janus}
export JANUSTAP_JANUS_WS=${JANUSTAP_JANUS_WS:-ws://127.0.0.1:$((base + 100))}
export JANUSTAP_JANUS_ADMIN_HTTP=${JANUSTAP_JANUS_ADMIN_HTTP:-http://127.0.0.1:$((base - 1000))/admin}
export JANUSTAP_JANUS_ADMIN_WS=${JANUSTAP_JANUS_ADMIN_WS:-ws://127.0.0.1:$((base - 900))}

if ! curl -sf -o /dev/null "$JANUSTAP_JANUS_HTTP/info"; then
  echo "no Janus on 127.0.0.1:$base: starting a private one (state in $data/janus)" >&2
  bin/janustap janus --base-port "$base" --dir "$data/janus" &
  janus_pid=$!
  trap 'kill $janus_pid 2>/dev/null; wait $janus_pid 2>/dev/null' EXIT
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null "$JANUSTAP_JANUS_HTTP/info" && break
    kill -0 $janus_pid 2>/dev/null || { echo "janus did not start" >&2; exit 1; }
    sleep 0.2
  done
fi
listen=${JANUSTAP_LISTEN:-127.0.0.1:8089}
echo "janustap serve: point clients at http://$listen/janus or ws://$listen (Ctrl-C stops)" >&2
bin/janustap serve --data "$data" "$@"
