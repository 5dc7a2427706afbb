//! Order reads (SPEC §6, §12 patterns 4–6; search is in `search.rs`): each page is one `Query` per index
//! partition it walks (a small constant number: at most [`MAX_QUERIES_PER_PAGE`]), plus one
//! `BatchGetItem` where the index holds keys (search, origin lookup). No read grows with
//! the tenant: the key ranges start where the page starts and `Limit` stops them.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, CustomerId, OrderId};
use oms_domain::order::index;
use oms_domain::order::query::{
    AttentionCounts, HighValueStats, HighValueTotals, OrderFilter, OrderListQuery, OrderSort,
};
use oms_domain::order::{Order, OrderStatus};
use oms_domain::ports::{OrderReadStore, Page, PageRequest};

use super::keys::*;
use super::{av_s, from_item, sdk_error, DynamoStore, Item};

/// A page stops after this many `Query` calls even if filters left it short; `links.next`
/// then continues where it stopped. This bounds the cost of filters no index serves.
pub const MAX_QUERIES_PER_PAGE: usize = 4;
/// With a filter the key does not cover, each `Query` evaluates up to this many items.
const FILTERED_QUERY_LIMIT: i32 = 100;

/// What reads cost, for the benchmark: requests made and items DynamoDB read
/// (`ScannedCount` of queries, items returned by gets and batch gets).
#[derive(Debug, Default)]
pub struct ReadStats {
    pub requests: AtomicU64,
    pub items_read: AtomicU64,
}

impl ReadStats {
    pub(super) fn record(&self, items: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.items_read.fetch_add(items, Ordering::Relaxed);
    }

    /// (requests, items read) since the last call, and resets both.
    pub fn take(&self) -> (u64, u64) {
        (
            self.requests.swap(0, Ordering::Relaxed),
            self.items_read.swap(0, Ordering::Relaxed),
        )
    }
}

/// Every index key attribute of an order item and its value (`None`: absent, for the sparse
/// indexes). Written whole at placement; a change writes the ones that differ.
pub fn order_index_attrs(o: &Order) -> Vec<(&'static str, Option<String>)> {
    let attrs = sale_index_attrs(o);
    // A child order (a return, an invoice) is in no order list, count or search: its
    // parent lists it. So it carries none of the index attributes.
    match o.kind {
        oms_domain::order::OrderKind::Sale => attrs,
        _ => attrs.into_iter().map(|(k, _)| (k, None)).collect(),
    }
}

fn sale_index_attrs(o: &Order) -> Vec<(&'static str, Option<String>)> {
    let c = &o.company_id;
    let date = index::date_key(o);
    let attention = index::attention_key(o);
    // The company-wide partitions: the order's shard of each.
    let wide = |base: String| sharded(&base, order_shard(o.id));
    vec![
        (GSI1PK, Some(wide(orders_by_date(c)))),
        (GSI1SK, Some(date.clone())),
        (GSI2PK, o.customer_id.map(|cu| customer_orders(c, cu))),
        (GSI2SK, o.customer_id.map(|_| date.clone())),
        (BY_STATUS_PK, Some(wide(orders_in_status(c, o.status.as_str())))),
        (BY_STATUS_SK, Some(date.clone())),
        (BY_REP_PK, o.sales_rep_id.as_ref().map(|r| rep_orders(c, r.as_str()))),
        (BY_REP_SK, o.sales_rep_id.as_ref().map(|_| date.clone())),
        (BY_TOTAL_PK, Some(wide(orders_by_date(c)))),
        (BY_TOTAL_SK, Some(index::total_key(o))),
        (BY_DUE_PK, Some(wide(orders_by_date(c)))),
        (BY_DUE_SK, Some(index::due_key(o))),
        (ATTENTION_PK, attention.as_ref().map(|_| wide(attention_partition(c)))),
        (ATTENTION_SK, attention.clone()),
        (CU_TOTAL_PK, o.customer_id.map(|cu| customer_orders(c, cu))),
        (CU_TOTAL_SK, o.customer_id.map(|_| index::total_key(o))),
        (
            CU_ATTENTION_PK,
            o.customer_id
                .and(attention.as_ref())
                .and(o.customer_id)
                .map(|cu| customer_attention(c, cu)),
        ),
        (CU_ATTENTION_SK, o.customer_id.and(attention)),
    ]
}

