//! Whole-number JSON fields.
//!
//! JSON has one number type, and JSON Schema's `integer` (the type the OpenAPI document
//! gives these fields) counts `3.0` as the integer 3. serde's integer types refuse it, so
//! a client that writes every number as a float (some ERP exports do) would get a 422 for
//! a request its own schema validator accepts. Fields marked
//! `#[serde(deserialize_with = "crate::whole::de")]` (or `de_opt` for an `Option`) take `3`
//! and `3.0` alike, and still refuse `3.5`, `1e300`, `NaN`-like values and strings.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Deserializes a whole number into any integer type `T`; out of `T`'s range is an error.
pub fn de<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    d.deserialize_any(WholeVisitor(PhantomData))
}

/// [`de`] for an optional field: `null` or absent is `None` (pair it with `#[serde(default)]`).
pub fn de_opt<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    Option::<Whole<T>>::deserialize(d).map(|o| o.map(|w| w.0))
}

/// [`de_opt`] for a partial update's field that cannot be empty: absent is `None` (with
/// `#[serde(default)]`), `null` is refused.
pub fn de_present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    match de_opt(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(
            "must not be null (it cannot be empty); leave the field out to keep its value",
        )),
    }
}

/// [`de_opt`] for a field where `null` means something (clear it) and absence means
/// "leave it": absent is `None` (with `#[serde(default)]`), `null` is `Some(None)`.
pub fn de_nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64>,
{
    de_opt(d).map(Some)
}

struct Whole<T>(T);

impl<'de, T: TryFrom<i64>> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        de(d).map(Whole)
    }
}

struct WholeVisitor<T>(PhantomData<T>);

/// The largest magnitude an `f64` holds exactly as an integer (2^53).
const EXACT_F64: f64 = 9_007_199_254_740_992.0;

impl<T: TryFrom<i64>> WholeVisitor<T> {
    fn fit<E: de::Error>(v: i64, unexp: de::Unexpected) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(unexp, &"a whole number in range"))
    }
}

impl<T: TryFrom<i64>> Visitor<'_> for WholeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Self::fit(v, de::Unexpected::Signed(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        let unexp = de::Unexpected::Unsigned(v);
        let v = i64::try_from(v).map_err(|_| E::invalid_value(unexp, &"a whole number in range"))?;
        Self::fit(v, unexp)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        let unexp = de::Unexpected::Float(v);
        if !v.is_finite() || v.fract() != 0.0 {
            return Err(E::invalid_type(unexp, &self));
        }
        if v.abs() > EXACT_F64 {
            return Err(E::invalid_value(unexp, &"a whole number in range"));
        }
        // Exact: a finite whole f64 within 2^53 converts without rounding.
        #[allow(clippy::cast_possible_truncation)]
        Self::fit(v as i64, unexp)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::de")]
        n: u32,
        #[serde(default, deserialize_with = "super::de_opt")]
        m: Option<i64>,
    }

    fn parse(s: &str) -> Result<Body, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numbers_in_any_json_spelling_are_accepted() {
        let b = parse(r#"{"n": 3, "m": -4}"#).expect("accepted");
        assert_eq!((b.n, b.m), (3, Some(-4)));
        let b = parse(r#"{"n": 3.0, "m": -4.0}"#).expect("accepted");
        assert_eq!((b.n, b.m), (3, Some(-4)));
        let b = parse(r#"{"n": 3e2}"#).expect("accepted");
        assert_eq!((b.n, b.m), (300, None));
        let b = parse(r#"{"n": 0, "m": null}"#).expect("accepted");
        assert_eq!((b.n, b.m), (0, None));
    }

    #[test]
    fn fractions_strings_and_out_of_range_values_are_refused() {
        for body in [
            r#"{"n": 3.5}"#,
            r#"{"n": "3"}"#,
            r#"{"n": -1}"#,
            r#"{"n": 4294967296}"#,
            r#"{"n": 1e300}"#,
            r#"{"n": 18446744073709551615}"#,
            r#"{"n": 1, "m": 0.1}"#,
            r#"{"n": 1, "m": 1e17}"#,
            r#"{"n": true}"#,
        ] {
            assert!(parse(body).is_err(), "{body} should be refused");
        }
    }
}
