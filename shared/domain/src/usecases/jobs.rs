//! The jobs worker (its own queue and Lambda): background work the outbox drives, each
//! step bounded and safe to run twice (SQS delivers at least once).
//! - After an order moved stock: re-derive the stock-level and in-stock index of its
//!   products ([`inventory::reindex_order_products`]).

use crate::error::Error;
use crate::outbox::DomainEvent;
use crate::outbox::OutboxEvent;
use crate::ports::Deps;
use crate::usecases::{import, inventory};

pub async fn handle(deps: &Deps, event: &OutboxEvent) -> Result<(), Error> {
    if let DomainEvent::ImportQueued(q) = &event.event {
        let job = import::run(deps, &event.company_id, q.import_id, None).await?;
        tracing::info!(import_id = %job.id, applied = job.applied_rows, "import applied");
        return Ok(());
    }
    let rewritten = inventory::reindex_order_products(deps, &event.company_id, &event.event).await?;
    if rewritten > 0 {
        tracing::debug!(event_id = %event.id, rewritten, "stock-level index rewritten");
    }
    Ok(())
}
