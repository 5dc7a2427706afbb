//! What a tenant's flash sale writes: no item that every order of the tenant writes, and
//! the monthly cap and the high-value sums exact all the same, on both adapters. (The write-heat report of
//! `make load-dynamodb` shows the rest; these pin what it found.)

use oms_adapters::dynamo::heat::HeatTally;
use oms_domain::settings::CompanySettings;
use oms_tests::sdk::dynamodb_with;
use oms_tests::{dynamodb_endpoint, on_both_adapters, TestApp};

use futures_util::future::join_all;

use crate::support::{self, all_pages, demo, ids, items, Demo, ORDERS};

on_both_adapters!(
    the_monthly_cap_is_exact_under_concurrency_and_when_it_changes,
    short_stock_under_a_cap_with_room_is_short_stock,
);

async fn set_cap(app: &TestApp, d: &Demo, limit: Option<u32>) {
    let s = CompanySettings {
        monthly_order_limit: limit,
        ..app.store().get_settings(&d.t.company).await.expect("settings")
    };
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
}

/// `n` storefront orders at once; how many were placed (the rest must be refused by the cap).
async fn burst(app: &TestApp, d: &Demo, n: usize) -> usize {
    support::burst(app, d, "WIDGET-001", 1, n, "monthly_limit_reached").await
}

async fn the_monthly_cap_is_exact_under_concurrency_and_when_it_changes(app: TestApp) {
    let d = demo(&app).await;
    set_cap(&app, &d, Some(10)).await;
    assert_eq!(burst(&app, &d, 24).await, 10, "24 at once under a cap of 10");
    // Raised: exactly the difference more.
    set_cap(&app, &d, Some(15)).await;
    assert_eq!(burst(&app, &d, 9).await, 5, "9 at once after raising it to 15");
    // Lowered below what is used: nothing more, even on counters that had room before.
    set_cap(&app, &d, Some(12)).await;
    assert_eq!(burst(&app, &d, 6).await, 0, "lowered to 12 with 15 used");
    // Lifted: orders flow again, and the month's usage still adds up.
    set_cap(&app, &d, None).await;
    assert_eq!(burst(&app, &d, 4).await, 4);
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    assert_eq!(
        app.store().monthly_usage(&d.t.company, &month).await.expect("usage"),
        19
    );
}

/// Under a cap with room left, an order for more than is in stock is refused for the
/// stock, whichever usage shard it drew (most shards have no allowance under a cap of 2:
/// a full shard is not the cap reached).
async fn short_stock_under_a_cap_with_room_is_short_stock(app: TestApp) {
    let d = demo(&app).await;
    set_cap(&app, &d, Some(2)).await;
    assert_eq!(burst(&app, &d, 1).await, 1);
    for _ in 0..6 {
        let r = app
            .call("POST", ORDERS, &d.buyer, Some(items(&[("BOLT-M8", 5_000)])))
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert_eq!(r.code(), "insufficient_stock", "{}", r.body);
    }
    assert_eq!(burst(&app, &d, 3).await, 1, "the cap's last order still goes through");
}

/// Every customer order counts toward the month's usage. With one counter item, every one
/// of them wrote it in its transaction: at 1,000 orders/s that item takes 1,000
/// transactions/s, about three times what one item sustains. Counted here by the heat
/// tally on the SDK client: no usage item is written by more than half of 40 orders (8
/// shards: about 5 each), with a cap and without.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_usage_counter_item_takes_every_order() {
    let Some((app, heat)) = heat_app().await else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let d = demo(&app).await;
    for cap in [None, Some(1_000)] {
        set_cap(&app, &d, cap).await;
        // The first order under a new cap splits the allowances over the shards (one
        // transaction on all of them, which orders arriving at that moment may each try):
        // a one-off per cap change, not what every order costs.
        assert_eq!(burst(&app, &d, 1).await, 1);
        let before = writes_to(&heat, is_usage);
        for _ in 0..5 {
            assert_eq!(burst(&app, &d, 8).await, 8);
        }
        let after = writes_to(&heat, is_usage);
        let busiest = after
            .iter()
            .map(|(k, n)| n - before.get(k).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        let total: u64 = after.values().sum::<u64>() - before.values().sum::<u64>();
        assert!(total >= 40, "every order counted ({total} usage writes), cap {cap:?}");
        assert!(
            busiest <= 20,
            "one usage item took {busiest} of 40 orders' transactions, cap {cap:?}"
        );
    }
}

