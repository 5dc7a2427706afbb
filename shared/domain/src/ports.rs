//! Ports: the narrow traits the use cases need from the outside world. Adapters in
//! `oms-adapters` implement them for DynamoDB and in memory; one contract test suite runs
//! against both.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::sync::Arc;

use crate::audit::AuditEntry;
use crate::catalog::{Customer, PriceOverride, Product, Sku};
use crate::error::Error;
use crate::ids::{CompanyId, CustomerId, DeliveryId, IntegrationId, OrderId, ProductId, UserId};
use crate::integration::{Delivery, DeliveryPayload, DeliveryStatus, Integration};
use crate::money::Amount;
use crate::order::query::{AttentionCounts, HighValueStats, HighValueTotals, OrderFilter, OrderListQuery};
use crate::order::{Order, OrderNumber};
use crate::outbox::OutboxEvent;
use crate::plan::EffectPlan;
use crate::settings::CompanySettings;

/// A page request: how many, and where the previous page stopped (adapter-specific,
/// already verified by the edge).
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// One page of rows held in memory, each with its sort key: sorted by key (descending
    /// if asked), starting after the key in the page token, which is the last key of the
    /// page before.
    pub fn of_keyed(mut rows: Vec<(String, T)>, descending: bool, page: &PageRequest) -> Page<T> {
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        if descending {
            rows.reverse();
        }
        if let Some(after) = &page.after {
            rows.retain(|(k, _)| if descending { k < after } else { k > after });
        }
        let limit = page.limit as usize;
        let next = (rows.len() > limit).then(|| rows[limit - 1].0.clone());
        rows.truncate(limit);
        Page {
            items: rows.into_iter().map(|(_, item)| item).collect(),
            next,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// A lower-case prefix of a search term ([`Product::search_terms`]).
    pub q: Option<String>,
    pub category: Option<String>,
    pub active_only: bool,
    pub in_stock_only: bool,
}

#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Creates the product and claims its SKU; `duplicate_sku` if the SKU is taken.
    async fn create_product(&self, product: &Product, audit: &AuditEntry) -> Result<(), Error>;
    async fn get_product(&self, company: &CompanyId, id: ProductId) -> Result<Option<Product>, Error>;
    /// Writes the fields `after` changes if nobody edited the product in between
    /// (`version` check, `version_conflict` otherwise); moves the SKU claim when the SKU
    /// changes. A changed `stock` is written only if the stock is still `before.stock`
    /// (`StockChanged` otherwise): a sale in between is never overwritten.
    async fn update_product(&self, before: &Product, after: &Product, audit: &AuditEntry) -> Result<(), Error>;
    /// Adds `delta` (negative: removes) to the stock in one conditional `ADD` (a sale at
    /// the same moment is never erased), with its audit entry and `event` (the jobs worker
    /// re-derives the product's index entries from it), unless the result would be below
    /// 0 or above `MAX_STOCK`.
    async fn adjust_stock(
        &self,
        company: &CompanyId,
        id: ProductId,
        delta: i64,
        audit: &AuditEntry,
        event: &OutboxEvent,
    ) -> Result<StockAdjust, Error>;
    /// Sets the stock to `to` if it is still `expected` (`StockChanged` otherwise), with
    /// its audit entry.
    async fn set_stock(
        &self,
        company: &CompanyId,
        id: ProductId,
        expected: u32,
        to: u32,
        audit: &AuditEntry,
    ) -> Result<(), Error>;
    async fn list_products(
        &self,
        company: &CompanyId,
        filter: &ProductFilter,
        page: &PageRequest,
    ) -> Result<Page<Product>, Error>;
    /// The products among `ids` that exist for the company, in one batch read.
    async fn get_products(&self, company: &CompanyId, ids: &[ProductId]) -> Result<HashMap<ProductId, Product>, Error>;
    /// Sets the stock of every product in `changes` (`(id, expected, to)`) in one
    /// transaction with one audit entry, each write conditional on the stock still being
    /// `expected`. All or nothing: `Ok(Err(moved))` lists the products whose stock moved
    /// (with what it is now; `None`: the product is gone) and nothing was written.
    async fn set_stocks(
        &self,
        company: &CompanyId,
        changes: &[(ProductId, u32, u32)],
        audit: &AuditEntry,
    ) -> Result<Result<(), Vec<(ProductId, Option<u32>)>>, Error>;
    /// Resolves SKUs (case-insensitively) to product ids; unknown SKUs are left out.
    async fn find_skus(&self, company: &CompanyId, skus: &[Sku]) -> Result<HashMap<String, ProductId>, Error>;
    /// How many active, tracked products are at each level, `default_threshold` applying
    /// to those without their own. Reads the low and out products only (never a healthy
    /// one) plus one counter.
    async fn inventory_health(&self, company: &CompanyId, default_threshold: u32) -> Result<InventoryHealth, Error>;
    /// One page of the active, tracked products at `level` (`Low`: lowest stock first;
    /// `Out`: by SKU). `Healthy` is not listed.
    async fn products_at_level(
        &self,
        company: &CompanyId,
        level: crate::catalog::StockLevel,
        default_threshold: u32,
        page: &PageRequest,
    ) -> Result<Page<Product>, Error>;
    /// Re-derives a product's index entries (stock level, in stock) from its stored
    /// fields, after orders moved its stock: the order's transaction moves the stock
    /// only, and the jobs worker calls this for each product of the order's event.
    /// Returns whether anything was rewritten; a missing product is nothing to do, and a
    /// write that lost to a later stock or product change is left to that change (its own
    /// event's reindex, or the product write's own entries).
    async fn reindex_product(&self, company: &CompanyId, id: ProductId) -> Result<bool, Error>;
}

