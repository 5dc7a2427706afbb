//! In-memory store: the embedded default of the local server and the fast half of the
//! contract tests. One mutex makes every write all-or-nothing, and each method checks the
//! same conditions, in the same order, as the DynamoDB transaction it mirrors. The order
//! reads are in `reads.rs`.

mod imports;
mod reads;
mod recount;
mod users;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use oms_domain::audit::AuditEntry;
use oms_domain::auth::Role;
use oms_domain::catalog::{Customer, PriceOverride, Product, Sku, StockLevel, MAX_STOCK};
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, CustomerId, DeliveryId, EventId, IntegrationId, OrderId, ProductId, UserId};
use oms_domain::integration::{Delivery, DeliveryPayload, DeliveryStatus, Integration};
use oms_domain::notify::User;
use oms_domain::order::query::{HighValueDelta, HighValueStats};
use oms_domain::order::Order;
use oms_domain::outbox::OutboxEvent;
use oms_domain::plan::{CapIncrement, Claim, EffectPlan, OrderWrite, StockMove};
use oms_domain::ports::{
    AuditFilter, AuditStore, CatalogStore, CommitError, CommitRejection, CustomerStore, EmailClaim, IdempotencyKey,
    IdempotencyRecord, IntegrationStore, InventoryHealth, NotificationStore, OrderStore, OriginKey, OutboxStore, Page,
    PageRequest, PlacementKeys, PlacementSnapshot, ProductFilter, RecordedDelivery, RelayClaim, SettingsStore,
    StockAdjust,
};
use oms_domain::settings::CompanySettings;
use oms_domain::usecases::catalog::version_conflict;

type Key<T> = (CompanyId, T);

/// An append-only list kept in chunks, so it never moves what it holds: a `Vec` of a
/// hundred thousand orders' audit entries doubling under the store's lock was a pause of
/// tens of milliseconds for every request waiting on it. (The maps that grow with orders
/// are B-trees for the same reason: no rehash of everything at once.)
struct Log<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

const LOG_CHUNK: usize = 4096;

