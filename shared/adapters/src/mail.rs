//! E-mails as MIME (multipart/alternative: plain text and HTML; in multipart/mixed with
//! any attachments), built by `lettre`, and the
//! local mailers: `.eml` files for the run command, memory for tests. The SES adapter sends
//! the same bytes as a raw message.

use async_trait::async_trait;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::Message;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use oms_domain::error::Error;
use oms_domain::notify::Email;
use oms_domain::ports::Mailer;

/// The e-mail as RFC 5322 bytes, with a `Message-ID` and an `X-OMS-Key` naming its
/// (order, kind) so a duplicate is easy to spot in any mailbox.
pub fn mime(email: &Email, from: &str, message_id: &str) -> Result<Vec<u8>, Error> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| Error::internal(format!("sender `{from}`: {e}")))?;
    // The company's name on the deployment's address; lettre encodes it (RFC 2047) and the
    // settings refuse line breaks, so it cannot add a header.
    let from = Mailbox::new(email.sender_name.clone().or(from.name), from.email);
    let mut b = Message::builder()
        .from(from)
        .subject(email.subject.clone())
        .message_id(Some(message_id.to_owned()));
    if let Some(reply_to) = &email.reply_to {
        let mailbox: Mailbox = reply_to
            .parse()
            .map_err(|e| Error::internal(format!("reply-to `{reply_to}`: {e}")))?;
        b = b.reply_to(mailbox);
    }
    for to in &email.to {
        let mailbox: Mailbox = to
            .parse()
            .map_err(|e| Error::internal(format!("recipient `{to}`: {e}")))?;
        b = b.to(mailbox);
    }
    let body = MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
    // With files: multipart/mixed, the text first, then each file as an attachment.
    let body = match email.attachments.is_empty() {
        true => body,
        false => {
            let mut mixed = MultiPart::mixed().multipart(body);
            for a in &email.attachments {
                let kind = ContentType::parse(&a.content_type)
                    .map_err(|e| Error::internal(format!("attachment type `{}`: {e}", a.content_type)))?;
                mixed = mixed.singlepart(Attachment::new(a.filename.clone()).body(a.bytes.clone(), kind));
            }
            mixed
        }
    };
    let mut msg = b.multipart(body).map_err(Error::internal)?;
    msg.headers_mut().insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("X-OMS-Key"),
        email.dedupe_key.clone(),
    ));
    Ok(msg.formatted())
}

/// Writes each e-mail to `<dir>/<time>-<kind>-<key>.eml` and logs one line.
pub struct FileMailer {
    dir: PathBuf,
    from: String,
}

impl FileMailer {
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> FileMailer {
        FileMailer {
            dir: dir.into(),
            from: from.into(),
        }
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &Email) -> Result<String, Error> {
        let id = format!("<{}@oms.local>", uuid::Uuid::new_v4());
        let bytes = mime(email, &self.from, &id)?;
        tokio::fs::create_dir_all(&self.dir).await.map_err(Error::internal)?;
        let safe: String = email
            .dedupe_key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .collect();
        let path = self.dir.join(format!(
            "{}-{}-{safe}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
            email.kind.as_str()
        ));
        tokio::fs::write(&path, bytes).await.map_err(Error::internal)?;
        tracing::info!(kind = email.kind.as_str(), to = %email.to.join(", "), subject = %email.subject, file = %path.display(), "e-mail written");
        Ok(id)
    }
}

/// Keeps sent e-mails for tests to read back; can be told to fail the next sends.
#[derive(Clone, Default)]
pub struct MemoryMailer {
    sent: Arc<Mutex<Vec<Email>>>,
    failures: Arc<AtomicUsize>,
}

impl MemoryMailer {
    pub fn sent(&self) -> Vec<Email> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The next `n` sends fail, as a throttled or unreachable SES would.
    pub fn fail_next(&self, n: usize) {
        self.failures.store(n, Ordering::SeqCst);
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, email: &Email) -> Result<String, Error> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(Error::internal("mailer unavailable (injected failure)"));
        }
        mime(email, "orders@test.example", "<test@oms.local>")?;
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).push(email.clone());
        Ok(format!("mem-{}", uuid::Uuid::new_v4()))
    }
}
