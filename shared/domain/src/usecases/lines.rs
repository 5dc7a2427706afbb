//! From requested items to priced order lines, their totals and the stock they need:
//! shared by placement and by edits of a draft.

use std::collections::HashMap;

use super::place_order::{CreateOrderItem, MAX_ITEMS, MAX_QUANTITY};
use super::{amount_input, text, DecimalInput};
use crate::auth::Actor;
use crate::catalog::Sku;
use crate::error::{Error, FieldErrors, ShortLine};
use crate::ids::ProductId;
use crate::money::{checked_sum, Amount, Currency};
use crate::order::{compute_totals, LineAmounts, Order, OrderCharge, OrderLine};
use crate::plan::{StockMove, MAX_STOCKED_PRODUCTS};
use crate::ports::{CommitRejection, Deps, PlacementKeys, PlacementSnapshot};
use crate::settings::StorefrontPricing;

const MAX_TAGS: usize = 50;

pub(crate) enum ItemRef {
    Id(ProductId),
    Sku(Sku),
}

pub(crate) struct ParsedItem {
    product: ItemRef,
    quantity: u32,
    unit_price: Option<rust_decimal::Decimal>,
    tax: rust_decimal::Decimal,
    discount: rust_decimal::Decimal,
    notes: Option<String>,
}

/// The order's totals from its lines and charges (SPEC §5.2, §10).
pub(crate) fn totals_of(
    lines: &[OrderLine],
    charges: &[OrderCharge],
    currency: Currency,
) -> Result<crate::order::Totals, Error> {
    let amounts: Vec<LineAmounts> = lines.iter().map(LineAmounts::of).collect();
    compute_totals(&amounts, charges, currency)
}

/// The charges the `shipping_amount` and `discount_amount` request fields stand for (one
/// fixed charge each), each checked against the currency under its own field's name.
pub(crate) fn legacy_charges_in(
    shipping: rust_decimal::Decimal,
    discount: rust_decimal::Decimal,
    currency: Currency,
) -> Result<Vec<OrderCharge>, Error> {
    let shipping = Amount::parse_in(shipping, currency).map_err(|e| rename(e, "shipping_amount"))?;
    let discount = Amount::parse_in(discount, currency).map_err(|e| rename(e, "discount_amount"))?;
    Ok(crate::order::charges::legacy_charges(
        shipping.value(),
        discount.value(),
    ))
}

/// The rejections placing stock and counting the cap can meet, as errors; shared by
/// placement and by an order leaving draft.
pub(crate) fn placement_rejection(order: &Order, r: CommitRejection) -> Error {
    match r {
        CommitRejection::InsufficientStock(short) => short_stock(order, &short),
        CommitRejection::ProductUnavailable(id) => {
            Error::invalid("items", format!("product {id} is no longer available"))
        }
        CommitRejection::MonthlyCapReached { limit } => Error::Conflict {
            code: "monthly_limit_reached",
            message: format!(
                "this company's plan allows {limit} customer orders per month and they have all been placed"
            ),
        },
        other => Error::internal(format!("unexpected rejection {other:?}")),
    }
}

pub(crate) fn rename(e: Error, field: &str) -> Error {
    match e {
        Error::Validation { message, .. } => Error::invalid(field, format!("{field}: {message}")),
        other => other,
    }
}

