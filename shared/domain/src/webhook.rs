//! Webhook signatures (SPEC §3, §13): who signed a delivery, checked over the raw body
//! exactly as received, in constant time.
//!
//! - **Standard Webhooks 1.0** (`standard`): `webhook-id`, `webhook-timestamp` (within five
//!   minutes of now) and `webhook-signature`, a space-separated list of `v1,<base64>`;
//!   the signed content is `{id}.{timestamp}.{body}`, HMAC-SHA256 keyed with the base64
//!   part of the `whsec_` secret.
//! - **Shopify** (`shopify`): `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the body;
//!   `X-Shopify-Webhook-Id` identifies the delivery.
//! - **WooCommerce** (`woocommerce`): `X-WC-Webhook-Signature`, base64 HMAC-SHA256 of the
//!   body. Its set-up ping (form body `webhook_id=N`, unsigned) is recognised and answered.
//!
//! During a rotation an integration has two secrets; a signature by either is accepted.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::integration::{IntegrationKind, Secret};

/// How far a Standard Webhooks timestamp may be from now, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// The prefix of a Standard Webhooks secret.
pub const STANDARD_PREFIX: &str = "whsec_";

/// What a verified request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// A delivery, with the platform's id for it when it has a stable one (Standard
    /// Webhooks' `webhook-id`, Shopify's `X-Shopify-Webhook-Id`).
    Delivery { webhook_id: Option<String> },
    /// WooCommerce's unsigned set-up ping: answered 200, nothing stored.
    Ping,
}

/// Why a request is not accepted as signed by the integration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the signature does not match the body and the integration's secret")]
    BadSignature,
    #[error("the webhook timestamp is more than five minutes from now")]
    StaleTimestamp,
    #[error("the {0} header is malformed")]
    Malformed(&'static str),
}

