//! The high-value recount (issue 13): changing `high_value_threshold` starts a new
//! generation of the high-value counters (`HighValueCounting`). From that moment, new
//! orders count in it as they are placed; this job, driven by the `HighValueRecount`
//! outbox event on the jobs worker, adds every older order, oldest first, a page per
//! transaction. Each order is marked with the generation it is counted in, in the same
//! transaction as its counts, and written only if it is still as read, so:
//! - an order is counted once, whoever counts it (the job, or the fix-up below);
//! - a status change landing on an order not counted yet moves no counter (the job counts
//!   it as it then is), and one landing after moves the new generation's counters (its
//!   write is conditional on the generation it read);
//! - an order placed while the threshold changed (it read the old generation) is counted by
//!   the fix-up its own event triggers ([`count_if_behind`]).
//!
//! Until the job marks the counters complete, the high-value totals are summed over the
//! orders (bounded), so reads stay correct while it runs. A newer threshold change
//! supersedes a running job.

use crate::error::Error;
use crate::ids::{CompanyId, OrderId};
use crate::order::query::HighValueCounting;
use crate::ports::{Deps, RecountStep, RecountWrite};
use crate::usecases::notifications::BatchReads;

/// Orders per step: with each order's customer counters and the company's, one step stays
/// well inside a transaction's 100 actions.
pub const RECOUNT_PAGE: u32 = 25;
/// Consecutive steps that lost a race with an order change before giving up (the message
/// is retried).
const ATTEMPTS: u32 = 12;

/// Runs the recount of `generation` to its end (or until a newer generation supersedes it).
/// Safe to run twice, and from two places at once. Returns the steps this run applied.
pub async fn recount(deps: &Deps, c: &CompanyId, generation: u32) -> Result<u64, Error> {
    let mut applied = 0;
    let mut lost = 0;
    loop {
        let settings = deps.store.get_settings(c).await?;
        if settings.high_value_generation != generation {
            tracing::info!(generation, now = settings.high_value_generation, "recount superseded");
            return Ok(applied);
        }
        let counting = HighValueCounting::of(&settings);
        let progress = deps.store.recount_progress(c, generation).await?;
        if progress.complete {
            return Ok(applied);
        }
        let page = deps
            .store
            .orders_oldest_first(c, progress.cursor.clone(), RECOUNT_PAGE)
            .await?;
        let behind: Vec<_> = page
            .items
            .into_iter()
            .filter(|o| o.hv_generation < generation)
            .collect();
        let step = RecountStep {
            steps: progress.steps,
            complete: page.next.is_none(),
            to: page.next,
        };
        match deps
            .store
            .count_into_generation(c, counting, &behind, Some(step))
            .await?
        {
            RecountWrite::Applied => {
                applied += 1;
                lost = 0;
            }
            RecountWrite::Moved => lost = 0,
            RecountWrite::Raced => {
                lost += 1;
                if lost >= ATTEMPTS {
                    return Err(Error::Contention);
                }
                // Orders of this page are changing now: wait a little longer each time
                // (20 ms, doubling up to 640 ms: about 5 s over the attempts) rather than
                // racing the same burst of changes twelve times in a second.
                tokio::time::sleep(std::time::Duration::from_millis(10 << lost.min(6))).await;
            }
        }
    }
}

/// After any order event: an order still counted in an older generation (it was placed,
/// or changed, while the threshold changed) is counted in the current one now.
///
/// The first look at the settings is the batch's (`reads`); after a race, a fresh read.
pub async fn count_if_behind(deps: &Deps, c: &CompanyId, id: OrderId, reads: &BatchReads) -> Result<bool, Error> {
    for attempt in 0..ATTEMPTS {
        let settings = match attempt {
            0 => reads.settings(deps, c).await?,
            _ => deps.store.get_settings(c).await?,
        };
        if settings.high_value_generation == 0 {
            // The threshold never changed: every order counts in generation 0.
            return Ok(false);
        }
        let Some(order) = deps.store.get_order(c, id).await? else {
            return Ok(false);
        };
        if order.hv_generation >= settings.high_value_generation || order.kind != crate::order::OrderKind::Sale {
            return Ok(false);
        }
        let counting = HighValueCounting::of(&settings);
        match deps.store.count_into_generation(c, counting, &[order], None).await? {
            RecountWrite::Applied => return Ok(true),
            RecountWrite::Moved => return Ok(false),
            RecountWrite::Raced => {}
        }
    }
    Err(Error::Contention)
}
