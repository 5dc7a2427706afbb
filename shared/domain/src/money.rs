//! Money: `rust_decimal` amounts in an ISO 4217 currency, never floats.
//!
//! Amounts travel as decimal strings (`"349.97"`) so no client float can round them;
//! requests may also send JSON numbers, which are read through their shortest decimal
//! form. An amount with more decimals than its currency's minor unit is refused rather
//! than silently rounded; rounding (banker's) happens only where a rule multiplies.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The largest amount a caller may enter: 10^12 (one trillion in the currency's units).
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);
/// The largest computed amount (a line's total, an order's subtotal, tax or total): 10^15.
pub const MAX_ORDER_TOTAL: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// `a + b`, refused over [`MAX_ORDER_TOTAL`] (or on overflow) as an error on `field`.
pub fn checked_sum(a: Decimal, b: Decimal, field: &str) -> Result<Decimal, Error> {
    a.checked_add(b)
        .filter(|v| v.abs() <= MAX_ORDER_TOTAL)
        .ok_or_else(|| too_large(field))
}

/// `a − b`, refused over [`MAX_ORDER_TOTAL`] (or on overflow) as an error on `field`. Never
/// `-0`: a zero result is written as a plain zero.
pub fn checked_difference(a: Decimal, b: Decimal, field: &str) -> Result<Decimal, Error> {
    let mut d = a
        .checked_sub(b)
        .filter(|v| v.abs() <= MAX_ORDER_TOTAL)
        .ok_or_else(|| too_large(field))?;
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    Ok(d)
}

/// `a × b`, refused over [`MAX_ORDER_TOTAL`] (or on overflow) as an error on `field`.
pub fn checked_product(a: Decimal, b: Decimal, field: &str) -> Result<Decimal, Error> {
    a.checked_mul(b)
        .filter(|v| v.abs() <= MAX_ORDER_TOTAL)
        .ok_or_else(|| too_large(field))
}

fn too_large(field: &str) -> Error {
    Error::invalid(
        field,
        format!("{field} would exceed the largest order amount, 1,000,000,000,000,000"),
    )
}

/// A non-negative decimal amount, serialized as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, utoipa::ToSchema)]
#[schema(value_type = String, example = "349.97", pattern = r"^[0-9]+(\.[0-9]+)?$")]
pub struct Amount(Decimal);

impl Amount {
    pub const ZERO: Amount = Amount(Decimal::ZERO);

    /// Parses a non-negative amount of at most [`MAX_AMOUNT`], with at most
    /// `currency.minor_units()` decimals.
    pub fn parse_in(value: Decimal, currency: Currency) -> Result<Self, Error> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(Error::invalid("amount", "must not be negative"));
        }
        if value > MAX_AMOUNT {
            return Err(Error::invalid("amount", "must be at most 1,000,000,000,000"));
        }
        let mut v = value.normalize();
        if v.scale() > currency.minor_units() {
            return Err(Error::invalid(
                "amount",
                format!(
                    "{} allows at most {} decimal places",
                    currency.code(),
                    currency.minor_units()
                ),
            ));
        }
        // Written with exactly the currency's minor units from here on ("5.00", not "5").
        v.rescale(currency.minor_units());
        Ok(Amount(v))
    }

    /// Builds an amount already known to be valid (e.g. read back from storage).
    pub fn from_decimal(value: Decimal) -> Self {
        Amount(value)
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// The amount written with exactly the currency's minor units (`12450.00`).
    pub fn in_currency(self, currency: Currency) -> Amount {
        let mut d = self.0;
        d.rescale(currency.minor_units());
        Amount(d)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_decimal(d).map(Amount)
    }
}

/// Reads a decimal from a JSON string or number (numbers via their shortest decimal form).
pub fn deserialize_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    struct V;
    impl de::Visitor<'_> for V {
        type Value = Decimal;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal amount as a string (\"12.50\") or a number")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            Decimal::from_str(v.trim()).map_err(|_| E::custom(format!("`{v}` is not a decimal amount")))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            if !v.is_finite() {
                return Err(E::custom("amount must be finite"));
            }
            // Rust prints the shortest string that reads back as the same f64, which for
            // any human-entered amount is exactly the decimal the client wrote. A number
            // with more digits than a decimal holds (1e-30) is refused, never rounded to
            // something else.
            Decimal::from_str(&v.to_string())
                .or_else(|_| Decimal::from_scientific(&format!("{v:e}")))
                .ok()
                .filter(|d| d.is_zero() == (v == 0.0))
                .ok_or_else(|| E::custom("amount is out of range"))
        }
    }
    d.deserialize_any(V)
}

/// Multiplies by a percentage and rounds to the currency with banker's rounding; `None`
/// if the product overflows (callers bound both, so it cannot in practice).
pub fn percent_of(base: Decimal, percent: Decimal, currency: Currency) -> Option<Decimal> {
    Some(
        base.checked_mul(percent)?
            .checked_div(Decimal::ONE_HUNDRED)?
            .round_dp_with_strategy(currency.minor_units(), RoundingStrategy::MidpointNearestEven),
    )
}

/// The OpenAPI schema of an optional currency code in a request: the ISO 4217 codes this
/// service prices in (those with a minor unit), upper- or lower-case (read
/// case-insensitively), or null (absent).
pub fn currency_code_schema() -> utoipa::openapi::schema::Schema {
    currency_codes(true)
}

/// [`currency_code_schema`] where `null` is not allowed (a change of currency).
pub fn required_currency_code_schema() -> utoipa::openapi::schema::Schema {
    currency_codes(false)
}