/// Where a generation's high-value recount stands (on the company's counters item).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecountProgress {
    /// Steps applied so far; the next is written only if this is still the count.
    pub steps: u64,
    /// Where the next step's page of orders starts (`None`: the oldest).
    pub cursor: Option<String>,
    pub complete: bool,
}

/// A recount job's step: the job moves from `steps` to `steps + 1`, its cursor to `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecountStep {
    pub steps: u64,
    pub to: Option<String>,
    pub complete: bool,
}

/// What a recount write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecountWrite {
    Applied,
    /// The job is no longer at the step read: another runner applied it.
    Moved,
    /// An order changed (or was counted) since it was read: read it again.
    Raced,
}

/// The high-value recount after a threshold change (see `HighValueCounting`).
#[async_trait]
pub trait RecountStore: Send + Sync {
    async fn recount_progress(&self, company: &CompanyId, generation: u32) -> Result<RecountProgress, Error>;
    /// A page of the company's orders, oldest first, from `after` (a previous page's next).
    async fn orders_oldest_first(
        &self,
        company: &CompanyId,
        after: Option<String>,
        limit: u32,
    ) -> Result<Page<Order>, Error>;
    /// In one transaction: each of `orders` marked counted in `counting.generation` (only
    /// if it is still at the version and generation read), the high-value ones added to
    /// that generation's counters (the company's and each customer's), and, for a job's
    /// step, the job moved on (only if still at `step.steps`; `complete` marks the
    /// company's counters complete).
    async fn count_into_generation(
        &self,
        company: &CompanyId,
        counting: crate::order::query::HighValueCounting,
        orders: &[Order],
        step: Option<RecountStep>,
    ) -> Result<RecountWrite, Error>;
}

/// One product write of an import step.
#[derive(Debug, Clone, PartialEq)]
// One import step's writes, at most a transaction's worth, live for one request: boxing
// the products would only add allocations.
#[allow(clippy::large_enum_variant)]
pub enum ImportWrite {
    /// A new product (its SKU claimed: a product created meanwhile makes the step lose).
    Create(Product),
    /// A change, only if the product is still at `before`'s version and stock.
    Update { before: Product, after: Product },
}

/// What an import step's write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStep {
    Applied,
    /// The job is no longer where the step started: another runner applied those rows.
    JobMoved,
    /// A product changed (or a SKU was taken) since the step read it: read and derive again.
    ProductsMoved,
}