/// One index partition (or a write-sharded one: `shards` partitions read as one, see
/// [`Segment::across`]) and a key range in it, bounds inclusive.
#[derive(Debug, Clone)]
pub(super) struct Segment {
    pub(super) index: Option<&'static str>,
    pub(super) pk_attr: &'static str,
    pub(super) sk_attr: &'static str,
    pub(super) pk: String,
    pub(super) lo: Option<String>,
    pub(super) hi: Option<String>,
    pub(super) prefix: Option<String>,
    pub(super) shards: u32,
}

impl Segment {
    pub(super) fn on(index: &'static str, pk_attr: &'static str, sk_attr: &'static str, pk: String) -> Segment {
        Segment {
            index: Some(index),
            pk_attr,
            sk_attr,
            pk,
            lo: None,
            hi: None,
            prefix: None,
            shards: 1,
        }
    }

    /// The partition as the write-sharded one it is: its [`INDEX_SHARDS`] partitions
    /// (`sharded(pk, k)`), read together and merged in key order.
    pub(super) fn across(mut self) -> Segment {
        self.shards = INDEX_SHARDS;
        self
    }

    /// Shard `k` of a write-sharded segment, as a segment of its own.
    fn shard(&self, k: u32) -> Segment {
        Segment {
            pk: sharded(&self.pk, k),
            shards: 1,
            ..self.clone()
        }
    }

    /// Its partitions, each as a segment of its own (one, unless sharded).
    pub(super) fn partitions(&self) -> Vec<Segment> {
        (0..self.shards).map(|k| self.shard(k)).collect()
    }

    /// Where an item or key sits in the index: its sort key, then the table key.
    pub(super) fn position(&self, item: &Item) -> (String, String, String) {
        let s = |a: &str| item.get(a).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        (s(self.sk_attr), s(PK), s(SK))
    }

    pub(super) fn range(mut self, lo: Option<String>, hi: Option<String>) -> Segment {
        self.lo = lo;
        self.hi = hi;
        self
    }

    /// The attributes of an item's key in this index: what `ExclusiveStartKey` needs.
    pub(super) fn key_of(&self, item: &Item) -> Item {
        [PK, SK, self.pk_attr, self.sk_attr]
            .into_iter()
            .filter_map(|k| item.get(k).map(|v| (k.to_owned(), v.clone())))
            .collect()
    }
}

