//! Products (SPEC §4, §7): create, read, list and edit, each edit audited.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{text, DecimalInput};
use crate::audit::{AuditAction, AuditEntry, EntityKind};
use crate::auth::{Actor, Permission};
use crate::catalog::{Fulfillment, Product, Sku, MAX_STOCK_SHARDS};
use crate::error::{Error, FieldErrors};
use crate::ids::{EventId, ProductId};
use crate::money::{Amount, Currency};
use crate::outbox::{DomainEvent, OutboxEvent, StockAdjusted};
use crate::ports::{Deps, Page, PageRequest, ProductFilter, StockAdjust};

const MAX_STOCK: i64 = crate::catalog::MAX_STOCK as i64;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    /// Unique per company, compared case-insensitively.
    #[schema(pattern = "^[A-Za-z0-9._/+-]{1,64}$")]
    pub sku: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 100)]
    pub category: Option<String>,
    #[schema(max_length = 4000)]
    pub description: Option<String>,
    pub price: DecimalInput,
    /// ISO 4217; defaults to the company's currency.
    #[schema(schema_with = crate::money::currency_code_schema)]
    pub currency: Option<String>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    #[serde(deserialize_with = "crate::whole::de")]
    pub stock: i64,
    pub active: Option<bool>,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "crate::whole::de_opt")]
    pub low_stock_threshold: Option<i64>,
    pub track_inventory: Option<bool>,
    pub fulfillment: Option<Fulfillment>,
    /// Marks the product hot: its stock is spread over this many shards (1-16; default 1)
    /// so a flash sale's orders do not all write one item. Orders fall back across shards,
    /// and the stock shown is always the total.
    #[schema(minimum = 1, maximum = 16)]
    #[serde(default, deserialize_with = "crate::whole::de_opt")]
    pub stock_shards: Option<i64>,
}

/// A partial edit; absent fields stay as they are. `stock` needs `stock:adjust`, every
/// other field `products:write`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    #[schema(pattern = "^[A-Za-z0-9._/+-]{1,64}$", nullable = false)]
    #[serde(default, deserialize_with = "super::present")]
    pub sku: Option<String>,
    #[schema(min_length = 1, max_length = 200, nullable = false)]
    #[serde(default, deserialize_with = "super::present")]
    pub name: Option<String>,
    /// `null` (or `""`) clears it.
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub category: Option<Option<String>>,
    /// `null` (or `""`) clears it.
    #[serde(default, deserialize_with = "super::nullable")]
    #[schema(value_type = Option<String>, max_length = 4000)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub price: Option<DecimalInput>,
    #[schema(minimum = 0, maximum = 1_000_000_000, nullable = false)]
    #[serde(default, deserialize_with = "crate::whole::de_present")]
    pub stock: Option<i64>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub active: Option<bool>,
    /// `null` returns the product to the company's default threshold.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1_000_000_000)]
    #[serde(default, deserialize_with = "crate::whole::de_nullable")]
    pub low_stock_threshold: Option<Option<i64>>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub track_inventory: Option<bool>,
    #[serde(default, deserialize_with = "super::present")]
    #[schema(nullable = false)]
    pub fulfillment: Option<Fulfillment>,
    /// How many shards the stock is spread over (1-16): more for a hot product. The stock
    /// is carried over whole.
    #[schema(minimum = 1, maximum = 16, nullable = false)]
    #[serde(default, deserialize_with = "crate::whole::de_present")]
    pub stock_shards: Option<i64>,
    /// Optimistic concurrency: the version you read; a newer one answers 409.
    #[serde(default, deserialize_with = "crate::whole::de_present")]
    #[schema(nullable = false)]
    pub expected_version: Option<u64>,
    /// Required with `stock`: the stock level this set is based on (what you read). If a
    /// sale or another edit moved it since, the set is refused (409 `stock_changed`, with
    /// the stock now) instead of erasing it. For a difference, use the stock-adjustments
    /// endpoint.
    #[schema(minimum = 0, maximum = 1_000_000_000, nullable = false)]
    #[serde(default, deserialize_with = "crate::whole::de_present")]
    pub expected_stock: Option<i64>,
}

