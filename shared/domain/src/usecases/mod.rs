//! Use cases: one function per operation, each taking the caller, a parsed command and the
//! ports. Handlers in `oms-api` call exactly one of these.

pub mod audit_log;
pub mod batch_reads;
pub mod catalog;
pub mod channel_fields;
pub mod child_orders;
pub mod customers;
pub mod high_value;
pub mod import;
pub mod inventory;
pub mod invoices;
pub mod jobs;
pub mod lifecycle;
mod lines;
pub mod notifications;
pub mod order_reads;
pub mod order_updates;
pub mod orders;
pub mod place_order;
pub mod relay;
pub mod settings;
pub mod users;
pub mod webhook_payload;
pub mod webhooks;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

/// A decimal as a client sent it (string or number), before any rule has checked it.
#[derive(Debug, Clone, Copy, PartialEq, utoipa::ToSchema)]
#[schema(value_type = String, example = "12.50")]
pub struct DecimalInput(pub Decimal);

/// Written back as a string (`"12.50"`), the exact form.
impl serde::Serialize for DecimalInput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DecimalInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::money::deserialize_decimal(d).map(DecimalInput)
    }
}

/// For a partial update's field that cannot be empty: absent is `None` (with
/// `#[serde(default)]`), `null` is refused rather than read as "absent", so a client that
/// sends `"name": null` to clear a required field learns it did not happen.
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(
            "must not be null (it cannot be empty); leave the field out to keep its value",
        )),
    }
}

/// For a partial update's field where `null` clears and absence leaves it alone: absent
/// is `None` (with `#[serde(default)]`), `null` is `Some(None)`, a value `Some(Some(v))`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An entered amount: absent is zero; negative or over [`crate::money::MAX_AMOUNT`] is
/// recorded against `field` (and read as zero, so parsing goes on to find other errors).
pub(crate) fn amount_input(errors: &mut crate::error::FieldErrors, field: &str, v: Option<DecimalInput>) -> Decimal {
    let d = v.map(|d| d.0).unwrap_or_default();
    if d.is_sign_negative() && !d.is_zero() {
        errors.push(field, format!("{field} must not be negative"));
        return Decimal::ZERO;
    }
    if d > crate::money::MAX_AMOUNT {
        errors.push(field, format!("{field} must be at most 1,000,000,000,000"));
        return Decimal::ZERO;
    }
    d
}

/// A stable fingerprint of a JSON request (keys sorted), for idempotency checks.
pub fn request_fingerprint(body: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Trims a free-text field and enforces its length; empty becomes `None`.
/// `s` without leading and trailing blanks: what any of the three regex dialects in play
/// calls white space (Rust's Unicode `White_Space`, which includes U+0085; ECMA-262's
/// `\s`, which adds U+FEFF; Python's, which adds U+001C-U+001F). The OpenAPI document's
/// "not blank" pattern, `[^\s\u0085\u001c-\u001f\ufeff]`, excludes the same set in ECMA-262
/// and Python, so a value the document calls non-blank is never refused here as empty,
/// and the reverse.
pub fn blank_trimmed(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || matches!(c, '\u{1c}'..='\u{1f}' | '\u{feff}'))
}

pub(crate) fn text(
    errors: &mut crate::error::FieldErrors,
    field: &str,
    v: Option<String>,
    max: usize,
) -> Option<String> {
    let v = v.map(|s| blank_trimmed(&s).to_owned()).filter(|s| !s.is_empty())?;
    if v.chars().count() > max {
        errors.push(field, format!("{field} must be at most {max} characters"));
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_are_what_every_dialect_calls_white_space() {
        assert_eq!(blank_trimmed(" \u{85}\u{feff}\u{1c}x\u{3000}\t"), "x");
        for blank in ["\u{85}", "\u{feff}", "\u{1f}", "\u{2028}", "\u{a0}", " \n"] {
            assert_eq!(blank_trimmed(blank), "", "{blank:?}");
        }
        assert_eq!(blank_trimmed("\u{1}"), "\u{1}", "a control character is not a blank");
    }
}