fn is_usage(pk: &str, _sk: &str) -> bool {
    pk.contains("#USAGE#")
}

/// Transactions that wrote each item `pick` chooses so far, from the tally.
pub(crate) fn writes_to(heat: &HeatTally, pick: fn(&str, &str) -> bool) -> std::collections::BTreeMap<String, u64> {
    let report = heat.report(0.0, 0);
    report["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| {
            pick(
                i["pk"].as_str().unwrap_or_default(),
                i["sk"].as_str().unwrap_or_default(),
            )
        })
        .map(|i| {
            let n = i["tx"]
                .as_object()
                .map_or(0, |s| s.values().filter_map(|v| v.as_u64()).sum());
            (format!("{} {}", i["pk"], i["sk"]), n)
        })
        .collect()
}

/// An app on a fresh DynamoDB Local table whose client counts through a heat tally.
pub(crate) async fn heat_app() -> Option<(TestApp, HeatTally)> {
    let ddb = dynamodb_endpoint()?;
    let heat = HeatTally::new();
    let client = dynamodb_with(&oms_api::app::sdk_config(Some(&ddb)).await, heat.clone());
    Some((TestApp::dynamo_with_client(client).await, heat))
}

/// Every high-value order moves the company's high-value counters. On one item, a flash
/// sale of big orders would write it in every transaction; on 8 shards, no counters item
/// takes more than half of 16 such orders, and the sums read back are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_high_value_counters_item_takes_every_order() {
    let Some((app, heat)) = heat_app().await else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let d = demo(&app).await;
    // GADGET-002 at 149.99: 67 make 10,049.33, over the default threshold of 10,000.
    let calls = (0..16).map(|_| app.call("POST", ORDERS, &d.staff, Some(items(&[("GADGET-002", 67)]))));
    for r in join_all(calls).await {
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let counters = writes_to(&heat, |pk, sk| {
        pk.contains("#HV#") || sk.starts_with("STATS#HIGH_VALUE")
    });
    let busiest = counters.values().copied().max().unwrap_or(0);
    assert!(counters.values().sum::<u64>() >= 16, "{counters:?}");
    assert!(
        busiest <= 8,
        "one counters item took {busiest} of 16 orders: {counters:?}"
    );
    let r = app
        .call("GET", "/api/v1/sales/orders/high-value", &d.finance, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["meta"]["total"], 16, "{}", r.body["meta"]);
    assert_eq!(r.body["meta"]["total_value"], "160789.28", "{}", r.body["meta"]);
}

/// Every order writes the company's order index entries (GSI1, ByTotal, ByDue by date;
/// ByStatus by status) and an entry in the audit log's timeline (GSI1). In one partition each, a tenant's orders all went to one
/// partition per index; spread over the write shards, no partition takes more than half
/// of 40 orders' index writes, and lists still come back whole and in order (the
/// `order_lists` tests page through the merged shards).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_order_index_partition_takes_every_order() {
    let Some((app, heat)) = heat_app().await else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let d = demo(&app).await;
    for _ in 0..5 {
        assert_eq!(burst(&app, &d, 8).await, 8);
    }
    let report = heat.report(0.0, 0);
    let partitions = report["partitions"].as_array().cloned().unwrap_or_default();
    // (The audit log's timeline too: every order writes an entry into it.)
    for (index, prefix) in [
        ("GSI1", "C#demo#ORDERS"),
        ("ByTotal", "C#demo#ORDERS"),
        ("ByDue", "C#demo#ORDERS"),
        ("ByStatus", "C#demo#ORDERS"),
        ("GSI1", "C#demo#AUDIT"),
    ] {
        let units: Vec<(String, f64)> = partitions
            .iter()
            .filter(|p| p["index"] == index)
            .filter(|p| {
                p["pk"]
                    .as_str()
                    .is_some_and(|pk| pk.starts_with(prefix) && !pk.contains("#ACTOR#"))
            })
            .map(|p| {
                let wcu = p["wcu"]
                    .as_object()
                    .map_or(0.0, |s| s.values().filter_map(|v| v.as_f64()).sum());
                (p["pk"].as_str().unwrap_or_default().to_owned(), wcu)
            })
            .collect();
        let total: f64 = units.iter().map(|(_, u)| u).sum();
        let busiest = units.iter().map(|(_, u)| *u).fold(0.0, f64::max);
        assert!(total > 0.0, "{index} {prefix}: no writes counted");
        assert!(
            busiest <= total / 2.0,
            "{index} {prefix}: one partition took {busiest:.0} of {total:.0} units: {units:?}"
        );
    }
}

