//! The jobs worker (its own queue and Lambda): background work the outbox drives, each
//! step bounded and safe to run twice (SQS delivers at least once).
//! - After an order moved stock: re-derive the stock-level and in-stock index of its
//!   products ([`inventory::reindex_order_products`]).
//! - A high-value threshold change: recount the new generation's counters
//!   ([`high_value::recount`]); after any order event, count that order in the current
//!   generation if it is behind ([`high_value::count_if_behind`]).
//! - A product import: apply its remaining rows from where it stands ([`import::run`]); a
//!   redelivered or duplicate message finds it further on, or done.

use crate::error::Error;
use crate::outbox::DomainEvent;
use crate::outbox::OutboxEvent;
use crate::ports::Deps;
use crate::usecases::notifications::BatchReads;
use crate::usecases::{high_value, import, inventory};

pub async fn handle(deps: &Deps, event: &OutboxEvent, reads: &BatchReads) -> Result<(), Error> {
    if let DomainEvent::HighValueRecount(r) = &event.event {
        let steps = high_value::recount(deps, &event.company_id, r.generation).await?;
        tracing::info!(generation = r.generation, steps, "high-value recount ran");
        return Ok(());
    }
    if let Some(order) = event.event.order_id() {
        high_value::count_if_behind(deps, &event.company_id, order, reads).await?;
    }
    if let DomainEvent::ImportQueued(q) = &event.event {
        let job = import::run(deps, &event.company_id, q.import_id, None).await?;
        tracing::info!(import_id = %job.id, applied = job.applied_rows, "import applied");
        return Ok(());
    }
    let rewritten = inventory::reindex_order_products(deps, &event.company_id, &event.event, reads).await?;
    if rewritten > 0 {
        tracing::debug!(event_id = %event.id, rewritten, "stock-level index rewritten");
    }
    Ok(())
}
