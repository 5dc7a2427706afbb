//! Nothing lost, nothing doubled: retries, races and lost answers, on both adapters where
//! the race can happen in both.

use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::{json, Value};

use oms_adapters::dynamo::{create_table, DynamoStore};
use oms_api::app::SDK_MAX_ATTEMPTS;
use oms_api::App;
use oms_tests::sdk::{Fault, FaultInjector};
use oms_tests::{dynamodb_endpoint, on_both_adapters, Backend, TestApp};

use crate::support::{demo, stock, ORDERS};

on_both_adapters!(
    concurrent_copies_of_one_keyed_request_yield_one_order,
    a_resent_origin_id_gets_the_existing_order_under_concurrency,
    a_draft_edit_racing_its_placement_never_takes_the_wrong_stock,
);

fn keyed(token: &str, key: &str) -> Vec<(String, String)> {
    vec![
        ("authorization".to_owned(), format!("Bearer {token}")),
        ("content-type".to_owned(), "application/json".to_owned()),
        ("idempotency-key".to_owned(), key.to_owned()),
    ]
}

/// Twelve copies of one request, one `Idempotency-Key` and an explicit order number, at
/// once: one order, and every answer is that order (the first response, replayed).
async fn concurrent_copies_of_one_keyed_request_yield_one_order(app: TestApp) {
    let d = demo(&app).await;
    let body =
        json!({"customer_id": d.t.acme, "order_number": "PO-7781", "items": [{"sku": "WIDGET-001", "quantity": 2}]});
    let bytes = serde_json::to_vec(&body).expect("json");
    let calls = (0..12).map(|_| app.raw("POST", ORDERS, keyed(&d.owner, "checkout-7781"), bytes.clone()));
    let replies = join_all(calls).await;
    let ids: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "every copy gets the first response: {}", r.body);
            r.body["data"]["id"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one order: {ids:?}");
    assert_eq!(app.counts(&d.t.company).await.orders, 1);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 118, "taken once");
    // A different body under the same key is refused; a new key with the number is 409.
    let other = serde_json::to_vec(
        &json!({"customer_id": d.t.acme, "order_number": "PO-7781", "items": [{"sku": "WIDGET-001", "quantity": 3}]}),
    )
    .expect("json");
    let r = app
        .raw("POST", ORDERS, keyed(&d.owner, "checkout-7781"), other.clone())
        .await;
    assert_eq!(r.code(), "idempotency_key_reused", "{}", r.body);
    let r = app.raw("POST", ORDERS, keyed(&d.owner, "another-key"), other).await;
    assert_eq!(r.code(), "duplicate_order_number", "{}", r.body);
}

