//! The AWS path of notifications against real APIs: the store on DynamoDB Local, the relay
//! publishing through the SQS adapter and the workers sending through the SES v2 adapter,
//! both against moto's server; the worker Lambda's batch handler fed real SQS messages.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use oms_adapters::ses::SesMailer;
use oms_adapters::sqs::SqsPublisher;
use oms_api::workers::{relay_until_empty, sqs_batch};
use oms_domain::usecases::notifications::{NotifyDeps, Worker};
use oms_tests::TEST_LEASE_SECS;
use oms_tests::{http_get_json, moto_endpoint, TestApp};

use crate::support::{demo, items, Demo, ORDERS};

struct Aws {
    app: TestApp,
    d: Demo,
    moto: String,
    sqs: aws_sdk_sqs::Client,
    sender: String,
    notify: NotifyDeps,
}

/// A fresh table, demo tenant, SES sender identity and naming prefix per test.
async fn setup() -> Option<Aws> {
    let moto = moto_endpoint()?;
    let app = TestApp::dynamo().await?;
    let d = demo(&app).await;
    let sqs = oms_api::app::sqs_client(Some(&moto)).await;
    let ses = oms_api::app::ses_client(Some(&moto)).await;
    let sender = format!("orders-{}@test.example", uuid::Uuid::new_v4().simple());
    ses.create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("SES identity");
    let notify = NotifyDeps {
        deps: app.app().deps.clone(),
        mailer: Arc::new(SesMailer::new(ses, sender.clone())),
        lease_secs: TEST_LEASE_SECS,
        documents: Some(Arc::new(oms_documents::InvoiceDocuments)),
    };
    Some(Aws {
        app,
        d,
        moto,
        sqs,
        sender,
        notify,
    })
}

impl Aws {
    /// A queue with a dead-letter queue after `max_receives`; returns (queue, dlq) URLs.
    async fn queue(&self, name: &str, max_receives: u32) -> (String, String) {
        oms_tests::moto_queue(&self.sqs, name, max_receives, 0).await
    }

    async fn receive(&self, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        out.messages.unwrap_or_default()
    }

    /// A one-line storefront order, relayed to `queue` only.
    async fn relay_one_order(&self, queue: &str) {
        let r = self
            .app
            .call("POST", ORDERS, &self.d.buyer, Some(items(&[("WIDGET-001", 1)])))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let publisher = SqsPublisher::new(self.sqs.clone(), vec![queue.to_owned()]);
        relay_until_empty(&self.app.app().deps, &publisher, Duration::from_secs(10))
            .await
            .expect("relay");
    }

    /// What the Lambda event source mapping does: deliver a batch to the handler, then
    /// delete the messages it did not report as failed.
    async fn deliver(&self, url: &str, worker: Worker) -> (usize, Vec<String>) {
        let messages = self.receive(url).await;
        let event = batch(&messages);
        let resp = sqs_batch(&self.notify, worker, event).await;
        let failed: Vec<String> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        for m in &messages {
            if !failed.contains(&m.message_id.clone().unwrap_or_default()) {
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        (messages.len(), failed)
    }

    /// The raw e-mails SES accepted from this test's sender, as (X-OMS-Key, raw MIME).
    async fn sent(&self) -> Vec<(String, String)> {
        let data = http_get_json(&self.moto, "/moto-api/data.json").await;
        data["ses"]["RawMessage"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["source"] == self.sender.as_str())
            .map(|m| {
                let raw = m["raw_data"].as_str().unwrap_or_default().to_owned();
                let key = raw
                    .lines()
                    .find_map(|l| l.strip_prefix("X-OMS-Key: "))
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                (key, raw)
            })
            .collect()
    }
}

/// The Lambda event the event source mapping makes of received messages.
fn batch(messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for m in messages {
        let mut r = SqsMessage::default();
        r.message_id = m.message_id.clone();
        r.receipt_handle = m.receipt_handle.clone();
        r.body = m.body.clone();
        event.records.push(r);
    }
    event
}

macro_rules! against_real_apis {
    ($($name:ident),* $(,)?) => { $(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            match setup().await {
                Some(aws) => Box::pin(scenarios::$name(aws)).await,
                None => eprintln!("skipped (OMS_SKIP_DYNAMODB=1)"),
            }
        }
    )* };
}

against_real_apis!(
    the_relay_fans_out_to_every_queue_and_the_workers_send_through_ses,
    a_redelivered_batch_sends_each_email_once,
    a_failing_message_is_retried_alone_and_dead_lettered,
    a_webhook_delivery_travels_the_queue_to_the_worker_once,
    an_invoice_email_goes_through_ses_once_with_the_pdf_attached,
);

mod scenarios {
    use super::*;