impl<T> Default for Log<T> {
    fn default() -> Self {
        Log {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Log<T> {
    fn push(&mut self, item: T) {
        if self.chunks.last().is_none_or(|c| c.len() == LOG_CHUNK) {
            self.chunks.push(Vec::with_capacity(LOG_CHUNK));
        }
        if let Some(c) = self.chunks.last_mut() {
            c.push(item);
            self.len += 1;
        }
    }

    fn extend(&mut self, items: impl IntoIterator<Item = T>) {
        for i in items {
            self.push(i);
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, at: usize) -> Option<&T> {
        self.chunks.get(at / LOG_CHUNK)?.get(at % LOG_CHUNK)
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }
}

#[derive(Default)]
struct State {
    settings: HashMap<CompanyId, CompanySettings>,
    products: HashMap<Key<ProductId>, Product>,
    /// SKU claims, ordered by SKU key as the product list is.
    skus: BTreeMap<Key<String>, ProductId>,
    customers: HashMap<Key<CustomerId>, Customer>,
    customer_seq: HashMap<CompanyId, u64>,
    overrides: BTreeMap<(CompanyId, CustomerId, ProductId), PriceOverride>,
    orders: BTreeMap<Key<OrderId>, Order>,
    order_numbers: BTreeMap<Key<String>, OrderId>,
    origins: HashMap<(CompanyId, String, String), OrderId>,
    idempotency: BTreeMap<(CompanyId, String, String), IdempotencyRecord>,
    usage: HashMap<Key<String>, u32>,
    audit: Log<AuditEntry>,
    outbox: Log<OutboxEvent>,
    /// Where each event is in `outbox`, and the positions still pending (neither relayed
    /// nor parked), oldest first: the relay's sweep and claims never walk the history.
    outbox_at: BTreeMap<EventId, usize>,
    pending: BTreeSet<usize>,
    relayed: BTreeSet<EventId>,
    parked: HashSet<EventId>,
    /// Relay claims: attempts so far, and until when the current one holds.
    relay_claims: BTreeMap<EventId, (u32, Option<DateTime<Utc>>)>,
    /// Relay attempts that failed (not crashed), per event.
    relay_failures: HashMap<EventId, u32>,
    users: BTreeMap<(CompanyId, UserId), User>,
    /// Sent markers: (company, e-mail key) -> (claim, sent, lease until).
    mail: BTreeMap<(CompanyId, String), (String, bool, DateTime<Utc>)>,
    /// The search index, as the relay keeps it: (company, search key) -> (order, its words).
    search: BTreeMap<Key<String>, (OrderId, BTreeSet<String>)>,
    /// Which search keys each order has, so re-indexing removes the stale ones.
    search_keys: BTreeMap<Key<OrderId>, Vec<String>>,
    integrations: HashMap<IntegrationId, Integration>,
    deliveries: HashMap<Key<DeliveryId>, Delivery>,
    delivery_payloads: HashMap<Key<DeliveryId>, DeliveryPayload>,
    webhook_claims: HashMap<(CompanyId, IntegrationId, String), DeliveryId>,
    customer_links: HashMap<(CompanyId, IntegrationId, String), CustomerId>,
    /// High-value counters, as the DynamoDB store keeps them: one item per company and one
    /// per customer.
    high_value: HashMap<(CompanyId, Option<CustomerId>, u32), HighValueStats>,
    /// High-value recounts: (company, generation) -> where the job stands.
    recounts: HashMap<(CompanyId, u32), oms_domain::ports::RecountProgress>,
    /// Product imports: the job and its rows.
    imports: HashMap<
        Key<oms_domain::ids::ImportId>,
        (
            oms_domain::usecases::import::ImportJob,
            Vec<oms_domain::usecases::import::ImportRow>,
        ),
    >,
}

impl State {
    /// The high-value counters after `delta`, computed without touching the state: all of
    /// a write's fallible work happens before anything is mutated.
    fn next_high_value(&self, c: &CompanyId, delta: Option<&HighValueDelta>) -> Result<Vec<HighValueEntry>, Error> {
        let Some(d) = delta else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for scope in std::iter::once(None).chain(d.customer.map(Some)) {
            let key = (c.clone(), scope, d.generation);
            let mut stats = self.high_value.get(&key).cloned().unwrap_or_else(|| HighValueStats {
                // Like `if_not_exists`: the threshold the counters were started with stays.
                threshold: d.threshold,
                ..HighValueStats::default()
            });
            for (status, n, v) in &d.changes {
                let e = stats.by_status.entry(status.as_str()).or_insert((0, Decimal::ZERO));
                e.0 = e.0.saturating_add_signed(*n);
                e.1 =
                    e.1.checked_add(*v)
                        .ok_or_else(|| Error::internal("high-value counter overflow"))?;
            }
            out.push((key, stats));
        }
        Ok(out)
    }
}

impl State {
    /// Records an outbox event as pending (what every write's event goes through).
    fn push_outbox(&mut self, event: OutboxEvent) {
        let at = self.outbox.len();
        self.outbox_at.insert(event.id, at);
        self.pending.insert(at);
        self.outbox.push(event);
    }

    fn unpend(&mut self, id: EventId) {
        if let Some(at) = self.outbox_at.get(&id) {
            self.pending.remove(at);
        }
    }
}

/// A cheap-to-clone handle; clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

/// Counts of what the store holds, for tests that look for orphans.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemoryCounts {
    pub orders: usize,
    pub order_numbers: usize,
    pub audit: usize,
    pub outbox: usize,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied write: every method
        // checks all conditions before it mutates anything.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn counts(&self, company: &CompanyId) -> MemoryCounts {
        let s = self.lock();
        MemoryCounts {
            orders: s.orders.keys().filter(|(c, _)| c == company).count(),
            order_numbers: s.order_numbers.keys().filter(|(c, _)| c == company).count(),
            audit: s
                .audit
                .iter()
                .filter(|a| &a.company_id == company && a.entity == oms_domain::audit::EntityKind::Order)
                .count(),
            outbox: s.outbox.iter().filter(|e| &e.company_id == company).count(),
        }
    }
}

impl State {
    /// The cap and stock guards of a plan, as the transaction checks them: the cap, each
    /// take (active, enough stock), each put-back (the product exists).
    fn check_stock_and_cap(
        &self,
        c: &CompanyId,
        moves: &[StockMove],
        cap: Option<&CapIncrement>,
    ) -> Option<CommitRejection> {
        if let Some(cap) = cap {
            let used = self.usage.get(&(c.clone(), cap.month.clone())).copied().unwrap_or(0);
            if let Some(limit) = cap.limit.filter(|l| used >= *l) {
                return Some(CommitRejection::MonthlyCapReached { limit });
            }
        }
        let mut short = Vec::new();
        for m in moves {
            let product = self.products.get(&(c.clone(), m.product_id()));
            match (*m, product) {
                (_, None) => return Some(CommitRejection::ProductUnavailable(m.product_id())),
                (StockMove::Take { product_id, .. }, Some(p)) if !p.active => {
                    return Some(CommitRejection::ProductUnavailable(product_id))
                }
                (
                    StockMove::Take {
                        product_id, quantity, ..
                    },
                    Some(p),
                ) if p.stock < quantity => short.push((product_id, p.stock)),
                _ => {}
            }
        }
        (!short.is_empty()).then_some(CommitRejection::InsufficientStock(short))
    }

    /// Every stock level and the cap counter after the write, computed without touching
    /// the state (a put-back that would overflow fails here, not while applying).
    fn next_stock_and_cap(
        &self,
        c: &CompanyId,
        moves: &[StockMove],
        cap: Option<&CapIncrement>,
    ) -> Result<Planned, Error> {
        let mut stock: BTreeMap<ProductId, (u32, u32)> = BTreeMap::new();
        for m in moves {
            let id = m.product_id();
            let (level, held) = stock
                .get(&id)
                .copied()
                .or_else(|| self.products.get(&(c.clone(), id)).map(|p| (p.stock, p.reserved)))
                .unwrap_or((0, 0));
            let overflow = || Error::internal(format!("moving {id}'s stock would overflow it"));
            let next = match *m {
                StockMove::Take { quantity, .. } => (level.saturating_sub(quantity), held),
                StockMove::PutBack { quantity, .. } => (level.checked_add(quantity).ok_or_else(overflow)?, held),
                StockMove::Hold { quantity, .. } => (level, held.checked_add(quantity).ok_or_else(overflow)?),
                // As the stored condition `reserved >= n`: fewer held is a broken count.
                StockMove::Release { quantity, .. } => (
                    level,
                    held.checked_sub(quantity)
                        .ok_or_else(|| Error::internal(format!("releasing {quantity} of {id} but {held} are held")))?,
                ),
            };
            stock.insert(id, next);
        }
        let usage = cap.map(|cap| {
            let key = (c.clone(), cap.month.clone());
            let used = self.usage.get(&key).copied().unwrap_or(0);
            (key, used.saturating_add(1))
        });
        Ok(Planned { stock, usage })
    }

    fn apply(&mut self, c: &CompanyId, planned: Planned, at: chrono::DateTime<chrono::Utc>) {
        for (id, (level, held)) in planned.stock {
            if let Some(p) = self.products.get_mut(&(c.clone(), id)) {
                p.stock = level;
                p.reserved = held;
                p.updated_at = at;
            }
        }
        if let Some((key, used)) = planned.usage {
            self.usage.insert(key, used);
        }
    }
}

type HighValueEntry = ((CompanyId, Option<CustomerId>, u32), HighValueStats);

/// Stock levels and the cap counter as a write will leave them.
struct Planned {
    /// Each moved product's stock and reserved units after the write.
    stock: BTreeMap<ProductId, (u32, u32)>,
    usage: Option<(Key<String>, u32)>,
}

impl State {
    /// The first claim of `plan` that is taken: idempotency, then origin, then order
    /// number (a retried request is answered as a retry). An expired idempotency record
    /// (on the plan's clock) may be taken over, as in DynamoDB.
    fn claim_refusal(&self, c: &CompanyId, plan: &EffectPlan) -> Option<CommitRejection> {
        let taken = |claim: &Claim| match claim {
            Claim::Idempotency(k, _) => self
                .idempotency
                .get(&(c.clone(), k.principal.to_string(), k.key.clone()))
                .is_some_and(|r| !expired(r, plan.at))
                .then_some((0, CommitRejection::IdempotencyKeyTaken)),
            Claim::Origin(o) => self
                .origins
                .contains_key(&(c.clone(), o.integration_id.clone(), o.origin_order_id.clone()))
                .then_some((1, CommitRejection::OriginTaken)),
            Claim::OrderNumber(n) => self
                .order_numbers
                .contains_key(&(c.clone(), n.key()))
                .then(|| (2, CommitRejection::OrderNumberTaken(n.clone()))),
        };
        plan.claims
            .iter()
            .filter_map(taken)
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, r)| r)
    }
}

