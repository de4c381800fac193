#!/usr/bin/env bash
# install-deps.sh — install what janustap's tests and quick start need, when
# it is missing: Janus (Debian package janus 1.1.2), the nats-server binary
# (for the tests that run NATS as a separate process), gcc for cgo (SQLite),
# and for the real-client tests Chromium, janus.js with adapter.js, node and
# a C++ toolchain (janode's unix-dgram is built by `npm ci`). Run as root on
# Debian; a no-op when everything is there.
set -euo pipefail
need=()
command -v janus >/dev/null 2>&1 || need+=(janus)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v curl >/dev/null 2>&1 || need+=(curl)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -f /usr/share/javascript/janus-gateway/janus.js ] || need+=(libjs-janus-gateway)
dpkg -s libjs-webrtc-adapter >/dev/null 2>&1 || need+=(libjs-webrtc-adapter)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v nginx >/dev/null 2>&1 || need+=(nginx)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing: ${need[*]} — run as root, or: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "installing: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian package may start a system-wide janus through its service; the
# tests never use it (they start their own on free ports), and the quick
# start only reuses one that answers on its port.