/// A filter expression with its names and values.
#[derive(Debug, Default, Clone)]
pub(super) struct Filter {
    terms: Vec<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl Filter {
    pub(super) fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub(super) fn eq(&mut self, attr: &str, value: AttributeValue) {
        let i = self.terms.len();
        self.terms.push(format!("#f{i} = :f{i}"));
        self.names.insert(format!("#f{i}"), attr.to_owned());
        self.values.insert(format!(":f{i}"), value);
    }

    fn cmp(&mut self, attr: &str, op: &str, value: String) {
        let i = self.terms.len();
        self.terms.push(format!("#f{i} {op} :f{i}"));
        self.names.insert(format!("#f{i}"), attr.to_owned());
        self.values.insert(format!(":f{i}"), av_s(value));
    }

    /// Drops the conditions on `attrs`, which the chosen index's key already guarantees, so
    /// a page the key fully serves reads exactly the page (`Limit` = what is missing).
    fn without(mut self, attrs: &[&str]) -> Filter {
        let mut kept = Vec::new();
        for t in std::mem::take(&mut self.terms) {
            let name = t.split(' ').next().unwrap_or_default().to_owned();
            if self.names.get(&name).is_some_and(|a| attrs.contains(&a.as_str())) {
                self.names.remove(&name);
                self.values.remove(&format!(":{}", &name[1..]));
            } else {
                kept.push(t);
            }
        }
        self.terms = kept;
        self
    }

    /// Every condition of the order filter: a page is right whichever index served it.
    fn of(f: &OrderFilter) -> Filter {
        let mut x = Filter::default();
        if let Some(s) = f.status {
            x.eq("status", av_s(s.as_str()));
        }
        if let Some(c) = f.customer_id {
            x.eq("customer_id", av_s(c.to_string()));
        }
        if let Some(r) = &f.sales_rep_id {
            x.eq("sales_rep_id", av_s(r.as_str()));
        }
        if let Some(s) = f.source {
            x.eq("source", av_s(s.as_str()));
        }
        if let Some(c) = f.channel {
            x.eq("channel", av_s(c.as_str()));
        }
        if let Some(p) = f.priority {
            x.eq("priority", av_s(p.as_str()));
        }
        if let Some(d) = f.from_date {
            x.cmp("order_date", ">=", d.to_string());
        }
        if let Some(d) = f.to_date {
            x.cmp("order_date", "<=", d.to_string());
        }
        // Totals are decimal strings on the order; the padded key compares as a number.
        if let Some(m) = f.min_total {
            x.cmp(BY_TOTAL_SK, ">=", index::padded_amount(m));
        }
        if let Some(m) = f.max_total {
            x.cmp(BY_TOTAL_SK, "<=", format!("{}#~", index::padded_amount(m)));
        }
        if let Some(o) = &f.origin_order_id {
            x.eq("origin_order_id", av_s(o.clone()));
        }
        x
    }
}

/// Where a page stopped: `<segment>:<page token>`, the store's usual page token (the last
/// key read, tenant-checked on the way back) prefixed by the index partition it is in.
pub(super) fn encode(seg: usize, key: &Item) -> Option<String> {
    let inner = match key.is_empty() {
        true => String::new(),
        false => DynamoStore::page_token(Some(key))?,
    };
    Some(format!("{seg}:{inner}"))
}

pub(super) fn decode(c: &CompanyId, token: Option<&String>, segments: usize) -> Result<(usize, Option<Item>), Error> {
    let Some(t) = token else { return Ok((0, None)) };
    let bad = || Error::invalid("cursor", "the cursor is not valid for this list");
    let (seg, inner) = t.split_once(':').ok_or_else(bad)?;
    let seg: usize = seg.parse().map_err(|_| bad())?;
    if seg >= segments {
        return Err(bad());
    }
    let key = match inner.is_empty() {
        true => None,
        false => DynamoStore::start_key(c, Some(&inner.to_owned()))?,
    };
    Ok((seg, key))
}

impl DynamoStore {
    pub(super) async fn query_segment(
        &self,
        seg: &Segment,
        start: Option<Item>,
        limit: i32,
        forward: bool,
        filter: &Filter,
        projection: Option<&str>,
    ) -> Result<(Vec<Item>, Option<Item>), Error> {
        if seg.shards > 1 {
            let (items, last, _) = self
                .query_merged(seg, start, limit, forward, filter, projection)
                .await?;
            return Ok((items, last));
        }
        let (items, last, _) = self.query_page(seg, start, limit, forward, filter, projection).await?;
        Ok((items, last))
    }

