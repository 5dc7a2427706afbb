//! What the events of one worker batch (an SQS batch, or what an in-process worker takes
//! at once) read once between them, instead of once per event: each company's settings,
//! each e-mail kind's recipients, each month's usage, the stock of the products the
//! batch's placements took from, and which products the jobs worker has re-indexed.
//!
//! Everything is read when first needed, after the batch arrived, so it is never older
//! than what each event would have read on its own (every event of the batch was written
//! before the batch was handed over). A retried event starts with a fresh one.

use std::collections::{HashMap, HashSet};

use crate::error::Error;
use crate::ids::{CompanyId, ProductId};
use crate::notify::{self, EmailKind};
use crate::outbox::{DomainEvent, OutboxEvent};
use crate::ports::{Deps, PlacementKeys, PlacementSnapshot};
use crate::settings::CompanySettings;

#[derive(Default)]
pub struct BatchReads {
    settings: tokio::sync::Mutex<HashMap<CompanyId, CompanySettings>>,
    recipients: tokio::sync::Mutex<HashMap<(CompanyId, EmailKind), Vec<String>>>,
    usage: tokio::sync::Mutex<HashMap<(CompanyId, String), u32>>,
    /// The products each company's placements in the batch took units from.
    took: HashMap<CompanyId, Vec<ProductId>>,
    stock: tokio::sync::Mutex<HashMap<CompanyId, PlacementSnapshot>>,
    reindexed: std::sync::Mutex<HashSet<(CompanyId, ProductId)>>,
}

impl BatchReads {
    /// For a batch of `events`: notes the products their placements took from, so the
    /// first stock read covers them all.
    pub fn of(events: &[OutboxEvent]) -> BatchReads {
        let mut took: HashMap<CompanyId, Vec<ProductId>> = HashMap::new();
        for e in events {
            if let DomainEvent::OrderPlaced(p) = &e.event {
                took.entry(e.company_id.clone())
                    .or_default()
                    .extend(p.decremented_products.iter().copied());
            }
        }
        for ids in took.values_mut() {
            ids.sort();
            ids.dedup();
        }
        BatchReads {
            took,
            ..BatchReads::default()
        }
    }

    /// The company's settings.
    pub async fn settings(&self, deps: &Deps, c: &CompanyId) -> Result<CompanySettings, Error> {
        let mut known = self.settings.lock().await;
        if let Some(s) = known.get(c) {
            return Ok(s.clone());
        }
        let s = deps.store.get_settings(c).await?;
        known.insert(c.clone(), s.clone());
        Ok(s)
    }

    /// The addresses an e-mail of `kind` goes to (the users in its roles).
    pub async fn recipients(&self, deps: &Deps, c: &CompanyId, kind: EmailKind) -> Result<Vec<String>, Error> {
        let mut known = self.recipients.lock().await;
        if let Some(to) = known.get(&(c.clone(), kind)) {
            return Ok(to.clone());
        }
        let users = deps.store.users_with_roles(c, notify::recipients(kind)).await?;
        let to: Vec<String> = users.into_iter().map(|u| u.email).collect();
        known.insert((c.clone(), kind), to.clone());
        Ok(to)
    }

    /// The orders counted in the company's month (`YYYY-MM`).
    pub async fn monthly_usage(&self, deps: &Deps, c: &CompanyId, month: &str) -> Result<u32, Error> {
        let mut known = self.usage.lock().await;
        if let Some(n) = known.get(&(c.clone(), month.to_owned())) {
            return Ok(*n);
        }
        let n = deps.store.monthly_usage(c, month).await?;
        known.insert((c.clone(), month.to_owned()), n);
        Ok(n)
    }

    /// The settings and the products `ids` as they stand (stock summed over its shards):
    /// one read for the whole batch's products of the company, unless `ids` are not
    /// among them.
    pub async fn stock(&self, deps: &Deps, c: &CompanyId, ids: &[ProductId]) -> Result<PlacementSnapshot, Error> {
        let mut known = self.stock.lock().await;
        if let Some(snap) = known
            .get(c)
            .filter(|s| ids.iter().all(|id| s.products.contains_key(id)))
        {
            return Ok(snap.clone());
        }
        let mut wanted: Vec<ProductId> = self.took.get(c).cloned().unwrap_or_default();
        wanted.extend_from_slice(ids);
        wanted.sort();
        wanted.dedup();
        let snap = deps
            .store
            .load_placement(&PlacementKeys {
                company: c.clone(),
                at: deps.clock.now(),
                products: wanted,
                customer: None,
                idempotency: None,
                origin: None,
            })
            .await?;
        known.insert(c.clone(), snap.clone());
        Ok(snap)
    }

    /// Whether the product still needs re-indexing in this batch: true the first time it
    /// is asked (that caller re-derives it, from a read that sees every event of the
    /// batch), false after.
    pub fn first_to_reindex(&self, c: &CompanyId, id: ProductId) -> bool {
        self.reindexed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((c.clone(), id))
    }
}