/// Product imports: the validated rows and the job applying them.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Stores the job, its rows and the event that drives it (the job and the event in one
    /// transaction, after the rows: a job is never without its rows).
    async fn create_import(
        &self,
        job: &crate::usecases::import::ImportJob,
        rows: &[crate::usecases::import::ImportRow],
        event: &crate::outbox::OutboxEvent,
    ) -> Result<(), Error>;
    async fn get_import(
        &self,
        company: &CompanyId,
        id: crate::ids::ImportId,
    ) -> Result<Option<crate::usecases::import::ImportJob>, Error>;
    /// Up to `limit` rows from row `from` (0-based, in file order).
    async fn import_rows(
        &self,
        company: &CompanyId,
        id: crate::ids::ImportId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<crate::usecases::import::ImportRow>, Error>;
    /// One step, in one transaction: the product writes, the job moved from `before` to
    /// `after` (only if it is still at `before.applied_rows`), the count of products
    /// inventory health counts, and `audit` (the last step's).
    async fn apply_import_step(
        &self,
        before: &crate::usecases::import::ImportJob,
        after: &crate::usecases::import::ImportJob,
        writes: &[ImportWrite],
        audit: Option<&AuditEntry>,
    ) -> Result<ImportStep, Error>;
}

/// Active, tracked products per stock level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InventoryHealth {
    pub healthy: u64,
    pub low: u64,
    pub out: u64,
}

/// What a conditional stock `ADD` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockAdjust {
    Applied,
    /// Refused: the stock (`current`) is smaller than the units to remove.
    Short {
        current: u32,
    },
    /// Refused: the stock (`current`) plus the units would exceed the maximum.
    OverMax {
        current: u32,
    },
}

#[async_trait]
pub trait CustomerStore: Send + Sync {
    /// Creates the customer, assigning the next `CUST-` number atomically.
    async fn create_customer(&self, customer: Customer, audit: &AuditEntry) -> Result<Customer, Error>;
    async fn get_customer(&self, company: &CompanyId, id: CustomerId) -> Result<Option<Customer>, Error>;
    /// The customer's negotiated prices (bounded by the customer's price list).
    async fn price_overrides(&self, company: &CompanyId, id: CustomerId) -> Result<Vec<PriceOverride>, Error>;
    /// Sets one negotiated price; the customer and product must exist.
    async fn put_price_override(&self, company: &CompanyId, o: &PriceOverride, audit: &AuditEntry)
        -> Result<(), Error>;
    /// By customer number, or (with `prefix`, lower-case) the customers with a search term
    /// starting with it ([`Customer::search_terms`]), in term order. One index query per
    /// page; a customer matching on two terms appears once per page.
    async fn list_customers(
        &self,
        company: &CompanyId,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Customer>, Error>;
    /// Writes `after` (and moves its search terms) if the customer is still at
    /// `before.version` (`version_conflict` otherwise), with its audit entry.
    async fn update_customer(&self, before: &Customer, after: &Customer, audit: &AuditEntry) -> Result<(), Error>;
    /// One page of the customer's negotiated prices, by product id.
    async fn price_list(
        &self,
        company: &CompanyId,
        id: CustomerId,
        page: &PageRequest,
    ) -> Result<Page<PriceOverride>, Error>;
    /// Removes one negotiated price with its audit entry; `false` if there was none.
    async fn delete_price_override(
        &self,
        company: &CompanyId,
        customer: CustomerId,
        product: ProductId,
        audit: &AuditEntry,
    ) -> Result<bool, Error>;
}

/// What placing an order needs to read, all in one round trip.
#[derive(Debug, Clone)]
pub struct PlacementKeys {
    pub company: CompanyId,
    /// Now, on the use case's clock: an idempotency record older than its 24 hours is
    /// treated as absent.
    pub at: DateTime<Utc>,
    pub products: Vec<ProductId>,
    pub customer: Option<CustomerId>,
    pub idempotency: Option<IdempotencyKey>,
    pub origin: Option<OriginKey>,
}

#[derive(Debug, Clone, Default)]
pub struct PlacementSnapshot {
    pub settings: CompanySettings,
    pub products: HashMap<ProductId, Product>,
    pub customer: Option<Customer>,
    pub overrides: HashMap<ProductId, Amount>,
    pub idempotency: Option<IdempotencyRecord>,
    /// The order already placed for this (integration, origin order id), if any.
    pub origin_order: Option<OrderId>,
}

/// An `Idempotency-Key`, scoped to the caller that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub principal: UserId,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginKey {
    pub integration_id: String,
    pub origin_order_id: String,
}

