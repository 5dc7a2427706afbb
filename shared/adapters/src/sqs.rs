//! SQS: the relay's publisher. Each outbox event goes, as JSON, to every worker's queue
//! (each worker its own queue, DLQ and Lambda). The event id is a message attribute so a
//! message can be traced back to its outbox record. A relay pass sends its events in
//! `SendMessageBatch`es of ten (and at most 200 KB) per queue, all queues and batches at once.

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use oms_domain::error::Error;
use oms_domain::outbox::OutboxEvent;
use oms_domain::ports::EventPublisher;

#[derive(Clone)]
pub struct SqsPublisher {
    client: aws_sdk_sqs::Client,
    queue_urls: Vec<String>,
}

impl SqsPublisher {
    pub fn new(client: aws_sdk_sqs::Client, queue_urls: Vec<String>) -> SqsPublisher {
        SqsPublisher { client, queue_urls }
    }
}

#[async_trait]
impl EventPublisher for SqsPublisher {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), Error> {
        let body = serde_json::to_string(event).map_err(Error::internal)?;
        let id = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(event.id.to_string())
            .build()
            .map_err(Error::internal)?;
        // To every queue at once: an event's relay takes one round trip, not one per worker.
        let sends = self.queue_urls.iter().map(|url| {
            self.client
                .send_message()
                .queue_url(url)
                .message_body(&body)
                .message_attributes("event_id", id.clone())
                .send()
        });
        futures_util::future::try_join_all(sends)
            .await
            .map_err(Error::internal)?;
        Ok(())
    }

    async fn publish_all(&self, events: &[OutboxEvent]) -> Vec<Result<(), Error>> {
        let mut outcome: Vec<Result<(), Error>> = events.iter().map(|_| Ok(())).collect();
        let mut entries = Vec::new();
        for (i, event) in events.iter().enumerate() {
            match entry(i, event) {
                Ok(e) => entries.push((i, e)),
                Err(e) => outcome[i] = Err(e),
            }
        }
        let batches = batches(&entries);
        let sends = self.queue_urls.iter().flat_map(|url| {
            batches.iter().map(move |batch| async move {
                let sent = self
                    .client
                    .send_message_batch()
                    .queue_url(url)
                    .set_entries(Some(batch.iter().map(|(_, e)| e.clone()).collect()))
                    .send()
                    .await;
                // The events of this batch that did not reach this queue.
                match sent {
                    Ok(out) => out
                        .failed
                        .iter()
                        .filter_map(|f| {
                            f.id.parse::<usize>()
                                .ok()
                                .map(|i| (i, f.message.clone().unwrap_or_default()))
                        })
                        .collect::<Vec<_>>(),
                    Err(e) => {
                        let why = Error::internal(e).to_string();
                        batch.iter().map(|(i, _)| (*i, why.clone())).collect()
                    }
                }
            })
        });
        for (i, why) in futures_util::future::join_all(sends).await.into_iter().flatten() {
            if let Some(slot) = outcome.get_mut(i) {
                *slot = Err(Error::internal(format!("not sent to every queue: {why}")));
            }
        }
        outcome
    }
}

/// SQS takes ten messages, and 256 KB in all, per batch.
const BATCH_MESSAGES: usize = 10;
const BATCH_BYTES: usize = 200 * 1024;

/// Event `i` as a batch entry; its id is `i`, so a failure names the event.
fn entry(i: usize, event: &OutboxEvent) -> Result<SendMessageBatchRequestEntry, Error> {
    let id = MessageAttributeValue::builder()
        .data_type("String")
        .string_value(event.id.to_string())
        .build()
        .map_err(Error::internal)?;
    SendMessageBatchRequestEntry::builder()
        .id(i.to_string())
        .message_body(serde_json::to_string(event).map_err(Error::internal)?)
        .message_attributes("event_id", id)
        .build()
        .map_err(Error::internal)
}

fn batches(entries: &[(usize, SendMessageBatchRequestEntry)]) -> Vec<Vec<(usize, SendMessageBatchRequestEntry)>> {
    let mut out: Vec<Vec<(usize, SendMessageBatchRequestEntry)>> = Vec::new();
    let mut bytes = 0;
    for (i, e) in entries {
        let size = e.message_body().len() + 64;
        let full = out
            .last()
            .is_none_or(|b| b.len() >= BATCH_MESSAGES || bytes + size > BATCH_BYTES);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(b) = out.last_mut() {
            b.push((*i, e.clone()));
        }
    }
    out
}