/// A relative stock change: `delta` units in (positive) or out (negative), with why.
/// Removing more than there is leaves 0.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustStockRequest {
    /// Units to add (positive) or remove (negative); not 0.
    #[schema(schema_with = nonzero_delta_schema)]
    #[serde(deserialize_with = "crate::whole::de")]
    pub delta: i64,
    /// Why (a delivery, a count, damage): kept in the audit log.
    #[schema(min_length = 1, max_length = 500, pattern = "[^\\s\\u0085\\u001c-\\u001f\\ufeff]")]
    pub reason: String,
}

/// `delta` in the OpenAPI document: a non-zero whole number, written as the two
/// ranges either side of 0 so generated clients and fuzzers see the rule too.
fn nonzero_delta_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
    let range = |min: i64, max: i64| {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Integer))
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(min))
            .maximum(Some(max))
    };
    OneOfBuilder::new()
        .item(range(-MAX_STOCK, -1))
        .item(range(1, MAX_STOCK))
        .description(Some("Units to add (positive) or remove (negative); not 0."))
        .build()
        .into()
}

/// What an adjustment did, and the product after it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StockAdjustment {
    pub requested: i64,
    /// What was applied: the request, or less when the stock could not go below 0.
    pub applied: i64,
    /// The stock would have gone below 0 and was set to 0 instead.
    pub clamped: bool,
    pub reason: String,
    pub product: Product,
}

fn name(errors: &mut FieldErrors, v: String) -> String {
    let v = v.trim().to_owned();
    if v.is_empty() || v.chars().count() > 200 {
        errors.push("name", "name must be 1-200 characters");
    }
    v
}

fn shard_count(errors: &mut FieldErrors, v: i64) -> u32 {
    let max = i64::from(MAX_STOCK_SHARDS);
    if !(1..=max).contains(&v) {
        errors.push(
            "stock_shards",
            format!("stock_shards must be a whole number from 1 to {max}"),
        );
        return 1;
    }
    u32::try_from(v).unwrap_or(1)
}

fn count(errors: &mut FieldErrors, field: &str, v: i64) -> u32 {
    if !(0..=MAX_STOCK).contains(&v) {
        errors.push(field, format!("{field} must be a whole number from 0 to {MAX_STOCK}"));
        return 0;
    }
    u32::try_from(v).unwrap_or(0)
}

pub async fn create_product(deps: &Deps, actor: &Actor, req: CreateProductRequest) -> Result<Product, Error> {
    actor.require(Permission::ProductsWrite)?;
    let mut errors = FieldErrors::default();
    let sku = errors.take("sku", Sku::parse(&req.sku));
    let name = name(&mut errors, req.name);
    let category = text(&mut errors, "category", req.category, 100);
    let description = text(&mut errors, "description", req.description, 4_000);
    let stock = count(&mut errors, "stock", req.stock);
    let threshold = req
        .low_stock_threshold
        .map(|t| count(&mut errors, "low_stock_threshold", t));
    let stock_shards = req.stock_shards.map_or(1, |v| shard_count(&mut errors, v));
    let currency = match req.currency.as_deref() {
        Some(c) => errors.take("currency", Currency::parse(c)),
        None => Some(deps.store.get_settings(&actor.company_id).await?.default_currency),
    };
    let price = currency.and_then(|c| errors.take("price", Amount::parse_in(req.price.0, c)));
    errors.finish()?;
    let (Some(sku), Some(currency), Some(price)) = (sku, currency, price) else {
        return Err(Error::internal("validated fields missing"));
    };
    let now = deps.clock.now();
    let product = Product {
        id: ProductId::new(deps.ids.uuid()),
        company_id: actor.company_id.clone(),
        sku,
        name,
        category,
        description,
        price,
        currency,
        stock,
        reserved: 0,
        active: req.active.unwrap_or(true),
        low_stock_threshold: threshold,
        track_inventory: req.track_inventory.unwrap_or(true),
        fulfillment: req.fulfillment.unwrap_or_default(),
        version: 1,
        created_at: now,
        updated_at: now,
        stock_shards,
        shards: Vec::new(),
    };
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::ProductCreated,
        EntityKind::Product,
        product.id,
        None,
        Some(json!(product)),
        json!({ "sku": product.sku, "stock": product.stock }),
    );
    deps.store.create_product(&product, &audit).await?;
    Ok(product)
}