/// The first response to an idempotent request, kept for 24 hours.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IdempotencyRecord {
    pub request_hash: String,
    pub order: Order,
    pub created_at: DateTime<Utc>,
}

/// Why a commit was refused; each maps to one guard of the plan's transaction. When
/// several fail, the adapters report the first of: a claim (idempotency, then origin,
/// then order number, so a retried request is answered as a retry), the order's own
/// guard, then stock and the cap.
#[derive(Debug)]
pub enum CommitRejection {
    IdempotencyKeyTaken,
    OriginTaken,
    OrderNumberTaken(OrderNumber),
    /// The order is no longer at the version the change was derived from: another change
    /// landed first. `current` is its status and version now (`None`: it is gone).
    OrderMoved {
        current: Option<(crate::order::OrderStatus, u64)>,
    },
    /// A child's parent changed since it was read (another child, a payment, its status).
    ParentMoved,
    /// Products whose stock no longer covers the line, with what is left.
    InsufficientStock(Vec<(ProductId, u32)>),
    /// Deleted or deactivated since it was read.
    ProductUnavailable(ProductId),
    MonthlyCapReached {
        limit: u32,
    },
}

#[derive(Debug)]
pub enum CommitError {
    Rejected(CommitRejection),
    Failed(Error),
}

impl From<Error> for CommitError {
    fn from(e: Error) -> Self {
        CommitError::Failed(e)
    }
}

/// Renders an order's documents (the invoice PDF). A port, so the worker that attaches
/// one is given a renderer and the functions that never do link none.
pub trait Documents: Send + Sync {
    fn invoice(&self, order: &Order, settings: &CompanySettings) -> Result<Vec<u8>, Error>;
}

#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Reads settings, products, customer and overrides, the idempotency record and the
    /// origin claim in one batch read.
    async fn load_placement(&self, keys: &PlacementKeys) -> Result<PlacementSnapshot, Error>;
    /// Writes the whole plan in one transaction, every entry guarded (see
    /// [`crate::plan`]), and returns the order as stored afterwards. All or nothing.
    async fn commit(&self, plan: &EffectPlan) -> Result<Order, CommitError>;
    async fn get_order(&self, company: &CompanyId, id: OrderId) -> Result<Option<Order>, Error>;
    /// Writes an audit entry and an outbox event in one transaction: a request that
    /// changes nothing stored but must be recorded and followed up (an invoice e-mail).
    async fn record(&self, audit: &AuditEntry, event: &OutboxEvent) -> Result<(), Error>;
    /// The record under `key`, unless it expired (24 hours after it was made) by `at`.
    async fn get_idempotency(
        &self,
        company: &CompanyId,
        key: &IdempotencyKey,
        at: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, Error>;
    async fn origin_order(&self, company: &CompanyId, origin: &OriginKey) -> Result<Option<OrderId>, Error>;
}

#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn get_settings(&self, company: &CompanyId) -> Result<CompanySettings, Error>;
    async fn put_settings(&self, company: &CompanyId, settings: &CompanySettings) -> Result<(), Error>;
    /// Writes `after` with its audit entry (and outbox event, if any) in one transaction,
    /// if the stored settings are still at `after.version - 1`; `false` if they moved.
    async fn update_settings(
        &self,
        company: &CompanyId,
        after: &CompanySettings,
        audit: &AuditEntry,
        event: Option<&OutboxEvent>,
    ) -> Result<bool, Error>;
}

/// Which audit entries to list; newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity: Option<crate::audit::EntityKind>,
    /// Needs `entity`.
    pub entity_id: Option<String>,
    pub action: Option<crate::audit::AuditAction>,
    pub actor: Option<UserId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// One page of entries: one `Query` on the entity's history, the actor's, or the
    /// company's timeline, with the remaining filters applied to that page.
    async fn list_audit(
        &self,
        company: &CompanyId,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, Error>;
}