/// DynamoDB only (items read are DynamoDB's `ScannedCount`): a page of a write-sharded
/// index partition reads about the page, not a page from each of its partitions, in every
/// sort and direction, and the pages still join up into the whole list in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merged_page_reads_about_the_page_not_one_per_shard() {
    let Some(app) = TestApp::dynamo().await else { return };
    let oms_tests::Backend::Dynamo(store) = app.backend.clone() else {
        return;
    };
    let d = demo(&app).await;
    for _ in 0..6 {
        assert_eq!(burst(&app, &d, 8).await, 8);
    }
    app.relay().await;
    let per_page = 8;
    for query in [
        "",
        "&sort_direction=asc",
        "&sort_by=total_amount",
        "&sort_by=due_date&sort_direction=asc",
        "&sort_by=status",
        "&status=pending",
    ] {
        let url = format!("{ORDERS}?per_page={per_page}{query}");
        store.read_stats().take();
        let r = app.call("GET", &url, &d.owner, None).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let (requests, read) = store.read_stats().take();
        // (By status, the statuses no order is in come first: empty partitions, which
        // neither fill the page nor stop it.)
        assert_eq!(
            r.body["data"].as_array().map_or(0, Vec::len),
            per_page,
            "{url}: {}",
            r.body
        );
        // Each of the 4 partitions is first asked for 2; one running dry is asked for its
        // share of what is missing. A page from each partition would be 32.
        assert!(
            read <= 2 * per_page as u64,
            "{url}: read {read} entries ({requests} requests) for a page of {per_page}"
        );
    }
    for sort in ["order_date", "total_amount", "due_date", "status"] {
        let whole = all_pages(&app, &d.owner, &format!("{ORDERS}?per_page=100&sort_by={sort}")).await;
        let paged = all_pages(&app, &d.owner, &format!("{ORDERS}?per_page=5&sort_by={sort}")).await;
        assert_eq!(ids(&paged), ids(&whole), "sort_by={sort}: pages of 5 against one page");
        assert!(paged.len() >= 48, "sort_by={sort}: {} orders", paged.len());
    }
}

/// Requests per operation the client sent so far (the heat tally's count).
fn requests(heat: &HeatTally) -> std::collections::BTreeMap<String, u64> {
    let report = heat.report(f64::MAX, u32::MAX);
    let ops = report["requests"].as_object().cloned().unwrap_or_default();
    ops.into_iter()
        .map(|(op, per_second)| {
            let n = per_second
                .as_object()
                .map_or(0, |s| s.values().filter_map(serde_json::Value::as_u64).sum());
            (op, n)
        })
        .collect()
}

