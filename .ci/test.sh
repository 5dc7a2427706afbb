#!/usr/bin/env bash
# The one test command (`make test`, and CI through .ci/run). Fails loudly on the first
# problem; stops DynamoDB Local and the local server it started, even on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
started=$SECONDS
step() { printf '\n==> %s\n' "$*"; }
cleanup() {
  .ci/dynamodb-local.sh stop || true
  .ci/moto.sh stop || true
  if [ -n "${server_pid:-}" ]; then kill "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

step "formatting: cargo fmt --check"
cargo fmt --all -- --check

step "lints: cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "SAM template: cfn-lint and sam validate --lint"
.ci/lint-template.sh

step "starting Amazon DynamoDB Local, and moto's server for SQS and SES; the webhook tests' Python signer; poppler's pdftotext"
endpoint=$(.ci/dynamodb-local.sh start)
moto=$(.ci/moto.sh start)
signer=$(.ci/signer.sh)
pdftotext=$(.ci/poppler.sh)

step "tests: unit, store contract, API scenarios, concurrency, notifications, drift, sample events (memory + DynamoDB Local + moto)"
OMS_TEST_DYNAMODB_ENDPOINT=$endpoint OMS_TEST_MOTO_ENDPOINT=$moto OMS_TEST_PYTHON=$signer OMS_TEST_PDFTOTEXT=$pdftotext \
  cargo test --workspace --locked 2>&1 | tee .cache/test.log
test_status=${PIPESTATUS[0]}
if [ "$test_status" -ne 0 ]; then echo "FAIL: cargo test exited $test_status" >&2; exit "$test_status"; fi

step "smoke: the run command serves the demo tenant"
cargo build -q --locked -p oms-local
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rm -rf .cache/smoke-mail
target/debug/oms-local serve --port "$port" --mail-dir .cache/smoke-mail >.cache/smoke-server.log 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
buyer=$(target/debug/oms-local token --role CUSTOMER --sub user-acme-buyer --customer-id 00000000-0000-4000-8000-000000000101)
status=$(curl -s -o .cache/smoke-order.json -w '%{http_code}' "http://127.0.0.1:$port/api/v1/sales/orders" \
  -H "Authorization: Bearer $buyer" -H 'Content-Type: application/json' \
  -d '{"items":[{"sku":"WIDGET-001","quantity":2},{"sku":"BOLT-M8","quantity":1}]}')
if [ "$status" != 201 ] || ! grep -q '"unit_price":"89.99"' .cache/smoke-order.json; then
  echo "FAIL: storefront order on the local server answered $status: $(cat .cache/smoke-order.json)" >&2
  cat .cache/smoke-server.log >&2
  exit 1
fi
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/openapi.json")
[ "$status" = 200 ] || { echo "FAIL: /openapi.json answered $status" >&2; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/sales/orders" -H 'Content-Type: application/json' -d '{}')
[ "$status" = 401 ] || { echo "FAIL: an order without a token answered $status, not 401" >&2; exit 1; }
sleep 1
for kind in receipt staff_alert low_stock; do
  ls .cache/smoke-mail/*-"$kind"-*.eml >/dev/null 2>&1 || { echo "FAIL: no $kind e-mail within a second of the order" >&2; ls -la .cache/smoke-mail >&2 || true; exit 1; }
done
# The reads see the order: listed for its customer, found by search once the relay indexed it.
number=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["order_number"])' .cache/smoke-order.json)
curl -s "http://127.0.0.1:$port/api/v1/sales/orders?per_page=5" -H "Authorization: Bearer $buyer" >.cache/smoke-list.json
grep -q "\"$number\"" .cache/smoke-list.json || { echo "FAIL: the order is not in its customer's list: $(cat .cache/smoke-list.json)" >&2; exit 1; }
curl -s "http://127.0.0.1:$port/api/v1/sales/orders/search?q=acme" -H "Authorization: Bearer $buyer" >.cache/smoke-search.json
grep -q "\"$number\"" .cache/smoke-search.json || { echo "FAIL: search for acme does not find the order: $(cat .cache/smoke-search.json)" >&2; exit 1; }
# The signed webhook call the banner prints, pasted as a newcomer would: 202, then placed.
sed -n '/an ERP posts an order by webhook/,/deliveries -H/p' .cache/smoke-server.log | grep -v '^ *#' | grep -v '/deliveries -H' >.cache/smoke-webhook.sh
[ -s .cache/smoke-webhook.sh ] || { echo "FAIL: the banner prints no webhook call" >&2; cat .cache/smoke-server.log >&2; exit 1; }
bash .cache/smoke-webhook.sh >.cache/smoke-webhook.json
grep -q '"status":"received"' .cache/smoke-webhook.json || { echo "FAIL: the banner's webhook call answered $(cat .cache/smoke-webhook.json)" >&2; exit 1; }
owner=$(target/debug/oms-local token --role OWNER --sub user-owner)
sleep 1
curl -s "http://127.0.0.1:$port/api/v1/integrations/00000000-0000-4000-8000-000000000b01/deliveries" -H "Authorization: Bearer $owner" >.cache/smoke-deliveries.json
grep -q '"status":"placed"' .cache/smoke-deliveries.json || { echo "FAIL: the banner's webhook order was not placed: $(cat .cache/smoke-deliveries.json)" >&2; exit 1; }
# The banner's inventory and import calls, pasted as a newcomer would.
sed -n '/inventory health: active products/,/an ERP posts an order by webhook/p' .cache/smoke-server.log \
  | grep -v '^ *#' | grep -v 'an ERP posts' >.cache/smoke-catalog.sh
grep -q 'products/import' .cache/smoke-catalog.sh || { echo "FAIL: the banner prints no import call" >&2; exit 1; }
OWNER_TOKEN=$owner bash .cache/smoke-catalog.sh >.cache/smoke-catalog.json
grep -q '"healthy":' .cache/smoke-catalog.json || { echo "FAIL: the banner's health call answered $(cat .cache/smoke-catalog.json)" >&2; exit 1; }
grep -q '"dry_run":true,"rows":4,"create":3,"update":1' .cache/smoke-catalog.json || { echo "FAIL: the banner's import dry run: $(cat .cache/smoke-catalog.json)" >&2; exit 1; }
grep -q '"status":"completed"' .cache/smoke-catalog.json || { echo "FAIL: the banner's import did not complete: $(cat .cache/smoke-catalog.json)" >&2; exit 1; }
echo "local server: order 201 -> receipt, staff alert and low-stock .eml within 1 s; listed and found by search; openapi 200; no token 401; the printed signed webhook 202 -> placed; the printed health, dry-run and import calls answer"

kill "$server_pid" 2>/dev/null || true
server_pid=

step "load harness smoke: a few seconds of storefront checkouts through wrk on the embedded server and on DynamoDB Local; invariants only (make load / make load-dynamodb time it)"
.ci/wrk.sh
LOAD_BIN=target/debug/oms-local LOAD_SECONDS=3 LOAD_RATE=200 LOAD_CONNECTIONS=8 LOAD_SKUS=20 LOAD_BUYERS=10 \
  LOAD_HOT_STOCK=60 LOAD_DRAIN_SECONDS=120 python3 tests/load/load.py
DYNAMODB_ENDPOINT=$endpoint LOAD_STORE=dynamodb LOAD_BIN=target/debug/oms-local LOAD_SECONDS=3 LOAD_RATE=15 \
  LOAD_CONNECTIONS=8 LOAD_SKUS=20 LOAD_BUYERS=10 LOAD_HOT_STOCK=8 LOAD_DRAIN_SECONDS=180 python3 tests/load/load.py

step "conformance: schemathesis over every operation of /openapi.json (OWNER and CUSTOMER tokens)"
.ci/schemathesis.sh target/debug/oms-local

step "summary ($((SECONDS - started)) s)"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' .cache/test.log
