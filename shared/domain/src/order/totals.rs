//! The one place order totals are computed (SPEC §5.2, with the charges of §10).

use rust_decimal::Decimal;

use super::charges::{ChargeBasis, ChargeDirection, ChargeKind, OrderCharge};
use crate::error::Error;
use crate::money::{checked_difference, checked_product, checked_sum, percent_of, Amount, Currency};

/// What a line contributes: `unit_price × quantity + tax − discount`.
#[derive(Debug, Clone, Copy)]
pub struct LineAmounts {
    pub unit_price: Amount,
    pub quantity: u32,
    pub tax_amount: Amount,
    pub discount_amount: Amount,
}

impl LineAmounts {
    /// What `l` contributes.
    pub fn of(l: &super::OrderLine) -> LineAmounts {
        LineAmounts {
            unit_price: l.unit_price,
            quantity: l.quantity,
            tax_amount: l.tax_amount,
            discount_amount: l.discount_amount,
        }
    }

    /// `unit_price × quantity`, refused over the largest order amount.
    pub fn gross(&self, field: &str) -> Result<Decimal, Error> {
        checked_product(self.unit_price.value(), Decimal::from(self.quantity), field)
    }
    /// `unit_price × quantity + tax − discount`, refused over the largest order amount.
    pub fn line_total(&self, field: &str) -> Result<Decimal, Error> {
        let with_tax = checked_sum(self.gross(field)?, self.tax_amount.value(), field)?;
        checked_difference(with_tax, self.discount_amount.value(), field)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub subtotal_amount: Amount,
    pub tax_amount: Amount,
    pub shipping_amount: Amount,
    pub discount_amount: Amount,
    pub total_amount: Amount,
    /// The charges as given, each percentage resolved to its amount.
    pub charges: Vec<OrderCharge>,
}

/// `subtotal = Σ unit_price × quantity`; then the charges in order, from a running total
/// that starts at the lines' totals (`subtotal + line tax − line discounts`): a fixed
/// charge's amount as given (in the currency's minor units), a percentage one's
/// `percentage × basis / 100` rounded half-to-even to the currency. `tax`, `shipping` and
/// `discount` are the lines' plus their kinds' charges (`discount` and `promotion` for the
/// discount); `total` is the last running total. A discount larger than what it discounts
/// is refused, so no line or order total is ever negative; every sum is checked against
/// [`crate::money::MAX_ORDER_TOTAL`], so none overflows.
pub fn compute_totals(lines: &[LineAmounts], charges: &[OrderCharge], currency: Currency) -> Result<Totals, Error> {
    let mut subtotal = Decimal::ZERO;
    let mut tax = Decimal::ZERO;
    let mut discount = Decimal::ZERO;
    let mut running = Decimal::ZERO;
    for (i, l) in lines.iter().enumerate() {
        let line_total = l.line_total(&format!("items[{i}].quantity"))?;
        if line_total.is_sign_negative() && !line_total.is_zero() {
            return Err(Error::invalid(
                format!("items[{i}].discount_amount"),
                "a line's discount cannot exceed its price × quantity + tax",
            ));
        }
        subtotal = checked_sum(subtotal, l.gross(&format!("items[{i}].quantity"))?, "subtotal_amount")?;
        tax = checked_sum(tax, l.tax_amount.value(), "tax_amount")?;
        discount = checked_sum(discount, l.discount_amount.value(), "discount_amount")?;
        running = checked_sum(running, line_total, "total_amount")?;
    }
    let mut shipping = Decimal::ZERO;
    let mut resolved = Vec::with_capacity(charges.len());
    for (i, c) in charges.iter().enumerate() {
        let amount = charge_amount(i, c, subtotal, running, currency)?;
        running = match c.direction {
            ChargeDirection::Add => checked_sum(running, amount, "total_amount")?,
            ChargeDirection::Subtract => checked_difference(running, amount, "total_amount")?,
        };
        match c.kind {
            ChargeKind::Tax => tax = checked_sum(tax, amount, "tax_amount")?,
            ChargeKind::Shipping => shipping = checked_sum(shipping, amount, "shipping_amount")?,
            ChargeKind::Discount | ChargeKind::Promotion => {
                discount = checked_sum(discount, amount, "discount_amount")?
            }
            _ => {}
        }
        resolved.push(OrderCharge {
            amount: Amount::from_decimal(amount).in_currency(currency),
            ..c.clone()
        });
    }
    if running.is_sign_negative() && !running.is_zero() {
        return Err(below_zero(charges));
    }
    let amount = |d: Decimal| Amount::from_decimal(d).in_currency(currency);
    Ok(Totals {
        subtotal_amount: amount(subtotal),
        tax_amount: amount(tax),
        shipping_amount: amount(shipping),
        discount_amount: amount(discount),
        total_amount: amount(running),
        charges: resolved,
    })
}

/// A total below zero, named after the `discount_amount` field when its own charge is the
/// only one taking anything off, else after the charges.
fn below_zero(charges: &[OrderCharge]) -> Error {
    let only_the_discount_field = charges
        .iter()
        .filter(|c| c.subtracts())
        .all(|c| c.kind == ChargeKind::Discount && c.percentage.is_none());
    Error::invalid(
        if only_the_discount_field {
            "discount_amount"
        } else {
            "charges"
        },
        "the discounts and charges take the order's total below zero",
    )
}

/// What charge `i` comes to: a fixed amount as given (in the currency's minor units, else
/// refused), a percentage of its basis rounded half-to-even to the currency.
fn charge_amount(
    i: usize,
    c: &OrderCharge,
    subtotal: Decimal,
    running: Decimal,
    currency: Currency,
) -> Result<Decimal, Error> {
    let field = format!("charges[{i}].amount");
    let Some(p) = c.percentage else {
        return Amount::parse_in(c.amount.value(), currency)
            .map(Amount::value)
            .map_err(|e| match e {
                Error::Validation { message, .. } => Error::invalid(&field, format!("{field}: {message}")),
                other => other,
            });
    };
    let base = match c.basis.unwrap_or_default() {
        ChargeBasis::Subtotal => subtotal,
        ChargeBasis::RunningTotal => running,
    };
    if base.is_sign_negative() && !base.is_zero() {
        return Err(Error::invalid(
            format!("charges[{i}].basis"),
            "the running total before this charge is below zero; a percentage of it means nothing",
        ));
    }
    let a = percent_of(base, p.value(), currency)
        .ok_or_else(|| Error::invalid(&field, "the charge is over the largest order amount"))?;
    checked_sum(a, Decimal::ZERO, &field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::charges::legacy_charges;
    use std::str::FromStr;

    const USD: Currency = Currency::USD;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    fn amt(s: &str) -> Amount {
        Amount::from_decimal(Decimal::from_str(s).unwrap_or_default())
    }

    #[test]
    fn synthesq_worked_example() {
        let lines = [
            LineAmounts {
                unit_price: amt("99.99"),
                quantity: 2,
                tax_amount: amt("5.00"),
                discount_amount: amt("0"),
            },
            LineAmounts {
                unit_price: amt("149.99"),
                quantity: 1,
                tax_amount: amt("7.50"),
                discount_amount: amt("15.00"),
            },
        ];
        assert_eq!(
            lines[0].line_total("x").expect("total"),
            Decimal::from_str("204.98").unwrap_or_default()
        );
        assert_eq!(
            lines[1].line_total("x").expect("total"),
            Decimal::from_str("142.49").unwrap_or_default()
        );
        let t = compute_totals(&lines, &[], USD).expect("totals");
        assert_eq!(
            t.subtotal_amount.value(),
            Decimal::from_str("349.97").unwrap_or_default()
        );
        assert_eq!(t.tax_amount.value(), Decimal::from_str("12.50").unwrap_or_default());
        assert_eq!(
            t.discount_amount.value(),
            Decimal::from_str("15.00").unwrap_or_default()
        );
        assert_eq!(t.total_amount.value(), Decimal::from_str("347.47").unwrap_or_default());
    }

    #[test]
    fn shipping_adds_and_order_discount_subtracts() {
        let lines = [LineAmounts {
            unit_price: amt("10"),
            quantity: 3,
            tax_amount: amt("0"),
            discount_amount: amt("0"),
        }];
        let t = compute_totals(&lines, &legacy_charges(dec("4.50"), dec("2.00")), USD).expect("totals");
        assert_eq!(t.total_amount.value(), Decimal::from_str("32.50").unwrap_or_default());
    }

    #[test]
    fn sums_over_the_largest_order_amount_are_refused_not_overflowed() {
        let max = Amount::from_decimal(crate::money::MAX_AMOUNT);
        let line = LineAmounts {
            unit_price: max,
            quantity: 1_000,
            tax_amount: max,
            discount_amount: Amount::ZERO,
        };
        // 10^12 × 1,000 = 10^15 fits; its tax on top does not.
        let e = compute_totals(&[line], &[], USD).expect_err("over the maximum");
        assert!(e.to_string().contains("largest order amount"), "{e}");
        let big = LineAmounts {
            tax_amount: Amount::ZERO,
            ..line
        };
        assert!(compute_totals(&[big], &[], USD).is_ok());
        assert!(compute_totals(&[big, big], &[], USD).is_err());
        let absurd = LineAmounts {
            unit_price: Amount::from_decimal(Decimal::MAX),
            quantity: u32::MAX,
            tax_amount: Amount::from_decimal(Decimal::MAX),
            discount_amount: Amount::ZERO,
        };
        assert!(compute_totals(&[absurd], &legacy_charges(max.value(), max.value()), USD).is_err());
    }

    #[test]
    fn a_discount_bigger_than_the_line_is_refused() {
        let lines = [LineAmounts {
            unit_price: amt("10"),
            quantity: 1,
            tax_amount: amt("0"),
            discount_amount: amt("10.01"),
        }];
        assert!(compute_totals(&lines, &[], USD).is_err());
        let ok = [LineAmounts {
            unit_price: amt("10"),
            quantity: 1,
            tax_amount: amt("0"),
            discount_amount: amt("10"),
        }];
        assert!(compute_totals(&ok, &[], USD).is_ok());
        assert!(compute_totals(&ok, &legacy_charges(Decimal::ZERO, dec("0.01")), USD).is_err());
    }

    fn ten_at(price: &str, qty: u32) -> LineAmounts {
        LineAmounts {
            unit_price: amt(price),
            quantity: qty,
            tax_amount: Amount::ZERO,
            discount_amount: Amount::ZERO,
        }
    }

    fn pct(kind: ChargeKind, p: &str, basis: ChargeBasis, direction: ChargeDirection) -> OrderCharge {
        OrderCharge {
            kind,
            name: kind.title().to_owned(),
            direction,
            percentage: Some(amt(p)),
            basis: Some(basis),
            amount: Amount::ZERO,
        }
    }

    #[test]
    fn charges_add_and_subtract_in_order_from_a_running_total() {
        use ChargeBasis::*;
        use ChargeDirection::*;
        // Lines: 3 × 33.33 = 99.99.
        let lines = [ten_at("33.33", 3)];
        let charges = [
            // 10 % of the subtotal: 9.999 -> 10.00 off.
            pct(ChargeKind::Discount, "10", Subtotal, Subtract),
            OrderCharge::fixed(ChargeKind::Shipping, dec("5.00")),
            // 8 % of the running total 99.99 - 10.00 + 5.00 = 94.99: 7.5992 -> 7.60.
            pct(ChargeKind::Tax, "8", RunningTotal, Add),
            // Either way: a price adjustment that takes 0.59 off.
            OrderCharge {
                direction: Subtract,
                ..OrderCharge::fixed(ChargeKind::PriceAdjustment, dec("0.59"))
            },
            pct(ChargeKind::Surcharge, "2.5", RunningTotal, Add),
        ];
        let t = compute_totals(&lines, &charges, USD).expect("totals");
        let amounts: Vec<String> = t.charges.iter().map(|c| c.amount.to_string()).collect();
        // Surcharge: 2.5 % of 102.00 = 2.55.
        assert_eq!(amounts, ["10.00", "5.00", "7.60", "0.59", "2.55"]);
        assert_eq!(t.subtotal_amount.to_string(), "99.99");
        assert_eq!(t.discount_amount.to_string(), "10.00");
        assert_eq!(t.shipping_amount.to_string(), "5.00");
        assert_eq!(t.tax_amount.to_string(), "7.60");
        // 99.99 - 10.00 + 5.00 + 7.60 - 0.59 + 2.55
        assert_eq!(t.total_amount.to_string(), "104.55");
    }

    #[test]
    fn a_percentage_rounds_half_to_even_in_the_currency() {
        use ChargeBasis::*;
        use ChargeDirection::*;
        // 5 % of 0.50 = 0.025 -> 0.02 (even); of 0.70 = 0.035 -> 0.04 (even).
        for (price, want) in [("0.50", "0.02"), ("0.70", "0.04")] {
            let t = compute_totals(
                &[ten_at(price, 1)],
                &[pct(ChargeKind::Surcharge, "5", Subtotal, Add)],
                USD,
            )
            .expect("totals");
            assert_eq!(t.charges[0].amount.to_string(), want, "5 % of {price}");
        }
        // A currency without minor units rounds to whole units: 5 % of 50 JPY = 2.5 -> 2.
        let jpy = Currency::parse("JPY").expect("JPY");
        let t = compute_totals(
            &[ten_at("50", 1)],
            &[pct(ChargeKind::Surcharge, "5", Subtotal, Add)],
            jpy,
        )
        .expect("totals");
        assert_eq!(t.charges[0].amount.to_string(), "2");
        // A fixed amount with more decimals than the currency has is refused, not rounded.
        let e = compute_totals(
            &[ten_at("50", 1)],
            &[OrderCharge::fixed(ChargeKind::Shipping, dec("1.5"))],
            jpy,
        )
        .expect_err("JPY has no decimals");
        assert!(e.to_string().contains("charges[0].amount"), "{e}");
    }

    #[test]
    fn charges_cannot_take_the_total_below_zero_or_past_the_largest_amount() {
        use ChargeBasis::*;
        use ChargeDirection::*;
        let lines = [ten_at("10", 1)];
        let e = compute_totals(&lines, &[OrderCharge::fixed(ChargeKind::Promotion, dec("10.01"))], USD)
            .expect_err("below zero");
        assert!(e.to_string().contains("below zero"), "{e}");
        // 100 % off is allowed and leaves 0.00.
        let t = compute_totals(&lines, &[pct(ChargeKind::Discount, "100", Subtotal, Subtract)], USD).expect("0");
        assert_eq!(t.total_amount.to_string(), "0.00");
        // Twenty 100 % surcharges on the running total double it twenty times: refused.
        let big = [ten_at("1000000", 1000)];
        let doubling: Vec<OrderCharge> = (0..20)
            .map(|_| pct(ChargeKind::Surcharge, "100", RunningTotal, Add))
            .collect();
        let e = compute_totals(&big, &doubling, USD).expect_err("over the largest amount");
        assert!(e.to_string().contains("largest order amount"), "{e}");
    }
}
