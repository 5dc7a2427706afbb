#!/usr/bin/env bash
# Screenshots of every kind of e-mail as a person sees it: starts the local server on the
# demo tenant, places the orders that send each kind (receipt, staff alert, low stock,
# high value, the monthly cap's 80 % and 100 % notices, an invoice's cover e-mail), takes
# each .eml's HTML part (and the invoice's attached PDF, as pdf pages) and
# renders it with headless Chromium (Debian `chromium`, installed if missing) at a desktop
# and a phone width. PNGs go to .cache/screenshots/ (never into the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/screenshots
mail=.cache/screenshot-mail
rm -rf "$out" "$mail" && mkdir -p "$out"
if ! command -v chromium >/dev/null; then
  echo "[screenshots] installing chromium (apt)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
    { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
cargo build -q --locked -p oms-local
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/debug/oms-local serve --port "$port" --mail-dir "$mail" >.cache/screenshot-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
api="http://127.0.0.1:$port/api/v1"
owner=$(target/debug/oms-local token --role OWNER --sub user-owner)
buyer=$(target/debug/oms-local token --role CUSTOMER --sub user-acme-buyer --customer-id 00000000-0000-4000-8000-000000000101)
json() { curl -sf -X "$1" "$api$2" -H "Authorization: Bearer $3" -H 'Content-Type: application/json' -d "$4"; }
# A dashboard URL (so order e-mails link to the order) and a small monthly cap.
json PATCH /settings "$owner" '{"monthly_order_limit": 5, "email": {"dashboard_url": "https://dashboard.example.com"}}' >/dev/null
# Receipt, staff alert and low stock: a storefront checkout that leaves BOLT-M8 low.
json POST /sales/orders "$buyer" '{"items":[{"sku":"WIDGET-001","quantity":2},{"sku":"BOLT-M8","quantity":1}],"notes":"Please deliver before noon."}' >/dev/null
# High value, with charges: an API order over the threshold; then its invoice, e-mailed.
big=$(json POST /sales/orders "$owner" '{"customer_id":"00000000-0000-4000-8000-000000000101","items":[{"sku":"PALLET-JACK","quantity":1,"unit_price":"24500.00"},{"sku":"GADGET-002","quantity":3}],"charges":[{"type":"shipping","name":"Freight","amount":"180.00"},{"type":"discount","name":"Volume discount","percentage":"5"},{"type":"surcharge","name":"Card fee","percentage":"1.5","basis":"running_total"}]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')
json POST "/sales/orders/$big/invoice/email" "$owner" '{"to":["accounts@acme.example"]}' >/dev/null
# The cap's 80 % and 100 % notices: customer orders up to the limit.
for _ in 1 2 3; do json POST /sales/orders "$buyer" '{"items":[{"sku":"GADGET-002","quantity":1}]}' >/dev/null; done
sleep 2
python3 - "$mail" "$out" <<'PY'
import email, glob, os, sys
from email import policy
mail, out = sys.argv[1], sys.argv[2]
seen = set()
for path in sorted(glob.glob(os.path.join(mail, "*.eml"))):
    msg = email.message_from_file(open(path), policy=policy.default)
    kind = os.path.basename(path).split("-")[1] if "-" in os.path.basename(path) else "mail"
    for k in ("receipt", "staff_alert", "low_stock", "high_value", "cap_warning", "cap_reached", "invoice"):
        if k in os.path.basename(path):
            kind = k
    if kind in seen:
        continue
    seen.add(kind)
    html = msg.get_body(preferencelist=("html",)).get_content()
    open(os.path.join(out, kind + ".html"), "w").write(html)
    for part in msg.iter_attachments():
        open(os.path.join(out, part.get_filename() or "attachment"), "wb").write(part.get_content())
    print(kind)
PY
kinds=$(ls "$out"/*.html | wc -l)
for f in "$out"/*.html; do
  name=$(basename "$f" .html)
  for size in 800,900 390,900; do
    w=${size%,*}
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot="$PWD/$out/$name-$w.png" \
      --window-size="$size" "file://$PWD/$f" >/dev/null 2>&1
  done
done
echo "[screenshots] $kinds kinds of e-mail, at 800 and 390 px wide: $(ls "$out"/*.png | wc -l) PNGs in $out/"
[ "$kinds" -ge 7 ] || { echo "[screenshots] expected 7 kinds of e-mail, got $kinds: $(ls "$mail")" >&2; exit 1; }
ls "$out"/invoice-*.pdf >/dev/null 2>&1 || { echo "[screenshots] the invoice e-mail had no PDF attached" >&2; exit 1; }
