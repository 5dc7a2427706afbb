//! DynamoDB adapter: the production store. One table, tenant-prefixed keys (see
//! `keys.rs` and `DATA_MODEL.md`), every read a `GetItem`, `BatchGetItem` or `Query`
//! page, every multi-item write one `TransactWriteItems`.

mod audit_log;
mod catalog;
mod commit;
pub mod heat;
mod imports;
mod integrations;
mod keys;
mod merge;
mod notify;
mod reads;
mod recount;
mod search;
mod stock;
mod table;
mod tx;
mod users;

pub use reads::{order_index_attrs, ReadStats, MAX_QUERIES_PER_PAGE};
pub use table::{create_table, INDEXES};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use serde::{de::DeserializeOwned, Serialize};
use std::collections::HashMap;
use std::time::Duration;

use oms_domain::audit::AuditEntry;
use oms_domain::catalog::{PriceOverride, Product};
use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, OrderId, ProductId};
use oms_domain::order::Order;
use oms_domain::outbox::OutboxEvent;
use oms_domain::plan::EffectPlan;
use oms_domain::ports::{
    CommitError, CommitRejection, IdempotencyKey, IdempotencyRecord, OrderStore, OriginKey, Page, PageRequest,
    PlacementKeys, PlacementSnapshot, SettingsStore,
};
use oms_domain::settings::CompanySettings;

use keys::*;
use tx::{Guard, Tx};

pub type Item = HashMap<String, AttributeValue>;

/// Actions one `TransactWriteItems` may hold (AWS and DynamoDB Local 3.x alike).
pub(crate) const MAX_TRANSACTION_ITEMS: usize = 100;

/// How long an `Idempotency-Key` is remembered.
/// The index attributes a product's stored fields give, each with its value or `None`
/// (absent), for tests that compare them with what is stored.
/// The stock-level entry a product's fields give (`ATTENTION_PK`, `ATTENTION_SK`), for tests.
pub fn product_level_attrs(p: &Product) -> Vec<(&'static str, Option<String>)> {
    let entry = DynamoStore::level_entry(p);
    vec![
        (ATTENTION_PK, entry.as_ref().map(|e| e.0.clone())),
        (ATTENTION_SK, entry.map(|e| e.1)),
    ]
}

pub fn product_index_attrs(p: &Product) -> Vec<(&'static str, Option<String>)> {
    let index = DynamoStore::derived_index(p);
    PRODUCT_DERIVED
        .iter()
        .map(|a| {
            (
                *a,
                index
                    .iter()
                    .find(|(b, _)| b == a)
                    .and_then(|(_, v)| v.as_s().ok().cloned()),
            )
        })
        .collect()
}

/// `BatchWriteItem` requests one bulk write sends at once.
const WRITE_BATCHES_AT_ONCE: usize = 8;

/// On a product item: the shards' write count its index entries were derived at (see
/// `reindex_product`).
pub(crate) const INDEX_MOVES: &str = "index_moves";

/// Every index attribute [`DynamoStore::derived_index`] may set on a product.
pub(crate) const PRODUCT_DERIVED: [&str; 14] = [
    BY_STATUS_PK,
    BY_STATUS_SK,
    BY_REP_PK,
    BY_REP_SK,
    BY_TOTAL_PK,
    BY_TOTAL_SK,
    BY_DUE_PK,
    BY_DUE_SK,
    CU_TOTAL_PK,
    CU_TOTAL_SK,
    CU_ATTENTION_PK,
    CU_ATTENTION_SK,
    ATTENTION_PK,
    ATTENTION_SK,
];

const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

pub(crate) fn av_s(s: impl Into<String>) -> AttributeValue {
    AttributeValue::S(s.into())
}

pub(crate) fn key_of((pk, sk): (String, String)) -> Item {
    HashMap::from([(PK.to_owned(), av_s(pk)), (SK.to_owned(), av_s(sk))])
}

