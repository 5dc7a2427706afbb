//! Order-level charges (SPEC §10): adjustments on top of the lines. `discount` and
//! `promotion` subtract; `tax`, `shipping`, `surcharge` and `additional_cost` add; `other`
//! and `price_adjustment` go the way the caller says. A charge is a fixed amount, or a
//! percentage of the subtotal or of the running total (the lines' totals plus every charge
//! before it), rounded to the currency with banker's rounding. Amounts are never negative:
//! the direction says which way a charge moves the total.
//!
//! The order's summary follows from its lines and charges alone ([`super::compute_totals`]):
//! `tax_amount` adds the `tax` charges to the lines' tax, `shipping_amount` is the
//! `shipping` charges, `discount_amount` adds the `discount` and `promotion` charges to the
//! lines' discounts, and `total_amount` is the lines' totals plus or minus every charge.
//! The `shipping_amount` and `discount_amount` request fields of before charges existed
//! are read as one fixed `shipping` and one fixed `discount` charge.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::FieldErrors;
use crate::money::Amount;

/// Charges one order may carry.
pub const MAX_CHARGES: usize = 20;
/// The longest charge name, in characters.
pub const MAX_CHARGE_NAME: usize = 100;
/// The largest percentage a charge may take, and its decimal places.
pub const MAX_PERCENTAGE: Decimal = Decimal::ONE_HUNDRED;
pub const PERCENTAGE_DECIMALS: u32 = 4;

/// What a charge is (SPEC §10's concepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeKind {
    Discount,
    Promotion,
    Tax,
    Shipping,
    Surcharge,
    AdditionalCost,
    Other,
    PriceAdjustment,
}

/// Which way a charge moves the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeDirection {
    Add,
    Subtract,
}

/// What a percentage charge is a percentage of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeBasis {
    /// `Σ unit_price × quantity`.
    #[default]
    Subtotal,
    /// The lines' totals plus or minus every charge listed before this one.
    RunningTotal,
}

impl ChargeKind {
    /// The direction the kind fixes, or `None` for `other` and `price_adjustment`.
    pub fn direction(self) -> Option<ChargeDirection> {
        use ChargeKind::*;
        match self {
            Discount | Promotion => Some(ChargeDirection::Subtract),
            Tax | Shipping | Surcharge | AdditionalCost => Some(ChargeDirection::Add),
            Other | PriceAdjustment => None,
        }
    }

    /// The name a charge gets when the caller gives none.
    pub fn title(self) -> &'static str {
        use ChargeKind::*;
        match self {
            Discount => "Discount",
            Promotion => "Promotion",
            Tax => "Tax",
            Shipping => "Shipping",
            Surcharge => "Surcharge",
            AdditionalCost => "Additional cost",
            Other => "Other",
            PriceAdjustment => "Price adjustment",
        }
    }

    pub fn as_str(self) -> &'static str {
        use ChargeKind::*;
        match self {
            Discount => "discount",
            Promotion => "promotion",
            Tax => "tax",
            Shipping => "shipping",
            Surcharge => "surcharge",
            AdditionalCost => "additional_cost",
            Other => "other",
            PriceAdjustment => "price_adjustment",
        }
    }
}

/// One charge as the order keeps it: what was asked (a fixed amount, or a percentage of a
/// basis) and what it came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderCharge {
    #[serde(rename = "type")]
    pub kind: ChargeKind,
    pub name: String,
    pub direction: ChargeDirection,
    /// For a percentage charge: the percentage (`"7.5"` is 7.5 %). Absent for a fixed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "7.5")]
    pub percentage: Option<Amount>,
    /// For a percentage charge: what it is a percentage of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<ChargeBasis>,
    /// What the charge comes to, never negative (`direction` says which way it goes); for a
    /// percentage charge, recomputed whenever the lines or the charges before it change.
    pub amount: Amount,
}

impl OrderCharge {
    /// A fixed charge of `amount` with the kind's own direction and name.
    pub fn fixed(kind: ChargeKind, amount: Decimal) -> OrderCharge {
        OrderCharge {
            kind,
            name: kind.title().to_owned(),
            direction: kind.direction().unwrap_or(ChargeDirection::Add),
            percentage: None,
            basis: None,
            amount: Amount::from_decimal(amount),
        }
    }

    pub fn subtracts(&self) -> bool {
        self.direction == ChargeDirection::Subtract
    }
}