    /// The receipts worker Lambda's handler, fed the request's event from SQS twice (at
    /// least once delivery), sends one raw e-mail through SES with the invoice attached.
    pub async fn an_invoice_email_goes_through_ses_once_with_the_pdf_attached(aws: Aws) {
        let (receipts, _) = aws.queue("receipts", 3).await;
        aws.relay_one_order(&receipts).await;
        let (n, failed) = aws.deliver(&receipts, Worker::Receipts).await;
        assert_eq!((n, failed.len()), (1, 0));
        let order = aws.app.call("GET", ORDERS, &aws.d.owner, None).await.body["data"][0].clone();
        let id = order["id"].as_str().expect("id");
        let number = order["order_number"].as_str().expect("number");
        let r = aws
            .app
            .call(
                "POST",
                &format!("{ORDERS}/{id}/invoice/email"),
                &aws.d.owner,
                Some(serde_json::json!({"to": ["ap@acme.example"]})),
            )
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        let publisher = SqsPublisher::new(aws.sqs.clone(), vec![receipts.clone()]);
        relay_until_empty(&aws.app.app().deps, &publisher, Duration::from_secs(10))
            .await
            .expect("relay");
        let messages = aws.receive(&receipts).await;
        assert_eq!(messages.len(), 1);
        for _ in 0..2 {
            let resp = sqs_batch(&aws.notify, Worker::Receipts, batch(&messages)).await;
            assert!(resp.batch_item_failures.is_empty(), "{:?}", resp.batch_item_failures);
        }
        let invoices: Vec<String> = aws
            .sent()
            .await
            .into_iter()
            .filter(|(key, _)| key.contains(":invoice:"))
            .map(|(_, raw)| raw)
            .collect();
        assert_eq!(invoices.len(), 1, "sent once");
        let raw = &invoices[0];
        assert!(raw.contains("To: ap@acme.example"), "{raw}");
        assert!(raw.contains(&format!("filename=\"invoice-{number}.pdf\"")), "{raw}");
        assert!(raw.contains("Content-Type: application/pdf"), "{raw}");
        // The attachment is the PDF: base64 of "%PDF-" starts "JVBERi0".
        assert!(raw.contains("JVBERi0"), "the PDF's bytes");
    }

    /// A Shopify delivery, recorded by the intake, relayed to the webhook queue, placed by
    /// the worker Lambda's batch handler; the same batch delivered again (SQS is at least
    /// once) places nothing more; the order's own events then reach the receipts worker.
    pub async fn a_webhook_delivery_travels_the_queue_to_the_worker_once(aws: Aws) {
        use oms_domain::integration::IntegrationKind::Shopify;
        let (webhooks, _) = aws.queue("webhook-orders", 3).await;
        let (receipts, _) = aws.queue("receipts", 3).await;
        let shop = aws.d.t.integration(Shopify).expect("demo integration");
        let path =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events/webhooks/shopify-orders-create.json");
        let body: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("JSON");
        let body = body.to_string();
        let headers =
            oms_tests::webhooks::sign(Shopify, shop.secret, &body, "b54557e4", chrono::Utc::now().timestamp());
        let r = aws.app.post_webhook(&shop.id.to_string(), headers, &body).await;
        assert_eq!(r.status, 202, "{}", r.body);
        let publisher = SqsPublisher::new(aws.sqs.clone(), vec![webhooks.clone(), receipts.clone()]);
        let relayed = relay_until_empty(&aws.app.app().deps, &publisher, Duration::from_secs(10))
            .await
            .expect("relay");
        assert_eq!(relayed, 1, "the delivery's event");
        let messages = aws.receive(&webhooks).await;
        assert_eq!(messages.len(), 1);
        for _ in 0..2 {
            let resp = sqs_batch(&aws.notify, Worker::WebhookOrders, batch(&messages)).await;
            assert!(resp.batch_item_failures.is_empty(), "{:?}", resp.batch_item_failures);
        }
        let delivery =
            oms_domain::ids::DeliveryId::parse(r.body["data"]["delivery_id"].as_str().unwrap_or_default()).expect("id");
        let d = aws
            .app
            .store()
            .get_delivery(&aws.d.t.company, delivery)
            .await
            .expect("read")
            .expect("delivery");
        assert_eq!(d.status, oms_domain::integration::DeliveryStatus::Placed, "{d:?}");
        assert_eq!(d.attempts, 1, "the redelivered batch found it done");
        assert_eq!(aws.app.counts(&aws.d.t.company).await.orders, 1);
        // The order's placement event goes the usual way: a receipt and a staff alert.
        let relayed = relay_until_empty(&aws.app.app().deps, &publisher, Duration::from_secs(10))
            .await
            .expect("relay");
        assert_eq!(relayed, 1, "the order's event");
        let (n, failed) = aws.deliver(&receipts, Worker::Receipts).await;
        assert_eq!((n >= 1, failed.len()), (true, 0));
        let sent = aws.sent().await;
        assert!(
            sent.iter().any(|(_, raw)| raw.contains("jon@northwind.example")),
            "the Shopify buyer got a receipt"
        );
    }