pub(crate) fn parse_tags(errors: &mut FieldErrors, tags: Vec<String>) -> Vec<String> {
    if tags.len() > MAX_TAGS {
        errors.push("tags", format!("at most {MAX_TAGS} tags"));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in tags.into_iter().enumerate() {
        let t = t.trim().to_owned();
        if t.is_empty() || t.chars().count() > 64 {
            errors.push(format!("tags[{i}]"), "a tag is 1-64 characters");
        } else if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

pub(crate) fn parse_items(
    errors: &mut FieldErrors,
    items: Vec<CreateOrderItem>,
    allow_empty: bool,
) -> (Vec<ParsedItem>, bool) {
    if items.is_empty() && !allow_empty {
        errors.push("items", "an order needs at least one item");
    }
    if items.len() > MAX_ITEMS {
        errors.push("items", format!("an order may have at most {MAX_ITEMS} items"));
        return (Vec::new(), false);
    }
    let mut wants_override = false;
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.into_iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        let product = match (it.product_id, it.sku.as_deref()) {
            (Some(id), None) => Some(ItemRef::Id(id)),
            (None, Some(s)) => errors.take(&field("sku"), Sku::parse(s)).map(ItemRef::Sku),
            _ => {
                errors.push(field("product_id"), "give exactly one of product_id or sku");
                None
            }
        };
        if !(1..=MAX_QUANTITY).contains(&it.quantity) {
            errors.push(
                field("quantity"),
                format!("quantity must be a whole number from 1 to {MAX_QUANTITY}"),
            );
        }
        let mut money = |name: &str, v: Option<DecimalInput>| amount_input(errors, &field(name), v);
        let unit_price = it.unit_price.map(|p| money("unit_price", Some(p)));
        let tax = money("tax_amount", it.tax_amount);
        let discount = money("discount_amount", it.discount_amount);
        wants_override |= unit_price.is_some() || !discount.is_zero();
        let notes = text(errors, &field("notes"), it.notes, 500);
        if let Some(product) = product {
            out.push(ParsedItem {
                product,
                quantity: u32::try_from(it.quantity.clamp(1, MAX_QUANTITY)).unwrap_or(1),
                unit_price,
                tax,
                discount,
                notes,
            });
        }
    }
    (out, wants_override)
}

pub(crate) async fn resolve_products(
    deps: &Deps,
    actor: &Actor,
    items: &[ParsedItem],
) -> Result<Vec<ProductId>, Error> {
    let skus: Vec<Sku> = items
        .iter()
        .filter_map(|i| match &i.product {
            ItemRef::Sku(s) => Some(s.clone()),
            ItemRef::Id(_) => None,
        })
        .collect();
    let found = if skus.is_empty() {
        HashMap::new()
    } else {
        deps.store.find_skus(&actor.company_id, &skus).await?
    };
    items
        .iter()
        .map(|i| match &i.product {
            ItemRef::Id(id) => Ok(*id),
            ItemRef::Sku(s) => found
                .get(&s.key())
                .copied()
                .ok_or_else(|| Error::not_found("product with sku", s)),
        })
        .collect()
}

/// Resolves the items' products (SKUs to ids, one extra read only when SKUs were used) and
/// reads everything pricing them needs in one batch: the ids, in item order, and the
/// snapshot.
pub(crate) async fn snapshot_for(
    deps: &Deps,
    actor: &Actor,
    items: &[ParsedItem],
    keys: PlacementKeys,
) -> Result<(Vec<ProductId>, PlacementSnapshot), Error> {
    let ids = resolve_products(deps, actor, items).await?;
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    let snapshot = deps
        .store
        .load_placement(&PlacementKeys {
            products: distinct,
            ..keys
        })
        .await?;
    Ok((ids, snapshot))
}

pub(crate) fn build_lines(
    snap: &PlacementSnapshot,
    items: &[ParsedItem],
    ids: &[ProductId],
    currency: Currency,
) -> Result<Vec<OrderLine>, Error> {
    let mut errors = FieldErrors::default();
    let mut lines = Vec::with_capacity(items.len());
    for (i, (item, id)) in items.iter().zip(ids).enumerate() {
        let p = snap.products.get(id).ok_or_else(|| Error::not_found("product", id))?;
        let field = |f: &str| format!("items[{i}].{f}");
        if !p.active {
            errors.push(
                field("product_id"),
                format!("{} ({}) is not active and cannot be ordered", p.name, p.sku),
            );
            continue;
        }
        if p.currency != currency {
            errors.push(
                field("product_id"),
                format!(
                    "{} is priced in {}, the order is in {}",
                    p.name,
                    p.currency.code(),
                    currency.code()
                ),
            );
            continue;
        }
        let price = match item.unit_price {
            Some(explicit) => explicit,
            None => snap.overrides.get(id).copied().unwrap_or(p.price).value(),
        };
        let mut amount = |name: &str, v| errors_take_amount(&mut errors, &field(name), v, currency);
        let (unit_price, tax_amount, discount_amount) = (
            amount("unit_price", price),
            amount("tax_amount", item.tax),
            amount("discount_amount", item.discount),
        );
        let l = LineAmounts {
            unit_price,
            quantity: item.quantity,
            tax_amount,
            discount_amount,
        };
        let line_total = errors
            .take(&field("quantity"), l.line_total(&field("quantity")))
            .unwrap_or_default();
        lines.push(OrderLine {
            line_no: u32::try_from(i + 1).unwrap_or(u32::MAX),
            product_id: p.id,
            sku: p.sku.clone(),
            name: p.name.clone(),
            quantity: item.quantity,
            unit_price,
            tax_amount,
            discount_amount,
            line_total: Amount::from_decimal(line_total).in_currency(currency),
            fulfillment: p.fulfillment,
            track_inventory: p.track_inventory,
            notes: item.notes.clone(),
            parent_line_no: None,
        });
    }
    errors.finish()?;
    Ok(lines)
}

/// Prices a storefront order's lines with the company's tax rate and returns its shipping
/// charge (flat, or free from the threshold on), both in the order's currency.
pub(crate) fn price_storefront(
    lines: &mut [OrderLine],
    pricing: &StorefrontPricing,
    currency: Currency,
) -> Result<rust_decimal::Decimal, Error> {
    let mut subtotal = rust_decimal::Decimal::ZERO;
    for (i, l) in lines.iter_mut().enumerate() {
        let field = format!("items[{i}].quantity");
        let mut amounts = LineAmounts {
            unit_price: l.unit_price,
            quantity: l.quantity,
            tax_amount: Amount::ZERO,
            discount_amount: l.discount_amount,
        };
        let gross = amounts.gross(&field)?;
        amounts.tax_amount = Amount::from_decimal(pricing.line_tax(gross, currency)?).in_currency(currency);
        l.tax_amount = amounts.tax_amount;
        l.line_total = Amount::from_decimal(amounts.line_total(&field)?).in_currency(currency);
        subtotal = checked_sum(subtotal, gross, "subtotal_amount")?;
    }
    let shipping = pricing.shipping(subtotal);
    if shipping.is_sign_negative() || shipping > crate::money::MAX_AMOUNT {
        return Err(Error::internal(
            "the company's storefront shipping amount is out of range",
        ));
    }
    Ok(Amount::from_decimal(shipping).in_currency(currency).value())
}

fn errors_take_amount(errors: &mut FieldErrors, field: &str, v: rust_decimal::Decimal, c: Currency) -> Amount {
    match Amount::parse_in(v, c) {
        Ok(a) => a,
        Err(e) => {
            errors.push(field, format!("{field}: {e}"));
            Amount::ZERO
        }
    }
}

/// Checks a placement's stock moves before any write: at most
/// [`MAX_STOCKED_PRODUCTS`] products, and every `Take` covered by the snapshot's stock,
/// so a short order is refused whole, naming every short line (the transaction's guards
/// still decide under concurrency).
pub(crate) fn check_stock(snap: &PlacementSnapshot, moves: &[StockMove]) -> Result<(), Error> {
    if moves.len() > MAX_STOCKED_PRODUCTS {
        return Err(Error::LimitExceeded {
            code: "too_many_products",
            message: format!(
                "an order may decrement stock of at most {MAX_STOCKED_PRODUCTS} distinct products ({} given); split it into several orders",
                moves.len()
            ),
        });
    }
    let mut short = Vec::new();
    for m in moves {
        let StockMove::Take {
            product_id, quantity, ..
        } = *m
        else {
            continue;
        };
        let p = snap
            .products
            .get(&product_id)
            .ok_or_else(|| Error::not_found("product", product_id))?;
        if !p.active {
            return Err(Error::invalid(
                "items",
                format!("{} ({}) is no longer available", p.name, p.sku),
            ));
        }
        if p.stock < quantity {
            short.push(ShortLine {
                product_id: product_id.to_string(),
                sku: p.sku.to_string(),
                name: p.name.clone(),
                requested: quantity,
                available: p.stock,
            });
        }
    }
    if short.is_empty() {
        Ok(())
    } else {
        Err(Error::InsufficientStock(short))
    }
}

pub(crate) fn short_stock(order: &Order, short: &[(ProductId, u32)]) -> Error {
    Error::InsufficientStock(
        short
            .iter()
            .filter_map(|(id, available)| {
                let requested: u32 = order
                    .items
                    .iter()
                    .filter(|l| l.product_id == *id)
                    .map(|l| l.quantity)
                    .sum();
                let line = order.items.iter().find(|l| l.product_id == *id)?;
                Some(ShortLine {
                    product_id: id.to_string(),
                    sku: line.sku.to_string(),
                    name: line.name.clone(),
                    requested,
                    available: *available,
                })
            })
            .collect(),
    )
}
