//! Products and customers (SPEC §4): SKUs, prices, stock, and per-customer price overrides.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::Error;
use crate::ids::{CompanyId, CustomerId, ProductId};
use crate::money::{Amount, Currency};

/// A stock-keeping unit: unique per company, compared case-insensitively, shown as entered.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "WIDGET-001")]
pub struct Sku(String);

impl Sku {
    pub fn parse(s: &str) -> Result<Sku, Error> {
        let s = s.trim();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+'));
        if ok {
            Ok(Sku(s.to_owned()))
        } else {
            Err(Error::invalid(
                "sku",
                "sku must be 1-64 characters of letters, digits, '-', '_', '.', '/' or '+'",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The form used for uniqueness and lookups.
    pub fn key(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

impl PartialEq for Sku {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for Sku {}
impl std::hash::Hash for Sku {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}
impl TryFrom<String> for Sku {
    type Error = Error;
    fn try_from(s: String) -> Result<Sku, Error> {
        Sku::parse(&s)
    }
}
impl From<Sku> for String {
    fn from(s: Sku) -> String {
        s.0
    }
}
impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The most units of one product the stock may hold.
pub const MAX_STOCK: u32 = 1_000_000_000;

/// How a product ships: from the company's own stock or dropshipped by a supplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Fulfillment {
    #[default]
    Local,
    Dropship,
}

/// A product. Its JSON also carries `available` (units that can be sold now: `stock`),
/// written by the hand-written `Serialize` below (it is not stored).
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub id: ProductId,
    pub company_id: CompanyId,
    pub sku: Sku,
    pub name: String,
    pub category: Option<String>,
    pub description: Option<String>,
    pub price: Amount,
    pub currency: Currency,
    /// Units available to sell; never below zero. Under the `at_placement` stock policy
    /// an order takes its units from here when placed; under `reserve_on_confirm` when it
    /// is confirmed, into `reserved`. Stock edits (set, delta, bulk, import) set this.
    pub stock: u32,
    /// Units held for confirmed orders that have not shipped (`reserve_on_confirm`): on
    /// the shelf, not in `stock`. Read-only; moved by order status changes alone.
    #[serde(default)]
    pub reserved: u32,
    pub active: bool,
    /// Falls back to the company's `low_stock_threshold` when absent.
    pub low_stock_threshold: Option<u32>,
    pub track_inventory: bool,
    pub fulfillment: Fulfillment,
    /// Bumped by every write; updates are conditional on it.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many stock shards the stock is spread over: 1, or more for a product marked
    /// hot (a flash sale's SKU), so no single stored item takes every sale. An order takes
    /// its units from one shard that has them, falling back across shards; `stock` is
    /// always the total.
    #[serde(default = "one_shard")]
    #[schema(minimum = 1, maximum = 16)]
    pub stock_shards: u32,
    /// Each shard's stock and write count as read (filled by the store; not in the API).
    #[serde(skip)]
    #[schema(ignore)]
    pub shards: Vec<StockShard>,
}

impl Serialize for Product {
    /// Every field but the shards as read, plus `available`: the product's units that can
    /// be sold now (its `stock`; `reserved` units are held for confirmed orders). Kept
    /// field for field with the struct by `product_json_round_trips` below.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Product", 20)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("company_id", &self.company_id)?;
        s.serialize_field("sku", &self.sku)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("category", &self.category)?;
        s.serialize_field("description", &self.description)?;
        s.serialize_field("price", &self.price)?;
        s.serialize_field("currency", &self.currency)?;
        s.serialize_field("stock", &self.stock)?;
        s.serialize_field("available", &self.stock)?;
        s.serialize_field("reserved", &self.reserved)?;
        s.serialize_field("active", &self.active)?;
        s.serialize_field("low_stock_threshold", &self.low_stock_threshold)?;
        s.serialize_field("track_inventory", &self.track_inventory)?;
        s.serialize_field("fulfillment", &self.fulfillment)?;
        s.serialize_field("version", &self.version)?;
        s.serialize_field("created_at", &self.created_at)?;
        s.serialize_field("updated_at", &self.updated_at)?;
        s.serialize_field("stock_shards", &self.stock_shards)?;
        s.end()
    }
}

fn one_shard() -> u32 {
    1
}

/// The most stock shards a product may have.
pub const MAX_STOCK_SHARDS: u32 = 16;

/// One stock shard as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StockShard {
    pub stock: u32,
    /// How many writes it has taken (grows by one per write; the store's index entries
    /// are written only from a read at least this recent).
    pub moves: u64,
}

/// How many stock shards an edit from `before` to `after` writes: every one (old and new)
/// when the stock or the shard count changes, each one's `active` flag when only that
/// changes, else none.
pub fn shard_writes(before: &Product, after: &Product) -> usize {
    let n = |p: &Product| usize::try_from(p.stock_shards.max(1)).unwrap_or(1);
    if before.stock != after.stock || before.stock_shards != after.stock_shards {
        n(before).max(n(after))
    } else if before.active != after.active {
        n(before)
    } else {
        0
    }
}

/// `total` spread over `n` shards as evenly as it goes (the first ones take the rest).
pub fn split_stock(total: u32, n: u32) -> Vec<u32> {
    let n = n.max(1);
    (0..n).map(|k| total / n + u32::from(k < total % n)).collect()
}

/// Which shards a take of `quantity` units draws on, as `(shard, units)`: one shard that
/// holds them all, chosen by `seed` among those that do (so concurrent orders spread over
/// the shards), else the fullest shards first until covered (the last units are sellable
/// wherever they are). `None` when the shards together are short.
pub fn pick_shards(shards: &[u32], quantity: u32, seed: u64) -> Option<Vec<(u32, u32)>> {
    if shards.len() <= 1 {
        return (shards.first().copied().unwrap_or(0) >= quantity).then(|| vec![(0, quantity)]);
    }
    let holding: Vec<u32> = (0..shards.len())
        .filter(|k| shards[*k] >= quantity)
        .filter_map(|k| u32::try_from(k).ok())
        .collect();
    if !holding.is_empty() {
        let pick = usize::try_from(seed % holding.len() as u64).unwrap_or(0);
        return Some(vec![(holding[pick], quantity)]);
    }
    let mut by_size: Vec<(u32, u32)> = shards
        .iter()
        .enumerate()
        .filter_map(|(k, s)| Some((u32::try_from(k).ok()?, *s)))
        .filter(|(_, s)| *s > 0)
        .collect();
    by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut left = quantity;
    let mut out = Vec::new();
    for (k, s) in by_size {
        if left == 0 {
            break;
        }
        let take = s.min(left);
        out.push((k, take));
        left -= take;
    }
    (left == 0).then_some(out)
}

impl Product {
    /// What the product browser's `q` finds it by: its SKU, its whole name and category,
    /// and each word of them.
    pub fn search_terms(&self) -> std::collections::BTreeSet<String> {
        let whole = [
            Some(self.sku.as_str()),
            Some(self.name.as_str()),
            self.category.as_deref(),
        ];
        search_terms(
            whole.into_iter().flatten(),
            [Some(self.name.as_str()), self.category.as_deref()]
                .into_iter()
                .flatten(),
        )
    }

    pub fn threshold(&self, company_default: u32) -> u32 {
        self.low_stock_threshold.unwrap_or(company_default)
    }

    /// In stock for the `in_stock` filter: a product that does not track inventory
    /// always is.
    pub fn in_stock(&self) -> bool {
        !self.track_inventory || self.stock > 0
    }

    /// Counted by inventory health: active and tracking inventory.
    pub fn counted(&self) -> bool {
        self.active && self.track_inventory
    }

    /// Its level for inventory health (`None` when not [`Product::counted`]).
    pub fn stock_level(&self, company_default: u32) -> Option<StockLevel> {
        if !self.counted() {
            return None;
        }
        Some(match self.stock {
            0 => StockLevel::Out,
            s if s <= self.threshold(company_default) => StockLevel::Low,
            _ => StockLevel::Healthy,
        })
    }
}

/// Inventory health's levels (SPEC §6): above the threshold, 1 to the threshold, 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StockLevel {
    Healthy,
    Low,
    Out,
}

/// A postal address. `country` is ISO 3166-1 alpha-2.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(alias = "street", skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub address1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub address2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = country_code_schema)]
    pub country: Option<String>,
}

impl Address {
    /// Checks lengths and the country code; completeness is the caller's rule to apply.
    pub fn validate(&self) -> Result<(), Error> {
        for (name, v) in [
            ("address1", &self.address1),
            ("address2", &self.address2),
            ("city", &self.city),
            ("state", &self.state),
            ("postal_code", &self.postal_code),
        ] {
            if v.as_deref().is_some_and(|s| s.chars().count() > 200) {
                return Err(Error::invalid(name, format!("{name} must be at most 200 characters")));
            }
        }
        if let Some(c) = &self.country {
            if isocountry::CountryCode::for_alpha2_caseless(c).is_err() {
                return Err(Error::invalid(
                    "country",
                    format!("`{c}` is not an ISO 3166-1 alpha-2 country code"),
                ));
            }
        }
        Ok(())
    }
}

/// An e-mail address checked against RFC 5322 by a maintained crate.
pub fn parse_email(s: &str) -> Result<String, Error> {
    let s = s.trim();
    if s.len() <= 254 && email_address::EmailAddress::is_valid(s) {
        Ok(s.to_owned())
    } else {
        Err(Error::invalid("email", format!("`{s}` is not an e-mail address")))
    }
}

/// The OpenAPI schema of an address's country: the ISO 3166-1 alpha-2 codes, upper- or
/// lower-case (read case-insensitively), or null. An enum, not `^[A-Za-z]{2}$`: `AA` fits
/// that pattern and is no country.
pub fn country_code_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let mut codes: Vec<serde_json::Value> = isocountry::CountryCode::iter()
        .flat_map(|c| [c.alpha2().to_owned(), c.alpha2().to_lowercase()])
        .map(serde_json::Value::from)
        .collect();
    codes.push(serde_json::Value::Null);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(codes))
        .description(Some("ISO 3166-1 alpha-2 (case-insensitive)."))
        .build()
        .into()
}