pub async fn get_product(deps: &Deps, actor: &Actor, id: ProductId) -> Result<Product, Error> {
    actor.require(Permission::ProductsRead)?;
    match deps.store.get_product(&actor.company_id, id).await? {
        // Customers browse the live catalog only.
        Some(p) if p.active || actor.role.is_staff() || actor.customer_id.is_none() => Ok(p),
        _ => Err(Error::not_found("product", id)),
    }
}

pub async fn list_products(
    deps: &Deps,
    actor: &Actor,
    mut filter: ProductFilter,
    page: PageRequest,
) -> Result<Page<Product>, Error> {
    actor.require(Permission::ProductsRead)?;
    if actor.customer_id.is_some() {
        filter.active_only = true;
    }
    if let Some(q) = filter.q.take() {
        let q = super::blank_trimmed(&q).to_lowercase().replace('#', "");
        if q.is_empty() || q.chars().count() > 100 {
            return Err(Error::invalid("q", "q is 1-100 characters"));
        }
        filter.q = Some(q);
    }
    deps.store.list_products(&actor.company_id, &filter, &page).await
}

pub async fn update_product(
    deps: &Deps,
    actor: &Actor,
    id: ProductId,
    req: UpdateProductRequest,
) -> Result<Product, Error> {
    let touches_catalog = req.sku.is_some()
        || req.name.is_some()
        || req.category.is_some()
        || req.description.is_some()
        || req.price.is_some()
        || req.active.is_some()
        || req.low_stock_threshold.is_some()
        || req.track_inventory.is_some()
        || req.fulfillment.is_some()
        || req.stock_shards.is_some();
    if touches_catalog {
        actor.require(Permission::ProductsWrite)?;
    }
    if req.stock.is_some() {
        actor.require(Permission::StockAdjust)?;
    }
    if !touches_catalog && req.stock.is_none() {
        return Err(Error::invalid("body", "nothing to update: give at least one field"));
    }
    let before = deps
        .store
        .get_product(&actor.company_id, id)
        .await?
        .ok_or_else(|| Error::not_found("product", id))?;
    if req.expected_version.is_some_and(|v| v != before.version) {
        return Err(version_conflict(&before));
    }
    let mut errors = FieldErrors::default();
    let mut after = before.clone();
    if let Some(s) = req.sku {
        if let Some(s) = errors.take("sku", Sku::parse(&s)) {
            after.sku = s;
        }
    }
    if let Some(n) = req.name {
        after.name = name(&mut errors, n);
    }
    if let Some(c) = req.category {
        after.category = text(&mut errors, "category", c, 100);
    }
    if let Some(d) = req.description {
        after.description = text(&mut errors, "description", d, 4_000);
    }
    if let Some(p) = req.price {
        if let Some(p) = errors.take("price", Amount::parse_in(p.0, after.currency)) {
            after.price = p;
        }
    }
    if let Some(s) = req.stock {
        after.stock = count(&mut errors, "stock", s);
        match req.expected_stock {
            None => errors.push(
                "expected_stock",
                "setting stock needs expected_stock, the stock level the new value is based on (or adjust it by a difference instead)",
            ),
            Some(e) if e != i64::from(before.stock) => {
                return Err(Error::StockChanged {
                    current_stock: before.stock,
                })
            }
            Some(_) => {}
        }
    } else if req.expected_stock.is_some() {
        errors.push("expected_stock", "expected_stock goes with stock");
    }
    if let Some(a) = req.active {
        after.active = a;
    }
    if let Some(t) = req.low_stock_threshold {
        after.low_stock_threshold = t.map(|t| count(&mut errors, "low_stock_threshold", t));
    }
    if let Some(t) = req.track_inventory {
        after.track_inventory = t;
    }
    if let Some(f) = req.fulfillment {
        after.fulfillment = f;
    }
    if let Some(v) = req.stock_shards {
        after.stock_shards = shard_count(&mut errors, v);
    }
    errors.finish()?;
    let now = deps.clock.now();
    after.version = before.version + 1;
    after.updated_at = now;
    let audit = AuditEntry::new(
        EventId::new(deps.ids.uuid()),
        now,
        actor,
        AuditAction::ProductUpdated,
        EntityKind::Product,
        id,
        Some(json!(before)),
        Some(json!(after)),
        json!({ "sku": after.sku, "stock_before": before.stock, "stock_after": after.stock }),
    );
    deps.store.update_product(&before, &after, &audit).await?;
    Ok(after)
}

