//! The high-value recount in the in-memory store (as `dynamo::recount`): every condition
//! is checked before anything changes, under the one lock.

use async_trait::async_trait;

use oms_domain::error::Error;
use oms_domain::ids::CompanyId;
use oms_domain::order::query::{HighValueCounting, HighValueDelta, HighValueStats};
use oms_domain::order::{index, Order};
use oms_domain::ports::{Page, PageRequest, RecountProgress, RecountStep, RecountStore, RecountWrite};

use super::MemoryStore;

#[async_trait]
impl RecountStore for MemoryStore {
    async fn recount_progress(&self, c: &CompanyId, generation: u32) -> Result<RecountProgress, Error> {
        Ok(self
            .lock()
            .recounts
            .get(&(c.clone(), generation))
            .cloned()
            .unwrap_or_default())
    }

    async fn orders_oldest_first(
        &self,
        c: &CompanyId,
        after: Option<String>,
        limit: u32,
    ) -> Result<Page<Order>, Error> {
        let s = self.lock();
        let rows = s
            .orders
            .values()
            .filter(|o| &o.company_id == c && o.kind == oms_domain::order::OrderKind::Sale)
            .map(|o| (index::date_key(o), o.clone()))
            .collect();
        Ok(Page::of_keyed(rows, false, &PageRequest { limit, after }))
    }

    async fn count_into_generation(
        &self,
        c: &CompanyId,
        counting: HighValueCounting,
        orders: &[Order],
        step: Option<RecountStep>,
    ) -> Result<RecountWrite, Error> {
        let g = counting.generation;
        let mut s = self.lock();
        let progress = s.recounts.get(&(c.clone(), g)).cloned().unwrap_or_default();
        if step.as_ref().is_some_and(|st| st.steps != progress.steps) {
            return Ok(RecountWrite::Moved);
        }
        for o in orders {
            let same = s
                .orders
                .get(&(c.clone(), o.id))
                .is_some_and(|now| now.version == o.version && now.hv_generation == o.hv_generation);
            if !same {
                return Ok(RecountWrite::Raced);
            }
        }
        for o in orders {
            let fresh = Order {
                hv_generation: g,
                ..o.clone()
            };
            let next = s.next_high_value(c, HighValueDelta::between(None, &fresh, counting).as_ref())?;
            s.high_value.extend(next);
            if let Some(stored) = s.orders.get_mut(&(c.clone(), o.id)) {
                stored.hv_generation = g;
            }
        }
        if let Some(st) = step {
            if st.complete {
                let stats = s
                    .high_value
                    .entry((c.clone(), None, g))
                    .or_insert_with(|| HighValueStats {
                        threshold: counting.threshold,
                        ..HighValueStats::default()
                    });
                stats.complete = true;
            }
            s.recounts.insert(
                (c.clone(), g),
                RecountProgress {
                    steps: st.steps + 1,
                    cursor: st.to,
                    complete: st.complete,
                },
            );
        }
        Ok(RecountWrite::Applied)
    }
}
