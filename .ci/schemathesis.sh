#!/usr/bin/env bash
# Property-based API tests: schemathesis (PyPI, pinned below) fuzzes every operation of the
# local server's /openapi.json and checks that no response is a 5xx and that every response,
# errors included, conforms to the document (status code, content type, headers, body schema),
# that schema-valid requests are accepted and schema-invalid ones refused, and that an
# operation without a token answers 401.
#
#   .ci/schemathesis.sh [SERVER_BINARY]      (default target/debug/oms-local; builds nothing)
#
# It starts the server on a free loopback port over the embedded store with the demo tenant,
# places a few orders so the `{id}` operations reach real orders, then runs schemathesis twice:
# with an OWNER token (every permission) over every operation, and with the demo CUSTOMER
# token over the operations a customer may call. Any failure in either run fails the script.
# schemathesis comes from PyPI into a venv under .cache/ on first use. Each run leaves its
# output, NDJSON and JUnit reports in .cache/schemathesis/{owner,customer}.*, beside the
# generated configuration and hooks and the server's log. Runs take about 30 s here.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-target/debug/oms-local}
venv=.cache/schemathesis-venv
version=4.32.5
work=.cache/schemathesis
# Repeatable in CI: the same seed, no example database carried between runs, bounded work.
seed=${ST_SEED:-20261130}
max_examples=${ST_MAX_EXAMPLES:-50}
say() { echo "[schemathesis] $*" >&2; }

[ -x "$bin" ] || { say "no server binary at $bin (build it: cargo build -p oms-local)"; exit 2; }

if [ ! -x "$venv/bin/st" ] || [ "$("$venv/bin/st" --version 2>/dev/null)" != "st, version $version" ]; then
  say "installing schemathesis $version into $venv (first run only)"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$version"
fi