    /// One `Query` page of a segment: its items, `LastEvaluatedKey`, and how many entries
    /// it examined (`ScannedCount`).
    pub(super) async fn query_page(
        &self,
        seg: &Segment,
        start: Option<Item>,
        limit: i32,
        forward: bool,
        filter: &Filter,
        projection: Option<&str>,
    ) -> Result<(Vec<Item>, Option<Item>, usize), Error> {
        let mut vals: Item = [(":pk".to_owned(), av_s(seg.pk.clone()))].into();
        let mut names: HashMap<String, String> = [
            ("#pk".to_owned(), seg.pk_attr.to_owned()),
            ("#sk".to_owned(), seg.sk_attr.to_owned()),
        ]
        .into();
        let mut key = "#pk = :pk".to_owned();
        if let Some(p) = &seg.prefix {
            key.push_str(" AND begins_with(#sk, :prefix)");
            vals.insert(":prefix".into(), av_s(p.clone()));
        } else if seg.lo.is_some() || seg.hi.is_some() {
            key.push_str(" AND #sk BETWEEN :lo AND :hi");
            vals.insert(":lo".into(), av_s(seg.lo.clone().unwrap_or_else(|| "!".into())));
            vals.insert(":hi".into(), av_s(seg.hi.clone().unwrap_or_else(|| "~~~~".into())));
        }
        if !key.contains("#sk") && !projection.is_some_and(|p| p.contains("#sk")) {
            names.remove("#sk");
        }
        vals.extend(filter.values.clone());
        names.extend(filter.names.clone());
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(seg.index.map(str::to_owned))
            .key_condition_expression(key)
            .set_exclusive_start_key(start)
            .scan_index_forward(forward)
            .limit(limit);
        if !filter.terms.is_empty() {
            q = q.filter_expression(filter.terms.join(" AND "));
        }
        if let Some(p) = projection {
            q = q.projection_expression(p);
        }
        let out = q
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(vals))
            .send()
            .await
            .map_err(sdk_error)?;
        let scanned = u64::try_from(out.scanned_count).unwrap_or(0);
        self.stats.record(scanned);
        Ok((
            out.items.unwrap_or_default(),
            out.last_evaluated_key,
            usize::try_from(scanned).unwrap_or(usize::MAX),
        ))
    }

    /// Fills one page from `segments` in order, starting at the page token: each `Query`
    /// asks for what is still missing (more when a filter may drop items), and the next
    /// token is the key of the last item taken, so nothing is skipped or repeated.
    pub(super) async fn fill<T: serde::de::DeserializeOwned>(
        &self,
        c: &CompanyId,
        segments: &[Segment],
        forward: bool,
        filter: &Filter,
        keep: &(dyn Fn(&T) -> bool + Sync),
        page: &PageRequest,
    ) -> Result<Page<T>, Error> {
        let limit = page.limit.max(1) as usize;
        let (mut seg, mut start) = decode(c, page.after.as_ref(), segments.len())?;
        let mut items = Vec::new();
        let mut queries = 0;
        while seg < segments.len() {
            if queries == MAX_QUERIES_PER_PAGE {
                let key = start.clone().unwrap_or_default();
                return Ok(Page {
                    items,
                    next: encode(seg, &key),
                });
            }
            let need = limit - items.len();
            let ask = if filter.terms.is_empty() {
                i32::try_from(need).unwrap_or(100)
            } else {
                FILTERED_QUERY_LIMIT.max(i32::try_from(need).unwrap_or(100))
            };
            let (found, last) = self
                .query_segment(&segments[seg], start.take(), ask, forward, filter, None)
                .await?;
            // A partition found empty (a status no order is in) does not count against the
            // page's budget: it cost a request (one per shard), and a list has a fixed
            // number of them, so the page still costs a constant; a first page of a sort
            // by status is never empty only because the first statuses are.
            if !found.is_empty() || last.is_some() {
                queries += 1;
            }
            let n = found.len();
            for (i, item) in found.into_iter().enumerate() {
                let key = segments[seg].key_of(&item);
                let entry: T = from_item(item)?;
                if keep(&entry) {
                    items.push(entry);
                }
                if items.len() == limit {
                    let more = i + 1 < n || last.is_some() || seg + 1 < segments.len();
                    return Ok(Page {
                        items,
                        next: if more { encode(seg, &key) } else { None },
                    });
                }
            }
            match last {
                Some(k) => start = Some(k),
                None => seg += 1,
            }
        }
        Ok(Page { items, next: None })
    }