const ADJUST_ATTEMPTS: usize = 5;

/// `POST /api/v1/products/{id}/stock-adjustments`: adds or removes units with one
/// conditional `ADD`, audited with its reason. Removing more than the stock sets it to 0
/// (conditional on the stock it saw, so a sale in between is never erased), and says so.
pub async fn adjust_stock(
    deps: &Deps,
    actor: &Actor,
    id: ProductId,
    req: AdjustStockRequest,
) -> Result<StockAdjustment, Error> {
    actor.require(Permission::StockAdjust)?;
    let mut errors = FieldErrors::default();
    if req.delta == 0 || req.delta.abs() > MAX_STOCK {
        errors.push(
            "delta",
            format!("delta must be a whole number from -{MAX_STOCK} to {MAX_STOCK}, not 0"),
        );
    }
    let reason = text(&mut errors, "reason", Some(req.reason), 500);
    if reason.is_none() {
        errors.push("reason", "an adjustment needs a reason (1-500 characters)");
    }
    errors.finish()?;
    let reason = reason.unwrap_or_default();
    let c = &actor.company_id;
    let product = deps
        .store
        .get_product(c, id)
        .await?
        .ok_or_else(|| Error::not_found("product", id))?;
    let audit = |applied: i64, clamped: bool, before: Option<u32>| {
        AuditEntry::new(
            EventId::new(deps.ids.uuid()),
            deps.clock.now(),
            actor,
            AuditAction::StockAdjusted,
            EntityKind::Product,
            id,
            before.map(|b| json!({ "stock": b })),
            before.map(|_| json!({ "stock": 0 })),
            json!({ "sku": product.sku, "requested": req.delta, "applied": applied, "clamped": clamped, "reason": reason }),
        )
    };
    let adjusted = OutboxEvent {
        id: EventId::new(deps.ids.uuid()),
        company_id: c.clone(),
        subject: id.to_string(),
        occurred_at: deps.clock.now(),
        event: DomainEvent::StockAdjusted(StockAdjusted { product_id: id }),
    };
    for _ in 0..ADJUST_ATTEMPTS {
        let (applied, clamped) = match deps
            .store
            .adjust_stock(c, id, req.delta, &audit(req.delta, false, None), &adjusted)
            .await?
        {
            StockAdjust::Applied => (req.delta, false),
            // The request is well formed; it is the current stock that refuses
            // it, so this is a conflict with state (409), like a stale write.
            StockAdjust::OverMax { current } => {
                return Err(Error::Conflict {
                    code: "stock_limit_exceeded",
                    message: format!(
                        "the stock is {current}; adding {} would pass the maximum stock of {MAX_STOCK}",
                        req.delta
                    ),
                })
            }
            // Removing more than there is: take it to 0, if it is still what we saw.
            StockAdjust::Short { current } => {
                let applied = -i64::from(current);
                match deps
                    .store
                    .set_stock(c, id, current, 0, &audit(applied, true, Some(current)))
                    .await
                {
                    Ok(()) => (applied, true),
                    Err(Error::StockChanged { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
        };
        let product = deps
            .store
            .get_product(c, id)
            .await?
            .ok_or_else(|| Error::not_found("product", id))?;
        tracing::info!(product_id = %id, requested = req.delta, applied, clamped, "stock adjusted");
        return Ok(StockAdjustment {
            requested: req.delta,
            applied,
            clamped,
            reason,
            product,
        });
    }
    Err(Error::Contention)
}

pub fn version_conflict(p: &Product) -> Error {
    Error::Conflict {
        code: "version_conflict",
        message: format!(
            "product {} was changed by someone else (now at version {}); reload and retry",
            p.id, p.version
        ),
    }
}

/// The most products one bulk stock change takes: one transaction holds 100 actions, three
/// per product (the product, its stock shard, a hot product one per shard, and its
/// stock-level entry) and one for the audit entry. A larger selection is refused whole
/// (422 `too_many_products`), never split: a request is all or nothing, and a split one
/// could half-apply. The dashboard sends a larger selection as several requests.
pub const MAX_BULK_PRODUCTS: usize = 33;
const BULK_ATTEMPTS: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BulkStockMode {
    /// Every product's stock becomes `value`.
    Set,
    /// `value` is added to every product's stock (negative removes; below 0 leaves 0).
    Delta,
}

/// `POST /api/v1/products/stock/bulk` (the dashboard's "Stock bulk action").
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkStockRequest {
    /// 1 to 99 distinct products of the company.
    #[schema(schema_with = bulk_ids_schema)]
    pub product_ids: Vec<ProductId>,
    pub mode: BulkStockMode,
    /// `set`: 0 to 1,000,000,000. `delta`: -1,000,000,000 to 1,000,000,000, not 0.
    #[serde(deserialize_with = "crate::whole::de")]
    #[schema(minimum = -1_000_000_000, maximum = 1_000_000_000)]
    pub value: i64,
    #[schema(min_length = 1, max_length = 500, pattern = "[^\\s\\u0085\\u001c-\\u001f\\ufeff]")]
    pub reason: String,
}

fn bulk_ids_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaFormat, SchemaType, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(SchemaType::new(Type::String))
                .format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Uuid))),
        )
        .min_items(Some(1))
        .max_items(Some(MAX_BULK_PRODUCTS))
        .unique_items(true)
        .description(Some("1 to 99 distinct product ids of the company."))
        .build()
        .into()
}