rm -rf "$work" .cache/st-mail
mkdir -p "$work"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --port "$port" --mail-dir .cache/st-mail >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { say "the server exited; its log:"; cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
base=http://127.0.0.1:$port
curl -sf -o "$work/openapi.json" "$base/openapi.json" || { say "FAIL: $base/openapi.json did not answer"; exit 1; }

owner=$("$bin" token --role OWNER)
acme=00000000-0000-4000-8000-000000000101
globex=00000000-0000-4000-8000-000000000102
buyer=$("$bin" token --role CUSTOMER --sub user-acme-buyer --customer-id "$acme")

# A few orders for the `{id}` operations: an order and a draft for each demo customer
# (OWNER), one with a free sample line, and a storefront order (the buyer). Their ids feed the order-id dictionary.
place() { # token body -> order id
  local status
  status=$(curl -s -o "$work/placed.json" -w '%{http_code}' "$base/api/v1/sales/orders" \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d "$2")
  case "$status" in 200 | 201) ;; *) say "FAIL: placing a fixture order answered $status: $(cat "$work/placed.json")"; exit 1 ;; esac
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["id"])' "$work/placed.json"
}
orders=()
for c in "$acme" "$globex"; do
  orders+=("$(place "$owner" "{\"customer_id\":\"$c\",\"items\":[{\"sku\":\"WIDGET-001\",\"quantity\":1}]}")")
  orders+=("$(place "$owner" "{\"customer_id\":\"$c\",\"status\":\"draft\",\"items\":[{\"sku\":\"GADGET-002\",\"quantity\":2}]}")")
done
# ... and one with a free sample line (an explicit price of 0).
orders+=("$(place "$owner" "{\"customer_id\":\"$acme\",\"items\":[{\"sku\":\"WIDGET-001\",\"quantity\":1},{\"sku\":\"BOLT-M8\",\"quantity\":1,\"unit_price\":\"0\"}]}")")
buyer_orders=("$(place "$buyer" '{"items":[{"sku":"WIDGET-001","quantity":1}]}')")
orders+=("${buyer_orders[@]}")

toml_list() { local out="" v; for v in "$@"; do out+="${out:+, }\"$v\""; done; echo "[$out]"; }
products=$(toml_list 00000000-0000-4000-8000-00000000000{1,2,3,4,5,6})

# The configuration, written fresh each run (the values above are only known now).
cat >"$work/hooks.py" <<'PY'
"""Schemathesis hooks for .ci/schemathesis.sh.

Rules OpenAPI cannot state, applied to positive (schema-valid) cases only, so that
`positive_data_acceptance` tests what the document does promise:
- `cursor` is opaque and signed: only a value the same list issued is valid, so a generated
  one is always (rightly) 422. The cursor's own tests are in the Rust suite.
- a range's start may not be after its end (from_date/to_date, date_from/date_to,
  from/to, min_total/max_total): swapped into order.
- `search` cannot be combined with `sort_by`/`sort_direction`: the sort is dropped.
- the audit log's `entity_id` needs `entity`: dropped when `entity` is absent.
- a settings change may not switch `default_currency`: amounts elsewhere in the document
  allow two decimals, but a company in JPY (0) or BHD (3) takes other amounts, so one
  generated currency change would make later, valid-looking requests fail for a reason
  no single operation's schema can state. The currency change itself is in the Rust suite.
- an amount sent as a JSON number has at most two decimals (the demo company's currency,
  USD): a schema cannot say that of a binary floating-point number (`multipleOf: 0.01` is
  inexact), so a generated `2.5e-175` is rounded to cents (a positive one to at least 0.01).
  Amounts with too many decimals are refused by the Rust suite's tests.
- `q` and `search` are 1-8 words, a word being a run of Unicode letters or digits: no
  portable JSON Schema pattern says that (ECMA-262 `\\w` is ASCII-only, and schemathesis maps
  `\\p{L}` to Latin only), so a generated value with no word or more than 8 is replaced.
- a CSV import's body is a string to the document; whether it is a valid file (a header
  with `sku`, `name`, `price`, and rows that satisfy them) no JSON Schema can state, so a
  positive case sends a small valid file. Bad files (every kind) are in the Rust suite.
"""
from decimal import Decimal, InvalidOperation

import schemathesis


def _key(name, value):
    if name.endswith("total"):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return str(value)


def _words(value):
    out, word = set(), ""
    for ch in str(value):
        if ch.isalnum():
            word += ch.lower()
        elif word:
            out.add(word)
            word = ""
    if word:
        out.add(word)
    return out


def _cents(value):
    if isinstance(value, dict):
        return {k: _cents(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cents(v) for v in value]
    if isinstance(value, float) and not value.is_integer():
        cents = round(value, 2)
        return 0.01 if cents == 0 and value > 0 else cents
    return value


@schemathesis.hook
def map_case(ctx, case):
    return _normalize(case)


# Also right before each call: cases from the coverage and examples phases do not pass
# through map_case, and the rules hold for them too.
@schemathesis.hook
def before_call(ctx, case, **kwargs):
    _normalize(case)


def _normalize(case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if case.operation.path == "/api/v1/products/import":
        case.body = "sku,name,price,stock\r\nST-IMPORT-1,Fuzzed import,1.50,4\r\nWIDGET-001,Premium Widget,19.99,\r\n"
    if case.operation.path == "/api/v1/settings" and isinstance(case.body, dict):
        case.body = {k: v for k, v in case.body.items() if k != "default_currency"}
    if isinstance(case.body, (dict, list)):
        case.body = _cents(case.body)
    if not case.query:
        return case
    q = dict(case.query)
    q.pop("cursor", None)
    for lo, hi in (("from_date", "to_date"), ("date_from", "date_to"), ("from", "to"), ("min_total", "max_total")):
        if lo in q and hi in q:
            a, b = _key(lo, q[lo]), _key(hi, q[hi])
            if a is not None and b is not None and a > b:
                q[lo], q[hi] = q[hi], q[lo]
    for name in ("q", "search"):
        if name in q and not 1 <= len(_words(q[name])) <= 8:
            q[name] = "acme"
    if "search" in q:
        q.pop("sort_by", None)
        q.pop("sort_direction", None)
    if "entity_id" in q and "entity" not in q:
        q.pop("entity_id")
    case.query = q
    return case
PY

cat >"$work/schemathesis.toml" <<TOML
# Written by .ci/schemathesis.sh; see the comments there.
seed = $seed
hooks = "$work/hooks.py"
color = false
# Stop a hung request rather than the whole run.
request-timeout = 10

[generation]
max-examples = $max_examples
# No example database: each run starts from the seed alone.
database = "none"

[cache]
enabled = false

[reports]
directory = "$work"

[checks.positive_data_acceptance]
# Schema-valid requests may still be refused for the state they meet, which no schema can
# know: a missing or foreign id (404), a conflict such as short stock, a taken SKU or a
# transition the order's status does not allow (409), an If-Match that names another version
# of the order (412). Everything else must be accepted. 5xx is not_a_server_error's to report.
expected-statuses = ["2xx", "401", "403", "404", "409", "412", "5xx"]

# The order and catalog writes also have rules between fields and on the caller's role and
# the order's status that JSON Schema cannot express (exactly one of product_id or sku per
# line; which fields a storefront order, or an order in a given status, may set; amounts
# whose sum is bounded; a currency's decimal places; a child order's lines, which must be
# lines the parent has, each at most its quantity; a payment at most what is owed), each
# answered 422 naming the field.
[[operations]]
include-operation-id = ["create_order", "update_order", "change_order_status", "create_product", "update_product", "create_customer", "set_customer_price", "create_child_order", "record_payment"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "412", "422", "5xx"]

# Real ids for most of the generated path ids, so the {id} operations reach real records
# (the rest stay random UUIDs and must answer 404).
[dictionaries.orders]
values = $(toml_list "${orders[@]}")
[dictionaries.products]
values = $products
[dictionaries.customers]
values = $(toml_list "$acme" "$globex")

[[operations]]
include-path-regex = "^/api/v1/sales/orders/\\\\{id\\\\}"
parameters = { "path.id" = { dictionary = "orders", probability = 0.7 } }
[[operations]]
include-path-regex = "^/api/v1/products/\\\\{id\\\\}"
parameters = { "path.id" = { dictionary = "products", probability = 0.7 } }
[[operations]]
include-path-regex = "^/api/v1/customers/\\\\{id\\\\}"
parameters = { "path.id" = { dictionary = "customers", probability = 0.7 }, "path.product_id" = { dictionary = "products", probability = 0.7 } }
TOML

# Checks: all of them, none excluded. For the record, three of them find nothing to test
# here and pass vacuously: use_after_free and ensure_resource_availability follow DELETE
# operations (the API has none), and object_level_authorization needs a second user's
# credentials in a WFC auth file (the CUSTOMER run covers a customer's scope instead).
# unsupported_method sends TRACE etc. to every path and wants 405 with an `Allow` header.
checks=(--checks all)

run() { # name token [filters...] -> exit status of st
  local name=$1 token=$2
  shift 2
  say "run $name: $base/openapi.json, $max_examples examples per operation, seed $seed"
  set +e
  "$venv/bin/st" --config-file "$work/schemathesis.toml" run "$base/openapi.json" --url "$base" \
    -H "Authorization: Bearer $token" "${checks[@]}" --max-examples "$max_examples" --seed "$seed" \
    --report ndjson,junit --report-ndjson-path "$work/$name.ndjson" --report-junit-path "$work/$name.xml" \
    "$@" 2>&1 | tee "$work/$name.log"
  local status=${PIPESTATUS[0]}
  set -e
  return "$status"
}

started=$SECONDS
owner_status=0
run owner "$owner" || owner_status=$?
# What a customer may call: orders (create, read, list, search), products (read), its own customer.
buyer_status=0
run customer "$buyer" \
  --include-operation-id create_order --include-operation-id get_order \
  --include-operation-id list_orders --include-operation-id search_orders \
  --include-operation-id get_product --include-operation-id list_products \
  --include-operation-id get_customer || buyer_status=$?

# One line: operations and test cases per run, from schemathesis's own summary.
summary=$(python3 - "$work" <<'PY'
import re, sys
parts, ops, cases = [], 0, 0
for name in ("owner", "customer"):
    try:
        text = open(f"{sys.argv[1]}/{name}.log", encoding="utf-8").read()
    except OSError:
        parts.append(f"{name}: no output")
        continue
    tested = re.search(r"^\s*Tested: (\d+)", text, re.M)
    generated = re.search(r"^\s*(\d+) generated", text, re.M)
    last = text.strip().splitlines()[-1].strip("= ") if text.strip() else "no result"
    o, c = (int(tested.group(1)) if tested else 0), (int(generated.group(1)) if generated else 0)
    ops, cases = ops + o, cases + c
    parts.append(f"{name}: {o} operations x {c} test cases ({last})")
print(f"schemathesis: {ops} operations, {cases} test cases in 2 runs; " + "; ".join(parts))
PY
)
say "$summary"
# A 5xx is logged by the server with its cause: show those with the failures.
if grep -q 'request failed' "$work/server.log"; then
  say "the server logged these failures:"
  grep 'request failed' "$work/server.log" | tail -20 >&2
fi
if [ "$owner_status" -ne 0 ] || [ "$buyer_status" -ne 0 ]; then
  say "FAIL: schemathesis found failures (owner run exit $owner_status, customer run exit $buyer_status) in $((SECONDS - started)) s; reports in $work/"
  exit 1
fi
say "OK in $((SECONDS - started)) s"
