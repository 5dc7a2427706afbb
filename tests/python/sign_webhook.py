"""Signs webhook deliveries for the Rust tests with someone else's code.

Standard Webhooks with the reference `standardwebhooks` package (PyPI), Shopify and
WooCommerce with Python's own `hmac`, so the service's verification is checked against an
implementation it does not share code with.

stdin:  {"kind": "standard"|"shopify"|"woocommerce", "secret": "...", "body": "...",
         "id": "msg_...", "timestamp": 1700000000}
stdout: {"header-name": "value", ...}
"""
import base64
import hashlib
import hmac
import json
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook


def sign(req):
    kind, secret, body = req["kind"], req["secret"], req["body"]
    if kind == "standard":
        at = datetime.fromtimestamp(req["timestamp"], tz=timezone.utc)
        return {
            "webhook-id": req["id"],
            "webhook-timestamp": str(req["timestamp"]),
            "webhook-signature": Webhook(secret).sign(req["id"], at, body),
        }
    digest = base64.b64encode(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()).decode()
    if kind == "shopify":
        return {
            "x-shopify-hmac-sha256": digest,
            "x-shopify-webhook-id": req["id"],
            "x-shopify-topic": "orders/create",
            "x-shopify-shop-domain": "test-shop.myshopify.com",
        }
    if kind == "woocommerce":
        return {
            "x-wc-webhook-signature": digest,
            "x-wc-webhook-topic": "order.created",
            "x-wc-webhook-source": "https://shop.example/",
            "x-wc-webhook-delivery-id": req["id"],
        }
    raise SystemExit(f"unknown kind {kind}")


if __name__ == "__main__":
    json.dump(sign(json.load(sys.stdin)), sys.stdout)