/// How the OpenAPI document states [`BulkStockRequest`]'s rule between fields: a `set`
/// takes 0 to 1,000,000,000, a `delta` any non-zero whole number in ±1,000,000,000.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum BulkStockBody {
    Set(BulkSet),
    Delta(BulkDelta),
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkSet {
    #[schema(schema_with = bulk_ids_schema)]
    pub product_ids: Vec<ProductId>,
    #[schema(pattern = "^set$")]
    pub mode: String,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub value: i64,
    #[schema(min_length = 1, max_length = 500, pattern = "[^\\s\\u0085\\u001c-\\u001f\\ufeff]")]
    pub reason: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDelta {
    #[schema(schema_with = bulk_ids_schema)]
    pub product_ids: Vec<ProductId>,
    #[schema(pattern = "^delta$")]
    pub mode: String,
    #[schema(schema_with = nonzero_delta_schema)]
    pub value: i64,
    #[schema(min_length = 1, max_length = 500, pattern = "[^\\s\\u0085\\u001c-\\u001f\\ufeff]")]
    pub reason: String,
}

/// One product's stock before and after a bulk change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkStockLine {
    pub product_id: ProductId,
    pub sku: Sku,
    pub before: u32,
    pub after: u32,
    /// `delta` took it below 0, so it was set to 0.
    pub clamped: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BulkStockResult {
    pub mode: BulkStockMode,
    pub value: i64,
    pub reason: String,
    /// In the order the ids were sent.
    pub products: Vec<BulkStockLine>,
}

/// Sets or shifts the stock of up to 99 products in one transaction with one
/// `ProductBulkUpdated` audit entry listing each product's before and after. Each write is
/// conditional on the stock it was computed from, so an order landing in between is never
/// erased: the whole change is recomputed from the new stock and written again.
pub async fn bulk_stock(deps: &Deps, actor: &Actor, req: BulkStockRequest) -> Result<BulkStockResult, Error> {
    actor.require(Permission::StockAdjust)?;
    let mut errors = FieldErrors::default();
    if req.product_ids.is_empty() {
        errors.push("product_ids", "product_ids names at least one product");
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = req.product_ids.iter().find(|id| !seen.insert(**id)) {
        errors.push("product_ids", format!("product {dup} is named twice"));
    }
    let limit = MAX_STOCK;
    match req.mode {
        BulkStockMode::Set if !(0..=limit).contains(&req.value) => {
            errors.push("value", format!("a stock to set is 0 to {MAX_STOCK}"))
        }
        BulkStockMode::Delta if req.value == 0 || req.value.abs() > limit => errors.push(
            "value",
            format!("a delta is a whole number from -{MAX_STOCK} to {MAX_STOCK}, not 0"),
        ),
        _ => {}
    }
    let reason = text(&mut errors, "reason", Some(req.reason.clone()), 500);
    if reason.is_none() && !errors.has("reason") {
        errors.push("reason", "a bulk change needs a reason (1-500 characters)");
    }
    errors.finish()?;
    if req.product_ids.len() > MAX_BULK_PRODUCTS {
        return Err(Error::LimitExceeded {
            code: "too_many_products",
            message: format!(
                "one bulk change takes at most {MAX_BULK_PRODUCTS} products (one transaction); send {} as several requests",
                req.product_ids.len()
            ),
        });
    }
    let reason = reason.unwrap_or_default();
    let c = &actor.company_id;
    for _ in 0..BULK_ATTEMPTS {
        let found = deps.store.get_products(c, &req.product_ids).await?;
        if let Some(missing) = req.product_ids.iter().find(|id| !found.contains_key(id)) {
            return Err(Error::not_found("product", missing));
        }
        let actions: usize = 1 + found
            .values()
            .map(|p| 2 + usize::try_from(p.stock_shards.max(1)).unwrap_or(1))
            .sum::<usize>();
        if actions > crate::plan::MAX_TRANSACTION_ACTIONS {
            return Err(Error::LimitExceeded {
                code: "too_many_products",
                message: format!(
                    "these products' stock spans {actions} writes (a hot product's stock is one per shard) and one bulk change is one transaction of at most {}; send them as several requests",
                    crate::plan::MAX_TRANSACTION_ACTIONS
                ),
            });
        }
        let mut lines = Vec::with_capacity(req.product_ids.len());
        for id in &req.product_ids {
            let p = &found[id];
            let (after, clamped) = match req.mode {
                BulkStockMode::Set => (req.value, false),
                BulkStockMode::Delta => {
                    let raw = i64::from(p.stock) + req.value;
                    (raw.max(0), raw < 0)
                }
            };
            let after = u32::try_from(after)
                .ok()
                .filter(|a| i64::from(*a) <= MAX_STOCK)
                .ok_or_else(|| Error::Conflict {
                    code: "stock_limit_exceeded",
                    message: format!(
                        "{} has {} in stock; adding {} would pass the maximum stock of {MAX_STOCK}; nothing changed",
                        p.sku, p.stock, req.value
                    ),
                })?;
            lines.push(BulkStockLine {
                product_id: *id,
                sku: p.sku.clone(),
                before: p.stock,
                after,
                clamped,
            });
        }
        let result = BulkStockResult {
            mode: req.mode,
            value: req.value,
            reason: reason.clone(),
            products: lines,
        };
        let stocks = |f: fn(&BulkStockLine) -> u32| -> serde_json::Value {
            result
                .products
                .iter()
                .map(|l| (l.product_id.to_string(), json!(f(l))))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        let audit = AuditEntry::new(
            EventId::new(deps.ids.uuid()),
            deps.clock.now(),
            actor,
            AuditAction::ProductBulkUpdated,
            EntityKind::Product,
            "bulk",
            Some(json!({ "stock": stocks(|l| l.before) })),
            Some(json!({ "stock": stocks(|l| l.after) })),
            json!({ "mode": req.mode, "value": req.value, "reason": reason, "products": result.products }),
        );
        let changes: Vec<(ProductId, u32, u32)> = result
            .products
            .iter()
            .map(|l| (l.product_id, l.before, l.after))
            .collect();
        match deps.store.set_stocks(c, &changes, &audit).await? {
            Ok(()) => {
                tracing::info!(products = changes.len(), mode = ?req.mode, value = req.value, "bulk stock change");
                return Ok(result);
            }
            // An order or another edit moved some stock: recompute from what it is now.
            Err(moved) => {
                tracing::info!(moved = moved.len(), "bulk stock change raced; recomputing");
                continue;
            }
        }
    }
    Err(Error::Contention)
}

/// Activates or deactivates a product (audited `ProductUpdated`); already so is a no-op.
pub async fn set_active(deps: &Deps, actor: &Actor, id: ProductId, active: bool) -> Result<Product, Error> {
    actor.require(Permission::ProductsWrite)?;
    for _ in 0..ADJUST_ATTEMPTS {
        let current = deps
            .store
            .get_product(&actor.company_id, id)
            .await?
            .ok_or_else(|| Error::not_found("product", id))?;
        if current.active == active {
            return Ok(current);
        }
        let req = UpdateProductRequest {
            active: Some(active),
            expected_version: Some(current.version),
            ..UpdateProductRequest::default()
        };
        match update_product(deps, actor, id, req).await {
            // Another edit landed in between: re-read and decide again.
            Err(Error::Conflict {
                code: "version_conflict",
                ..
            }) => continue,
            other => return other,
        }
    }
    Err(Error::Contention)
}
