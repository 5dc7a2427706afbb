//! The notification pipeline run in-process (the local server, and tests): a relay that
//! moves pending outbox events to one channel per worker, and the four workers draining
//! them. In AWS the same use cases run as a stream-driven relay Lambda and four
//! SQS-triggered worker Lambdas; here channels stand in for the queues.

use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use oms_domain::error::Error;
use oms_domain::outbox::OutboxEvent;
use oms_domain::ports::{Deps, EventPublisher, Mailer};
use oms_domain::usecases::notifications::{handle, NotifyDeps, Worker};
use oms_domain::usecases::relay::relay_pending;

/// How often the relay looks for pending events (the local stand-in for the stream).
const RELAY_EVERY: Duration = Duration::from_millis(100);
/// Deliveries before a message is dead-lettered (the template's `maxReceiveCount`).
pub const MAX_RECEIVES: u32 = 5;

/// Publishes every event to every worker's channel, as the relay fans out to the queues.
pub struct ChannelPublisher {
    senders: Vec<UnboundedSender<OutboxEvent>>,
}

#[async_trait]
impl EventPublisher for ChannelPublisher {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), Error> {
        for s in &self.senders {
            s.send(event.clone())
                .map_err(|_| Error::internal("a worker channel is closed"))?;
        }
        Ok(())
    }
}

/// A message that failed every delivery.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub worker: Worker,
    pub event: OutboxEvent,
    pub error: String,
}

/// The running relay and workers; dropping it does not stop them (they end with the runtime).
pub struct LocalWorkers {
    dead_letters: Arc<Mutex<Vec<DeadLetter>>>,
}

impl LocalWorkers {
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.dead_letters.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Starts the relay and one task per worker.
pub fn spawn(deps: Deps, mailer: Arc<dyn Mailer>) -> LocalWorkers {
    let dead_letters = Arc::new(Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    let notify = NotifyDeps {
        deps: deps.clone(),
        mailer,
    };
    for worker in Worker::ALL {
        let (tx, rx) = unbounded_channel();
        senders.push(tx);
        tokio::spawn(work(notify.clone(), worker, rx, dead_letters.clone()));
    }
    let publisher = ChannelPublisher { senders };
    tokio::spawn(async move {
        loop {
            match relay_pending(&deps, &publisher, 100).await {
                Ok(0) => tokio::time::sleep(RELAY_EVERY).await,
                Ok(n) => tracing::debug!(events = n, "relayed"),
                Err(e) => {
                    tracing::warn!(error = %e, "relay failed; retrying");
                    tokio::time::sleep(RELAY_EVERY * 5).await;
                }
            }
        }
    });
    LocalWorkers { dead_letters }
}

/// One worker: each event is tried up to `MAX_RECEIVES` times with backoff, then
/// dead-lettered (logged and kept), never dropped silently.
async fn work(n: NotifyDeps, worker: Worker, mut rx: UnboundedReceiver<OutboxEvent>, dlq: Arc<Mutex<Vec<DeadLetter>>>) {
    while let Some(event) = rx.recv().await {
        let span = tracing::info_span!("worker", worker = worker.as_str(), event_id = %event.id, company_id = %event.company_id, order_id = %event.subject);
        let _guard = span.enter();
        let mut attempt = 1;
        loop {
            match handle(&n, worker, &event).await {
                Ok(_) => break,
                Err(e) if attempt < MAX_RECEIVES => {
                    tracing::warn!(attempt, error = %e, "worker failed; will retry");
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(attempt, error = %e, "worker gave up; message dead-lettered");
                    dlq.lock().unwrap_or_else(|p| p.into_inner()).push(DeadLetter {
                        worker,
                        event: event.clone(),
                        error: e.to_string(),
                    });
                    break;
                }
            }
        }
    }
}
