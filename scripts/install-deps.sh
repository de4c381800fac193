#!/usr/bin/env bash
# install-deps.sh [run|test] — install what janustap needs, when it is
# missing. Run as root on Debian; a no-op when everything is there.
#
#   run   what `make run` needs: Janus (Debian package janus 1.1.2), gcc for
#         cgo (SQLite) and curl. Nothing else.
#   test  (the default) also what the tests need: the nats-server binary (for
#         the tests that run NATS as a separate process), nginx (the plain
#         proxy the bench compares against), and for the real-client tests
#         Chromium, janus.js with adapter.js, Meetecho's demo pages
#         (janus-demos, which TestDemoPagesReplay drives), node and npm, and a C++
#         toolchain (janode's unix-dgram is built by `npm ci`, which the tests
#         run themselves).
set -euo pipefail
what=${1:-test}
case $what in run|test) ;; *) echo "usage: $0 [run|test]" >&2; exit 2;; esac
need=()
command -v janus >/dev/null 2>&1 || need+=(janus)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ "$what" = test ]; then
  command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
  command -v g++ >/dev/null 2>&1 || need+=(g++)
  command -v make >/dev/null 2>&1 || need+=(make)
  command -v python3 >/dev/null 2>&1 || need+=(python3)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -f /usr/share/javascript/janus-gateway/janus.js ] || need+=(libjs-janus-gateway)
  dpkg -s libjs-webrtc-adapter >/dev/null 2>&1 || need+=(libjs-webrtc-adapter)
  [ -f /usr/share/janus/demos/settings.js ] || need+=(janus-demos)
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
  command -v nginx >/dev/null 2>&1 || need+=(nginx)
fi
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
