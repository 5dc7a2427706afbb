//! The order search index (SPEC §12 pattern 8): one entry per distinct word of an order,
//! under the word's first letter, written by the outbox relay from each order event
//! (`index_order_search`) or in bulk (`import_orders`), and read by word prefix.

use aws_sdk_dynamodb::types::AttributeValue;
use rust_decimal::Decimal;
use std::collections::{BTreeSet, HashMap};

use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, OrderId};
use oms_domain::order::index;
use oms_domain::order::query::OrderFilter;
use oms_domain::order::{Order, OrderStatus};
use oms_domain::ports::{Page, PageRequest};

use super::keys::*;
use super::reads::{decode, encode, Filter, Segment, MAX_QUERIES_PER_PAGE};
use super::{av_s, from_item, DynamoStore, Item};

/// An order's search entries: one item per word, under the word's first letter, in the
/// company's partitions and, for an order with a customer, again in that customer's.
fn search_entries(o: &Order) -> Vec<((String, String), Item)> {
    let words = index::search_words(o);
    let list: Vec<AttributeValue> = words.iter().map(|w| av_s(w.clone())).collect();
    let mut out = Vec::new();
    let scopes = [None, o.customer_id];
    for scope in scopes.iter().take(if o.customer_id.is_some() { 2 } else { 1 }) {
        for w in &words {
            let Some(first) = w.chars().next() else { continue };
            let key = (search_partition(&o.company_id, *scope, first), index::search_key(w, o));
            let mut item = super::key_of(key.clone());
            item.insert(TYPE.into(), av_s("SEARCH_WORD"));
            item.insert("order_id".into(), av_s(o.id.to_string()));
            item.insert("words".into(), AttributeValue::L(list.clone()));
            out.push((key, item));
        }
    }
    out
}

/// The list of an order's search entries, kept in its partition for re-indexing.
fn search_manifest_item(o: &Order, keys: &BTreeSet<(String, String)>) -> Item {
    let mut item = super::key_of(search_manifest(&o.company_id, o.id));
    item.insert(TYPE.into(), av_s("SEARCH_MANIFEST"));
    item.insert(
        "entries".into(),
        AttributeValue::Ss(keys.iter().map(|(p, s)| format!("{p}|{s}")).collect()),
    );
    item
}

impl DynamoStore {
    /// Brings one order's search entries in line with the order (see `index_order_search`).
    pub(super) async fn reindex(&self, c: &CompanyId, id: OrderId) -> Result<(), Error> {
        let mut found = self.batch_get(vec![order(c, id), search_manifest(c, id)]).await?;
        let current: Option<Order> = found.remove(&order(c, id)).map(from_item).transpose()?;
        let old: BTreeSet<(String, String)> = found
            .remove(&search_manifest(c, id))
            .and_then(|m| m.get("entries").and_then(|v| v.as_ss().ok()).cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| e.split_once('|').map(|(p, s)| (p.to_owned(), s.to_owned())))
            .collect();
        let entries = current.as_ref().map(search_entries).unwrap_or_default();
        let new: BTreeSet<(String, String)> = entries.iter().map(|(k, _)| k.clone()).collect();
        let puts = entries
            .into_iter()
            .filter(|(k, _)| !old.contains(k))
            .map(|(_, item)| item)
            .collect();
        let deletes: Vec<(String, String)> = old.difference(&new).cloned().collect();
        self.batch_write(puts, deletes).await?;
        match current {
            Some(o) if !new.is_empty() => self.batch_write(vec![search_manifest_item(&o, &new)], Vec::new()).await,
            _ => self.batch_write(Vec::new(), vec![search_manifest(c, id)]).await,
        }
    }

