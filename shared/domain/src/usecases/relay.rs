//! The outbox relay: committed outbox events go to the workers' queues. In AWS the table's
//! stream hands the relay the events it just committed ([`relay_events`]); a scheduled
//! sweep ([`relay_pending`]) picks up stragglers (a failed pass, a crash). Each event is
//! claimed before it is published, so concurrent relays do not publish the same event; a
//! failing event is retried on later passes, counted, and parked after
//! [`MAX_RELAY_ATTEMPTS`] failures (or [`MAX_RELAY_CLAIMS`] claims that all ended in a
//! crash), without holding up the others. Publishing is at-least-once: an
//! event published but not yet marked relayed when a crash hits is published again, and
//! the workers' sent markers absorb it. The relay also keeps the order search index
//! (SPEC §12 pattern 8) up to date.

use crate::error::Error;
use crate::outbox::OutboxEvent;
use crate::ports::{Deps, EventPublisher, RelayClaim};

/// Failed attempts before an event is parked (and alarmed) instead of retried.
pub const MAX_RELAY_ATTEMPTS: u32 = 5;
/// Claims before an event is parked even though no attempt reported a failure: relays
/// that keep dying on it (a crash loop) without saying why. A relay killed now and then
/// on a healthy event must not park it, so this is well above [`MAX_RELAY_ATTEMPTS`].
pub const MAX_RELAY_CLAIMS: u32 = 20;
/// How long one relay holds its claim on an event: longer than a relay run.
pub const RELAY_LEASE_SECS: i64 = 60;

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayReport {
    pub published: usize,
    /// Failed this time; retried by a later pass.
    pub failed: usize,
    /// Failed too often: moved to the parked index.
    pub parked: usize,
    /// Claimed by another relay, or already done.
    pub skipped: usize,
}

impl RelayReport {
    /// Events this pass looked at.
    pub fn seen(&self) -> usize {
        self.published + self.failed + self.parked + self.skipped
    }
}

/// How many events of one pass are claimed (and their search entries written) at once.
pub const RELAY_CONCURRENCY: usize = 32;

/// Relays these events (from the stream, or a sweep), each on its own: one that fails
/// does not stop the rest. The pass does not walk them one by one: every event is claimed
/// (and its order's search entries re-derived) at once, up to [`RELAY_CONCURRENCY`]; the
/// claimed ones are published together ([`EventPublisher::publish_all`]: batches of ten per
/// queue on SQS) and marked relayed together ([`OutboxStore::mark_relayed_all`]: batches of
/// 25 on DynamoDB).
///
/// [`OutboxStore::mark_relayed_all`]: crate::ports::OutboxStore::mark_relayed_all
pub async fn relay_events(
    deps: &Deps,
    publisher: &dyn EventPublisher,
    events: &[OutboxEvent],
) -> Result<RelayReport, Error> {
    use futures_util::future::{BoxFuture, FutureExt};
    use futures_util::stream::{self, StreamExt};
    let mut report = RelayReport::default();
    // Boxed, so the pass's future stays `Send` for any caller (a spawned relay loop).
    let claims: Vec<BoxFuture<'_, (&OutboxEvent, Result<Prepared, Error>)>> = events
        .iter()
        .map(|event| async move { (event, prepare(deps, event).await) }.boxed())
        .collect();
    let prepared: Vec<(&OutboxEvent, Result<Prepared, Error>)> =
        stream::iter(claims).buffer_unordered(RELAY_CONCURRENCY).collect().await;
    let mut ready = Vec::new();
    for (event, outcome) in prepared {
        match outcome {
            Ok(Prepared::Ready) => ready.push(event.clone()),
            Ok(Prepared::Skipped) => report.skipped += 1,
            Ok(Prepared::Parked) => report.parked += 1,
            Err(e) => {
                tracing::warn!(event_id = %event.id, error = %e, "relaying an event failed; a later pass retries it");
                report.failed += 1;
            }
        }
    }
    if ready.is_empty() {
        return Ok(report);
    }
    let outcomes = publisher.publish_all(&ready).await;
    let mut published = Vec::new();
    for (event, outcome) in ready.into_iter().zip(outcomes) {
        match outcome {
            Ok(()) => published.push(event),
            Err(e) => {
                tracing::warn!(event_id = %event.id, error = %e, "publishing an event failed; a later pass retries it");
                report.failed += 1;
                if let Err(e) = deps.store.fail_relay(&event).await {
                    tracing::warn!(event_id = %event.id, error = %e, "could not count the failed attempt");
                }
            }
        }
    }
    // Published but not marked (this fails, or the relay dies here): the event is
    // published again by a later pass, and the workers' sent markers absorb it.
    deps.store.mark_relayed_all(&published, deps.clock.now()).await?;
    report.published += published.len();
    Ok(report)
}

/// What claiming an event (and what has to happen before it leaves) came to.
enum Prepared {
    /// Claimed, and its order's search entries written: publish it.
    Ready,
    /// Another relay has it, or it is done.
    Skipped,
    /// Failed or claimed too often: parked instead.
    Parked,
}

async fn prepare(deps: &Deps, event: &OutboxEvent) -> Result<Prepared, Error> {
    let now = deps.clock.now();
    let (attempts, failures) = match deps.store.claim_relay(event, now, RELAY_LEASE_SECS).await? {
        RelayClaim::Claimed { attempts, failures } => (attempts, failures),
        RelayClaim::Busy | RelayClaim::Done => return Ok(Prepared::Skipped),
    };
    if failures >= MAX_RELAY_ATTEMPTS || attempts > MAX_RELAY_CLAIMS {
        let reason = match failures >= MAX_RELAY_ATTEMPTS {
            true => format!("failed {MAX_RELAY_ATTEMPTS} relay attempts"),
            false => format!("claimed {MAX_RELAY_CLAIMS} times without being relayed"),
        };
        deps.store.park_outbox(event, now, &reason).await?;
        // The template's metric filter counts this line and alarms on it.
        tracing::error!(event_id = %event.id, company_id = %event.company_id, kind = event.event.name(),
            attempts = MAX_RELAY_ATTEMPTS, "outbox event parked");
        return Ok(Prepared::Parked);
    }
    // The search index follows the order: re-derived from its current state on every
    // order event, before the event leaves, so a failure here retries both.
    if let Some(order) = event.event.order_id() {
        if let Err(e) = deps.store.index_order_search(&event.company_id, order).await {
            if let Err(e) = deps.store.fail_relay(event).await {
                tracing::warn!(event_id = %event.id, error = %e, "could not count the failed attempt");
            }
            return Err(e);
        }
    }
    Ok(Prepared::Ready)
}

/// The sweep: up to `limit` pending events, from a random shard on, relayed as above.
pub async fn relay_pending(deps: &Deps, publisher: &dyn EventPublisher, limit: u32) -> Result<RelayReport, Error> {
    let start = rand::random_range(0..u32::MAX);
    let pending = deps.store.pending_outbox(limit, start).await?;
    relay_events(deps, publisher, &pending).await
}
