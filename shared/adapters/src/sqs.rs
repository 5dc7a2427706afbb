//! SQS: the relay's publisher. Each outbox event goes, as JSON, to every worker's queue
//! (each worker its own queue, DLQ and Lambda). The event id is a message attribute so a
//! message can be traced back to its outbox record.

use async_trait::async_trait;
use aws_sdk_sqs::types::MessageAttributeValue;

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
}
