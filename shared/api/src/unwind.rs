//! The last line of defence: a panic anywhere in a request becomes a logged 500
//! `internal_error` in the one error shape (or one failed SQS message), never a dropped
//! connection, a crashed local server or a whole failed batch. Panics are bugs; every
//! known input is refused before it can cause one, and this only keeps one bug from
//! taking other requests down with it.

use futures_util::FutureExt;
use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use oms_domain::error::Error;

/// Runs `fut`; a panic inside it comes back as `Error::Internal` carrying the panic's
/// message (logged by the edge, never shown to the caller).
pub async fn catch<T>(fut: impl Future<Output = T>) -> Result<T, Error> {
    // Unwind safety: a request's state is its own, and the stores hold no lock across an
    // await or a fallible step, so nothing a panic interrupts is seen half-done later.
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|payload| Error::internal(format!("panic: {}", message(payload.as_ref()))))
}

fn message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}
