#!/usr/bin/env bash
# Starts moto's server (SQS and SES APIs) on a free loopback port and prints its endpoint.
#   .ci/moto.sh start   -> prints http://127.0.0.1:PORT, writes .cache/moto.pid
#   .ci/moto.sh stop
# moto comes from PyPI into a venv under .cache/ on first use. Only SQS and SES are used
# from it: its DynamoDB loses updates under concurrent transactions (DynamoDB Local serves
# the tests' DynamoDB).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/moto-venv
pidfile=.cache/moto.pid
say() { echo "[moto] $*" >&2; }

install() {
  if [ -x "$venv/bin/moto_server" ]; then return; fi
  say "installing moto[server] into $venv (first run only)"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6'
}

start() {
  install
  stop >/dev/null 2>&1 || true
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >.cache/moto.log 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      say "ready on port $port (pid $(cat "$pidfile"))"
      echo "http://127.0.0.1:$port"
      return
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || { say "moto exited; its log:"; cat .cache/moto.log >&2; exit 1; }
    sleep 0.3
  done
  say "moto did not open port $port in 30 s"; exit 1
}

stop() {
  if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
