//! The notification pipeline. In AWS: a relay Lambda (woken by the table's stream, and by a
//! schedule as the crash sweep) and four SQS-triggered worker Lambdas, each reporting
//! partial batch failures ([`sqs_batch`], [`relay_until_empty`]). In-process, for the local
//! server and tests ([`spawn`]): the same relay and workers, with channels for queues.

use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use oms_domain::error::Error;
use oms_domain::outbox::OutboxEvent;
use oms_domain::ports::{Deps, EventPublisher, Mailer};
use oms_domain::usecases::notifications::{email_lease_secs, handle, BatchReads, NotifyDeps, Worker};
use oms_domain::usecases::relay::{relay_events, relay_pending, RelayReport};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::Instrument;

/// How often the relay looks for pending events (the local stand-in for the stream).
const RELAY_EVERY: Duration = Duration::from_millis(100);
/// Deliveries before a message is dead-lettered (the template's `maxReceiveCount`).
pub const MAX_RECEIVES: u32 = 5;
/// The in-process stand-ins for a queue's visibility timeout and a worker's timeout: a
/// failed delivery comes back after 200 ms, 400 ms, 800 ms and 1.6 s, so a claim left by a
/// crashed delivery (a 1 s lease) has expired before the last ones.
const LOCAL_VISIBILITY_SECS: i64 = 3;
const LOCAL_WORKER_TIMEOUT_SECS: i64 = 0;

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
        lease_secs: email_lease_secs(LOCAL_VISIBILITY_SECS, LOCAL_WORKER_TIMEOUT_SECS).unwrap_or(1),
        documents: Some(Arc::new(oms_documents::InvoiceDocuments)),
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
                Ok(r) if r.published == 0 => tokio::time::sleep(RELAY_EVERY).await,
                Ok(r) => tracing::debug!(published = r.published, failed = r.failed, parked = r.parked, "relayed"),
                Err(e) => {
                    tracing::warn!(error = %e, "relay failed; retrying");
                    tokio::time::sleep(RELAY_EVERY * 5).await;
                }
            }
        }
    });
    LocalWorkers { dead_letters }
}

/// Deliveries one in-process worker handles at once, as a queue feeds many Lambdas (16
/// fell behind on DynamoDB Local at 50 orders/s, each delivery waiting on several requests).
const WORKER_CONCURRENCY: usize = 64;

/// One worker: up to [`WORKER_CONCURRENCY`] events at once, each tried up to
/// `MAX_RECEIVES` times with backoff, then dead-lettered (logged and kept), never dropped
/// silently. The events waiting when it looks (up to that many) are a batch, as SQS hands
/// a Lambda a batch: they share one [`BatchReads`].
async fn work(n: NotifyDeps, worker: Worker, mut rx: UnboundedReceiver<OutboxEvent>, dlq: Arc<Mutex<Vec<DeadLetter>>>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(WORKER_CONCURRENCY));
    let mut batch = Vec::with_capacity(WORKER_CONCURRENCY);
    while rx.recv_many(&mut batch, WORKER_CONCURRENCY).await > 0 {
        let reads = Arc::new(BatchReads::of(&batch));
        for event in batch.drain(..) {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let (n, dlq, reads) = (n.clone(), dlq.clone(), reads.clone());
            let span = tracing::info_span!("worker", worker = worker.as_str(), event_id = %event.id, company_id = %event.company_id, order_id = %event.subject);
            tokio::spawn(
                async move {
                    deliver(&n, worker, event, &dlq, reads).await;
                    drop(slot);
                }
                .instrument(span),
            );
        }
    }
}

async fn deliver(
    n: &NotifyDeps,
    worker: Worker,
    event: OutboxEvent,
    dlq: &Mutex<Vec<DeadLetter>>,
    reads: Arc<BatchReads>,
) {
    let mut attempt = 1;
    let mut reads = reads;
    loop {
        // A panic fails this delivery like any error, and the worker lives on.
        match crate::unwind::catch(handle(n, worker, &event, &reads))
            .await
            .and_then(|r| r)
        {
            Ok(_) => return,
            Err(e) if attempt < MAX_RECEIVES => {
                tracing::warn!(attempt, error = %e, "worker failed; will retry");
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                attempt += 1;
                // A redelivery is a batch of its own, as from SQS.
                reads = Arc::new(BatchReads::default());
            }
            Err(e) => {
                tracing::error!(attempt, error = %e, "worker gave up; message dead-lettered");
                dlq.lock().unwrap_or_else(|p| p.into_inner()).push(DeadLetter {
                    worker,
                    event,
                    error: e.to_string(),
                });
                return;
            }
        }
    }
}