/// Checks the request's signature for an integration of `kind` with these secrets (the
/// ones whose rotation window has not closed at `now`). `header` looks a header up by its
/// lower-case name.
pub fn verify(
    kind: IntegrationKind,
    secrets: &[Secret],
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Verified, Refusal> {
    let live: Vec<&Secret> = secrets.iter().filter(|s| s.valid_at(now)).collect();
    match kind {
        IntegrationKind::Standard => standard(&live, header, body, now),
        IntegrationKind::Shopify => {
            let signature = header("x-shopify-hmac-sha256").ok_or(Refusal::MissingHeader("X-Shopify-Hmac-Sha256"))?;
            body_hmac(&live, &signature, body)?;
            Ok(Verified::Delivery {
                webhook_id: header("x-shopify-webhook-id").filter(|s| !s.is_empty()),
            })
        }
        IntegrationKind::Woocommerce => match header("x-wc-webhook-signature") {
            Some(signature) => {
                body_hmac(&live, &signature, body)?;
                Ok(Verified::Delivery { webhook_id: None })
            }
            None if is_woocommerce_ping(body) => Ok(Verified::Ping),
            None => Err(Refusal::MissingHeader("X-WC-Webhook-Signature")),
        },
    }
}

fn standard(
    secrets: &[&Secret],
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Verified, Refusal> {
    let id = header("webhook-id").ok_or(Refusal::MissingHeader("webhook-id"))?;
    let ts = header("webhook-timestamp").ok_or(Refusal::MissingHeader("webhook-timestamp"))?;
    let signatures = header("webhook-signature").ok_or(Refusal::MissingHeader("webhook-signature"))?;
    let at: i64 = ts.trim().parse().map_err(|_| Refusal::Malformed("webhook-timestamp"))?;
    if (now.timestamp() - at).abs() > TOLERANCE_SECS {
        return Err(Refusal::StaleTimestamp);
    }
    let mut content = Vec::with_capacity(id.len() + ts.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(ts.trim().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    for secret in secrets {
        let Some(key) = standard_key(&secret.value) else {
            continue;
        };
        for candidate in signatures.split_whitespace() {
            let Some(sig) = candidate.strip_prefix("v1,").and_then(|b| STANDARD.decode(b).ok()) else {
                continue;
            };
            if verify_mac(&key, &content, &sig) {
                return Ok(Verified::Delivery { webhook_id: Some(id) });
            }
        }
    }
    Err(Refusal::BadSignature)
}

/// The HMAC key of a `whsec_` secret (its base64, padded or not, as the reference
/// libraries accept it).
fn standard_key(secret: &str) -> Option<Vec<u8>> {
    let b64 = secret.strip_prefix(STANDARD_PREFIX).unwrap_or(secret);
    STANDARD_NO_PAD
        .decode(b64.trim_end_matches('='))
        .ok()
        .filter(|k| !k.is_empty())
}

fn body_hmac(secrets: &[&Secret], signature: &str, body: &[u8]) -> Result<(), Refusal> {
    let sig = STANDARD.decode(signature.trim()).map_err(|_| Refusal::BadSignature)?;
    if secrets.iter().any(|s| verify_mac(s.value.as_bytes(), body, &sig)) {
        Ok(())
    } else {
        Err(Refusal::BadSignature)
    }
}

/// Constant-time: `Mac::verify_slice` compares without an early exit.
fn verify_mac(key: &[u8], content: &[u8], signature: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(content);
    mac.verify_slice(signature).is_ok()
}

/// WooCommerce's set-up ping: `webhook_id=<digits>` as a form body, nothing else.
pub fn is_woocommerce_ping(body: &[u8]) -> bool {
    std::str::from_utf8(body)
        .ok()
        .and_then(|b| b.trim().strip_prefix("webhook_id="))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()))
}

/// A Standard Webhooks signature of `body`, as a sender computes it (`v1,<base64>`): for
/// the local `sign-webhook` command and for tests.
pub fn sign_standard(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = standard_key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// A Shopify or WooCommerce signature of `body` (base64 HMAC-SHA256 with the secret's bytes).
pub fn sign_body(secret: &str, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(body);
    Some(STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap_or_default()
    }

    /// The test vector the Standard Webhooks reference libraries publish and share
    /// (standard-webhooks/libraries, and Svix's before them).
    #[test]
    fn standard_webhooks_reference_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let (id, ts) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330);
        let body = br#"{"test": 2432232314}"#;
        let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(sign_standard(secret, id, ts, body).as_deref(), Some(expected));
        let h = headers(&[
            ("webhook-id", id),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", expected),
        ]);
        assert!(verify(IntegrationKind::Standard, &[Secret::current(secret)], &h, body, at(ts)).is_ok());
        // The same secret without its base64 padding is the same key.
        let unpadded = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        assert_eq!(standard_key(unpadded), standard_key(&format!("{unpadded}==")));
    }

    /// A second published vector, with a space-separated signature list (rotation).
    #[test]
    fn standard_webhooks_test_vector() {
        let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
        let (id, ts) = ("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1_649_367_553);
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        let expected = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
        assert_eq!(sign_standard(secret, id, ts, body).as_deref(), Some(expected));
        let secrets = [Secret::current(secret)];
        let h = headers(&[
            ("webhook-id", id),
            ("webhook-timestamp", "1649367553"),
            ("webhook-signature", &format!("v1,bm90IGl0 {expected}")),
        ]);
        assert_eq!(
            verify(IntegrationKind::Standard, &secrets, &h, body, at(ts + 10)),
            Ok(Verified::Delivery {
                webhook_id: Some(id.to_owned())
            })
        );
        // Five minutes and one second late, or a changed body: refused.
        assert_eq!(
            verify(IntegrationKind::Standard, &secrets, &h, body, at(ts + 301)),
            Err(Refusal::StaleTimestamp)
        );
        assert_eq!(
            verify(IntegrationKind::Standard, &secrets, &h, b"{}", at(ts)),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn an_expired_secret_no_longer_verifies() {
        let body = b"{}";
        let old = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let sig = sign_standard(old, "m1", 1_000, body).unwrap_or_default();
        let h = headers(&[
            ("webhook-id", "m1"),
            ("webhook-timestamp", "1000"),
            ("webhook-signature", &sig),
        ]);
        let rotated = [
            Secret::current("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"),
            Secret {
                value: old.to_owned(),
                expires_at: Some(at(1_100)),
            },
        ];
        assert!(verify(IntegrationKind::Standard, &rotated, &h, body, at(1_050)).is_ok());
        // The old secret's window closed (the timestamp check is separate).
        let h = headers(&[
            ("webhook-id", "m1"),
            ("webhook-timestamp", "1200"),
            (
                "webhook-signature",
                &sign_standard(old, "m1", 1_200, body).unwrap_or_default(),
            ),
        ]);
        assert_eq!(
            verify(IntegrationKind::Standard, &rotated, &h, body, at(1_200)),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn shopify_and_woocommerce_sign_the_body() {
        let secret = "a-shared-secret-of-the-platform";
        let body = br#"{"id":820982911946154508}"#;
        let sig = sign_body(secret, body).unwrap_or_default();
        let secrets = [Secret::current(secret)];
        let shop = headers(&[("x-shopify-hmac-sha256", &sig), ("x-shopify-webhook-id", "b54557e4")]);
        assert_eq!(
            verify(IntegrationKind::Shopify, &secrets, &shop, body, Utc::now()),
            Ok(Verified::Delivery {
                webhook_id: Some("b54557e4".into())
            })
        );
        assert!(verify(IntegrationKind::Shopify, &secrets, &shop, b"tampered", Utc::now()).is_err());
        let woo = headers(&[("x-wc-webhook-signature", &sig)]);
        assert_eq!(
            verify(IntegrationKind::Woocommerce, &secrets, &woo, body, Utc::now()),
            Ok(Verified::Delivery { webhook_id: None })
        );
        let none = headers(&[]);
        assert_eq!(
            verify(
                IntegrationKind::Woocommerce,
                &secrets,
                &none,
                b"webhook_id=42",
                Utc::now()
            ),
            Ok(Verified::Ping)
        );
        assert!(verify(IntegrationKind::Woocommerce, &secrets, &none, body, Utc::now()).is_err());
    }
}