    /// The index partitions a list walks, and the order attributes their keys guarantee.
    fn list_plan(c: &CompanyId, q: &OrderListQuery) -> (Vec<Segment>, Vec<&'static str>) {
        let f = &q.filter;
        let from = f.from_date.map(|d| d.to_string());
        let to = f.to_date.map(|d| format!("{d}#~"));
        let dated = from.is_some() || to.is_some();
        let mut covered = Vec::new();
        let segments = match q.sort {
            OrderSort::OrderDate => {
                let seg = if let Some(cu) = f.customer_id {
                    covered.push("customer_id");
                    Segment::on(GSI2, GSI2PK, GSI2SK, customer_orders(c, cu))
                } else if let Some(rep) = &f.sales_rep_id {
                    covered.push("sales_rep_id");
                    Segment::on(BY_REP, BY_REP_PK, BY_REP_SK, rep_orders(c, rep.as_str()))
                } else if let Some(s) = f.status {
                    covered.push("status");
                    Segment::on(BY_STATUS, BY_STATUS_PK, BY_STATUS_SK, orders_in_status(c, s.as_str())).across()
                } else {
                    Segment::on(GSI1, GSI1PK, GSI1SK, orders_by_date(c)).across()
                };
                if dated {
                    covered.push("order_date");
                }
                vec![seg.range(from, to)]
            }
            OrderSort::TotalAmount => {
                covered.push(BY_TOTAL_SK);
                if f.customer_id.is_some() {
                    covered.push("customer_id");
                }
                vec![Self::by_total(c, f.customer_id).range(
                    f.min_total.map(index::padded_amount),
                    f.max_total.map(|m| format!("{}#~", index::padded_amount(m))),
                )]
            }
            OrderSort::DueDate => vec![Segment::on(BY_DUE, BY_DUE_PK, BY_DUE_SK, orders_by_date(c)).across()],
            OrderSort::Status => {
                let mut statuses: Vec<OrderStatus> = match f.status {
                    Some(s) => vec![s],
                    None => OrderStatus::ALL.to_vec(),
                };
                if q.descending {
                    statuses.reverse();
                }
                covered.push("status");
                if dated {
                    covered.push("order_date");
                }
                statuses
                    .into_iter()
                    .map(|s| {
                        Segment::on(BY_STATUS, BY_STATUS_PK, BY_STATUS_SK, orders_in_status(c, s.as_str()))
                            .across()
                            .range(from.clone(), to.clone())
                    })
                    .collect()
            }
        };
        (segments, covered)
    }

    /// Orders by origin order id: the origin claims (GSI1), then the orders they name.
    async fn by_origin(
        &self,
        c: &CompanyId,
        q: &OrderListQuery,
        origin: &str,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error> {
        let claims = self
            .query_segment(
                &Segment::on(GSI1, GSI1PK, GSI1SK, origin_lookup(c, origin)),
                None,
                100,
                true,
                &Filter::default(),
                None,
            )
            .await?
            .0;
        let ids: Vec<OrderId> = claims
            .iter()
            .filter_map(|i| i.get("order_id").and_then(|v| v.as_s().ok()))
            .filter_map(|s| OrderId::parse(s).ok())
            .collect();
        let rows = self
            .orders_by_id(c, &ids)
            .await?
            .into_iter()
            .filter(|o| q.filter.matches(o))
            .map(|o| (q.sort.key(&o), o))
            .collect();
        // One order per integration: a handful at most, paged in memory.
        Ok(Page::of_keyed(rows, q.descending, page))
    }

    /// The orders with these ids (one `BatchGetItem` per 100), in the order asked.
    pub(super) async fn orders_by_id(&self, c: &CompanyId, ids: &[OrderId]) -> Result<Vec<Order>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = self.batch_get(ids.iter().map(|id| order(c, *id)).collect()).await?;
        self.stats.record(found.len() as u64);
        ids.iter()
            .filter_map(|id| found.remove(&order(c, *id)))
            .map(from_item)
            .collect()
    }