    pub async fn the_relay_fans_out_to_every_queue_and_the_workers_send_through_ses(aws: Aws) {
        let mut queues = HashMap::new();
        for w in Worker::ALL {
            queues.insert(w, aws.queue(w.as_str(), 3).await.0);
        }
        let publisher = SqsPublisher::new(aws.sqs.clone(), Worker::ALL.iter().map(|w| queues[w].clone()).collect());
        // One order that calls for every kind: the cap is 1 (so 80 % and 100 % at once) and
        // finance's threshold is below its total.
        let mut settings = aws.app.store().get_settings(&aws.d.t.company).await.expect("settings");
        settings.monthly_order_limit = Some(1);
        settings.high_value_threshold = "100".parse().expect("decimal");
        aws.app
            .store()
            .put_settings(&aws.d.t.company, &settings)
            .await
            .expect("settings");
        let r = aws
            .app
            .call(
                "POST",
                ORDERS,
                &aws.d.buyer,
                Some(items(&[("WIDGET-001", 2), ("BOLT-M8", 1)])),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let order_id = r.body["data"]["id"].as_str().expect("id").to_owned();
        let relayed = relay_until_empty(&aws.app.app().deps, &publisher, Duration::from_secs(10))
            .await
            .expect("relay");
        assert_eq!(relayed, 1);
        assert!(
            aws.app.store().pending_outbox(10, 0).await.expect("pending").is_empty(),
            "marked relayed"
        );
        for w in Worker::ALL {
            let (n, failed) = aws.deliver(&queues[&w], w).await;
            assert_eq!((n, failed.len()), (1, 0), "{w:?} got the event once and handled it");
        }
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        let expected: Vec<(String, &str)> = vec![
            (format!("{order_id}:receipt"), "orders@acme.example"),
            (
                format!("{order_id}:staff_alert"),
                "ops@demo.example, owner@demo.example",
            ),
            (format!("{order_id}:low_stock"), "ops@demo.example, owner@demo.example"),
            (
                format!("cap:{month}:cap_warning"),
                "finance@demo.example, owner@demo.example",
            ),
            (
                format!("cap:{month}:cap_reached"),
                "finance@demo.example, owner@demo.example",
            ),
            (format!("{order_id}:high_value"), "finance@demo.example"),
        ];
        let sent = aws.sent().await;
        assert_eq!(
            sent.len(),
            expected.len(),
            "{:?}",
            sent.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
        for (key, to) in expected {
            let (_, raw) = sent
                .iter()
                .find(|(k, _)| *k == key)
                .unwrap_or_else(|| panic!("no {key}"));
            let mut got: Vec<&str> = raw
                .lines()
                .find_map(|l| l.strip_prefix("To: "))
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .collect();
            got.sort();
            assert_eq!(got.join(", "), to, "recipients of {key}");
        }
        let (_, receipt) = aws
            .sent()
            .await
            .into_iter()
            .find(|(k, _)| k.ends_with(":receipt"))
            .expect("receipt");
        assert!(receipt.contains("To: orders@acme.example"), "{receipt}");
        assert!(receipt.contains("multipart/alternative"), "text and HTML parts");
        assert!(receipt.contains("Content-Type: text/html"));
        assert!(receipt.contains("2 x Premium Widget (WIDGET-001) @ USD 89.99 = USD 179.98"));
    }

    pub async fn a_redelivered_batch_sends_each_email_once(aws: Aws) {
        let (queue, _) = aws.queue("receipts", 3).await;
        aws.relay_one_order(&queue).await;
        // The same event published twice (a relay that crashed before marking it relayed).
        let messages = aws.receive(&queue).await;
        assert_eq!(messages.len(), 1);
        let body = messages[0].body.clone().unwrap_or_default();
        aws.sqs
            .send_message()
            .queue_url(&queue)
            .message_body(&body)
            .send()
            .await
            .expect("duplicate");
        aws.deliver(&queue, Worker::Receipts).await;
        aws.deliver(&queue, Worker::Receipts).await;
        aws.deliver(&queue, Worker::Receipts).await;
        let keys: Vec<String> = aws.sent().await.into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys.len(),
            2,
            "one receipt and one staff alert, whatever the deliveries: {keys:?}"
        );
    }

    pub async fn a_failing_message_is_retried_alone_and_dead_lettered(aws: Aws) {
        let (queue, dlq) = aws.queue("receipts", 2).await;
        aws.relay_one_order(&queue).await;
        aws.sqs
            .send_message()
            .queue_url(&queue)
            .message_body("{\"not\": \"an event\"}")
            .send()
            .await
            .expect("poison");
        let mut failures = Vec::new();
        for _ in 0..4 {
            let (_, failed) = aws.deliver(&queue, Worker::Receipts).await;
            failures.extend(failed);
        }
        assert_eq!(failures.len(), 2, "only the poison message failed, once per receive");
        let dead = aws.receive(&dlq).await;
        assert_eq!(dead.len(), 1, "after maxReceiveCount it is in the dead-letter queue");
        assert_eq!(dead[0].body.as_deref(), Some("{\"not\": \"an event\"}"));
        assert_eq!(
            aws.sent().await.len(),
            2,
            "the good message in the same batches was sent once"
        );
    }
}

/// A relay pass sends what it relays in batches: `SendMessageBatch` (ten per queue) and
/// `BatchWriteItem` for the records it marks relayed; the only per-event write is the
/// claim. It used to send one `SendMessage` per event and queue and one `UpdateItem` to
/// mark each, one event after another (about 40 events/s on DynamoDB Local).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_pass_sends_batches_not_one_request_per_event() {
    use oms_tests::sdk::OpCounter;
    let (Some(ddb), Some(moto)) = (oms_tests::dynamodb_endpoint(), moto_endpoint()) else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let ops = OpCounter::default();
    let app = TestApp::dynamo_with_client(ops.dynamodb(&oms_api::app::sdk_config(Some(&ddb)).await)).await;
    let d = demo(&app).await;
    for _ in 0..25 {
        let r = app
            .call("POST", ORDERS, &d.staff, Some(items(&[("PALLET-JACK", 1)])))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let pending = app.store().pending_outbox(200, 0).await.expect("pending").len();
    assert!(pending >= 25, "{pending} pending");
    let sqs_plain = oms_api::app::sqs_client(Some(&moto)).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (a, _) = oms_tests::moto_queue(&sqs_plain, &format!("batch-a-{tag}"), 3, 60).await;
    let (b, _) = oms_tests::moto_queue(&sqs_plain, &format!("batch-b-{tag}"), 3, 60).await;
    let sqs = ops.sqs(&oms_api::app::sdk_config(Some(&moto)).await);
    let publisher = SqsPublisher::new(sqs, vec![a.clone(), b.clone()]);
    ops.take();
    let r = oms_domain::usecases::relay::relay_pending(&app.app().deps, &publisher, 200)
        .await
        .expect("a pass");
    assert_eq!((r.published, r.failed), (pending, 0), "{r:?}");
    let counts = ops.take();
    assert_eq!(counts.get("SendMessage"), None, "{counts:?}");
    assert_eq!(
        counts.get("SendMessageBatch").copied(),
        Some(2 * pending.div_ceil(10)),
        "batches of ten per queue: {counts:?}"
    );
    assert_eq!(
        counts.get("UpdateItem").copied(),
        Some(pending),
        "one claim per event, and no update to mark it: {counts:?}"
    );
    assert!(app.store().pending_outbox(200, 0).await.expect("pending").is_empty());
    // Every event reached both queues, once.
    for url in [&a, &b] {
        let messages = oms_tests::drain_queue(&sqs_plain, url).await;
        let ids: std::collections::BTreeSet<_> = messages
            .iter()
            .map(|m| {
                serde_json::from_str::<oms_domain::outbox::OutboxEvent>(m.body().unwrap_or_default())
                    .expect("an outbox event")
                    .id
            })
            .collect();
        assert_eq!((messages.len(), ids.len()), (pending, pending), "{url}");
    }
}
