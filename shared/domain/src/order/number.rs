//! Order numbers: `ORD-` + 8 characters of `[A-Z0-9]`, or the caller's own.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::Error;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "ORD-A3X7K9M2")]
pub struct OrderNumber(String);

impl OrderNumber {
    /// A fresh random number; 36^8 ≈ 2.8e12 values, and the write is conditional anyway.
    pub fn generate(rng: &mut impl Rng) -> OrderNumber {
        let tail: String = (0..8)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect();
        OrderNumber(format!("ORD-{tail}"))
    }

    /// A caller-chosen number: 1-40 characters of letters, digits, `-` and `_`.
    pub fn parse(s: &str) -> Result<OrderNumber, Error> {
        let s = s.trim();
        if !s.is_empty() && s.len() <= 40 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            Ok(OrderNumber(s.to_owned()))
        } else {
            Err(Error::invalid(
                "order_number",
                "order_number must be 1-40 characters of letters, digits, '-' or '_'",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Uniqueness is case-insensitive, so `ord-1` and `ORD-1` cannot both exist.
    pub fn key(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

impl TryFrom<String> for OrderNumber {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        OrderNumber::parse(&s)
    }
}
impl From<OrderNumber> for String {
    fn from(n: OrderNumber) -> String {
        n.0
    }
}
impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_numbers_have_the_documented_shape() {
        let mut rng = rand::rng();
        for _ in 0..100 {
            let n = OrderNumber::generate(&mut rng);
            let s = n.as_str();
            assert_eq!(s.len(), 12);
            assert!(s.starts_with("ORD-"));
            assert!(s[4..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        }
    }

    #[test]
    fn caller_numbers_are_checked() {
        assert!(OrderNumber::parse("PO-2026-0001").is_ok());
        assert!(OrderNumber::parse("").is_err());
        assert!(OrderNumber::parse("has#hash").is_err());
        assert!(OrderNumber::parse(&"X".repeat(41)).is_err());
    }
}