/// The order reads of SPEC §6. Every method reads one page through an index (a `Query`
/// per index partition it spans, at most a small constant number of them, and one
/// `BatchGetItem` where the index holds keys rather than orders); none reads a whole tenant.
#[async_trait]
pub trait OrderReadStore: Send + Sync {
    /// A page of orders matching `query.filter`, in `query.sort` order.
    async fn list_orders(
        &self,
        company: &CompanyId,
        query: &OrderListQuery,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error>;

    /// A page of orders with a word starting with every term (see
    /// [`crate::order::index::search_terms`]), by matched word, newest first, narrowed by
    /// `filter`. Reads the search index, which [`OrderReadStore::index_order_search`] keeps.
    async fn search_orders(
        &self,
        company: &CompanyId,
        terms: &[String],
        filter: &OrderFilter,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error>;

    /// (Re)writes the search index entries of one order from its current state: called by
    /// the outbox relay for every order event, so the index follows the order.
    async fn index_order_search(&self, company: &CompanyId, order: OrderId) -> Result<(), Error>;

    /// A page of the attention index: held and pending-approval orders, then open orders
    /// due on or before `due_bound`, most overdue first.
    /// Only `customer`'s orders when given.
    async fn attention_orders(
        &self,
        company: &CompanyId,
        customer: Option<CustomerId>,
        due_bound: NaiveDate,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error>;

    /// Counts over the attention set at `now`, or over `customer`'s own attention set (its
    /// own index partition: other customers' orders are never read). Reads index keys only,
    /// at most `max` of them; a larger set gives lower bounds with `partial` set.
    async fn attention_counts(
        &self,
        company: &CompanyId,
        customer: Option<CustomerId>,
        now: DateTime<Utc>,
        max: usize,
    ) -> Result<AttentionCounts, Error>;

    /// Orders with `total_amount >= minimum` that match `filter`, largest first.
    async fn high_value_orders(
        &self,
        company: &CompanyId,
        minimum: Decimal,
        filter: &OrderFilter,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error>;

    /// The high-value counters kept with each order, if any order has touched them. They
    /// count against their generation's threshold; `complete` is set on the company's
    /// counters once the generation's recount is done (see `HighValueCounting`).
    /// The company's counters, or `customer`'s own, of `generation`.
    async fn high_value_stats(
        &self,
        company: &CompanyId,
        customer: Option<CustomerId>,
        generation: u32,
    ) -> Result<Option<HighValueStats>, Error>;

    /// Count and exact sum of the orders `high_value_orders` would list, summed over the
    /// matching index entries (used when the counters cannot answer): at most `max`
    /// entries are read, largest first; a larger set gives `partial` sums. A customer's
    /// filter reads that customer's own total index only.
    async fn high_value_totals(
        &self,
        company: &CompanyId,
        minimum: Decimal,
        filter: &OrderFilter,
        max: usize,
    ) -> Result<HighValueTotals, Error>;
}

/// Outbox records not yet on their queue: the relay's claims on them, and the parking lot
/// for events that keep failing.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Up to `limit` pending events (one `Query` per index shard), oldest first per shard,
    /// starting at shard `start` (concurrent sweeps start at different shards).
    async fn pending_outbox(&self, limit: u32, start: u32) -> Result<Vec<OutboxEvent>, Error>;
    /// Claims a pending event for one relay for `lease_secs`, counting the attempt, unless
    /// another relay holds an unexpired claim or it is no longer pending.
    async fn claim_relay(&self, event: &OutboxEvent, now: DateTime<Utc>, lease_secs: i64) -> Result<RelayClaim, Error>;
    /// The event is on its queue: it leaves the pending index (the record stays).
    async fn mark_relayed(&self, event: &OutboxEvent, now: DateTime<Utc>) -> Result<(), Error>;
    /// Many events are on their queues. One [`OutboxStore::mark_relayed`] each by default;
    /// DynamoDB writes them 25 to a `BatchWriteItem`.
    async fn mark_relayed_all(&self, events: &[OutboxEvent], now: DateTime<Utc>) -> Result<(), Error> {
        for e in events {
            self.mark_relayed(e, now).await?;
        }
        Ok(())
    }
    /// Counts a relay attempt of `event` that failed (an error, not a crash).
    async fn fail_relay(&self, event: &OutboxEvent) -> Result<(), Error>;
    /// The event failed too often: it leaves the pending index for the parked one, with why.
    async fn park_outbox(&self, event: &OutboxEvent, now: DateTime<Utc>, reason: &str) -> Result<(), Error>;
    /// Parked events, oldest first (what the relay's alarm points at).
    async fn parked_outbox(&self, limit: u32) -> Result<Vec<OutboxEvent>, Error>;
}

/// What claiming an outbox event for relaying found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayClaim {
    /// Ours; this is claim number `attempts`, after `failures` attempts that failed (the
    /// rest ended in a crash, their claim expiring).
    Claimed { attempts: u32, failures: u32 },
    /// Another relay is on it.
    Busy,
    /// Relayed or parked already.
    Done,
}

/// Integrations and their webhook deliveries.
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Creates the integration, with its audit entry.
    async fn create_integration(&self, i: &Integration, audit: &AuditEntry) -> Result<(), Error>;
    /// By id alone (the webhook route knows no company): the integration names its company.
    async fn find_integration(&self, id: IntegrationId) -> Result<Option<Integration>, Error>;
    /// Writes `after` if the integration is still at `before.version`, with its audit entry.
    async fn update_integration(
        &self,
        before: &Integration,
        after: &Integration,
        audit: &AuditEntry,
    ) -> Result<(), Error>;
    /// A company's integrations (a company has a handful), oldest first.
    async fn list_integrations(&self, company: &CompanyId) -> Result<Vec<Integration>, Error>;
    /// Records a verified delivery and the outbox event that gets it placed, in one
    /// transaction; a delivery whose `webhook_id` was recorded before is not recorded
    /// again: the earlier one is returned.
    async fn record_delivery(
        &self,
        d: &Delivery,
        payload: &DeliveryPayload,
        event: &OutboxEvent,
    ) -> Result<RecordedDelivery, Error>;
    async fn get_delivery(&self, company: &CompanyId, id: DeliveryId) -> Result<Option<Delivery>, Error>;
    /// The body and headers recorded with a delivery.
    async fn get_delivery_payload(&self, company: &CompanyId, id: DeliveryId)
        -> Result<Option<DeliveryPayload>, Error>;
    /// Newest first, optionally only one status; one bounded query per page either way.
    async fn list_deliveries(
        &self,
        company: &CompanyId,
        integration: IntegrationId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, Error>;
    /// Writes what processing a delivery did (status, order, alerts, error, attempts) if it
    /// is still `received`; `false` if another run marked it first.
    async fn update_delivery(&self, d: &Delivery) -> Result<bool, Error>;
    /// Sets a failed delivery back to `received` with an outbox event, in one
    /// transaction, if it is still failed (`false` otherwise).
    async fn retry_delivery(&self, d: &Delivery, event: &OutboxEvent) -> Result<bool, Error>;
    /// The customer an integration knows by `external_id`, or that has this e-mail.
    async fn find_customer_for(
        &self,
        company: &CompanyId,
        integration: IntegrationId,
        external_id: Option<&str>,
        email: Option<&str>,
    ) -> Result<Option<CustomerId>, Error>;
    /// Remembers that the integration knows `customer` as `external_id`.
    async fn link_customer(
        &self,
        company: &CompanyId,
        integration: IntegrationId,
        external_id: &str,
        customer: CustomerId,
    ) -> Result<(), Error>;
}

/// What recording a delivery did.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordedDelivery {
    New,
    /// Its webhook id was seen before: the earlier delivery.
    Replay(Box<Delivery>),
}

/// The company's users (the people behind the dashboard and the e-mails).
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the user with its audit entry, claiming its e-mail address within the
    /// company: `duplicate_email` (409) if another user has it, `duplicate_user` if the id
    /// is taken.
    async fn create_user(&self, user: &crate::notify::User, audit: &AuditEntry) -> Result<(), Error>;
    async fn get_user(&self, company: &CompanyId, id: &UserId) -> Result<Option<crate::notify::User>, Error>;
    /// Active (or deactivated) users, by role then id; one index query per page.
    async fn list_users(
        &self,
        company: &CompanyId,
        active: bool,
        page: &PageRequest,
    ) -> Result<Page<crate::notify::User>, Error>;
    /// Writes `after` if the user is still at `before.version`, with its audit entry, moving
    /// the e-mail claim if the address changed. When `owner_stays` names another user, the
    /// write also requires that user to still be an active OWNER (a company keeps one).
    async fn update_user(
        &self,
        before: &crate::notify::User,
        after: &crate::notify::User,
        audit: &AuditEntry,
        owner_stays: Option<&UserId>,
    ) -> Result<UserWrite, Error>;
}