fn currency_codes(nullable: bool) -> utoipa::openapi::schema::Schema {
    use iso_currency::IntoEnumIterator;
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let mut codes: Vec<serde_json::Value> = iso_currency::Currency::iter()
        .filter(|c| c.exponent().is_some())
        .flat_map(|c| [c.code().to_owned(), c.code().to_lowercase()])
        .map(serde_json::Value::from)
        .collect();
    let mut types = vec![Type::String];
    if nullable {
        codes.push(serde_json::Value::Null);
        types.push(Type::Null);
    }
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter(types))
        .enum_values(Some(codes))
        .description(Some("ISO 4217 (case-insensitive)."))
        .build()
        .into()
}

/// An ISO 4217 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(value_type = String, example = "USD")]
pub struct Currency(iso_currency::Currency);

impl Currency {
    pub const USD: Currency = Currency(iso_currency::Currency::USD);

    /// An ISO 4217 code of a currency with a minor unit. Gold, silver, units of account,
    /// the testing code and "no currency" (XAU, XAG, XDR, XUA, XTS, XXX, ...) have none
    /// ("N.A." in the standard): nobody invoices in them, and an amount in them has no
    /// defined number of decimals, so they are refused.
    pub fn parse(code: &str) -> Result<Self, Error> {
        match iso_currency::Currency::from_code(&code.to_ascii_uppercase()) {
            Some(c) if c.exponent().is_some() => Ok(Currency(c)),
            Some(_) => Err(Error::invalid(
                "currency",
                format!("`{code}` is an ISO 4217 code with no minor unit (a metal, fund or unit of account), not a currency orders can be priced in"),
            )),
            None => Err(Error::invalid("currency", format!("`{code}` is not an ISO 4217 currency code"))),
        }
    }

    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Decimal places of the minor unit (USD 2, JPY 0, BHD 3); 2 for units without one.
    pub fn minor_units(self) -> u32 {
        self.0.exponent().map(u32::from).unwrap_or(2)
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::USD
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_with_more_decimals_than_the_currency_are_refused() {
        let usd = Currency::USD;
        assert!(Amount::parse_in(Decimal::from_str("1.005").unwrap_or_default(), usd).is_err());
        assert!(Amount::parse_in(Decimal::from_str("1.50").unwrap_or_default(), usd).is_ok());
        let jpy = Currency::parse("JPY").expect("JPY");
        assert_eq!(jpy.minor_units(), 0);
        assert!(Amount::parse_in(Decimal::from_str("100.5").unwrap_or_default(), jpy).is_err());
    }

    #[test]
    fn only_currencies_with_a_minor_unit_are_accepted() {
        assert_eq!(Currency::parse("bhd").map(Currency::minor_units).ok(), Some(3));
        for code in ["XAU", "XUA", "XXX", "XTS", "XDR", "xag"] {
            let err = Currency::parse(code).expect_err(code);
            assert!(err.to_string().contains("no minor unit"), "{code}: {err}");
        }
        assert!(Currency::parse("ABC").is_err());
        let schema = serde_json::to_string(&currency_code_schema()).unwrap_or_default();
        assert!(schema.contains("\"EUR\"") && schema.contains("\"eur\""));
        assert!(!schema.contains("\"XUA\"") && !schema.contains("\"XAU\""));
    }

    #[test]
    fn the_maxima_are_what_they_say() {
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000u64));
        assert_eq!(MAX_ORDER_TOTAL, Decimal::from(1_000_000_000_000_000u64));
        assert!(Amount::parse_in(MAX_AMOUNT, Currency::USD).is_ok());
        assert!(Amount::parse_in(MAX_AMOUNT + Decimal::new(1, 2), Currency::USD).is_err());
        assert!(Amount::parse_in(Decimal::MAX, Currency::USD).is_err());
        assert!(checked_product(MAX_AMOUNT, Decimal::from(1_000), "x").is_ok());
        assert!(checked_product(MAX_AMOUNT, Decimal::from(1_001), "x").is_err());
        assert!(checked_sum(Decimal::MAX, Decimal::MAX, "x").is_err());
        assert!(percent_of(Decimal::MAX, Decimal::MAX, Currency::USD).is_none());
    }

    #[test]
    fn negative_amounts_are_refused() {
        assert!(Amount::parse_in(Decimal::from(-1), Currency::USD).is_err());
    }

    #[test]
    fn json_numbers_are_read_exactly() {
        let a: Amount = serde_json::from_str("99.99").expect("number");
        assert_eq!(a.to_string(), "99.99");
        let b: Amount = serde_json::from_str("\"0.1\"").expect("string");
        assert_eq!(b.value(), Decimal::from_str("0.1").expect("dec"));
        assert!(serde_json::from_str::<Amount>("true").is_err());
    }

    #[test]
    fn amounts_print_with_the_currency_minor_units() {
        let a = Amount::from_decimal(Decimal::from(12450));
        assert_eq!(a.in_currency(Currency::USD).to_string(), "12450.00");
    }

    #[test]
    fn percentages_round_half_to_even() {
        // 2.5% of 10.10 = 0.2525 -> 0.25 (banker's); 2.5% of 10.30 = 0.2575 -> 0.26
        assert_eq!(
            percent_of(
                Decimal::from_str("10.10").unwrap_or_default(),
                Decimal::from_str("2.5").unwrap_or_default(),
                Currency::USD
            )
            .unwrap_or_default()
            .to_string(),
            "0.25"
        );
        assert_eq!(
            percent_of(
                Decimal::from_str("10.30").unwrap_or_default(),
                Decimal::from_str("2.5").unwrap_or_default(),
                Currency::USD
            )
            .unwrap_or_default()
            .to_string(),
            "0.26"
        );
    }
}