/// One SQS batch for `worker`: its messages handled at once, each on its own; the ids of
/// those that failed are reported so SQS retries only them (and dead-letters them after
/// the queue's `maxReceiveCount`). A message that is not an outbox event fails the same way.
///
/// Messages of one batch can need the same e-mail (the month's cap notice): one sends it,
/// and the others, finding it claimed but not yet sent, fail. So the failed ones get one
/// more try, one at a time, before they are reported; by then the e-mail is sent and they
/// pass.
pub async fn sqs_batch(n: &NotifyDeps, worker: Worker, batch: SqsEvent) -> SqsBatchResponse {
    // The batch's messages share their reads (settings, recipients, usage, the stock of
    // the products its placements took from); the second tries read afresh.
    let events: Vec<OutboxEvent> = batch
        .records
        .iter()
        .filter_map(|r| serde_json::from_str(r.body.as_deref()?).ok())
        .collect();
    let (first_reads, retry_reads) = (BatchReads::of(&events), BatchReads::default());
    let first = futures_util::future::join_all(batch.records.iter().map(|r| attempt(n, worker, r, &first_reads))).await;
    let mut response = SqsBatchResponse::default();
    for (record, (_, _, result)) in batch.records.iter().zip(first) {
        if result.is_ok() {
            continue;
        }
        let (message_id, span, result) = attempt(n, worker, record, &retry_reads).await;
        if let Err(e) = result {
            span.in_scope(|| tracing::error!(error = %e, "message failed; SQS will retry it"));
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// One message of a batch: its id, its span, and how handling it went.
async fn attempt(
    n: &NotifyDeps,
    worker: Worker,
    record: &SqsMessage,
    reads: &BatchReads,
) -> (String, tracing::Span, Result<Vec<oms_domain::notify::EmailKind>, Error>) {
    let message_id = record.message_id.clone().unwrap_or_default();
    let body = record.body.clone().unwrap_or_default();
    let span = tracing::info_span!("message", worker = worker.as_str(), message_id = %message_id);
    let result = async {
        let event: OutboxEvent =
            serde_json::from_str(&body).map_err(|e| Error::invalid("body", format!("not an outbox event: {e}")))?;
        // One message's panic fails that message alone; SQS retries it.
        crate::unwind::catch(handle(n, worker, &event, reads)).await?
    }
    .instrument(span.clone())
    .await;
    (message_id, span, result)
}

/// The scheduled sweep's work: relay pending events until a pass publishes nothing (or
/// `budget` runs out; the next invocation continues). Returns how many were published.
pub async fn relay_until_empty(deps: &Deps, publisher: &dyn EventPublisher, budget: Duration) -> Result<usize, Error> {
    let started = std::time::Instant::now();
    let mut total = 0;
    loop {
        let r = relay_pending(deps, publisher, 100).await?;
        total += r.published;
        if r.published == 0 || started.elapsed() > budget {
            return Ok(total);
        }
    }
}

/// The stream-triggered relay's work: the outbox events the table's stream hands over
/// (inserts of outbox items, their new images), relayed as they are, without a read of the
/// pending index. Records that are not outbox inserts are ignored.
pub async fn relay_stream(
    deps: &Deps,
    publisher: &dyn EventPublisher,
    batch: aws_lambda_events::event::dynamodb::Event,
) -> Result<RelayReport, Error> {
    let mut events = Vec::new();
    for record in batch.records {
        let image = record.change.new_image;
        let is_outbox = image
            .get("_type")
            .is_some_and(|t| matches!(t, serde_dynamo::AttributeValue::S(s) if s == "OUTBOX"));
        if record.event_name != "INSERT" || !is_outbox {
            continue;
        }
        match serde_dynamo::from_item::<_, OutboxEvent>(image) {
            Ok(e) => events.push(e),
            // Left for the sweep, which reads it through the store.
            Err(e) => tracing::error!(error = %e, "an outbox image the relay cannot read"),
        }
    }
    relay_events(deps, publisher, &events).await
}