fn to_item<T: Serialize>(v: &T) -> Result<Item, Error> {
    serde_dynamo::to_item(v).map_err(Error::internal)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, Error> {
    serde_dynamo::from_item(item).map_err(Error::internal)
}

fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn names<const N: usize>(pairs: [(&str, &str); N]) -> HashMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

const NOT_EXISTS: &str = "attribute_not_exists(PK)";

/// A DynamoDB call that failed after the SDK's retries. Throttling is a busy table, not a
/// bug: it is answered `503 contention` with `Retry-After`, so the caller retries; anything
/// else is an internal error (logged with its cause, never shown).
pub(crate) fn sdk_error<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> Error
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    match e.code() {
        Some("ThrottlingException" | "ProvisionedThroughputExceededException" | "RequestLimitExceeded") => {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "DynamoDB throttled past the SDK's retries");
            Error::Contention
        }
        _ => Error::internal(e),
    }
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    stats: std::sync::Arc<ReadStats>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            stats: Default::default(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// What the order reads have cost since the last `take()`.
    pub fn read_stats(&self) -> &ReadStats {
        &self.stats
    }

    /// The order item as stored: the order plus every index key it belongs under.
    pub(crate) fn order_item(o: &Order) -> Result<Item, Error> {
        let mut item = to_item(o)?;
        item.insert(TYPE.into(), av_s("ORDER"));
        // Internal (not serialized with the order): the high-value counters' generation.
        if o.hv_generation > 0 {
            item.insert(HV_GENERATION.into(), tx::n(o.hv_generation));
        }
        for (attr, value) in reads::order_index_attrs(o) {
            if let Some(v) = value {
                item.insert(attr.into(), av_s(v));
            }
        }
        Ok(item)
    }

    async fn get(&self, key: (String, String)) -> Result<Option<Item>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        self.stats.record(u64::from(out.item.is_some()));
        Ok(out.item)
    }

    /// Reads many keys: one `BatchGetItem` per 100 keys, re-asking for unprocessed keys.
    async fn batch_get(&self, keys: Vec<(String, String)>) -> Result<HashMap<(String, String), Item>, Error> {
        let mut found = HashMap::new();
        let mut unique = keys;
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().cloned().map(key_of).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(Error::internal)?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) = (item.get(PK), item.get(SK)) {
                        found.insert((pk.clone(), sk.clone()), item);
                    }
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys.is_empty());
                if pending.is_some() {
                    attempt += 1;
                    if attempt > 8 {
                        return Err(Error::Contention);
                    }
                    tokio::time::sleep(Duration::from_millis(rand::random_range(0..=(20u64 << attempt.min(5))))).await;
                }
            }
        }
        Ok(found)
    }

    /// Every page of a query whose result is bounded by one entity (a customer's price
    /// list, one role's users), mapped to `T`.
    /// One page of `query`: from the page token, at most `page.limit` items, decoded, with
    /// the token of the next page.
    async fn one_page<T: DeserializeOwned>(
        &self,
        company: &CompanyId,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        page: &PageRequest,
    ) -> Result<Page<T>, Error> {
        let out = self.page_rows(company, query, page).await?;
        let items = out.items.into_iter().map(from_item).collect::<Result<_, _>>()?;
        Ok(Page { items, next: out.next })
    }

    /// A page of products, each with its stock (see [`DynamoStore::attach_stock`]).
    async fn product_page(
        &self,
        company: &CompanyId,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        page: &PageRequest,
    ) -> Result<Page<Product>, Error> {
        let out = self.page_rows(company, query, page).await?;
        Ok(Page {
            items: self.with_stock(out.items).await?,
            next: out.next,
        })
    }

    /// [`DynamoStore::one_page`], undecoded (index entries that name records).
    async fn page_rows(
        &self,
        company: &CompanyId,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        page: &PageRequest,
    ) -> Result<Page<Item>, Error> {
        let out = query
            .set_exclusive_start_key(Self::start_key(company, page.after.as_ref())?)
            .limit(i32::try_from(page.limit).unwrap_or(100))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(Page {
            next: Self::page_token(out.last_evaluated_key.as_ref()),
            items: out.items.unwrap_or_default(),
        })
    }

    async fn query_all<T: DeserializeOwned>(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }

    fn product_item(p: &Product) -> Result<Item, Error> {
        let mut item = to_item(p)?;
        item.insert(TYPE.into(), av_s("PRODUCT"));
        item.insert(GSI1PK.into(), av_s(products_by_sku(&p.company_id)));
        item.insert(GSI1SK.into(), av_s(p.sku.key()));
        if let Some(cat) = &p.category {
            item.insert(GSI2PK.into(), av_s(products_in_category(&p.company_id, cat)));
            item.insert(GSI2SK.into(), av_s(p.sku.key()));
        }
        for (attr, value) in Self::derived_index(p) {
            item.insert(attr.into(), value);
        }
        Ok(item)
    }

    /// The index attributes a product's own fields give (the product browser's filters
    /// and the stock-level index); any of [`PRODUCT_DERIVED`] not listed is absent.
    /// - `ByStatus`/`ByRep`: active products (all, and per category), by SKU.
    /// - `ByTotal`/`ByDue`/`CustomerByTotal`/`CustomerAttention`: products in stock (a
    ///   product that does not track inventory always is): all, active, per category, and
    ///   active per category, by SKU. So `in_stock=true` pages are full.
    ///
    /// The stock level is not here (see [`DynamoStore::level_entry`]); `Attention` is in
    /// [`PRODUCT_DERIVED`] so an entry a product item carried before is removed.
    pub(crate) fn derived_index(p: &Product) -> Vec<(&'static str, AttributeValue)> {
        let c = &p.company_id;
        let sku = p.sku.key();
        let mut out = Vec::new();
        let both = |out: &mut Vec<_>, (pk, sk): (&'static str, &'static str), partition: String| {
            out.push((pk, av_s(partition)));
            out.push((sk, av_s(sku.clone())));
        };
        if p.active {
            both(&mut out, (BY_STATUS_PK, BY_STATUS_SK), products_active(c));
            if let Some(cat) = &p.category {
                both(&mut out, (BY_REP_PK, BY_REP_SK), products_active_in_category(c, cat));
            }
        }
        if !p.track_inventory || p.stock > 0 {
            both(&mut out, (BY_TOTAL_PK, BY_TOTAL_SK), products_in_stock(c, None, false));
            if p.active {
                both(&mut out, (BY_DUE_PK, BY_DUE_SK), products_in_stock(c, None, true));
            }
            if let Some(cat) = &p.category {
                both(
                    &mut out,
                    (CU_TOTAL_PK, CU_TOTAL_SK),
                    products_in_stock(c, Some(cat), false),
                );
                if p.active {
                    both(
                        &mut out,
                        (CU_ATTENTION_PK, CU_ATTENTION_SK),
                        products_in_stock(c, Some(cat), true),
                    );
                }
            }
        }
        out
    }

    /// The stock-level entry (`Attention` partition and sort key) of an active, tracked
    /// product (see [`keys::stock_level`]), kept in an item of its own
    /// ([`keys::stock_level_entry`]) so inventory health reads low and out products only.
    pub(crate) fn level_entry(p: &Product) -> Option<(String, String)> {
        (p.active && p.track_inventory)
            .then(|| stock_level(&p.company_id, p.id, p.stock, p.low_stock_threshold, &p.sku.key()))
    }

    /// A search term item of a product or customer: which record, and all its terms (so a
    /// reader lists it once, under its first matching term).
    pub(crate) fn term_entry(
        partition: String,
        record: &str,
        term: &str,
        terms: &std::collections::BTreeSet<String>,
    ) -> Item {
        values([
            (TYPE, av_s("TERM")),
            ("record_id", av_s(record)),
            (
                "terms",
                AttributeValue::L(terms.iter().map(|t| av_s(t.as_str())).collect()),
            ),
            (GSI1PK, av_s(partition)),
            (GSI1SK, av_s(format!("{term}#{record}"))),
        ])
    }

    /// The records a page of term entries names for `prefix`, once each (entries under a
    /// term other than the record's first matching one are skipped), in term order.
    pub(crate) fn term_hits(rows: &[Item], prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        for row in rows {
            let (Some(AttributeValue::S(id)), Some(AttributeValue::S(sort)), Some(AttributeValue::L(terms))) =
                (row.get("record_id"), row.get(GSI1SK), row.get("terms"))
            else {
                continue;
            };
            let terms: std::collections::BTreeSet<String> =
                terms.iter().filter_map(|t| t.as_s().ok().cloned()).collect();
            let term = sort.strip_suffix(&format!("#{id}")).unwrap_or_default();
            if oms_domain::catalog::first_term(&terms, prefix).map(String::as_str) == Some(term) && !out.contains(id) {
                out.push(id.clone());
            }
        }
        out
    }

    fn audit_put<T: Clone>(tx: &mut Tx<T>, a: &AuditEntry) -> Result<(), Error> {
        let sort = audit_sort(a);
        let mut item = to_item(a)?;
        item.insert(TYPE.into(), av_s("AUDIT"));
        // The company's timeline, on the entry's write shard of it (see `keys::INDEX_SHARDS`).
        let shard = u32::from(a.id.as_uuid().as_bytes()[15]) % INDEX_SHARDS;
        item.insert(GSI1PK.into(), av_s(sharded(&audit_by_time(&a.company_id), shard)));
        item.insert(GSI1SK.into(), av_s(sort.clone()));
        item.insert(GSI2PK.into(), av_s(audit_by_actor(&a.company_id, a.actor_id.as_str())));
        item.insert(GSI2SK.into(), av_s(sort.clone()));
        tx.put(
            audit(&a.company_id, a.entity.as_str(), &a.entity_id, &sort),
            item,
            None,
            Guard::None,
        )
    }

    /// Puts and deletes that need no condition, 25 to a `BatchWriteItem`, up to
    /// [`WRITE_BATCHES_AT_ONCE`] chunks at once (a relay pass is one or two; a bulk load
    /// of thousands must not open thousands of connections at once); what DynamoDB leaves
    /// unprocessed (throttling) is retried with backoff.
    pub(crate) async fn write_batches(
        &self,
        requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> Result<(), Error> {
        use futures_util::{StreamExt, TryStreamExt};
        let chunks: Vec<Vec<aws_sdk_dynamodb::types::WriteRequest>> = requests.chunks(25).map(<[_]>::to_vec).collect();
        futures_util::stream::iter(chunks.into_iter().map(|chunk| self.write_batch(chunk)))
            .buffer_unordered(WRITE_BATCHES_AT_ONCE)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// One `BatchWriteItem` of up to 25 requests, with what it leaves unprocessed retried.
    async fn write_batch(&self, mut pending: Vec<aws_sdk_dynamodb::types::WriteRequest>) -> Result<(), Error> {
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending)
                .send()
                .await
                .map_err(sdk_error)?;
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            if !pending.is_empty() {
                attempt += 1;
                if attempt > 8 {
                    return Err(Error::Contention);
                }
                let ms = rand::random_range(0..=(20u64 << attempt.min(5)));
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
        }
        Ok(())
    }

    /// An outbox record as it is once relayed: out of the pending index, with when.
    fn relayed_item(e: &OutboxEvent, now: chrono::DateTime<chrono::Utc>) -> Result<Item, Error> {
        let mut item = to_item(e)?;
        let (pk, sk) = outbox(&e.company_id, &e.id.to_string());
        item.insert(PK.into(), av_s(pk));
        item.insert(SK.into(), av_s(sk));
        item.insert(TYPE.into(), av_s("OUTBOX"));
        item.insert("relayed_at".into(), av_s(now.to_rfc3339()));
        Ok(item)
    }

    fn outbox_put<T: Clone>(tx: &mut Tx<T>, e: &OutboxEvent) -> Result<(), Error> {
        let mut item = to_item(e)?;
        item.insert(TYPE.into(), av_s("OUTBOX"));
        item.insert(OUTBOX_PK.into(), av_s(outbox_shard(&e.id.as_uuid())));
        item.insert(
            OUTBOX_SK.into(),
            av_s(format!("{}#{}", e.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6fZ"), e.id)),
        );
        tx.put(outbox(&e.company_id, &e.id.to_string()), item, None, Guard::None)
    }

    /// Encodes a `LastEvaluatedKey` (all string attributes) as the adapter's page token.
    fn page_token(last: Option<&Item>) -> Option<String> {
        let last = last?;
        let map: HashMap<&str, &str> = last
            .iter()
            .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
            .collect();
        serde_json::to_string(&map).ok()
    }

    /// Decodes a page token, refusing one whose keys are not this tenant's.
    fn start_key(company: &CompanyId, token: Option<&String>) -> Result<Option<Item>, Error> {
        let Some(token) = token else { return Ok(None) };
        let bad = || Error::invalid("cursor", "the cursor is not valid for this list");
        let map: HashMap<String, String> = serde_json::from_str(token).map_err(|_| bad())?;
        let prefix = format!("{}#", tenant(company));
        if map.is_empty() || map.iter().any(|(k, v)| k.ends_with("PK") && !v.starts_with(&prefix)) {
            return Err(bad());
        }
        Ok(Some(map.into_iter().map(|(k, v)| (k, av_s(v))).collect()))
    }
}

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn get_settings(&self, company: &CompanyId) -> Result<CompanySettings, Error> {
        match self.get(settings(company)).await? {
            Some(item) => from_item(item),
            None => Ok(CompanySettings::default()),
        }
    }

    async fn update_settings(
        &self,
        company: &CompanyId,
        after: &CompanySettings,
        audit: &AuditEntry,
        event: Option<&OutboxEvent>,
    ) -> Result<bool, Error> {
        let mut item = to_item(after)?;
        item.insert(TYPE.into(), av_s("SETTINGS"));
        let before = after.version.saturating_sub(1);
        // Settings never written are the defaults, version 0.
        let condition = if before == 0 {
            "attribute_not_exists(PK) OR attribute_not_exists(version) OR version = :v"
        } else {
            "version = :v"
        };
        let mut tx = Tx::new(&self.table);
        tx.put(
            settings(company),
            item,
            Some((condition, values([(":v", tx::n(before))]))),
            Guard::Rule(()),
        )?;
        Self::audit_put(&mut tx, audit)?;
        if let Some(e) = event {
            Self::outbox_put(&mut tx, e)?;
        }
        Ok(tx.commit(&self.client).await?.is_ok())
    }

    async fn put_settings(&self, company: &CompanyId, s: &CompanySettings) -> Result<(), Error> {
        let mut item = to_item(s)?;
        let (pk, sk) = settings(company);
        item.insert(PK.into(), av_s(pk));
        item.insert(SK.into(), av_s(sk));
        item.insert(TYPE.into(), av_s("SETTINGS"));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

#[derive(Clone, Debug)]
enum OrderGuard {
    Order,
    /// The order change's condition: still in the status it was read in (and version).
    Change,
    /// A child's parent, changed with it: still at the version read.
    Parent,
    OrderNumber,
    Origin,
    Idempotency,
    Cap(u32),
    Stock(ProductId),
    /// A release of reserved units (with no take on the same shard).
    Reserved(ProductId),
}

#[async_trait]
impl OrderStore for DynamoStore {
    async fn load_placement(&self, k: &PlacementKeys) -> Result<PlacementSnapshot, Error> {
        let c = &k.company;
        let mut wanted = vec![settings(c)];
        wanted.extend(k.products.iter().map(|p| product(c, *p)));
        wanted.extend(k.products.iter().map(|p| keys::stock_shard(c, *p, 0)));
        if let Some(cu) = k.customer {
            wanted.push(keys::customer(c, cu));
            wanted.extend(k.products.iter().map(|p| price_override(c, cu, *p)));
        }
        if let Some(i) = &k.idempotency {
            wanted.push(idempotency(c, i.principal.as_str(), &i.key));
        }
        if let Some(o) = &k.origin {
            wanted.push(origin_claim(c, &o.integration_id, &o.origin_order_id));
        }
        let mut found = self.batch_get(wanted).await?;
        let mut snap = PlacementSnapshot {
            settings: found
                .remove(&settings(c))
                .map(from_item)
                .transpose()?
                .unwrap_or_default(),
            ..Default::default()
        };
        let mut products = k
            .products
            .iter()
            .filter_map(|p| found.remove(&product(c, *p)))
            .map(from_item::<Product>)
            .collect::<Result<Vec<_>, _>>()?;
        // A hot product's other shards: a second read, for hot products only.
        self.attach_stock(&mut products, &mut found).await?;
        snap.products = products.into_iter().map(|p| (p.id, p)).collect();
        for p in &k.products {
            if let Some(cu) = k.customer {
                if let Some(item) = found.remove(&price_override(c, cu, *p)) {
                    let o: PriceOverride = from_item(item)?;
                    snap.overrides.insert(*p, o.price);
                }
            }
        }
        if let Some(cu) = k.customer {
            snap.customer = found.remove(&keys::customer(c, cu)).map(from_item).transpose()?;
        }
        if let Some(i) = &k.idempotency {
            snap.idempotency = found
                .remove(&idempotency(c, i.principal.as_str(), &i.key))
                .filter(|item| !expired(item, k.at))
                .map(from_item)
                .transpose()?;
        }
        if let Some(o) = &k.origin {
            snap.origin_order = found
                .remove(&origin_claim(c, &o.integration_id, &o.origin_order_id))
                .and_then(|i| i.get("order_id").and_then(|v| v.as_s().ok()).map(|s| OrderId::parse(s)))
                .transpose()?;
        }
        Ok(snap)
    }

    async fn commit(&self, plan: &EffectPlan) -> Result<Order, CommitError> {
        self.commit_plan(plan).await
    }

    async fn get_order(&self, company: &CompanyId, id: OrderId) -> Result<Option<Order>, Error> {
        self.get(order(company, id)).await?.map(from_item).transpose()
    }

    async fn record(&self, audit: &AuditEntry, event: &OutboxEvent) -> Result<(), Error> {
        let mut tx: Tx<()> = Tx::new(&self.table);
        Self::audit_put(&mut tx, audit)?;
        Self::outbox_put(&mut tx, event)?;
        match tx.commit(&self.client).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(Error::internal("an audit entry and its event were refused")),
        }
    }

    async fn get_idempotency(
        &self,
        company: &CompanyId,
        key: &IdempotencyKey,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<IdempotencyRecord>, Error> {
        self.get(idempotency(company, key.principal.as_str(), &key.key))
            .await?
            .filter(|i| !expired(i, at))
            .map(from_item)
            .transpose()
    }

    async fn origin_order(&self, company: &CompanyId, origin: &OriginKey) -> Result<Option<OrderId>, Error> {
        self.get(origin_claim(company, &origin.integration_id, &origin.origin_order_id))
            .await?
            .and_then(|i| i.get("order_id").and_then(|v| v.as_s().ok()).map(|s| OrderId::parse(s)))
            .transpose()
    }
}

/// The high-value counters: one `UpdateItem` adding to each status's count and sum. The
/// threshold is recorded once, when the counters start (`if_not_exists`), so a company
/// whose threshold changed later can tell the counters no longer answer its setting.
fn count_high_value(
    tx: &mut Tx<OrderGuard>,
    c: &CompanyId,
    delta: Option<&oms_domain::order::query::HighValueDelta>,
) -> Result<(), Error> {
    let Some(d) = delta else { return Ok(()) };
    for scope in std::iter::once(None).chain(d.customer.map(Some)) {
        add_high_value(tx, c, scope, d)?;
    }
    Ok(())
}

fn add_high_value<T: Clone>(
    tx: &mut Tx<T>,
    c: &CompanyId,
    customer: Option<oms_domain::ids::CustomerId>,
    d: &oms_domain::order::query::HighValueDelta,
) -> Result<(), Error> {
    let mut names = HashMap::from([("#thr".to_owned(), "threshold".to_owned())]);
    let mut vals = values([(":thr", av_s(d.threshold.normalize().to_string()))]);
    let mut add = Vec::new();
    for (i, (status, n, v)) in d.changes.iter().enumerate() {
        names.insert(format!("#n{i}"), format!("n_{}", status.as_str()));
        names.insert(format!("#v{i}"), format!("v_{}", status.as_str()));
        vals.insert(format!(":n{i}"), AttributeValue::N(n.to_string()));
        vals.insert(format!(":v{i}"), AttributeValue::N(v.to_string()));
        add.push(format!("#n{i} :n{i}, #v{i} :v{i}"));
    }
    // The company's counters on a random shard; a customer's on its own item.
    let key = match customer {
        None => high_value_shard(c, d.generation, rand::random_range(0..HIGH_VALUE_SHARDS)),
        Some(_) => high_value_stats(c, customer, d.generation),
    };
    tx.update(
        key,
        &format!("SET #thr = if_not_exists(#thr, :thr) ADD {}", add.join(", ")),
        None,
        names,
        vals,
        Guard::None,
    )
}

/// What the failed stock and cap guards mean: short stock (with what is left, from the
/// item as it was), an unavailable product, or the cap reached. `None` if none failed.
fn stock_cap_rejection(failed: &[tx::Failed<OrderGuard>]) -> Option<CommitRejection> {
    let mut short = Vec::new();
    for f in failed {
        match &f.guard {
            OrderGuard::Stock(id) => {
                let old = f.old.as_ref();
                let active = old
                    .and_then(|i| i.get("active"))
                    .and_then(|v| v.as_bool().ok())
                    .copied();
                let stock = old
                    .and_then(|i| i.get("stock"))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|s| s.parse::<u32>().ok());
                match (active, stock) {
                    (Some(true), Some(stock)) => short.push((*id, stock)),
                    _ => return Some(CommitRejection::ProductUnavailable(*id)),
                }
            }
            OrderGuard::Cap(limit) => return Some(CommitRejection::MonthlyCapReached { limit: *limit }),
            // Held units are only released by the order that holds them: a refusal is a
            // count out of step (an error), unless the product's stock is gone.
            OrderGuard::Reserved(id) if f.old.is_none() => return Some(CommitRejection::ProductUnavailable(*id)),
            _ => {}
        }
    }
    (!short.is_empty()).then_some(CommitRejection::InsufficientStock(short))
}

/// Audit entries sort by time, then id; the in-memory store sorts by the same string.
fn audit_sort(a: &AuditEntry) -> String {
    format!("{}#{}", a.at.format("%Y-%m-%dT%H:%M:%S%.6fZ"), a.id)
}

/// TTL deletion lags by up to two days, so expiry is also checked on read, at the use
/// case's time (its injected clock).
fn expired(item: &Item, at: chrono::DateTime<chrono::Utc>) -> bool {
    item.get(EXPIRES_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|s| s.parse::<i64>().ok())
        .is_some_and(|t| t < at.timestamp())
}
