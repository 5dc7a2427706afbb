//! The chaos run: concurrent storefront orders and stock edits against DynamoDB Local and
//! moto's SQS and SES, with SDK faults injected (throttling, 500s, answers lost after the
//! work was done), workers killed at random points (before a send, after a send, between
//! messages) and the relay aborted and restarted at random moments. After the queues drain,
//! the books must balance: no oversell, one audit entry per order, one receipt and one
//! staff alert per order (plus exactly the documented duplicates: a worker killed between
//! SES accepting a message and marking it sent), one low-stock e-mail per order that left
//! its product low, and nothing unsent outside the dead-letter queues.
//!
//! `cargo test` runs a short version (60 orders); `make chaos` runs 600
//! (`OMS_CHAOS_ORDERS`). It prints its counts.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::QueueAttributeName;
use futures_util::stream::{self, StreamExt};
use serde_json::json;

use oms_adapters::dynamo::{create_table, DynamoStore};
use oms_adapters::ses::SesMailer;
use oms_adapters::sqs::SqsPublisher;
use oms_api::workers::sqs_batch;
use oms_api::App;
use oms_domain::notify::{Email, EmailKind};
use oms_domain::ports::{Clock, Mailer};
use oms_domain::usecases::notifications::{email_lease_secs, NotifyDeps, Worker};
use oms_domain::usecases::relay::relay_pending;
use oms_tests::sdk::{Fault, FaultInjector};
use oms_tests::{dynamodb_endpoint, moto_endpoint, Backend, TestApp};

use crate::support::{demo, ORDERS};

/// The store's clock runs this many times faster than the wall clock, so leases (the
/// relay's 60 s, an e-mail claim's) run out within the run as they would over minutes.
const SPEED: i64 = 30;
/// Seconds a received message stays invisible (moto), at wall-clock speed.
const VISIBILITY_SECS: i64 = 4;

struct FastClock(Instant, chrono::DateTime<chrono::Utc>);
impl Clock for FastClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let elapsed = self.0.elapsed().as_millis() as i64 * SPEED;
        self.1 + chrono::Duration::milliseconds(elapsed)
    }
}

/// A small seeded generator shared by the chaos parts.
struct Dice(AtomicU64);
impl Dice {
    fn roll(&self, per_mille: u64) -> bool {
        let mut x = self.0.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.store(x, Ordering::Relaxed);
        x % 1000 < per_mille
    }
}

/// SES through the real adapter, with workers that die around the send: before it (the
/// claim stays, the e-mail goes out later) or after it (SES has it, the mark is not
/// written: the documented duplicate), and sends SES refuses.
struct ChaosMailer {
    ses: SesMailer,
    dice: Arc<Dice>,
    sent: Mutex<Vec<(EmailKind, String)>>,
    killed_after_send: Mutex<HashMap<String, usize>>,
    kills: AtomicUsize,
}

#[async_trait]
impl Mailer for ChaosMailer {
    async fn send(&self, email: &Email) -> Result<String, oms_domain::Error> {
        if self.dice.roll(30) {
            return Err(oms_domain::Error::internal("SES throttled the send (injected)"));
        }
        if self.dice.roll(20) {
            self.kills.fetch_add(1, Ordering::Relaxed);
            panic!("chaos: worker killed before the send");
        }
        let id = self.ses.send(email).await?;
        self.sent
            .lock()
            .expect("lock")
            .push((email.kind, email.dedupe_key.clone()));
        if self.dice.roll(20) {
            self.kills.fetch_add(1, Ordering::Relaxed);
            *self
                .killed_after_send
                .lock()
                .expect("lock")
                .entry(email.dedupe_key.clone())
                .or_default() += 1;
            panic!("chaos: worker killed after the send, before marking it sent");
        }
        Ok(id)
    }
}

struct Queue {
    worker: Worker,
    url: String,
    dlq: String,
}

async fn queue(sqs: &aws_sdk_sqs::Client, w: Worker) -> Queue {
    let name = format!("chaos-{}", w.as_str());
    let (url, dlq) = oms_tests::moto_queue(sqs, &name, 10, VISIBILITY_SECS as u32).await;
    Queue { worker: w, url, dlq }
}

async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attrs")
        .attributes
        .unwrap_or_default();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .filter_map(|a| attrs.get(a).and_then(|v| v.parse::<usize>().ok()))
    .sum()
}