/// An idempotency record is kept 24 hours (DynamoDB's `expires_at`).
fn expired(r: &IdempotencyRecord, at: DateTime<Utc>) -> bool {
    r.created_at + chrono::Duration::hours(24) < at
}

/// The order after a change: the fields the change differs in, laid over the order as
/// stored (the DynamoDB adapter `SET`s exactly these).
fn merge(current: &Order, before: &Order, after: &Order) -> Result<Order, Error> {
    let mut merged = serde_json::to_value(current).map_err(Error::internal)?;
    if let Some(obj) = merged.as_object_mut() {
        obj.extend(crate::changed_fields(before, after));
        obj.insert("version".into(), serde_json::json!(after.version));
        obj.insert("updated_at".into(), serde_json::json!(after.updated_at));
    }
    let mut merged: Order = serde_json::from_value(merged).map_err(Error::internal)?;
    // Not in the JSON (internal): kept as stored.
    merged.hv_generation = current.hv_generation;
    Ok(merged)
}

/// The audit sort key, the same string the DynamoDB adapter sorts by.
fn audit_sort(a: &AuditEntry) -> String {
    format!("{}#{}", a.at.format("%Y-%m-%dT%H:%M:%S%.6fZ"), a.id)
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn list_audit(
        &self,
        company: &CompanyId,
        f: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, Error> {
        let s = self.lock();
        let mut matching: Vec<(String, &AuditEntry)> = s
            .audit
            .iter()
            .filter(|a| &a.company_id == company)
            .filter(|a| f.entity.is_none_or(|e| a.entity == e))
            .filter(|a| f.entity_id.as_ref().is_none_or(|id| &a.entity_id == id))
            .filter(|a| f.action.is_none_or(|x| a.action == x))
            .filter(|a| f.actor.as_ref().is_none_or(|x| &a.actor_id == x))
            .filter(|a| f.from.is_none_or(|t| a.at >= t) && f.to.is_none_or(|t| a.at <= t))
            .map(|a| (audit_sort(a), a))
            .filter(|(k, _)| page.after.as_ref().is_none_or(|after| k < after))
            .collect();
        matching.sort_by(|a, b| b.0.cmp(&a.0));
        let limit = page.limit as usize;
        let next = (matching.len() > limit).then(|| matching[limit - 1].0.clone());
        Ok(Page {
            items: matching.into_iter().take(limit).map(|(_, a)| a.clone()).collect(),
            next,
        })
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn pending_outbox(&self, limit: u32, _start: u32) -> Result<Vec<OutboxEvent>, Error> {
        let s = self.lock();
        Ok(s.pending
            .iter()
            .take(limit as usize)
            .filter_map(|at| s.outbox.get(*at).cloned())
            .collect())
    }

    async fn claim_relay(&self, e: &OutboxEvent, now: DateTime<Utc>, lease_secs: i64) -> Result<RelayClaim, Error> {
        let mut s = self.lock();
        // As DynamoDB's condition on the pending index: gone, relayed or parked is done.
        if !s.outbox_at.contains_key(&e.id) || s.relayed.contains(&e.id) || s.parked.contains(&e.id) {
            return Ok(RelayClaim::Done);
        }
        let claim = s.relay_claims.entry(e.id).or_insert((0, None));
        // As DynamoDB's `relay_until < :now`, in whole seconds.
        if claim
            .1
            .is_some_and(|until: DateTime<Utc>| until.timestamp() >= now.timestamp())
        {
            return Ok(RelayClaim::Busy);
        }
        claim.0 += 1;
        claim.1 = Some(now + chrono::Duration::seconds(lease_secs));
        let attempts = claim.0;
        let failures = s.relay_failures.get(&e.id).copied().unwrap_or(0);
        Ok(RelayClaim::Claimed { attempts, failures })
    }

    async fn fail_relay(&self, event: &OutboxEvent) -> Result<(), Error> {
        *self.lock().relay_failures.entry(event.id).or_default() += 1;
        Ok(())
    }

    async fn mark_relayed(&self, event: &OutboxEvent, _now: DateTime<Utc>) -> Result<(), Error> {
        let mut s = self.lock();
        s.relayed.insert(event.id);
        s.relay_claims.remove(&event.id);
        s.unpend(event.id);
        Ok(())
    }

    async fn park_outbox(&self, event: &OutboxEvent, _now: DateTime<Utc>, _reason: &str) -> Result<(), Error> {
        let mut s = self.lock();
        s.parked.insert(event.id);
        s.relay_claims.remove(&event.id);
        s.unpend(event.id);
        Ok(())
    }

    async fn parked_outbox(&self, limit: u32) -> Result<Vec<OutboxEvent>, Error> {
        let s = self.lock();
        Ok(s.outbox
            .iter()
            .filter(|e| s.parked.contains(&e.id))
            .take(limit as usize)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn put_user(&self, user: &User) -> Result<(), Error> {
        self.lock()
            .users
            .insert((user.company_id.clone(), user.id.clone()), user.clone());
        Ok(())
    }

    async fn users_with_roles(&self, company: &CompanyId, roles: &[Role]) -> Result<Vec<User>, Error> {
        let s = self.lock();
        Ok(s.users
            .values()
            .filter(|u| &u.company_id == company && u.active && roles.contains(&u.role))
            .cloned()
            .collect())
    }

    async fn claim_email(
        &self,
        company: &CompanyId,
        key: &str,
        claim: &str,
        now: DateTime<Utc>,
        lease_secs: i64,
    ) -> Result<EmailClaim, Error> {
        let mut s = self.lock();
        let k = (company.clone(), key.to_owned());
        match s.mail.get(&k) {
            Some((_, true, _)) => Ok(EmailClaim::AlreadySent),
            // As DynamoDB's `lease_until < :now`: a lease is over only strictly after it ends.
            Some((_, false, until)) if *until >= now => Ok(EmailClaim::HeldByOther { until: *until }),
            _ => {
                s.mail.insert(
                    k,
                    (claim.to_owned(), false, now + chrono::Duration::seconds(lease_secs)),
                );
                Ok(EmailClaim::Claimed)
            }
        }
    }

    async fn mark_email_sent(
        &self,
        company: &CompanyId,
        key: &str,
        claim: &str,
        _now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let mut s = self.lock();
        match s.mail.get_mut(&(company.clone(), key.to_owned())) {
            Some(m) if m.0 == claim => {
                m.1 = true;
                Ok(())
            }
            _ => Err(Error::internal(format!(
                "sent marker for {key} is not held by this claim"
            ))),
        }
    }

    async fn release_email(&self, company: &CompanyId, key: &str, claim: &str) -> Result<(), Error> {
        let mut s = self.lock();
        let k = (company.clone(), key.to_owned());
        if s.mail.get(&k).is_some_and(|m| m.0 == claim && !m.1) {
            s.mail.remove(&k);
        }
        Ok(())
    }

    async fn monthly_usage(&self, company: &CompanyId, month: &str) -> Result<u32, Error> {
        Ok(self
            .lock()
            .usage
            .get(&(company.clone(), month.to_owned()))
            .copied()
            .unwrap_or(0))
    }
}

#[async_trait]
impl SettingsStore for MemoryStore {
    async fn get_settings(&self, company: &CompanyId) -> Result<CompanySettings, Error> {
        Ok(self.lock().settings.get(company).cloned().unwrap_or_default())
    }

    async fn put_settings(&self, company: &CompanyId, settings: &CompanySettings) -> Result<(), Error> {
        self.lock().settings.insert(company.clone(), settings.clone());
        Ok(())
    }

    async fn update_settings(
        &self,
        company: &CompanyId,
        after: &CompanySettings,
        audit: &AuditEntry,
        event: Option<&OutboxEvent>,
    ) -> Result<bool, Error> {
        let mut s = self.lock();
        let current = s.settings.get(company).map_or(0, |c| c.version);
        if current != after.version.saturating_sub(1) {
            return Ok(false);
        }
        s.settings.insert(company.clone(), after.clone());
        s.audit.push(audit.clone());
        if let Some(e) = event {
            s.push_outbox(e.clone());
        }
        Ok(true)
    }
}

#[async_trait]
impl CatalogStore for MemoryStore {
    async fn create_product(&self, product: &Product, audit: &AuditEntry) -> Result<(), Error> {
        let mut s = self.lock();
        let sku_key = (product.company_id.clone(), product.sku.key());
        if s.skus.contains_key(&sku_key) {
            return Err(duplicate_sku(&product.sku));
        }
        s.skus.insert(sku_key, product.id);
        s.products
            .insert((product.company_id.clone(), product.id), product.clone());
        s.audit.push(audit.clone());
        Ok(())
    }

    async fn get_product(&self, company: &CompanyId, id: ProductId) -> Result<Option<Product>, Error> {
        Ok(self.lock().products.get(&(company.clone(), id)).cloned())
    }

    async fn update_product(&self, before: &Product, after: &Product, audit: &AuditEntry) -> Result<(), Error> {
        let mut s = self.lock();
        let key = (before.company_id.clone(), before.id);
        let current = s
            .products
            .get(&key)
            .cloned()
            .ok_or_else(|| Error::not_found("product", before.id))?;
        if current.version != before.version {
            return Err(version_conflict(&current));
        }
        if after.stock != before.stock && current.stock != before.stock {
            return Err(Error::StockChanged {
                current_stock: current.stock,
            });
        }
        let new_sku = (after.company_id.clone(), after.sku.key());
        if after.sku.key() != before.sku.key() && s.skus.contains_key(&new_sku) {
            return Err(duplicate_sku(&after.sku));
        }
        let changed = crate::changed_fields(before, after);
        let mut merged = serde_json::to_value(&current).map_err(Error::internal)?;
        if let Some(obj) = merged.as_object_mut() {
            obj.extend(changed);
            obj.insert("version".into(), serde_json::json!(after.version));
            obj.insert("updated_at".into(), serde_json::json!(after.updated_at));
        }
        let merged: Product = serde_json::from_value(merged).map_err(Error::internal)?;
        if after.sku.key() != before.sku.key() {
            s.skus.remove(&(before.company_id.clone(), before.sku.key()));
            s.skus.insert(new_sku, after.id);
        }
        s.products.insert(key, merged);
        s.audit.push(audit.clone());
        Ok(())
    }

    async fn adjust_stock(
        &self,
        c: &CompanyId,
        id: ProductId,
        delta: i64,
        audit: &AuditEntry,
        event: &OutboxEvent,
    ) -> Result<StockAdjust, Error> {
        let mut s = self.lock();
        let p = s
            .products
            .get_mut(&(c.clone(), id))
            .ok_or_else(|| Error::not_found("product", id))?;
        let next = i64::from(p.stock) + delta;
        if next < 0 {
            return Ok(StockAdjust::Short { current: p.stock });
        }
        let Some(next) = u32::try_from(next).ok().filter(|n| *n <= MAX_STOCK) else {
            return Ok(StockAdjust::OverMax { current: p.stock });
        };
        p.stock = next;
        p.updated_at = audit.at;
        s.audit.push(audit.clone());
        s.push_outbox(event.clone());
        Ok(StockAdjust::Applied)
    }

    async fn set_stock(
        &self,
        c: &CompanyId,
        id: ProductId,
        expected: u32,
        to: u32,
        audit: &AuditEntry,
    ) -> Result<(), Error> {
        let mut s = self.lock();
        let p = s
            .products
            .get_mut(&(c.clone(), id))
            .ok_or_else(|| Error::not_found("product", id))?;
        if p.stock != expected {
            return Err(Error::StockChanged { current_stock: p.stock });
        }
        p.stock = to;
        p.updated_at = audit.at;
        s.audit.push(audit.clone());
        Ok(())
    }

    async fn list_products(
        &self,
        company: &CompanyId,
        filter: &ProductFilter,
        page: &PageRequest,
    ) -> Result<Page<Product>, Error> {
        let s = self.lock();
        let category = filter.category.as_ref().map(|c| c.to_lowercase());
        let in_category = |p: &Product| category.is_none() || p.category.as_ref().map(|x| x.to_lowercase()) == category;
        // As the DynamoDB store: `q` reads the term index (first matching term, then id) and
        // filters that page; `active` alone reads the active products' own index (full pages).
        if let Some(q) = &filter.q {
            let rows = s
                .products
                .values()
                .filter(|p| &p.company_id == company)
                .filter_map(|p| {
                    let terms = p.search_terms();
                    oms_domain::catalog::first_term(&terms, q).map(|t| (format!("{t}#{}", p.id), p.clone()))
                })
                .collect();
            let mut found = Page::of_keyed(rows, false, page);
            found.items.retain(|p| {
                in_category(p) && (!filter.active_only || p.active) && (!filter.in_stock_only || p.in_stock())
            });
            return Ok(found);
        }
        // Every other combination is an index of its own (full pages), by SKU.
        let rows = s
            .products
            .values()
            .filter(|p| &p.company_id == company && in_category(p))
            .filter(|p| (!filter.active_only || p.active) && (!filter.in_stock_only || p.in_stock()))
            .map(|p| (p.sku.key(), p.clone()))
            .collect();
        Ok(Page::of_keyed(rows, false, page))
    }

    async fn get_products(&self, company: &CompanyId, ids: &[ProductId]) -> Result<HashMap<ProductId, Product>, Error> {
        let s = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| s.products.get(&(company.clone(), *id)).map(|p| (*id, p.clone())))
            .collect())
    }

    async fn set_stocks(
        &self,
        company: &CompanyId,
        changes: &[(ProductId, u32, u32)],
        audit: &AuditEntry,
    ) -> Result<Result<(), Vec<(ProductId, Option<u32>)>>, Error> {
        Ok(self.set_stocks_locked(company, changes, audit, audit.at))
    }

    async fn find_skus(&self, company: &CompanyId, skus: &[Sku]) -> Result<HashMap<String, ProductId>, Error> {
        let s = self.lock();
        Ok(skus
            .iter()
            .filter_map(|k| s.skus.get(&(company.clone(), k.key())).map(|id| (k.key(), *id)))
            .collect())
    }

    async fn inventory_health(&self, company: &CompanyId, default_threshold: u32) -> Result<InventoryHealth, Error> {
        let s = self.lock();
        let mut h = InventoryHealth::default();
        for p in s.products.values().filter(|p| &p.company_id == company) {
            match p.stock_level(default_threshold) {
                Some(StockLevel::Healthy) => h.healthy += 1,
                Some(StockLevel::Low) => h.low += 1,
                Some(StockLevel::Out) => h.out += 1,
                None => {}
            }
        }
        Ok(h)
    }

    async fn products_at_level(
        &self,
        company: &CompanyId,
        level: StockLevel,
        default_threshold: u32,
        page: &PageRequest,
    ) -> Result<Page<Product>, Error> {
        let s = self.lock();
        // The DynamoDB store's order: products on the company's threshold by stock, then
        // those with their own by margin; out by SKU.
        let rows = s
            .products
            .values()
            .filter(|p| &p.company_id == company && p.stock_level(default_threshold) == Some(level))
            .map(|p| {
                let key = match (level, p.low_stock_threshold) {
                    (StockLevel::Low, None) => format!("D{:010}#{}", p.stock, p.sku.key()),
                    (StockLevel::Low, Some(t)) => format!(
                        "O{:011}#{}",
                        i64::from(p.stock) - i64::from(t) + 10_000_000_000,
                        p.sku.key()
                    ),
                    _ => p.sku.key(),
                };
                (key, p.clone())
            })
            .collect();
        Ok(Page::of_keyed(rows, false, page))
    }

    async fn reindex_product(&self, _company: &CompanyId, _id: ProductId) -> Result<bool, Error> {
        // Derived on every read here: nothing is stored to go stale.
        Ok(false)
    }
}

fn duplicate_sku(sku: &Sku) -> Error {
    Error::Conflict {
        code: "duplicate_sku",
        message: format!("SKU {sku} is already used by another product"),
    }
}

#[async_trait]
impl CustomerStore for MemoryStore {
    async fn create_customer(&self, mut customer: Customer, audit: &AuditEntry) -> Result<Customer, Error> {
        let mut s = self.lock();
        let seq = s.customer_seq.entry(customer.company_id.clone()).or_default();
        *seq += 1;
        customer.customer_number = oms_domain::catalog::customer_number(*seq);
        s.customers
            .insert((customer.company_id.clone(), customer.id), customer.clone());
        s.audit.push(audit.clone());
        Ok(customer)
    }

    async fn get_customer(&self, company: &CompanyId, id: CustomerId) -> Result<Option<Customer>, Error> {
        Ok(self.lock().customers.get(&(company.clone(), id)).cloned())
    }

    async fn price_overrides(&self, company: &CompanyId, id: CustomerId) -> Result<Vec<PriceOverride>, Error> {
        let s = self.lock();
        Ok(s.overrides
            .iter()
            .filter(|((c, cu, _), _)| c == company && *cu == id)
            .map(|(_, o)| o.clone())
            .collect())
    }

    async fn put_price_override(
        &self,
        company: &CompanyId,
        o: &PriceOverride,
        audit: &AuditEntry,
    ) -> Result<(), Error> {
        let mut s = self.lock();
        if !s.customers.contains_key(&(company.clone(), o.customer_id)) {
            return Err(Error::not_found("customer", o.customer_id));
        }
        s.overrides
            .insert((company.clone(), o.customer_id, o.product_id), o.clone());
        s.audit.push(audit.clone());
        Ok(())
    }

    async fn list_customers(
        &self,
        company: &CompanyId,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Customer>, Error> {
        let s = self.lock();
        let rows = s
            .customers
            .values()
            .filter(|c| &c.company_id == company)
            .filter_map(|c| match prefix {
                None => Some((c.customer_number.clone(), c.clone())),
                // Keyed like the DynamoDB term index: its first matching term, then its id.
                Some(p) => c
                    .search_terms()
                    .into_iter()
                    .find(|t| t.starts_with(p))
                    .map(|t| (format!("{t}#{}", c.id), c.clone())),
            })
            .collect();
        Ok(Page::of_keyed(rows, false, page))
    }

    async fn update_customer(&self, before: &Customer, after: &Customer, audit: &AuditEntry) -> Result<(), Error> {
        let mut s = self.lock();
        let key = (after.company_id.clone(), after.id);
        if s.customers.get(&key).map(|c| c.version) != Some(before.version) {
            return Err(Error::Conflict {
                code: "version_conflict",
                message: format!("customer {} changed meanwhile; reload and retry", before.id),
            });
        }
        s.customers.insert(key, after.clone());
        s.audit.push(audit.clone());
        Ok(())
    }

    async fn price_list(
        &self,
        company: &CompanyId,
        id: CustomerId,
        page: &PageRequest,
    ) -> Result<Page<PriceOverride>, Error> {
        let s = self.lock();
        let rows = s
            .overrides
            .iter()
            .filter(|((c, cu, _), _)| c == company && *cu == id)
            .map(|((_, _, p), o)| (p.to_string(), o.clone()))
            .collect();
        Ok(Page::of_keyed(rows, false, page))
    }

    async fn delete_price_override(
        &self,
        company: &CompanyId,
        customer: CustomerId,
        product: ProductId,
        audit: &AuditEntry,
    ) -> Result<bool, Error> {
        let mut s = self.lock();
        if s.overrides.remove(&(company.clone(), customer, product)).is_none() {
            return Ok(false);
        }
        s.audit.push(audit.clone());
        Ok(true)
    }
}

#[async_trait]
impl OrderStore for MemoryStore {
    async fn load_placement(&self, keys: &PlacementKeys) -> Result<PlacementSnapshot, Error> {
        let s = self.lock();
        let c = &keys.company;
        let products = keys
            .products
            .iter()
            .filter_map(|id| s.products.get(&(c.clone(), *id)).map(|p| (*id, p.clone())))
            .collect();
        let overrides = match keys.customer {
            Some(cu) => keys
                .products
                .iter()
                .filter_map(|p| s.overrides.get(&(c.clone(), cu, *p)).map(|o| (*p, o.price)))
                .collect(),
            None => HashMap::new(),
        };
        Ok(PlacementSnapshot {
            settings: s.settings.get(c).cloned().unwrap_or_default(),
            products,
            customer: keys.customer.and_then(|cu| s.customers.get(&(c.clone(), cu)).cloned()),
            overrides,
            idempotency: keys.idempotency.as_ref().and_then(|k| {
                s.idempotency
                    .get(&(c.clone(), k.principal.to_string(), k.key.clone()))
                    .filter(|r| !expired(r, keys.at))
                    .cloned()
            }),
            origin_order: keys.origin.as_ref().and_then(|o| {
                s.origins
                    .get(&(c.clone(), o.integration_id.clone(), o.origin_order_id.clone()))
                    .copied()
            }),
        })
    }

    async fn commit(&self, plan: &EffectPlan) -> Result<Order, CommitError> {
        let mut s = self.lock();
        let c = &plan.company;
        // Guards first, in the DynamoDB adapter's priority order; nothing is written unless
        // every one holds, and everything that can fail is done before the first write.
        if let Some(r) = s.claim_refusal(c, plan) {
            return Err(CommitError::Rejected(r));
        }
        let order = match &plan.order {
            OrderWrite::Create(o) if s.orders.contains_key(&(c.clone(), o.id)) => {
                return Err(CommitError::Failed(Error::internal("order id collision")))
            }
            OrderWrite::Create(o) => (**o).clone(),
            OrderWrite::Change { before, after, .. } => {
                let current = s.orders.get(&(c.clone(), before.id));
                match current {
                    // As the DynamoDB store: also only if the recount has not counted the
                    // order since it was read (its high-value delta depends on that).
                    Some(now) if now.version == before.version && now.hv_generation == before.hv_generation => {
                        merge(now, before, after)?
                    }
                    other => {
                        return Err(CommitError::Rejected(CommitRejection::OrderMoved {
                            current: other.map(|o| (o.status, o.version)),
                        }))
                    }
                }
            }
        };
        let parent = match &plan.parent {
            Some(p) => match s.orders.get(&(c.clone(), p.before.id)) {
                Some(now) if now.version == p.before.version => Some(merge(now, &p.before, &p.after)?),
                _ => return Err(CommitError::Rejected(CommitRejection::ParentMoved)),
            },
            None => None,
        };
        if let Some(r) = s.check_stock_and_cap(c, &plan.stock, plan.cap.as_ref()) {
            return Err(CommitError::Rejected(r));
        }
        let planned = s.next_stock_and_cap(c, &plan.stock, plan.cap.as_ref())?;
        let high_value = s.next_high_value(c, plan.high_value.as_ref())?;
        // Every guard holds and nothing is left to fail: apply every effect.
        s.apply(c, planned, plan.at);
        s.high_value.extend(high_value);
        for claim in &plan.claims {
            match claim {
                Claim::OrderNumber(n) => {
                    s.order_numbers.insert((c.clone(), n.key()), order.id);
                }
                Claim::Origin(o) => {
                    s.origins.insert(
                        (c.clone(), o.integration_id.clone(), o.origin_order_id.clone()),
                        order.id,
                    );
                }
                Claim::Idempotency(k, rec) => {
                    s.idempotency
                        .insert((c.clone(), k.principal.to_string(), k.key.clone()), (**rec).clone());
                }
            }
        }
        s.orders.insert((c.clone(), order.id), order.clone());
        if let Some(p) = parent {
            s.orders.insert((c.clone(), p.id), p);
        }
        s.audit.push(plan.audit.clone());
        s.push_outbox(plan.event.clone());
        Ok(order)
    }

    async fn get_order(&self, company: &CompanyId, id: OrderId) -> Result<Option<Order>, Error> {
        Ok(self.lock().orders.get(&(company.clone(), id)).cloned())
    }

    async fn record(&self, audit: &AuditEntry, event: &OutboxEvent) -> Result<(), Error> {
        let mut s = self.lock();
        s.audit.push(audit.clone());
        s.push_outbox(event.clone());
        Ok(())
    }

    async fn get_idempotency(
        &self,
        company: &CompanyId,
        key: &IdempotencyKey,
        at: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, Error> {
        Ok(self
            .lock()
            .idempotency
            .get(&(company.clone(), key.principal.to_string(), key.key.clone()))
            .filter(|r| !expired(r, at))
            .cloned())
    }

    async fn origin_order(&self, company: &CompanyId, origin: &OriginKey) -> Result<Option<OrderId>, Error> {
        Ok(self
            .lock()
            .origins
            .get(&(
                company.clone(),
                origin.integration_id.clone(),
                origin.origin_order_id.clone(),
            ))
            .copied())
    }
}

impl MemoryStore {
    /// Test support: writes a delivery as given, without the `received` guard (to put the
    /// store in the state a crashed worker leaves).
    pub fn put_delivery_for_tests(&self, d: &Delivery) {
        self.lock().deliveries.insert((d.company_id.clone(), d.id), d.clone());
    }
}

#[async_trait]
impl IntegrationStore for MemoryStore {
    async fn create_integration(&self, i: &Integration, audit: &AuditEntry) -> Result<(), Error> {
        let mut s = self.lock();
        if s.integrations.contains_key(&i.id) {
            return Err(Error::internal("integration id collision"));
        }
        s.integrations.insert(i.id, i.clone());
        s.audit.push(audit.clone());
        Ok(())
    }

    async fn find_integration(&self, id: IntegrationId) -> Result<Option<Integration>, Error> {
        Ok(self.lock().integrations.get(&id).cloned())
    }

    async fn update_integration(
        &self,
        before: &Integration,
        after: &Integration,
        audit: &AuditEntry,
    ) -> Result<(), Error> {
        let mut s = self.lock();
        if s.integrations.get(&before.id).map(|i| i.version) != Some(before.version) {
            return Err(Error::Conflict {
                code: "version_conflict",
                message: format!("integration {} changed meanwhile; reload and retry", before.id),
            });
        }
        s.integrations.insert(after.id, after.clone());
        s.audit.push(audit.clone());
        Ok(())
    }

    async fn list_integrations(&self, company: &CompanyId) -> Result<Vec<Integration>, Error> {
        let s = self.lock();
        let mut all: Vec<Integration> = s
            .integrations
            .values()
            .filter(|i| &i.company_id == company)
            .cloned()
            .collect();
        all.sort_by_key(|a| (a.created_at, a.id));
        Ok(all)
    }

    async fn record_delivery(
        &self,
        d: &Delivery,
        payload: &DeliveryPayload,
        event: &OutboxEvent,
    ) -> Result<RecordedDelivery, Error> {
        let mut s = self.lock();
        let c = &d.company_id;
        if let Some(w) = &d.webhook_id {
            if let Some(earlier) = s.webhook_claims.get(&(c.clone(), d.integration_id, w.clone())) {
                let found = s
                    .deliveries
                    .get(&(c.clone(), *earlier))
                    .cloned()
                    .ok_or_else(|| Error::internal("a webhook id claim without its delivery"))?;
                return Ok(RecordedDelivery::Replay(Box::new(found)));
            }
            s.webhook_claims.insert((c.clone(), d.integration_id, w.clone()), d.id);
        }
        s.deliveries.insert((c.clone(), d.id), d.clone());
        s.delivery_payloads.insert((c.clone(), d.id), payload.clone());
        s.push_outbox(event.clone());
        Ok(RecordedDelivery::New)
    }

    async fn get_delivery(&self, company: &CompanyId, id: DeliveryId) -> Result<Option<Delivery>, Error> {
        Ok(self.lock().deliveries.get(&(company.clone(), id)).cloned())
    }

    async fn get_delivery_payload(
        &self,
        company: &CompanyId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryPayload>, Error> {
        Ok(self.lock().delivery_payloads.get(&(company.clone(), id)).cloned())
    }

    async fn list_deliveries(
        &self,
        company: &CompanyId,
        integration: IntegrationId,
        status: Option<DeliveryStatus>,
        page: &PageRequest,
    ) -> Result<Page<Delivery>, Error> {
        let s = self.lock();
        let rows = s
            .deliveries
            .values()
            .filter(|d| &d.company_id == company && d.integration_id == integration)
            .filter(|d| status.is_none_or(|st| d.status == st))
            .map(|d| {
                (
                    format!("{}#{}", d.received_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"), d.id),
                    d.clone(),
                )
            })
            .collect();
        Ok(Page::of_keyed(rows, true, page))
    }

    async fn update_delivery(&self, d: &Delivery) -> Result<bool, Error> {
        let mut s = self.lock();
        match s.deliveries.get_mut(&(d.company_id.clone(), d.id)) {
            Some(current) if current.status == DeliveryStatus::Received => {
                *current = d.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn retry_delivery(&self, d: &Delivery, event: &OutboxEvent) -> Result<bool, Error> {
        let mut s = self.lock();
        let key = (d.company_id.clone(), d.id);
        match s.deliveries.get_mut(&key) {
            Some(current) if current.status == DeliveryStatus::Failed => {
                current.status = DeliveryStatus::Received;
                current.updated_at = d.updated_at;
                s.push_outbox(event.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn find_customer_for(
        &self,
        company: &CompanyId,
        integration: IntegrationId,
        external_id: Option<&str>,
        email: Option<&str>,
    ) -> Result<Option<CustomerId>, Error> {
        let s = self.lock();
        if let Some(x) = external_id {
            if let Some(id) = s.customer_links.get(&(company.clone(), integration, x.to_owned())) {
                return Ok(Some(*id));
            }
        }
        let Some(email) = email else { return Ok(None) };
        let email = email.to_lowercase();
        Ok(s.customers
            .values()
            .filter(|c| &c.company_id == company)
            .filter(|c| c.email.as_deref().is_some_and(|e| e.to_lowercase() == email))
            .map(|c| c.id)
            .min())
    }

    async fn link_customer(
        &self,
        company: &CompanyId,
        integration: IntegrationId,
        external_id: &str,
        customer: CustomerId,
    ) -> Result<(), Error> {
        self.lock()
            .customer_links
            .insert((company.clone(), integration, external_id.to_owned()), customer);
        Ok(())
    }
}

impl MemoryStore {
    /// The bulk stock write (see the port): every expectation checked before anything is
    /// written.
    pub(crate) fn set_stocks_locked(
        &self,
        c: &CompanyId,
        changes: &[(ProductId, u32, u32)],
        audit: &AuditEntry,
        now: DateTime<Utc>,
    ) -> Result<(), Vec<(ProductId, Option<u32>)>> {
        let mut s = self.lock();
        let moved: Vec<(ProductId, Option<u32>)> = changes
            .iter()
            .filter_map(|(id, expected, _)| {
                let current = s.products.get(&(c.clone(), *id)).map(|p| p.stock);
                (current != Some(*expected)).then_some((*id, current))
            })
            .collect();
        if !moved.is_empty() {
            return Err(moved);
        }
        for (id, _, to) in changes {
            if let Some(p) = s.products.get_mut(&(c.clone(), *id)) {
                p.stock = *to;
                p.updated_at = now;
            }
        }
        s.audit.push(audit.clone());
        Ok(())
    }
}
