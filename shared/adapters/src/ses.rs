//! SES v2: the production mailer. The e-mail is built as MIME (`mail::mime`, text and HTML
//! parts) and sent as a raw message, so what SES sends is byte for byte what the tests
//! and the local `.eml` files show. Throttling and errors surface as errors: the worker
//! fails the message and SQS retries it, ending in the dead-letter queue if it never goes.

use async_trait::async_trait;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};

use oms_domain::error::Error;
use oms_domain::notify::Email;
use oms_domain::ports::Mailer;

#[derive(Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> SesMailer {
        SesMailer {
            client,
            from: from.into(),
        }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, Error> {
        let domain = self.from.rsplit('@').next().unwrap_or("oms.local");
        let bytes = crate::mail::mime(email, &self.from, &format!("<{}@{domain}>", uuid::Uuid::new_v4()))?;
        let raw = RawMessage::builder()
            .data(Blob::new(bytes))
            .build()
            .map_err(Error::internal)?;
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().set_to_addresses(Some(email.to.clone())).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(Error::internal)?;
        Ok(out.message_id.unwrap_or_default())
    }
}