    /// The items of `segments`' ranges, in order, with only the `projection` attributes
    /// (meta counts and sums): at most `max` entries are examined in all, and the flag
    /// says whether any were left unexamined.
    async fn walk(
        &self,
        segments: &[Segment],
        forward: bool,
        filter: &Filter,
        projection: &str,
        max: usize,
    ) -> Result<(Vec<Item>, bool), Error> {
        let mut out = Vec::new();
        let mut examined = 0usize;
        for (i, seg) in segments.iter().enumerate() {
            let mut start = None;
            loop {
                if examined >= max {
                    // The budget is spent: partial if any entry is left here or later.
                    let mut left = self.has_entries(seg, start.take(), forward).await?;
                    for later in &segments[i + 1..] {
                        if left {
                            break;
                        }
                        left = self.has_entries(later, None, forward).await?;
                    }
                    return Ok((out, left));
                }
                let ask = i32::try_from((max - examined).min(1000)).unwrap_or(1000);
                // A write-sharded segment merged, so a partial walk still covers the first
                // entries in key order (the largest totals first).
                let (items, last, scanned) = match seg.shards > 1 {
                    true => {
                        self.query_merged(seg, start.take(), ask, forward, filter, Some(projection))
                            .await?
                    }
                    false => {
                        self.query_page(seg, start.take(), ask, forward, filter, Some(projection))
                            .await?
                    }
                };
                examined += scanned;
                out.extend(items);
                match last {
                    Some(k) => start = Some(k),
                    None => break,
                }
            }
        }
        Ok((out, false))
    }

    /// Whether `seg`'s range has an entry after `start` (one key read at most).
    async fn has_entries(&self, seg: &Segment, start: Option<Item>, forward: bool) -> Result<bool, Error> {
        let (items, more) = self
            .query_segment(seg, start, 1, forward, &Filter::default(), Some("PK"))
            .await?;
        Ok(!items.is_empty() || more.is_some())
    }

    fn attention_segments(c: &CompanyId, customer: Option<CustomerId>, due_bound: NaiveDate) -> [Segment; 2] {
        let seg = || match customer {
            None => Segment::on(ATTENTION, ATTENTION_PK, ATTENTION_SK, attention_partition(c)).across(),
            Some(cu) => Segment::on(
                CU_ATTENTION,
                CU_ATTENTION_PK,
                CU_ATTENTION_SK,
                customer_attention(c, cu),
            ),
        };
        let mut held = seg();
        held.prefix = Some("H#".into());
        [seg().range(Some("D#".into()), Some(format!("D#{due_bound}#~"))), held]
    }

    /// The company's total index, or one customer's.
    fn by_total(c: &CompanyId, customer: Option<CustomerId>) -> Segment {
        match customer {
            None => Segment::on(BY_TOTAL, BY_TOTAL_PK, BY_TOTAL_SK, orders_by_date(c)).across(),
            Some(cu) => Segment::on(CU_TOTAL, CU_TOTAL_PK, CU_TOTAL_SK, customer_orders(c, cu)),
        }
    }
}

#[async_trait]
impl OrderReadStore for DynamoStore {
    async fn list_orders(&self, c: &CompanyId, q: &OrderListQuery, page: &PageRequest) -> Result<Page<Order>, Error> {
        if let Some(origin) = &q.filter.origin_order_id {
            return self.by_origin(c, q, origin, page).await;
        }
        let (segments, covered) = Self::list_plan(c, q);
        let f = q.filter.clone();
        let filter = Filter::of(&q.filter).without(&covered);
        self.fill(c, &segments, !q.descending, &filter, &move |o| f.matches(o), page)
            .await
    }

