#!/usr/bin/env bash
# `make coldstart`: each function (or FUNCTIONS="a b") built in release for this machine
# (the arm64 bootstraps of `make lambdas` do not run on x86_64), then spawned 10 times
# against a local Lambda Runtime API (tests/lambda/coldstart.py) over DynamoDB Local:
# the binary's size, spawn -> first `GET /next` (init) and spawn -> first answer to its
# sample event, medians. A release link takes about 2 minutes per function here.
set -euo pipefail
cd "$(dirname "$0")/.."
fns=${FUNCTIONS:-$(ls functions)}
args=()
for f in $fns; do args+=(-p "$f"); done
cargo build --release --locked -p oms-local "${args[@]}"
ep=$(.ci/dynamodb-local.sh start)
trap '.ci/dynamodb-local.sh stop; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null || true' EXIT
# The table the functions read (the local server creates it, with the demo tenant).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/oms-local serve --port "$port" --dynamodb-endpoint "$ep" --table oms-coldstart --mail-dir .cache/coldstart-mail >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
kill "$pid"; pid=
# shellcheck disable=SC2086
DYNAMODB_ENDPOINT=$ep TABLE_NAME=oms-coldstart python3 tests/lambda/coldstart.py target/release $fns
