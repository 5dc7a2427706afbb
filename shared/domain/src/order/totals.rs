//! The one place order totals are computed (SPEC §5.2).

use rust_decimal::Decimal;

use crate::error::Error;
use crate::money::{checked_difference, checked_product, checked_sum, Amount};

/// What a line contributes: `unit_price × quantity + tax − discount`.
#[derive(Debug, Clone, Copy)]
pub struct LineAmounts {
    pub unit_price: Amount,
    pub quantity: u32,
    pub tax_amount: Amount,
    pub discount_amount: Amount,
}

impl LineAmounts {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal_amount: Amount,
    pub tax_amount: Amount,
    pub shipping_amount: Amount,
    pub discount_amount: Amount,
    pub total_amount: Amount,
}

/// `subtotal = Σ unit_price × quantity`, `tax = Σ line tax`, `discount = Σ line discount +
/// order discount`, `total = subtotal + tax + shipping − discount`. A discount larger than
/// what it discounts is refused, so no line or order total is ever negative; every sum is
/// checked against [`crate::money::MAX_ORDER_TOTAL`], so none overflows.
pub fn compute_totals(lines: &[LineAmounts], shipping: Amount, order_discount: Amount) -> Result<Totals, Error> {
    let mut subtotal = Decimal::ZERO;
    let mut tax = Decimal::ZERO;
    let mut discount = order_discount.value();
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
    }
    let with_shipping = checked_sum(
        checked_sum(subtotal, tax, "total_amount")?,
        shipping.value(),
        "total_amount",
    )?;
    let total = checked_difference(with_shipping, discount, "total_amount")?;
    if total.is_sign_negative() && !total.is_zero() {
        return Err(Error::invalid(
            "discount_amount",
            "the discounts exceed the order's subtotal + tax + shipping",
        ));
    }
    Ok(Totals {
        subtotal_amount: Amount::from_decimal(subtotal),
        tax_amount: Amount::from_decimal(tax),
        shipping_amount: shipping,
        discount_amount: Amount::from_decimal(discount),
        total_amount: Amount::from_decimal(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

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
        let t = compute_totals(&lines, Amount::ZERO, Amount::ZERO).expect("totals");
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
        let t = compute_totals(&lines, amt("4.50"), amt("2.00")).expect("totals");
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
        let e = compute_totals(&[line], Amount::ZERO, Amount::ZERO).expect_err("over the maximum");
        assert!(e.to_string().contains("largest order amount"), "{e}");
        let big = LineAmounts {
            tax_amount: Amount::ZERO,
            ..line
        };
        assert!(compute_totals(&[big], Amount::ZERO, Amount::ZERO).is_ok());
        assert!(compute_totals(&[big, big], Amount::ZERO, Amount::ZERO).is_err());
        let absurd = LineAmounts {
            unit_price: Amount::from_decimal(Decimal::MAX),
            quantity: u32::MAX,
            tax_amount: Amount::from_decimal(Decimal::MAX),
            discount_amount: Amount::ZERO,
        };
        assert!(compute_totals(&[absurd], max, max).is_err());
    }

    #[test]
    fn a_discount_bigger_than_the_line_is_refused() {
        let lines = [LineAmounts {
            unit_price: amt("10"),
            quantity: 1,
            tax_amount: amt("0"),
            discount_amount: amt("10.01"),
        }];
        assert!(compute_totals(&lines, Amount::ZERO, Amount::ZERO).is_err());
        let ok = [LineAmounts {
            unit_price: amt("10"),
            quantity: 1,
            tax_amount: amt("0"),
            discount_amount: amt("10"),
        }];
        assert!(compute_totals(&ok, Amount::ZERO, Amount::ZERO).is_ok());
        assert!(compute_totals(&ok, Amount::ZERO, amt("0.01")).is_err());
    }
}