/// One charge in a request: a fixed `amount`, or a `percentage` of a `basis`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeInput {
    #[serde(rename = "type")]
    pub kind: ChargeKind,
    /// Up to 100 characters; the type's name when absent.
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// Required for `other` and `price_adjustment`; for the other types it may be given,
    /// and must then be the type's own (`subtract` for discounts and promotions).
    pub direction: Option<ChargeDirection>,
    /// A fixed amount (give this or `percentage`).
    #[schema(value_type = Option<String>, example = "15.00")]
    pub amount: Option<crate::usecases::DecimalInput>,
    /// A percentage from 0 to 100, at most 4 decimal places (give this or `amount`).
    #[schema(value_type = Option<String>, example = "7.5")]
    pub percentage: Option<crate::usecases::DecimalInput>,
    /// What the percentage is of: `subtotal` (the default) or `running_total`.
    pub basis: Option<ChargeBasis>,
}

/// Checks a request's charges and turns them into the order's (fixed amounts as given,
/// checked against the currency when the totals are computed; percentages resolved
/// there). Every problem is recorded at `field[i].name`.
pub fn parse_charges(errors: &mut FieldErrors, field: &str, inputs: Vec<ChargeInput>) -> Vec<OrderCharge> {
    if inputs.len() > MAX_CHARGES {
        errors.push(field, format!("an order may have at most {MAX_CHARGES} charges"));
        return Vec::new();
    }
    inputs
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| parse_charge(errors, &format!("{field}[{i}]"), c))
        .collect()
}

/// One charge, or `None` with its problems recorded under `at.<field>`.
fn parse_charge(errors: &mut FieldErrors, at: &str, c: ChargeInput) -> Option<OrderCharge> {
    let name = charge_name(errors, at, &c)?;
    let direction = charge_direction(errors, at, &c)?;
    let (percentage, basis, amount) = match (c.amount, c.percentage) {
        (Some(_), None) if c.basis.is_some() => {
            errors.push(
                format!("{at}.basis"),
                "basis goes with a percentage, not a fixed amount",
            );
            return None;
        }
        (Some(a), None) => {
            let a = crate::usecases::amount_input(errors, &format!("{at}.amount"), Some(a));
            (None, None, Amount::from_decimal(a))
        }
        (None, Some(p)) => {
            let p = percentage(errors, at, p.0)?;
            (Some(p), Some(c.basis.unwrap_or_default()), Amount::ZERO)
        }
        _ => {
            errors.push(format!("{at}.amount"), "give exactly one of amount or percentage");
            return None;
        }
    };
    Some(OrderCharge {
        kind: c.kind,
        name,
        direction,
        percentage,
        basis,
        amount,
    })
}

/// The name given (blank is absent, as for every free-text field), else the type's.
fn charge_name(errors: &mut FieldErrors, at: &str, c: &ChargeInput) -> Option<String> {
    match &c.name {
        Some(n) if n.chars().count() > MAX_CHARGE_NAME => {
            let message = format!("a charge's name is at most {MAX_CHARGE_NAME} characters");
            errors.push(format!("{at}.name"), message);
            None
        }
        Some(n) => Some(
            Some(crate::usecases::blank_trimmed(n).to_owned())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| c.kind.title().to_owned()),
        ),
        None => Some(c.kind.title().to_owned()),
    }
}

/// The type's own direction (a different one asked is refused), or the one asked for
/// the types that go either way (required there).
fn charge_direction(errors: &mut FieldErrors, at: &str, c: &ChargeInput) -> Option<ChargeDirection> {
    let kind = c.kind.as_str();
    match (c.kind.direction(), c.direction) {
        (Some(own), Some(asked)) if own != asked => {
            let way = match own {
                ChargeDirection::Add => "add",
                ChargeDirection::Subtract => "subtract",
            };
            errors.push(
                format!("{at}.direction"),
                format!("a {kind} charge always {way}s; leave direction out"),
            );
            None
        }
        (Some(own), _) => Some(own),
        (None, Some(asked)) => Some(asked),
        (None, None) => {
            let message = format!("a {kind} charge needs a direction: add or subtract");
            errors.push(format!("{at}.direction"), message);
            None
        }
    }
}

/// A percentage from 0 to 100 with at most [`PERCENTAGE_DECIMALS`] decimals.
fn percentage(errors: &mut FieldErrors, at: &str, p: Decimal) -> Option<Amount> {
    let p = p.normalize();
    if p.is_sign_negative() && !p.is_zero() || p > MAX_PERCENTAGE {
        errors.push(
            format!("{at}.percentage"),
            "a percentage is from 0 to 100 (direction says which way)",
        );
        return None;
    }
    if p.scale() > PERCENTAGE_DECIMALS {
        let message = format!("a percentage has at most {PERCENTAGE_DECIMALS} decimal places");
        errors.push(format!("{at}.percentage"), message);
        return None;
    }
    Some(Amount::from_decimal(p))
}

