//! Inventory health (SPEC §6): how many active, tracked products are healthy (above their
//! threshold), low (1 to the threshold) and out (0), and paged lists of the low and the
//! out ones. The counts read the low and out products only plus one counter, so their
//! cost follows how many need attention, never the catalog's size (see the stores'
//! `inventory_health`). A product's own `low_stock_threshold` applies, else the company's.
//!
//! Orders and relative adjustments move stock with one atomic update each and leave the
//! level index to the jobs worker ([`reindex_order_products`]), which re-derives it from
//! each product their event names: the counts follow within the relay's delay. Every other
//! product write (edit, absolute set, bulk, import) keeps it in its own transaction.

use serde::Serialize;

use crate::auth::{Actor, Permission};
use crate::catalog::{Product, StockLevel};
use crate::error::Error;
use crate::ids::CompanyId;
use crate::outbox::DomainEvent;
use crate::ports::{Deps, Page, PageRequest};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InventoryHealthView {
    /// Active, tracked products above their threshold.
    pub healthy: u64,
    /// Active, tracked products with 1 to their threshold in stock.
    pub low: u64,
    /// Active, tracked products with none.
    pub out: u64,
    /// healthy + low + out: every active product that tracks inventory.
    pub total: u64,
    /// The company's `low_stock_threshold`, for products without their own.
    pub default_low_stock_threshold: u32,
    /// The company's stock policy. The levels count each product's `available` units
    /// (its `stock`); under `reserve_on_confirm` the units held for confirmed orders
    /// (`reserved`, on each product) are not in it.
    pub stock_policy: crate::settings::StockPolicy,
}

pub async fn health(deps: &Deps, actor: &Actor) -> Result<InventoryHealthView, Error> {
    actor.require(Permission::InventoryRead)?;
    let c = &actor.company_id;
    let settings = deps.store.get_settings(c).await?;
    let default = settings.low_stock_threshold;
    let h = deps.store.inventory_health(c, default).await?;
    Ok(InventoryHealthView {
        healthy: h.healthy,
        low: h.low,
        out: h.out,
        total: h.healthy + h.low + h.out,
        default_low_stock_threshold: default,
        stock_policy: settings.stock_policy,
    })
}

/// One page of the low (lowest first) or out (by SKU) products.
pub async fn products_at(
    deps: &Deps,
    actor: &Actor,
    level: StockLevel,
    page: &PageRequest,
) -> Result<Page<Product>, Error> {
    actor.require(Permission::InventoryRead)?;
    let c = &actor.company_id;
    let default = deps.store.get_settings(c).await?.low_stock_threshold;
    deps.store.products_at_level(c, level, default, page).await
}

/// The jobs worker's part for an order event: re-derive the level and in-stock index of
/// every tracked product on the order (its stock may have moved). Idempotent: a
/// redelivered event rewrites nothing. Returns how many products were rewritten.
///
/// A product another event of the same batch re-derives is left to it (`reads`): that
/// read comes after every event of the batch.
pub async fn reindex_order_products(
    deps: &Deps,
    company: &CompanyId,
    event: &DomainEvent,
    reads: &crate::usecases::batch_reads::BatchReads,
) -> Result<usize, Error> {
    let mut products = match event {
        DomainEvent::OrderPlaced(e) => e.decremented_products.clone(),
        // A status change moves the stock of the order's tracked lines, or nothing.
        DomainEvent::OrderStatusChanged(e) => match deps.store.get_order(company, e.order_id).await? {
            Some(order) => order.tracked_products(),
            None => Vec::new(),
        },
        // An edit never moves stock; a delivery is not an order yet.
        // A relative adjustment: the one product.
        DomainEvent::StockAdjusted(e) => vec![e.product_id],
        // A return that restocked: its products.
        DomainEvent::ChildOrderCreated(e) => e.restocked_products.clone(),
        DomainEvent::OrderUpdated(_)
        | DomainEvent::InvoiceRequested(_)
        | DomainEvent::DeliveryReceived(_)
        | DomainEvent::ImportQueued(_)
        | DomainEvent::HighValueRecount(_) => Vec::new(),
    };
    products.sort();
    products.dedup();
    let mut rewritten = 0;
    for p in products {
        if !reads.first_to_reindex(company, p) {
            continue;
        }
        if deps.store.reindex_product(company, p).await? {
            rewritten += 1;
        }
    }
    Ok(rewritten)
}
