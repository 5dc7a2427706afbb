//! The outbox relay: pending outbox records go to the workers' queues. In AWS the table's
//! stream drives it within a second of the commit; the same function also sweeps what a
//! crash left behind. Publishing is at-least-once: an event published but not yet marked
//! relayed when a crash hits is published again, and the workers' sent markers absorb it.
//! The relay also keeps the order search index (SPEC §12 pattern 8) up to date.

use crate::error::Error;
use crate::ports::{Deps, EventPublisher};

/// Publishes up to `limit` pending events; returns how many went out.
pub async fn relay_pending(deps: &Deps, publisher: &dyn EventPublisher, limit: u32) -> Result<usize, Error> {
    let pending = deps.store.pending_outbox(limit).await?;
    let mut published = 0;
    for event in &pending {
        // The search index follows the order: re-derived from its current state on every
        // order event, before the event leaves, so a crash here retries both.
        deps.store
            .index_order_search(&event.company_id, event.event.order_id())
            .await?;
        publisher.publish(event).await?;
        deps.store.mark_relayed(event).await?;
        published += 1;
    }
    Ok(published)
}