/// The buying business.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: CustomerId,
    pub company_id: CompanyId,
    /// `CUST-00042`, assigned in sequence per company.
    pub customer_number: String,
    pub company_name: String,
    pub contact_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<Address>,
    pub shipping_address: Option<Address>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; a change is conditional on it.
    #[serde(default)]
    pub version: u64,
}

/// The most search terms one customer or product is indexed under.
pub const MAX_CUSTOMER_TERMS: usize = 24;

/// Prefix-search terms, lower-cased, in priority order (`whole` values first, then the
/// words of `worded`), at most [`MAX_CUSTOMER_TERMS`]. `#` is dropped: it separates key
/// parts.
pub fn search_terms<'a>(
    whole: impl IntoIterator<Item = &'a str>,
    worded: impl IntoIterator<Item = &'a str>,
) -> std::collections::BTreeSet<String> {
    let clean = |s: &str| s.trim().to_lowercase().replace('#', "");
    let mut terms: Vec<String> = whole.into_iter().map(clean).collect();
    for text in worded {
        terms.extend(
            text.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase),
        );
    }
    let mut out = std::collections::BTreeSet::new();
    for t in terms.into_iter().filter(|t| !t.is_empty()) {
        if out.len() == MAX_CUSTOMER_TERMS {
            break;
        }
        out.insert(t);
    }
    out
}