/// What a conditional user change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserWrite {
    Written,
    /// The user changed meanwhile.
    Moved,
    /// The other OWNER it relied on is no longer an active OWNER.
    OwnerGone,
    /// The new e-mail address belongs to another user.
    EmailTaken,
}

/// What the notification workers read and write besides orders.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Writes a user as given, with its e-mail claim (seeding and tests; the API creates
    /// users through [`UserStore::create_user`]).
    async fn put_user(&self, user: &crate::notify::User) -> Result<(), Error>;
    /// The active users with these roles: the recipients of an e-mail.
    async fn users_with_roles(
        &self,
        company: &CompanyId,
        roles: &[crate::auth::Role],
    ) -> Result<Vec<crate::notify::User>, Error>;
    /// Claims the right to send the e-mail `key` for `lease_secs`. A claim that outlives its
    /// lease (a crashed sender) can be taken over, so an e-mail is delayed, never lost.
    async fn claim_email(
        &self,
        company: &CompanyId,
        key: &str,
        claim: &str,
        now: DateTime<Utc>,
        lease_secs: i64,
    ) -> Result<EmailClaim, Error>;
    /// The conditional "sent" marker: the e-mail `key` went out under `claim`.
    async fn mark_email_sent(
        &self,
        company: &CompanyId,
        key: &str,
        claim: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error>;
    /// Gives a claim back after a failed send, so a retry can send.
    async fn release_email(&self, company: &CompanyId, key: &str, claim: &str) -> Result<(), Error>;
    /// Customer orders counted against the cap in a UTC month (`YYYY-MM`).
    async fn monthly_usage(&self, company: &CompanyId, month: &str) -> Result<u32, Error>;
}

