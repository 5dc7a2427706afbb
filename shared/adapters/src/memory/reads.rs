//! Order reads on the in-memory store: every company order filtered and sorted by the same
//! keys the DynamoDB indexes use (`oms_domain::order::index`), and the search index as the
//! relay keeps it.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use oms_domain::error::Error;
use oms_domain::ids::{CompanyId, CustomerId, OrderId};
use oms_domain::order::index;
use oms_domain::order::query::{AttentionCounts, HighValueStats, HighValueTotals, OrderFilter, OrderListQuery};
use oms_domain::order::Order;
use oms_domain::ports::{OrderReadStore, Page, PageRequest};

use super::{MemoryStore, State};

impl State {
    fn company_orders<'a>(&'a self, c: &'a CompanyId) -> impl Iterator<Item = &'a Order> + 'a {
        // As the DynamoDB store's indexes: sales only (a child is listed on its parent).
        self.orders
            .iter()
            .filter(move |((oc, _), o)| oc == c && o.kind == oms_domain::order::OrderKind::Sale)
            .map(|(_, o)| o)
    }
}

#[async_trait]
impl OrderReadStore for MemoryStore {
    async fn list_orders(&self, c: &CompanyId, q: &OrderListQuery, page: &PageRequest) -> Result<Page<Order>, Error> {
        let s = self.lock();
        let rows = s
            .company_orders(c)
            .filter(|o| q.filter.matches(o))
            .map(|o| (q.sort.key(o), o))
            .collect();
        // Sorted by reference; only the page is cloned.
        let p = Page::of_keyed(rows, q.descending, page);
        Ok(Page {
            items: p.items.into_iter().cloned().collect(),
            next: p.next,
        })
    }

    async fn search_orders(
        &self,
        c: &CompanyId,
        terms: &[String],
        filter: &OrderFilter,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error> {
        let s = self.lock();
        let Some(first) = terms.first() else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let mut rows = Vec::new();
        for ((_, key), (id, words)) in s.search.range((c.clone(), first.clone())..) {
            if !key.starts_with(first.as_str()) {
                break;
            }
            // Listed once, under its first matching word; stale entries are checked against
            // the order as it is now.
            let word = key.split('#').next().unwrap_or_default();
            if index::first_match(words, first).map(String::as_str) != Some(word) || !index::matches_terms(words, terms)
            {
                continue;
            }
            if let Some(o) = s.orders.get(&(c.clone(), *id)) {
                if index::matches_terms(&index::search_words(o), terms) && filter.matches(o) {
                    rows.push((key.clone(), o.clone()));
                }
            }
        }
        Ok(Page::of_keyed(rows, false, page))
    }

    async fn index_order_search(&self, c: &CompanyId, id: OrderId) -> Result<(), Error> {
        let mut s = self.lock();
        let order = s.orders.get(&(c.clone(), id)).cloned();
        for key in s.search_keys.remove(&(c.clone(), id)).unwrap_or_default() {
            s.search.remove(&(c.clone(), key));
        }
        if let Some(o) = order {
            let words = index::search_words(&o);
            let keys: Vec<String> = words.iter().map(|w| index::search_key(w, &o)).collect();
            for key in &keys {
                s.search.insert((c.clone(), key.clone()), (id, words.clone()));
            }
            s.search_keys.insert((c.clone(), id), keys);
        }
        Ok(())
    }

    async fn attention_orders(
        &self,
        c: &CompanyId,
        customer: Option<CustomerId>,
        due_bound: NaiveDate,
        page: &PageRequest,
    ) -> Result<Page<Order>, Error> {
        let s = self.lock();
        let bound = format!("D#{due_bound}#~");
        let rows = s
            .company_orders(c)
            .filter(|o| customer.is_none_or(|cu| o.customer_id == Some(cu)))
            .filter_map(|o| index::attention_key(o).map(|k| (k, o)))
            .filter(|(k, _)| k.starts_with("H#") || k.as_str() <= bound.as_str())
            .map(|(k, o)| (k, o.clone()))
            .collect();
        Ok(Page::of_keyed(rows, false, page))
    }

    async fn attention_counts(
        &self,
        c: &CompanyId,
        customer: Option<CustomerId>,
        now: DateTime<Utc>,
        max: usize,
    ) -> Result<AttentionCounts, Error> {
        let s = self.lock();
        // The index entries DynamoDB would walk, in its order: due-dated entries up to the
        // bound, then held ones; at most `max` of them.
        let bound = format!("D#{}#~", index::attention_due_bound(now));
        let mut keys: Vec<String> = s
            .company_orders(c)
            .filter(|o| customer.is_none_or(|cu| o.customer_id == Some(cu)))
            .filter_map(index::attention_key)
            .filter(|k| k.starts_with("H#") || k.as_str() <= bound.as_str())
            .collect();
        keys.sort();
        let mut counts = AttentionCounts {
            partial: keys.len() > max,
            ..AttentionCounts::default()
        };
        for key in keys.iter().take(max) {
            let due = key.split('#').nth(1).and_then(|d| d.parse::<NaiveDate>().ok());
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
        let s = self.lock();
        let rows = s
            .company_orders(c)
            .filter(|o| o.total_amount.value() >= minimum && filter.matches(o))
            .map(|o| (index::total_key(o), o.clone()))
            .collect();
        Ok(Page::of_keyed(rows, true, page))
    }

    async fn high_value_stats(
        &self,
        c: &CompanyId,
        customer: Option<CustomerId>,
        generation: u32,
    ) -> Result<Option<HighValueStats>, Error> {
        let stats = self.lock().high_value.get(&(c.clone(), customer, generation)).cloned();
        Ok(stats.map(|s| HighValueStats {
            complete: s.complete || generation == 0,
            ..s
        }))
    }

    async fn high_value_totals(
        &self,
        c: &CompanyId,
        minimum: Decimal,
        filter: &OrderFilter,
        max: usize,
    ) -> Result<HighValueTotals, Error> {
        let s = self.lock();
        // The index range DynamoDB walks (the company's, or the customer's), largest first,
        // at most `max` entries examined; the filter applies to those.
        let mut range: Vec<(String, &Order)> = s
            .company_orders(c)
            .filter(|o| o.total_amount.value() >= minimum)
            .filter(|o| filter.customer_id.is_none_or(|cu| o.customer_id == Some(cu)))
            .map(|o| (index::total_key(o), o))
            .collect();
        range.sort_by(|a, b| b.0.cmp(&a.0));
        let mut t = HighValueTotals {
            partial: range.len() > max,
            ..HighValueTotals::default()
        };
        for (_, o) in range.into_iter().take(max).filter(|(_, o)| filter.matches(o)) {
            t.count += 1;
            t.total_value = t.total_value.saturating_add(o.total_amount.value());
        }
        Ok(t)
    }
}