/// The requests made since `before` (a [`requests`] count), per operation, those made.
fn requests_since(heat: &HeatTally, before: &std::collections::BTreeMap<String, u64>) -> Vec<(String, u64)> {
    requests(heat)
        .into_iter()
        .map(|(op, n)| {
            let made = n - before.get(&op).copied().unwrap_or(0);
            (op, made)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// DynamoDB only (requests counted by the client's tally): a worker's batch of placement
/// events reads what they share once between them, not once per event: the company's
/// settings, each e-mail's recipients, the month's usage, the stock of the products the
/// orders took from (low stock) and the product to re-index (jobs). Only the receipts
/// worker reads each order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_batch_reads_what_its_events_share_once() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    use oms_domain::outbox::OutboxEvent;
    use oms_domain::usecases::notifications::{NotifyDeps, Worker};
    use std::sync::{Arc, Mutex};

    struct Capture(Mutex<Vec<OutboxEvent>>);
    #[async_trait::async_trait]
    impl oms_domain::ports::EventPublisher for Capture {
        async fn publish(&self, e: &OutboxEvent) -> Result<(), oms_domain::Error> {
            self.0.lock().expect("events").push(e.clone());
            Ok(())
        }
    }
    let Some((app, heat)) = heat_app().await else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let d = demo(&app).await;
    // A cap, so the cap-usage worker reads the month's usage.
    set_cap(&app, &d, Some(1_000)).await;
    assert_eq!(burst(&app, &d, 10).await, 10);
    let capture = Capture(Mutex::new(Vec::new()));
    oms_domain::usecases::relay::relay_pending(&app.app().deps, &capture, 100)
        .await
        .expect("relay");
    let events = capture.0.lock().expect("events").clone();
    assert_eq!(events.len(), 10, "one placement event per order");
    let mut batch = SqsEvent::default();
    batch.records = events
        .iter()
        .map(|e| {
            let mut m = SqsMessage::default();
            m.message_id = Some(e.id.to_string());
            m.body = Some(serde_json::to_string(e).expect("json"));
            m
        })
        .collect();
    let mailer = oms_adapters::mail::MemoryMailer::default();
    let n = NotifyDeps {
        deps: app.app().deps.clone(),
        mailer: Arc::new(mailer.clone()),
        lease_secs: 60,
        documents: None,
    };
    // Reads each batch of 10 may make: the receipts worker reads each order, the settings
    // and the staff alert's recipients (one query per role, OWNER and ADMIN); the others
    // a few shared reads, whatever the batch's size.
    for (w, most) in [
        (Worker::Receipts, 13),
        (Worker::LowStock, 3),
        (Worker::CapUsage, 2),
        (Worker::Finance, 1),
        (Worker::Jobs, 2),
    ] {
        let before = requests(&heat);
        let out = oms_api::workers::sqs_batch(&n, w, batch.clone()).await;
        assert!(
            out.batch_item_failures.is_empty(),
            "{w:?}: {:?}",
            out.batch_item_failures
        );
        let made = requests_since(&heat, &before);
        let reads: u64 = made
            .iter()
            .filter(|(op, _)| op.starts_with("GetItem") || op.starts_with("BatchGetItem") || op.starts_with("Query"))
            .map(|(_, n)| n)
            .sum();
        assert!(
            reads <= most,
            "{w:?}: {reads} reads for 10 events (at most {most}): {made:?}"
        );
        if w != Worker::Receipts {
            assert!(
                made.iter().all(|(op, _)| op != "GetItem ORDER"),
                "{w:?} read orders its events describe: {made:?}"
            );
        }
    }
    let receipts = mailer.sent().iter().filter(|e| e.kind.as_str() == "receipt").count();
    assert_eq!(receipts, 10, "every order's receipt went out");
}

/// DynamoDB only: a storefront order with an idempotency key is one batch read (the
/// products, the customer, the settings and the key's record together) and one
/// transaction; the key is not read a second time on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_placement_is_one_batch_read_and_one_transaction() {
    let Some((app, heat)) = heat_app().await else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let d = demo(&app).await;
    // The first order of the month also reserves a block of order numbers; not this one.
    assert_eq!(burst(&app, &d, 1).await, 1);
    let headers = vec![
        ("authorization".to_owned(), format!("Bearer {}", d.buyer)),
        ("content-type".to_owned(), "application/json".to_owned()),
        ("idempotency-key".to_owned(), "checkout-1".to_owned()),
    ];
    let body = br#"{"items":[{"sku":"WIDGET-001","quantity":1},{"sku":"GADGET-002","quantity":1}]}"#.to_vec();
    let before = requests(&heat);
    let r = app.raw("POST", ORDERS, headers, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let made = requests_since(&heat, &before);
    // The items name SKUs, so they are resolved to product ids first (one read of the SKU
    // claims); then the snapshot, with the key's record in it, and the commit.
    let names: Vec<&str> = made.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(names.len(), 3, "requests to place one order: {made:?}");
    assert!(names.contains(&"BatchGetItem SKU"), "{made:?}");
    assert!(names.contains(&"TransactWriteItems"), "{made:?}");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("BatchGetItem") && n.contains("IDEM") && n.contains("PRODUCT")),
        "{made:?}"
    );
    assert!(made.iter().all(|(_, n)| *n == 1), "{made:?}");
}