/// The term a record with `terms` is listed under for `prefix`: the first of its terms
/// that starts with it. A record with several matching terms is listed once, under this.
pub fn first_term<'a>(terms: &'a std::collections::BTreeSet<String>, prefix: &str) -> Option<&'a String> {
    terms
        .range(prefix.to_owned()..)
        .next()
        .filter(|t| t.starts_with(prefix))
}

impl Customer {
    /// What a prefix search finds this customer by, lower-cased: the whole company name,
    /// each word of the company and contact names, the customer number and the e-mail
    /// address. (`#` is dropped: it separates key parts.)
    pub fn search_terms(&self) -> std::collections::BTreeSet<String> {
        let whole = [
            Some(&self.customer_number),
            Some(&self.company_name),
            self.email.as_ref(),
        ];
        search_terms(
            whole.into_iter().flatten().map(String::as_str),
            std::iter::once(&self.company_name)
                .chain(self.contact_name.as_ref())
                .map(String::as_str),
        )
    }
}

pub fn customer_number(seq: u64) -> String {
    format!("CUST-{seq:05}")
}

/// A negotiated price for one product for one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PriceOverride {
    pub customer_id: CustomerId,
    pub product_id: ProductId,
    pub price: Amount,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_compare_case_insensitively_but_keep_their_spelling() {
        let a = Sku::parse(" Widget-001 ").expect("sku");
        let b = Sku::parse("WIDGET-001").expect("sku");
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "Widget-001");
        assert_eq!(a.key(), "WIDGET-001");
        assert!(Sku::parse("has space").is_err());
        assert!(Sku::parse("a#b").is_err());
    }

    #[test]
    fn countries_must_be_iso_alpha2() {
        let ok = Address {
            country: Some("us".into()),
            ..Default::default()
        };
        assert!(ok.validate().is_ok());
        let bad = Address {
            country: Some("XX".into()),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn customer_numbers_are_zero_padded() {
        assert_eq!(customer_number(42), "CUST-00042");
    }
}

#[cfg(test)]
mod shard_tests {
    use super::{pick_shards, split_stock};

    /// The hand-written `Serialize` writes every field the struct has (its schema's
    /// properties) plus `available`, and reads back to the same product.
    #[test]
    fn product_json_round_trips() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let p = super::Product {
            id: crate::ids::ProductId::new(uuid::Uuid::from_u128(7)),
            company_id: crate::ids::CompanyId::parse("acme").expect("company"),
            sku: super::Sku::parse("SKU-1").expect("sku"),
            name: "Widget".into(),
            category: Some("Parts".into()),
            description: Some("A widget".into()),
            price: crate::money::Amount::parse_in(rust_decimal::Decimal::new(1250, 2), crate::money::Currency::USD)
                .expect("price"),
            currency: crate::money::Currency::USD,
            stock: 9,
            reserved: 4,
            active: true,
            low_stock_threshold: Some(3),
            track_inventory: true,
            fulfillment: super::Fulfillment::Dropship,
            version: 5,
            created_at: at,
            updated_at: at,
            stock_shards: 2,
            shards: Vec::new(),
        };
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json["available"], 9);
        assert_eq!(json["reserved"], 4);
        let back: super::Product = serde_json::from_value(json.clone()).expect("reads back");
        assert_eq!(back, p);
        let schema = serde_json::to_value(<super::Product as utoipa::PartialSchema>::schema()).expect("schema");
        let mut want: Vec<String> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .cloned()
            .chain(["available".to_owned()])
            .collect();
        want.sort();
        let mut have: Vec<String> = json.as_object().expect("object").keys().cloned().collect();
        have.sort();
        assert_eq!(have, want);
    }

    #[test]
    fn the_stock_splits_evenly_and_adds_up() {
        assert_eq!(split_stock(10, 4), [3, 3, 2, 2]);
        assert_eq!(split_stock(1, 3), [1, 0, 0]);
        assert_eq!(split_stock(7, 1), [7]);
        assert_eq!(split_stock(5, 0), [5]);
    }

    #[test]
    fn a_take_comes_from_one_shard_that_holds_it_else_the_fullest_first() {
        for seed in 0..8 {
            let one = pick_shards(&[1, 5, 0, 5], 3, seed).expect("covered");
            assert!(one == [(1, 3)] || one == [(3, 3)], "{one:?}");
        }
        assert_eq!(pick_shards(&[2, 1, 3, 0], 5, 0), Some(vec![(2, 3), (0, 2)]));
        assert_eq!(pick_shards(&[0, 0, 1, 0], 1, 7), Some(vec![(2, 1)]), "the last unit");
        assert_eq!(pick_shards(&[2, 1, 3, 0], 7, 0), None, "short in total");
        assert_eq!(pick_shards(&[4], 4, 9), Some(vec![(0, 4)]));
        assert_eq!(pick_shards(&[4], 5, 9), None);
    }
}