/// What claiming an e-mail found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailClaim {
    /// Ours to send.
    Claimed,
    /// It went out already.
    AlreadySent,
    /// Another delivery holds an unexpired claim and has not marked it sent: it may be
    /// sending now, or it crashed. Not sent, so the message must be retried.
    HeldByOther { until: DateTime<Utc> },
}

/// Delivers one e-mail (SES in AWS, `.eml` files locally); returns the message id.
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &crate::notify::Email) -> Result<String, Error>;
}

/// Hands an outbox event to the workers' queues (SQS in AWS, channels locally).
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), Error>;
    /// Publishes many events; each one's outcome, in their order. By default one
    /// [`EventPublisher::publish`] each, all at once; SQS sends batches of ten per queue.
    async fn publish_all(&self, events: &[OutboxEvent]) -> Vec<Result<(), Error>> {
        futures_util::future::join_all(events.iter().map(|e| self.publish(e))).await
    }
}

/// The whole store, as the use cases see it.
pub trait Store:
    CatalogStore
    + ImportStore
    + RecountStore
    + IntegrationStore
    + CustomerStore
    + OrderStore
    + OrderReadStore
    + SettingsStore
    + AuditStore
    + OutboxStore
    + NotificationStore
    + UserStore
{
}
impl<T> Store for T where
    T: CatalogStore
        + ImportStore
        + RecountStore
        + IntegrationStore
        + CustomerStore
        + OrderStore
        + OrderReadStore
        + SettingsStore
        + AuditStore
        + OutboxStore
        + NotificationStore
        + UserStore
{
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Source of ids and order numbers, replaceable in tests for predictable output.
pub trait IdGen: Send + Sync {
    fn uuid(&self) -> uuid::Uuid;
    fn order_number(&self) -> OrderNumber;
}

pub struct RandomIds;
impl IdGen for RandomIds {
    fn uuid(&self) -> uuid::Uuid {
        uuid::Uuid::new_v4()
    }
    fn order_number(&self) -> OrderNumber {
        OrderNumber::generate(&mut rand::rng())
    }
}

/// What every use case is given.
#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGen>,
}

impl Deps {
    pub fn new(store: Arc<dyn Store>) -> Deps {
        Deps {
            store,
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
        }
    }
}