/// The charges the request fields of before charges existed stand for: one fixed
/// `shipping` and one fixed `discount` charge (none for zero).
pub fn legacy_charges(shipping: Decimal, discount: Decimal) -> Vec<OrderCharge> {
    let mut out = Vec::new();
    if !shipping.is_zero() {
        out.push(OrderCharge::fixed(ChargeKind::Shipping, shipping));
    }
    if !discount.is_zero() {
        out.push(OrderCharge::fixed(ChargeKind::Discount, discount));
    }
    out
}

/// `charges` with its `kind` charges replaced by one fixed charge of `amount` (none for
/// zero), where the first of them was (or first, when there was none): what setting the
/// `shipping_amount` or `discount_amount` of a draft means now that these are charges.
pub fn replace_kind(charges: &[OrderCharge], kind: ChargeKind, amount: Decimal) -> Vec<OrderCharge> {
    let at = charges.iter().position(|c| c.kind == kind).unwrap_or(0);
    let mut out: Vec<OrderCharge> = charges.iter().filter(|c| c.kind != kind).cloned().collect();
    if !amount.is_zero() {
        out.insert(at.min(out.len()), OrderCharge::fixed(kind, amount));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Order;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    /// An order as stored before charges existed: no `charges`, its shipping and order-level
    /// discount only in the amounts.
    fn old_order() -> Order {
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/order.json")).expect("fixture");
        let o = v.as_object_mut().expect("object");
        o.remove("charges");
        o.insert("shipping_amount".into(), "7.50".into());
        // Line discounts of the fixture (20.00) plus 5.00 off the order.
        o.insert("discount_amount".into(), "25.00".into());
        serde_json::from_value(v).expect("an order without charges still reads")
    }

    #[test]
    fn an_order_from_before_charges_keeps_its_shipping_and_discount_as_charges() {
        let o = old_order();
        assert!(o.charges.is_empty());
        let kept = o.charges_or_legacy();
        assert_eq!(
            kept,
            vec![
                OrderCharge::fixed(ChargeKind::Shipping, dec("7.50")),
                OrderCharge::fixed(ChargeKind::Discount, dec("5.00")),
            ]
        );
    }

    #[test]
    fn replacing_a_kind_keeps_the_others_and_its_place() {
        let list = vec![
            OrderCharge::fixed(ChargeKind::Surcharge, dec("1")),
            OrderCharge::fixed(ChargeKind::Discount, dec("2")),
            OrderCharge::fixed(ChargeKind::Tax, dec("3")),
        ];
        let kinds = |l: &[OrderCharge]| l.iter().map(|c| (c.kind, c.amount.value())).collect::<Vec<_>>();
        assert_eq!(
            kinds(&replace_kind(&list, ChargeKind::Discount, dec("9"))),
            [
                (ChargeKind::Surcharge, dec("1")),
                (ChargeKind::Discount, dec("9")),
                (ChargeKind::Tax, dec("3"))
            ]
        );
        assert_eq!(
            kinds(&replace_kind(&list, ChargeKind::Discount, Decimal::ZERO)),
            [(ChargeKind::Surcharge, dec("1")), (ChargeKind::Tax, dec("3"))]
        );
        assert_eq!(
            kinds(&replace_kind(&list, ChargeKind::Shipping, dec("4")))[0],
            (ChargeKind::Shipping, dec("4"))
        );
    }

    #[test]
    fn parsing_names_each_bad_charge_and_keeps_the_good_ones() {
        let input = |v: serde_json::Value| -> ChargeInput { serde_json::from_value(v).expect("shape") };
        let mut errors = FieldErrors::default();
        let out = parse_charges(
            &mut errors,
            "charges",
            vec![
                input(serde_json::json!({"type": "tax", "percentage": "8.25"})),
                input(serde_json::json!({"type": "other", "amount": "1"})),
                input(serde_json::json!({"type": "surcharge", "name": "   ", "amount": "2"})),
            ],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].basis, Some(ChargeBasis::Subtotal));
        assert_eq!(out[1].name, "Surcharge", "a blank name is the type's");
        match errors.finish() {
            Err(crate::error::Error::Validation { fields, .. }) => {
                let named: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(named, ["charges[1].direction"]);
            }
            other => panic!("the other charge has no direction: {other:?}"),
        }
    }
}
