#!/usr/bin/env bash
# quickstart.sh — the README's first command: make sure a Janus answers on
# 127.0.0.1:8088 (installing the Debian package and starting a private one
# on loopback if none runs), then run `janustap serve` in front of it with
# the embedded NATS and the SQLite recorder, data in ./janustap-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
go build -o bin/janustap ./cmd/janustap
if ! curl -sf -o /dev/null http://127.0.0.1:8088/janus/info; then
  echo "no Janus on 127.0.0.1:8088: starting a private one (state in janustap-data/janus)" >&2
  bin/janustap janus --base-port 8088 --dir janustap-data/janus &
  janus_pid=$!
  trap 'kill $janus_pid 2>/dev/null; wait $janus_pid 2>/dev/null' EXIT
  for _ in $(seq 1 100); do
    curl -sf -o /dev/null http://127.0.0.1:8088/janus/info && break
    kill -0 $janus_pid 2>/dev/null || { echo "janus did not start" >&2; exit 1; }
    sleep 0.2
  done
fi
exec_args=(serve --data janustap-data "$@")
echo "janustap serve: point clients at http://127.0.0.1:8089/janus or ws://127.0.0.1:8089 (Ctrl-C stops)" >&2
bin/janustap "${exec_args[@]}"