async fn a_resent_origin_id_gets_the_existing_order_under_concurrency(app: TestApp) {
    let d = demo(&app).await;
    let body = json!({"customer_id": d.t.globex, "origin_order_id": "SHOP-555", "order_number": "SHOP-555",
        "items": [{"sku": "GADGET-002", "quantity": 1}]});
    let calls = (0..12).map(|_| app.call("POST", ORDERS, &d.integration, Some(body.clone())));
    let replies = join_all(calls).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let ids: std::collections::BTreeSet<&str> = replies
        .iter()
        .map(|r| {
            assert!(r.status == 201 || r.status == 200, "{}", r.body);
            r.body["data"]["id"].as_str().unwrap_or_default()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.counts(&d.t.company).await.orders, 1);
    assert_eq!(stock(&app, &d, "GADGET-002").await, 39);
}

/// A draft's lines swapped while it is being placed: whichever lands first, the stock
/// taken is the stock of the lines the order ends up with, and a restocking cancel gives
/// back exactly what was taken.
async fn a_draft_edit_racing_its_placement_never_takes_the_wrong_stock(app: TestApp) {
    let d = demo(&app).await;
    let (a, b) = ("WIDGET-001", "GADGET-002");
    let (a0, b0) = (stock(&app, &d, a).await, stock(&app, &d, b).await);
    for trial in 0..25 {
        let draft = app
            .call(
                "POST",
                ORDERS,
                &d.owner,
                Some(json!({"customer_id": d.t.acme, "status": "draft", "items": [{"sku": a, "quantity": 1}]})),
            )
            .await;
        assert_eq!(draft.status, 201, "{}", draft.body);
        let id = draft.body["data"]["id"].as_str().unwrap_or_default().to_owned();
        let path = format!("{ORDERS}/{id}");
        let swap = app.call(
            "PATCH",
            &path,
            &d.owner,
            Some(json!({"items": [{"sku": b, "quantity": 1}]})),
        );
        let status_path = format!("{path}/status");
        let place = app.call("POST", &status_path, &d.owner, Some(json!({"status": "confirmed"})));
        let (swapped, placed) = futures_util::join!(swap, place);
        assert!(placed.status == 200, "trial {trial}: {}", placed.body);
        assert!(
            swapped.status == 200 || swapped.code() == "validation_error",
            "trial {trial}: the edit lands first or is refused as no longer a draft: {}",
            swapped.body
        );
        let order = app.call("GET", &path, &d.owner, None).await.body["data"].clone();
        let sku = order["items"][0]["sku"].as_str().unwrap_or_default().to_owned();
        let (da, db) = (a0 - stock(&app, &d, a).await, b0 - stock(&app, &d, b).await);
        let expected = if sku == a { (1, 0) } else { (0, 1) };
        assert_eq!(
            (da, db),
            expected,
            "trial {trial}: the order ships {sku}; stock taken (A, B) = {:?}",
            (da, db)
        );
        let cancel = app
            .call(
                "POST",
                &format!("{path}/status"),
                &d.owner,
                Some(json!({"status": "cancelled", "cancellation_reason": "trial", "restock": true})),
            )
            .await;
        assert_eq!(cancel.status, 200, "{}", cancel.body);
        assert_eq!(
            (stock(&app, &d, a).await, stock(&app, &d, b).await),
            (a0, b0),
            "trial {trial}: restocked exactly"
        );
    }
}

/// A DynamoDB store whose client loses answers as told.
async fn with_faults() -> Option<(TestApp, FaultInjector)> {
    let endpoint = dynamodb_endpoint()?;
    let faults = FaultInjector::default();
    let config = oms_api::app::sdk_config(Some(&endpoint)).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(faults.clone())
            .build(),
    );
    let table = format!("oms-faults-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table).await.expect("table");
    let store = DynamoStore::new(client, table);
    let app = TestApp::from_app(
        App::new(Arc::new(store.clone()), b"faults-cursor-secret"),
        Backend::Dynamo(store),
    );
    Some((app, faults))
}

/// A table throttled past every one of the SDK's attempts answers `503 contention` with
/// `Retry-After` (a busy table, retry), not a 500, and nothing is written; the next
/// request goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_past_the_sdk_retries_is_a_retryable_503() {
    let Some((app, faults)) = with_faults().await else {
        return;
    };
    let d = demo(&app).await;
    let before = app.counts(&d.t.company).await;
    let order = json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]});
    faults.next("BatchGetItem", Fault::Throttling, SDK_MAX_ATTEMPTS);
    let r = app.call("POST", ORDERS, &d.buyer, Some(order.clone())).await;
    assert_eq!((r.status.as_u16(), r.code()), (503, "contention"), "{}", r.body);
    assert!(r.headers.contains_key("retry-after"), "{:?}", r.headers);
    assert_eq!(app.counts(&d.t.company).await, before);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 120);
    // One throttle fewer than the attempts: the SDK absorbs it.
    faults.next("BatchGetItem", Fault::Throttling, SDK_MAX_ATTEMPTS - 1);
    let r = app.call("POST", ORDERS, &d.buyer, Some(order)).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// The order's transaction commits but its answer is lost (DynamoDB says "in progress", or
/// a 500) on every one of the SDK's own attempts, so the store's retry takes over: the
/// caller still hears 201, and exactly one order and one stock move exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_whose_answer_was_lost_is_reported_as_what_happened() {
    let Some((app, faults)) = with_faults().await else {
        return;
    };
    let d = demo(&app).await;
    for (i, fault) in [Fault::TransactionInProgress, Fault::InternalServerError]
        .into_iter()
        .enumerate()
    {
        // Every one of the SDK's attempts is answered by the fault; the store then retries.
        faults.next("TransactWriteItems", fault, SDK_MAX_ATTEMPTS);
        let r = app
            .call(
                "POST",
                ORDERS,
                &d.buyer,
                Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]})),
            )
            .await;
        assert_eq!(r.status, 201, "{fault:?}: {}", r.body);
        assert_eq!(app.counts(&d.t.company).await.orders, i + 1, "{fault:?}: one order");
        assert_eq!(
            stock(&app, &d, "WIDGET-001").await,
            119 - i as u32,
            "{fault:?}: taken once"
        );
    }
    assert_eq!(faults.injected(), u64::from(2 * SDK_MAX_ATTEMPTS));
    // An order change whose answer was lost is reported as done too.
    let placed = app
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(json!({"customer_id": d.t.acme, "items": [{"sku": "BOLT-M8", "quantity": 1}]})),
        )
        .await;
    let id = placed.body["data"]["id"].as_str().unwrap_or_default().to_owned();
    faults.next("TransactWriteItems", Fault::TransactionInProgress, SDK_MAX_ATTEMPTS);
    let r = app
        .call(
            "POST",
            &format!("{ORDERS}/{id}/status"),
            &d.owner,
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["status"], Value::from("confirmed"));
}
