#!/usr/bin/env python3
"""`make load`: storefront checkouts against the local server, then the invariants.

Starts `oms-local serve` (embedded store, or DynamoDB Local with LOAD_STORE=dynamodb),
sets up a fresh catalog (LOAD_SKUS mixed products with plenty of stock, plus one hot SKU
with LOAD_HOT_STOCK units) and LOAD_BUYERS customers with their own CUSTOMER tokens, and
drives it with wrk (tests/load/order.lua) for LOAD_SECONDS over LOAD_CONNECTIONS
connections (LOAD_RATE orders/s in total: 2,000 on the embedded store and 100 on DynamoDB
Local by default; 0 for as fast as it answers). It prints
orders/s, p50/p99/p999 and the count per status; once the relay and workers have drained,
it checks:

- initial stock = remaining + units sold, for every product of the run (no oversell, no
  lost sale), and the hot SKU sold out only if every unit was sold;
- orders stored = 201 answers;
- exactly one receipt e-mail per order, and none for anything else;

and prints the e-mail lag (order created -> .eml written) at p50 and p99. On DynamoDB it
also prints the write-heat report the server's SDK interceptor kept (see
`shared/adapters/src/dynamo/heat.rs`). Exits non-zero if an invariant fails.
LOAD_SMOKE=1 (CI) prints the same but is meant for a few seconds at a low rate.
"""

import concurrent.futures
import json
import math
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[2]


def env(name, default):
    value = os.environ.get(name, "")
    return type(default)(value) if value else default


STORE = env("LOAD_STORE", "memory")
SECONDS = env("LOAD_SECONDS", 10)
CONNECTIONS = env("LOAD_CONNECTIONS", 16)
THREADS = env("LOAD_THREADS", 2)
# Offered orders/s across all connections; 0 = as fast as the server answers (closed loop,
# which measures queueing more than service time).
RATE = env("LOAD_RATE", 2000.0 if STORE == "memory" else 100.0)
BUYERS = env("LOAD_BUYERS", 50)
SKUS = env("LOAD_SKUS", 100)
HOT_STOCK = env("LOAD_HOT_STOCK", 2000)
HOT_SHARE = env("LOAD_HOT_SHARE", 0.25)
HOT_SHARDS = env("LOAD_HOT_SHARDS", 8)
MAX_QUANTITY = env("LOAD_MAX_QUANTITY", 3)
DRAIN_SECONDS = env("LOAD_DRAIN_SECONDS", 300)
MIXED_STOCK = 10_000_000
failures = []


def say(msg):
    print(msg, flush=True)