    /// Bulk-loads orders that happened elsewhere (a migration from another system, the
    /// benchmark's history): each order item with its index keys, its number claim and
    /// its search entries, in `BatchWriteItem`s, plus the high-value counters. No stock,
    /// cap, audit or outbox effects: these orders are history, not placements.
    pub async fn import_orders(&self, orders: &[Order], high_value_threshold: Decimal) -> Result<(), Error> {
        let mut puts = Vec::new();
        for o in orders {
            let mut item = Self::order_item(o)?;
            item.extend(super::key_of(order(&o.company_id, o.id)));
            puts.push(item);
            let mut claim = super::key_of(order_number_claim(&o.company_id, &o.order_number.key()));
            claim.insert("order_id".into(), av_s(o.id.to_string()));
            puts.push(claim);
            let entries = search_entries(o);
            let keys: BTreeSet<(String, String)> = entries.iter().map(|(k, _)| k.clone()).collect();
            puts.extend(entries.into_iter().map(|(_, item)| item));
            puts.push(search_manifest_item(o, &keys));
        }
        self.batch_write(puts, Vec::new()).await?;
        // Summed per counters item (the company's and each customer's), one update each.
        type Scope<'a> = (&'a CompanyId, Option<oms_domain::ids::CustomerId>);
        let mut by_scope: HashMap<Scope, Vec<(OrderStatus, i64, Decimal)>> = HashMap::new();
        for o in orders {
            if let Some(d) = oms_domain::order::query::HighValueDelta::between(
                None,
                o,
                oms_domain::order::query::HighValueCounting {
                    threshold: high_value_threshold,
                    generation: 0,
                },
            ) {
                by_scope
                    .entry((&o.company_id, None))
                    .or_default()
                    .extend(d.changes.clone());
                if let Some(cu) = d.customer {
                    by_scope.entry((&o.company_id, Some(cu))).or_default().extend(d.changes);
                }
            }
        }
        for ((c, customer), changes) in by_scope {
            let mut sum: HashMap<OrderStatus, (i64, Decimal)> = HashMap::new();
            for (s, n, v) in changes {
                let e = sum.entry(s).or_insert((0, Decimal::ZERO));
                e.0 += n;
                e.1 += v;
            }
            let delta = oms_domain::order::query::HighValueDelta {
                threshold: high_value_threshold,
                generation: 0,
                customer: None,
                changes: sum.into_iter().map(|(s, (n, v))| (s, n, v)).collect(),
            };
            let mut tx: super::tx::Tx<()> = super::tx::Tx::new(&self.table);
            super::add_high_value(&mut tx, c, customer, &delta)?;
            tx.commit(&self.client)
                .await
                .map_err(|_| Error::internal("high-value counters"))?
                .map_err(|_| Error::internal("high-value counters refused"))?;
        }
        Ok(())
    }

    /// Puts and deletes in `BatchWriteItem`s of 25, re-sending unprocessed ones.
    pub(super) async fn batch_write(&self, puts: Vec<Item>, deletes: Vec<(String, String)>) -> Result<(), Error> {
        use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
        let mut requests = Vec::new();
        for item in puts {
            requests.push(
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item))
                            .build()
                            .map_err(Error::internal)?,
                    )
                    .build(),
            );
        }
        for key in deletes {
            requests.push(
                WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(super::key_of(key)))
                            .build()
                            .map_err(Error::internal)?,
                    )
                    .build(),
            );
        }
        self.write_batches(requests).await
    }

    /// Word-prefix search (SPEC §12 pattern 8): a `Query` on the longest term's entries,
    /// then one `BatchGetItem` of the orders they name.
    pub(super) async fn search(
        &self,
        c: &CompanyId,
        terms: &[String],
        filter: &OrderFilter,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error> {
        let Some(term) = terms.first() else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let Some(first) = term.chars().next() else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let seg = Segment {
            index: None,
            pk_attr: PK,
            sk_attr: SK,
            // A customer reads its own entries only: no other customer's order is read,
            // costs it anything, or moves its cursor.
            pk: search_partition(c, filter.customer_id, first),
            lo: None,
            hi: None,
            prefix: Some(term.clone()),
            shards: 1,
        };
        let limit = page.limit.max(1) as usize;
        let (_, mut start) = decode(c, page.after.as_ref(), 1)?;
        let mut items: Vec<Order> = Vec::new();
        for _ in 0..MAX_QUERIES_PER_PAGE {
            let ask = i32::try_from((limit - items.len()).max(25)).unwrap_or(100);
            let (entries, last) = self
                .query_segment(&seg, start.take(), ask, true, &Filter::default(), None)
                .await?;
            // Listed once, under the first of its words that starts with the term.
            let mut candidates = Vec::new();
            for e in &entries {
                let words: BTreeSet<String> = e
                    .get("words")
                    .and_then(|v| v.as_l().ok())
                    .map(|l| l.iter().filter_map(|w| w.as_s().ok().cloned()).collect())
                    .unwrap_or_default();
                let sk = e.get(SK).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                let word = sk.split('#').next().unwrap_or_default();
                let first_word = index::first_match(&words, term).map(String::as_str);
                let id = e
                    .get("order_id")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|s| OrderId::parse(s).ok());
                if let (Some(id), true) = (id, first_word == Some(word) && index::matches_terms(&words, terms)) {
                    candidates.push((seg.key_of(e), id));
                }
            }
            let ids: Vec<OrderId> = candidates.iter().map(|(_, id)| *id).collect();
            let orders: HashMap<OrderId, Order> = self
                .orders_by_id(c, &ids)
                .await?
                .into_iter()
                .map(|o| (o.id, o))
                .collect();
            for (i, (key, id)) in candidates.iter().enumerate() {
                // The entry may be stale (the relay re-indexes after each change): the order
                // as it is now decides.
                if let Some(o) = orders.get(id) {
                    if index::matches_terms(&index::search_words(o), terms) && filter.matches(o) {
                        items.push(o.clone());
                    }
                }
                if items.len() == limit {
                    let more = i + 1 < candidates.len() || last.is_some();
                    return Ok(Page {
                        items,
                        next: if more { encode(0, key) } else { None },
                    });
                }
            }
            match last {
                Some(k) => start = Some(k),
                None => return Ok(Page { items, next: None }),
            }
        }
        Ok(Page {
            items,
            next: start.as_ref().and_then(|k| encode(0, k)),
        })
    }
}