    async fn search_orders(
        &self,
        c: &CompanyId,
        terms: &[String],
        filter: &OrderFilter,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error> {
        self.search(c, terms, filter, page).await
    }

    async fn index_order_search(&self, c: &CompanyId, id: OrderId) -> Result<(), Error> {
        self.reindex(c, id).await
    }

    async fn attention_orders(
        &self,
        c: &CompanyId,
        customer: Option<CustomerId>,
        due_bound: NaiveDate,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error> {
        let segments = Self::attention_segments(c, customer, due_bound);
        let keep = move |o: &Order| customer.is_none_or(|cu| o.customer_id == Some(cu));
        self.fill(c, &segments, true, &Filter::default(), &keep, page).await
    }

    async fn attention_counts(
        &self,
        c: &CompanyId,
        customer: Option<CustomerId>,
        now: DateTime<Utc>,
        max: usize,
    ) -> Result<AttentionCounts, Error> {
        let segments = Self::attention_segments(c, customer, index::attention_due_bound(now));
        let (items, partial) = self.walk(&segments, true, &Filter::default(), "#sk", max).await?;
        let mut counts = AttentionCounts {
            partial,
            ..AttentionCounts::default()
        };
        for item in items {
            // `D#<due>#…` or `H#<due or 9999-12-31>#…`
            let sk = [ATTENTION_SK, CU_ATTENTION_SK]
                .iter()
                .find_map(|a| item.get(*a).and_then(|v| v.as_s().ok()))
                .cloned()
                .unwrap_or_default();
            let due = sk.split('#').nth(1).and_then(|d| NaiveDate::from_str(d).ok());
            let (overdue, urgent) = index::due_state(due, now);
            counts.total += 1;
            counts.overdue += u64::from(overdue);
            counts.urgent += u64::from(urgent);
        }
        Ok(counts)
    }

    async fn high_value_orders(
        &self,
        c: &CompanyId,
        minimum: Decimal,
        filter: &OrderFilter,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error> {
        let seg = Self::by_total(c, filter.customer_id).range(Some(index::padded_amount(minimum)), None);
        let f = filter.clone();
        self.fill(
            c,
            &[seg],
            false,
            &Filter::of(filter).without(&[BY_TOTAL_SK, "customer_id"]),
            &move |o: &Order| o.total_amount.value() >= minimum && f.matches(o),
            page,
        )
        .await
    }

    async fn high_value_stats(
        &self,
        c: &CompanyId,
        customer: Option<CustomerId>,
        generation: u32,
    ) -> Result<Option<HighValueStats>, Error> {
        // The main item and, for the company, the shards orders count on: one BatchGetItem.
        let main = high_value_stats(c, customer, generation);
        let mut keys = vec![main.clone()];
        if customer.is_none() {
            keys.extend((0..HIGH_VALUE_SHARDS).map(|s| high_value_shard(c, generation, s)));
        }
        let mut found = self.batch_get(keys).await?;
        if found.is_empty() {
            return Ok(None);
        }
        let num = |item: &Item, name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|s| Decimal::from_str(s).ok())
        };
        let threshold = found
            .values()
            .find_map(|i| i.get("threshold").and_then(|v| v.as_s().ok()))
            .and_then(|s| Decimal::from_str(s).ok())
            .ok_or_else(|| Error::internal("high-value counters without a threshold"))?;
        let mut by_status = std::collections::BTreeMap::new();
        for s in OrderStatus::ALL {
            let (mut n, mut v) = (Decimal::ZERO, Decimal::ZERO);
            for item in found.values() {
                n += num(item, &format!("n_{}", s.as_str())).unwrap_or_default();
                v += num(item, &format!("v_{}", s.as_str())).unwrap_or_default();
            }
            let n = rust_decimal::prelude::ToPrimitive::to_u64(&n).unwrap_or(0);
            if n > 0 || !v.is_zero() {
                by_status.insert(s.as_str(), (n, v));
            }
        }
        let main = found.remove(&main);
        let complete = generation == 0
            || main
                .as_ref()
                .and_then(|i| i.get("complete"))
                .and_then(|v| v.as_bool().ok())
                == Some(&true);
        Ok(Some(HighValueStats {
            complete,
            threshold,
            by_status,
        }))
    }

    async fn high_value_totals(
        &self,
        c: &CompanyId,
        minimum: Decimal,
        filter: &OrderFilter,
        max: usize,
    ) -> Result<HighValueTotals, Error> {
        let seg = Self::by_total(c, filter.customer_id).range(Some(index::padded_amount(minimum)), None);
        let filter = Filter::of(filter).without(&[BY_TOTAL_SK, "customer_id"]);
        // Largest first: a partial sum covers the biggest orders.
        let (items, partial) = self.walk(&[seg], false, &filter, "total_amount", max).await?;
        let mut t = HighValueTotals {
            partial,
            ..HighValueTotals::default()
        };
        for item in items {
            let v = item
                .get("total_amount")
                .and_then(|v| v.as_s().ok())
                .and_then(|s| Decimal::from_str(s).ok())
                .ok_or_else(|| Error::internal("an order without a total"))?;
            t.count += 1;
            t.total_value = t.total_value.saturating_add(v);
        }
        Ok(t)
    }
}