def check(ok, msg):
    say(("  ok    " if ok else "  FAIL  ") + msg)
    if not ok:
        failures.append(msg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def call(self, method, path, body=None, token=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + (token or self.token))
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def ok(self, method, path, body=None):
        status, out = self.call(method, path, body)
        if status >= 300:
            raise SystemExit(f"{method} {path} answered {status}: {out}")
        return out


def binary():
    if os.environ.get("LOAD_BIN"):
        return os.environ["LOAD_BIN"]
    say("building the release server (cargo build --release -p oms-local)")
    subprocess.run(["cargo", "build", "-q", "--release", "--locked", "-p", "oms-local"], cwd=ROOT, check=True)
    return str(ROOT / "target/release/oms-local")


def token(bin_, role, customer=None):
    cmd = [bin_, "token", "--role", role]
    if customer:
        # Each buyer its own user, as on a real storefront (the audit log files by user).
        cmd += ["--customer-id", customer, "--sub", f"buyer-{customer}"]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    bin_ = binary()
    work = pathlib.Path(tempfile.mkdtemp(prefix="oms-load-"))
    mail = work / "mail"
    run = uuid.uuid4().hex[:8]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"), AWS_REGION="us-east-1")
    args = [bin_, "serve", "--no-seed", "--port", str(port), "--mail-dir", str(mail)]
    heat_file = work / "heat.json"
    if STORE == "dynamodb":
        endpoint = os.environ.get("DYNAMODB_ENDPOINT") or sys.exit("LOAD_STORE=dynamodb needs DYNAMODB_ENDPOINT")
        args += ["--dynamodb-endpoint", endpoint, "--table", f"load-{run}"]
        server_env["OMS_HEAT_REPORT"] = str(heat_file)
    elif STORE != "memory":
        sys.exit("LOAD_STORE is memory or dynamodb")
    server = subprocess.Popen(args, env=server_env, stdout=subprocess.DEVNULL)
    try:
        return drive(bin_, base, server, mail, run, work, heat_file)
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


def wait_up(base, server):
    for _ in range(600):
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}")
        try:
            urllib.request.urlopen(base + "/openapi.json", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("the server did not start in 60 s")


def drive(bin_, base, server, mail, run, work, heat_file):
    wait_up(base, server)
    api = Api(base, token(bin_, "OWNER"))
    # A cap that is never reached, so every customer order moves the monthly counter (the
    # heaviest path) without being refused by it.
    api.ok("PATCH", "/api/v1/settings", {"monthly_order_limit": 1_000_000})
    say(f"setting up {SKUS} products, 1 hot SKU ({HOT_STOCK} units on {HOT_SHARDS} stock shards) and {BUYERS} buyers on {STORE}")
    initial = {}
    mixed = []
    for i in range(SKUS):
        p = api.ok("POST", "/api/v1/products", {
            "sku": f"LOAD-{run}-{i:03}", "name": f"Load product {i}", "category": "Load",
            "price": f"{5 + i % 40}.{i % 100:02}", "stock": MIXED_STOCK,
        })["data"]
        mixed.append(p["id"])
        initial[p["id"]] = MIXED_STOCK
    hot = api.ok("POST", "/api/v1/products", {
        "sku": f"LOAD-{run}-HOT", "name": "Flash sale", "category": "Load", "price": "9.99", "stock": HOT_STOCK,
        "stock_shards": HOT_SHARDS,
    })["data"]["id"]
    initial[hot] = HOT_STOCK
    buyers = []
    for i in range(BUYERS):
        c = api.ok("POST", "/api/v1/customers", {
            "company_name": f"Load Buyer {run} {i}", "email": f"buyer{i}-{run}@load.example",
        })["data"]
        buyers.append(c["id"])
    tokens = [token(bin_, "CUSTOMER", b) for b in buyers]

    # Each wrk thread sends its share of the rate: one request every interval_ms.
    interval_ms = THREADS * 1000 / RATE if RATE > 0 else 0
    config = work / "config.lua"
    lua = lambda xs: "{" + ",".join(f'"{x}"' for x in xs) + "}"
    # Start on a whole second, so the heat report's per-second window holds the load and
    # none of the setup.
    time.sleep(math.ceil(time.time()) - time.time() + 0.001)
    started = time.time()
    stop_at = int(started) + SECONDS
    config.write_text(
        f'return {{ run = "{run}", seed = {int(time.time())}, hot = "{hot}", hot_share = {HOT_SHARE},\n'
        f"  max_quantity = {MAX_QUANTITY}, interval_ms = {interval_ms}, stop_at = {stop_at},\n"
        f"  mixed = {lua(mixed)},\n  tokens = {lua(tokens)} }}\n"
    )
    rate = f"{RATE:g} orders/s" if RATE > 0 else "as fast as it answers"
    say(f"wrk: {THREADS} threads, {CONNECTIONS} connections, {SECONDS} s, {rate}")
    out = subprocess.run(
        ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{stop_at - int(started) + 3}s", "--timeout", "30s",
         "-s", str(ROOT / "tests/load/order.lua"), base],
        env=dict(os.environ, LOAD_CONFIG=str(config)), capture_output=True, text=True,
    )
    ended = min(time.time(), stop_at)
    line = next((l for l in out.stdout.splitlines() if l.startswith("LOAD-RESULT ")), None)
    if out.returncode != 0 or line is None:
        sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    r = json.loads(line[len("LOAD-RESULT "):])
    statuses = {int(k): v for k, v in r["statuses"].items()}
    created = statuses.get(201, 0)
    # Requests were sent from `started` until `stop_at` (wrk then waits for the last answers).
    secs = ended - started
    say(f"\norders: {created} placed in {secs:.1f} s = {created / secs:,.0f} orders/s "
        f"({r['requests'] / secs:,.0f} requests/s)")
    say(f"latency: p50 {r['p50_us'] / 1000:.1f} ms, p99 {r['p99_us'] / 1000:.1f} ms, "
        f"p999 {r['p999_us'] / 1000:.1f} ms, max {r['max_us'] / 1000:.1f} ms")
    say("statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())))
    errors = {k: v for k, v in r["errors"].items() if v}
    check(not errors, f"no connection errors or timeouts ({errors or 'none'})")
    check(set(statuses) <= {201, 409}, "every answer is 201 (placed) or 409 (short stock)")

    # Drain: every order's receipt written (or the drain time is up).
    say(f"\nwaiting for the workers to drain (up to {DRAIN_SECONDS} s)")
    drain_started = time.time()
    receipts = {}
    last = -1
    while True:
        receipts = receipt_files(mail)
        if len(receipts) >= created:
            # A little longer, so a second receipt of one order would be seen.
            time.sleep(1)
            receipts = receipt_files(mail)
            break
        if time.time() - drain_started > DRAIN_SECONDS:
            break
        if len(receipts) != last:
            last = len(receipts)
        time.sleep(0.5)
    drained_at = time.time()
    drained_in = drained_at - drain_started
    say(f"drained in {drained_in:.1f} s after the load ended ({sum(len(v) for v in receipts.values())} receipts)")

    say("\nchecking the invariants")
    orders = list_orders(api, set(buyers))
    check(len(orders) == created, f"orders stored ({len(orders)}) = 201 answers ({created})")
    sold = {p: 0 for p in initial}
    # The list holds summaries: each order's lines are read whole, 16 at a time.
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        full = list(pool.map(lambda o: api.ok("GET", f"/api/v1/sales/orders/{o['id']}")["data"], orders))
    for o in full:
        for item in o["items"]:
            if item["product_id"] in sold:
                sold[item["product_id"]] += item["quantity"]
    bad = []
    for p, units in initial.items():
        stock = api.ok("GET", f"/api/v1/products/{p}")["data"]["stock"]
        if units != stock + sold[p]:
            bad.append((p, units, stock, sold[p]))
    check(not bad, f"initial stock = remaining + sold for all {len(initial)} products {bad[:3] or ''}")
    hot_left = api.ok("GET", f"/api/v1/products/{hot}")["data"]["stock"]
    say(f"        hot SKU: {sold[hot]} of {HOT_STOCK} sold, {hot_left} left"
        f"{' (sold out)' if hot_left == 0 else ''}, {statuses.get(409, 0)} refused")
    check(hot_left == 0 or statuses.get(409, 0) == 0,
          "orders for the hot SKU were refused only once it was sold out")
    ids = {o["id"] for o in orders}
    dup = [k for k, v in receipts.items() if len(v) > 1]
    stray = [k for k in receipts if k not in ids]
    missing = [k for k in ids if k not in receipts]
    check(not dup and not stray and not missing,
          f"exactly one receipt per order (missing {len(missing)}, duplicated {len(dup)}, stray {len(stray)})")
    lags = []
    for o in orders:
        files = receipts.get(o["id"])
        if files:
            placed = parse_time(o["created_at"])
            lags.append(files[0] - placed)
    if lags:
        say(f"e-mail lag (order created -> receipt written): p50 {percentile(lags, 50):.2f} s, "
            f"p99 {percentile(lags, 99):.2f} s, max {max(lags):.2f} s")

    if STORE == "dynamodb":
        server.send_signal(signal.SIGINT)
        server.wait(60)
        heat_report(heat_file, started, ended, created, drained_at)

    if failures:
        say(f"\nLOAD FAILED: {len(failures)} invariant(s) broken")
        return 1
    say("\nload: every invariant held")
    return 0


RECEIPT = re.compile(r"^(\d{8}T\d{6}\.\d{3})-receipt-([0-9a-f-]{36})_receipt\.eml$")


def receipt_files(mail):
    """Receipt e-mails by order id: the times they were written (from the file name, UTC)."""
    out = {}
    if not mail.exists():
        return out
    for f in os.listdir(mail):
        m = RECEIPT.match(f)
        if m:
            t = time.mktime(time.strptime(m.group(1)[:15], "%Y%m%dT%H%M%S")) - time.timezone
            out.setdefault(m.group(2), []).append(t + float("0." + m.group(1)[16:]))
    return out


def parse_time(s):
    """RFC 3339 UTC (`2026-11-30T18:19:32.123456Z`) to epoch seconds."""
    whole, _, frac = s.rstrip("Z").partition(".")
    t = time.mktime(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) - time.timezone
    return t + (float("0." + frac) if frac else 0.0)


def list_orders(api, buyers):
    orders, path = [], "/api/v1/sales/orders?per_page=100"
    while path:
        page = api.ok("GET", path)
        orders += [o for o in page["data"] if (o.get("customer") or {}).get("id") in buyers]
        nxt = (page.get("links") or {}).get("next")
        path = nxt[nxt.index("/api/"):] if nxt else None
    return orders


def heat_report(path, started, ended, created, drained_at):
    """The server's write tally (per partition key and second; per item and second, in
    transactions), over the load's seconds, projected to 1,000 orders/s."""
    if not path.exists():
        check(False, "the server wrote its heat report")
        return
    heat = json.loads(path.read_text())
    lo, hi = int(started), int(ended)
    per_order = 1000.0 / max(created, 1)

    def window(series):
        xs = [v for s, v in series.items() if lo <= int(s) <= hi]
        return sum(xs), max(xs, default=0)

    def short(key):
        return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", key)

    rows = []
    for p in heat["partitions"]:
        total, peak = window(p["wcu"])
        if total:
            rows.append((total * per_order, peak, p["index"], short(p["pk"])))
    rows.sort(reverse=True)
    say(f"\nwrite heat: {created} orders in {ended - started:.0f} s; WCU per partition key, "
        f"projected to 1,000 orders/s (AWS's per-partition ceiling: 1,000 WCU/s)")
    say(f"  {'at 1,000/s':>10}  {'peak/s here':>11}  index      partition key")
    for proj, peak, index, pk in rows[:12]:
        flag = "  OVER" if proj > 1000 else ""
        say(f"  {proj:>10,.0f}  {peak:>11,.0f}  {index:<10} {pk}{flag}")
    items = []
    for i in heat["items"]:
        total, peak = window(i["tx"])
        if total:
            items.append((total * per_order, peak, short(i["pk"]), short(i["sk"])))
    items.sort(reverse=True)
    say("\n  items written by the most transactions, projected to 1,000 orders/s (about 300/s is the most one item takes)")
    say(f"  {'tx/s at 1,000/s':>15}  {'peak/s here':>11}  item")
    for proj, peak, pk, sk in items[:8]:
        flag = "  OVER" if proj > 300 else ""
        say(f"  {proj:>15,.0f}  {peak:>11,.0f}  {pk} / {sk}{flag}")
    # Requests to the table per order placed, from the load's start until the workers
    # drained (not the harness's own reads for the checks that follow).
    reqs = {op: sum(v for sec, v in series.items() if lo <= int(sec) <= int(drained_at))
            for op, series in heat.get("requests", {}).items()}
    total = sum(reqs.values())
    say(f"\n  DynamoDB requests per order (placement, relay and workers, until drained): {total / max(created, 1):.1f} ("
        + ", ".join(f"{op} {n / max(created, 1):.1f}" for op, n in sorted(reqs.items(), key=lambda x: -x[1])) + ")")
    hottest = rows[0][0] if rows else 0
    busiest = items[0][0] if items else 0
    say(f"\n  hottest partition at 1,000 orders/s: {hottest:,.0f} WCU/s; busiest item: {busiest:,.0f} tx/s")


if __name__ == "__main__":
    sys.exit(main())