/// One worker, as the SQS event source drives a Lambda: receive, hand over, delete what
/// did not fail. It dies now and then between messages (the rest of the batch comes back
/// after the visibility timeout); the supervisor starts it again.
async fn work(sqs: aws_sdk_sqs::Client, q: Arc<Queue>, n: NotifyDeps, dice: Arc<Dice>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let got = sqs
            .receive_message()
            .queue_url(&q.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await;
        let Ok(got) = got else { continue };
        for m in got.messages.unwrap_or_default() {
            if dice.roll(15) {
                return; // killed between messages
            }
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.body = m.body.clone();
            let mut event = SqsEvent::default();
            event.records = vec![record];
            let out = sqs_batch(&n, q.worker, event).await;
            if out.batch_item_failures.is_empty() {
                let _ = sqs
                    .delete_message()
                    .queue_url(&q.url)
                    .receipt_handle(m.receipt_handle.unwrap_or_default())
                    .send()
                    .await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_keeps_the_books_balanced() {
    let (Some(ddb), Some(moto)) = (dynamodb_endpoint(), moto_endpoint()) else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let orders: usize = std::env::var("OMS_CHAOS_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let seed = std::env::var("OMS_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x0005_eedc_4a05_u64);
    let dice = Arc::new(Dice(AtomicU64::new(seed)));
    // The injected kills are panics the workers catch; keep them out of the output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let injected = info
            .payload()
            .downcast_ref::<&str>()
            .is_some_and(|m| m.starts_with("chaos:"));
        if !injected {
            default_hook(info);
        }
    }));

    // DynamoDB Local behind an SDK that loses answers and throttles.
    let faults = FaultInjector::default();
    for (op, fault, per_mille) in [
        ("TransactWriteItems", Fault::TransactionInProgress, 40),
        ("TransactWriteItems", Fault::InternalServerError, 30),
        ("BatchGetItem", Fault::Throttling, 30),
        ("GetItem", Fault::InternalServerError, 20),
        ("Query", Fault::Throttling, 20),
    ] {
        faults.random(op, fault, per_mille, seed);
    }
    let config = oms_api::app::sdk_config(Some(&ddb)).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(faults.clone())
            .build(),
    );
    let table = format!("oms-chaos-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table).await.expect("table");
    let store = DynamoStore::new(client, table);
    let mut app = App::new(Arc::new(store.clone()), b"chaos-cursor-secret");
    app.deps.clock = Arc::new(FastClock(Instant::now(), chrono::Utc::now()));
    let app = TestApp::from_app(app, Backend::Dynamo(store));
    let d = demo(&app).await;
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.monthly_order_limit = None;
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    // LOW is always low (every order leaves it at or below its threshold), PLENTY never,
    // SCARCE runs out (more is ordered than it has).
    let scarce_stock = (orders / 4) as i64;
    let mut ids = HashMap::new();
    for (sku, stock, threshold) in [
        ("LOW", 1_000_000, 1_000_000_000),
        ("PLENTY", 1_000_000, 0),
        ("SCARCE", scarce_stock, 0),
    ] {
        let r = app
            .call(
                "POST",
                "/api/v1/products",
                &d.owner,
                Some(
                    json!({"sku": sku, "name": sku, "price": "5.00", "stock": stock, "low_stock_threshold": threshold}),
                ),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.insert(sku, r.body["data"]["id"].as_str().unwrap_or_default().to_owned());
    }

    // moto: one queue (and DLQ) per worker; SES with the sender verified.
    let sqs = oms_api::app::sqs_client(Some(&moto)).await;
    let ses = oms_api::app::ses_client(Some(&moto)).await;
    let sender = format!("chaos-{}@test.example", uuid::Uuid::new_v4().simple());
    ses.create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("identity");
    let mut queues = Vec::new();
    for w in Worker::ALL {
        queues.push(Arc::new(queue(&sqs, w).await));
    }
    let publisher = Arc::new(SqsPublisher::new(
        sqs.clone(),
        queues.iter().map(|q| q.url.clone()).collect(),
    ));
    let mailer = Arc::new(ChaosMailer {
        ses: SesMailer::new(ses, sender),
        dice: dice.clone(),
        sent: Mutex::new(Vec::new()),
        killed_after_send: Mutex::new(HashMap::new()),
        kills: AtomicUsize::new(0),
    });
    let notify = NotifyDeps {
        deps: app.app().deps.clone(),
        mailer: mailer.clone(),
        // The queue's visibility and a worker's timeout, in the store's (fast) seconds.
        lease_secs: email_lease_secs(VISIBILITY_SECS * SPEED, SPEED).expect("lease"),
        documents: None,
    };

    // Workers and relay, supervised: whatever kills them, they start again.
    let stop = Arc::new(AtomicBool::new(false));
    let restarts = Arc::new(AtomicUsize::new(0));
    let mut supervisors = Vec::new();
    for q in &queues {
        let (sqs, q, n, dice, stop, restarts) = (
            sqs.clone(),
            q.clone(),
            notify.clone(),
            dice.clone(),
            stop.clone(),
            restarts.clone(),
        );
        supervisors.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = tokio::spawn(work(sqs.clone(), q.clone(), n.clone(), dice.clone(), stop.clone())).await;
                restarts.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    {
        let (deps, publisher, dice, stop, restarts) = (
            app.app().deps.clone(),
            publisher.clone(),
            dice.clone(),
            stop.clone(),
            restarts.clone(),
        );
        supervisors.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (deps, publisher) = (deps.clone(), publisher.clone());
                let relay = tokio::spawn(async move {
                    loop {
                        match relay_pending(&deps, publisher.as_ref(), 25).await {
                            Ok(r) if r.published == 0 => tokio::time::sleep(Duration::from_millis(100)).await,
                            _ => {}
                        }
                    }
                });
                // Aborted at a random moment: mid-claim, mid-publish, before the mark.
                let lifetime = if dice.roll(500) { 150 } else { 600 };
                tokio::time::sleep(Duration::from_millis(lifetime)).await;
                relay.abort();
                restarts.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // The load: storefront orders from two buyers, and stock edits, all at once.
    let buyers = [
        d.buyer.clone(),
        app.token(d.t.company.as_str(), "CUSTOMER", Some(d.t.globex)),
    ];
    let started = Instant::now();
    let order_calls = (0..orders).map(|i| {
        let (app, buyers) = (&app, &buyers);
        let sku = ["LOW", "PLENTY", "SCARCE", "SCARCE"][i % 4];
        async move {
            let r = app
                .call(
                    "POST",
                    ORDERS,
                    &buyers[i % 2],
                    Some(json!({"items": [{"sku": sku, "quantity": 1}]})),
                )
                .await;
            (sku, r)
        }
    });
    let edit_calls = (0..orders / 3).map(|i| {
        let (app, d, ids) = (&app, &d, &ids);
        async move {
            if i % 3 == 2 {
                // A set from a level the stock never had: always refused.
                let r = app
                    .call(
                        "PATCH",
                        &format!("/api/v1/products/{}", ids["SCARCE"]),
                        &d.staff,
                        Some(json!({"stock": 500, "expected_stock": 999_999})),
                    )
                    .await;
                ("SET", 0, r)
            } else {
                let (sku, delta) = if i % 2 == 0 { ("LOW", 7) } else { ("PLENTY", -3) };
                let r = app
                    .call(
                        "POST",
                        &format!("/api/v1/products/{}/stock-adjustments", ids[sku]),
                        &d.staff,
                        Some(json!({"delta": delta, "reason": "chaos"})),
                    )
                    .await;
                (sku, delta, r)
            }
        }
    });
    let (order_replies, edit_replies) = futures_util::join!(
        stream::iter(order_calls).buffer_unordered(16).collect::<Vec<_>>(),
        stream::iter(edit_calls).buffer_unordered(4).collect::<Vec<_>>()
    );
    let load_secs = started.elapsed().as_secs_f64();

    // The books, from the answers.
    let mut placed: Vec<String> = Vec::new();
    let mut sold: BTreeMap<&str, i64> = BTreeMap::new();
    let mut short = 0;
    for (sku, r) in &order_replies {
        match r.status.as_u16() {
            201 => {
                placed.push(r.body["data"]["id"].as_str().unwrap_or_default().to_owned());
                *sold.entry(sku).or_default() += 1;
            }
            409 if r.code() == "insufficient_stock" && *sku == "SCARCE" => short += 1,
            _ => panic!("{sku}: {} {}", r.status, r.body),
        }
    }
    let mut adjusted: BTreeMap<&str, i64> = BTreeMap::new();
    for (sku, delta, r) in &edit_replies {
        match (*sku, r.status.as_u16()) {
            ("SET", 409) if r.code() == "stock_changed" => {}
            (_, 201) => {
                assert_eq!(r.body["data"]["applied"], json!(delta), "{}", r.body);
                *adjusted.entry(sku).or_default() += delta;
            }
            _ => panic!("{sku}: {} {}", r.status, r.body),
        }
    }

    // Drain: nothing pending in the outbox, every queue empty.
    let until = Instant::now() + Duration::from_secs(180);
    loop {
        let pending = app.store().pending_outbox(1, 0).await.map(|p| p.len()).unwrap_or(1);
        let mut queued = 0;
        for q in &queues {
            queued += depth(&sqs, &q.url).await;
        }
        if pending == 0 && queued == 0 {
            break;
        }
        assert!(
            Instant::now() < until,
            "not drained after 3 minutes: {pending} pending, {queued} queued"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let drain_secs = started.elapsed().as_secs_f64() - load_secs;
    stop.store(true, Ordering::Relaxed);
    for s in supervisors {
        s.abort();
    }

    // Zero oversell: every product's stock is its start, less what was sold, plus what was
    // adjusted; SCARCE sold no more than it had.
    for (sku, start) in [("LOW", 1_000_000i64), ("PLENTY", 1_000_000), ("SCARCE", scarce_stock)] {
        let p = app
            .store()
            .get_product(&d.t.company, oms_domain::ids::ProductId::parse(&ids[sku]).expect("id"))
            .await
            .expect("read")
            .expect("product");
        let expected = start - sold.get(sku).copied().unwrap_or(0) + adjusted.get(sku).copied().unwrap_or(0);
        assert_eq!(
            i64::from(p.stock),
            expected,
            "{sku}: start {start}, sold {:?}, adjusted {:?}",
            sold.get(sku),
            adjusted.get(sku)
        );
    }
    assert!(
        sold.get("SCARCE").copied().unwrap_or(0) <= scarce_stock,
        "oversold SCARCE"
    );
    let counts = app.counts(&d.t.company).await;
    assert_eq!(counts.orders, placed.len(), "orders stored = orders answered 201");
    assert_eq!(counts.order_audit, placed.len(), "one audit entry per order");

    // E-mails: one of each per order, plus exactly the duplicates of kills after a send.
    let sent = mailer.sent.lock().expect("lock").clone();
    let killed_after = mailer.killed_after_send.lock().expect("lock").clone();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (_, key) in &sent {
        *by_key.entry(key.clone()).or_default() += 1;
    }
    let mut dead = 0;
    for q in &queues {
        dead += depth(&sqs, &q.dlq).await;
    }
    let low_orders: Vec<&String> = order_replies
        .iter()
        .filter(|(sku, r)| *sku == "LOW" && r.status == 201)
        .map(|(_, r)| r.body["data"]["id"].as_str().unwrap_or_default())
        .map(|id| placed.iter().find(|p| p.as_str() == id).expect("placed"))
        .collect();
    let mut duplicates = 0;
    for id in &placed {
        for kind in ["receipt", "staff_alert"] {
            let key = format!("{id}:{kind}");
            let got = by_key.get(&key).copied().unwrap_or(0);
            let allowed = 1 + killed_after.get(&key).copied().unwrap_or(0);
            duplicates += got.saturating_sub(1);
            assert!(
                got == allowed || (got == 0 && dead > 0),
                "{key}: sent {got}, expected {allowed}"
            );
        }
    }
    for id in &low_orders {
        let key = format!("{id}:low_stock");
        let got = by_key.get(&key).copied().unwrap_or(0);
        assert_eq!(got, 1 + killed_after.get(&key).copied().unwrap_or(0), "{key}");
    }
    let low_sent = low_orders
        .iter()
        .map(|id| by_key.get(&format!("{id}:low_stock")).copied().unwrap_or(0))
        .sum::<usize>();
    assert_eq!(dead, 0, "nothing dead-lettered");
    assert!(
        app.store().parked_outbox(10).await.expect("parked").is_empty(),
        "nothing parked"
    );

    eprintln!(
        "chaos: {orders} orders in {load_secs:.1} s ({} placed, {short} refused short), {} stock edits; drained in {drain_secs:.1} s\n\
         chaos: {} SDK faults injected, {} worker kills around a send, {} worker/relay restarts\n\
         chaos: stock balances for LOW/PLENTY/SCARCE (sold {sold:?}, adjusted {adjusted:?}); audit entries {} = orders {}\n\
         chaos: receipts+staff alerts {} for {} orders ({duplicates} duplicates, each from a kill after the send); low-stock e-mails {low_sent} for the {} orders that left LOW low; dead letters {dead}; parked 0",
        placed.len(),
        edit_replies.len(),
        faults.injected(),
        mailer.kills.load(Ordering::Relaxed),
        restarts.load(Ordering::Relaxed),
        counts.order_audit,
        counts.orders,
        sent.iter().filter(|(k, _)| matches!(k, EmailKind::Receipt | EmailKind::StaffAlert)).count(),
        placed.len(),
        low_orders.len(),
    );
}
