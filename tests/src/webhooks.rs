//! Webhook deliveries for the tests, signed by someone else's code: Python's
//! `standardwebhooks` package for Standard Webhooks, Python's `hmac` for Shopify and
//! WooCommerce (`tests/python/sign_webhook.py`). `make test` and `make test-fast` point
//! `OMS_TEST_PYTHON` at a venv that has the package (`.ci/signer.sh`).

use std::io::Write;
use std::process::{Command, Stdio};

use oms_domain::integration::IntegrationKind;
use serde_json::{json, Value};

use crate::{Reply, TestApp};

/// The Python that signs, with the instruction to get one when it is missing.
pub fn python() -> String {
    match std::env::var("OMS_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => panic!(
            "the webhook tests sign with Python's standardwebhooks package: run `make test` or \
             `make test-fast` (they install it), or set OMS_TEST_PYTHON=$(.ci/signer.sh)"
        ),
    }
}

/// The headers a sender of `kind` puts on `body`: `id` is the delivery's id (Standard
/// Webhooks `webhook-id`, `X-Shopify-Webhook-Id`, `X-WC-Webhook-Delivery-ID`), `timestamp`
/// the Standard Webhooks timestamp.
pub fn sign(kind: IntegrationKind, secret: &str, body: &str, id: &str, timestamp: i64) -> Vec<(String, String)> {
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/sign_webhook.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Python signer");
    let req = json!({"kind": kind.as_str(), "secret": secret, "body": body, "id": id, "timestamp": timestamp});
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(req.to_string().as_bytes())
        .expect("write to the signer");
    let out = child.wait_with_output().expect("the signer ran");
    assert!(out.status.success(), "the Python signer failed");
    let headers: Value = serde_json::from_slice(&out.stdout).expect("the signer prints JSON");
    headers
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}

impl TestApp {
    /// `POST /api/v1/webhooks/{integration}/orders` with these headers and body, no token.
    pub async fn post_webhook(&self, integration: &str, mut headers: Vec<(String, String)>, body: &str) -> Reply {
        if !headers.iter().any(|(k, _)| k == "content-type") {
            headers.push(("content-type".into(), "application/json".into()));
        }
        self.raw(
            "POST",
            &format!("/api/v1/webhooks/{integration}/orders"),
            headers,
            body.as_bytes().to_vec(),
        )
        .await
    }
}
