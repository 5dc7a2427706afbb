//! Outbox relay throughput (`make bench-relay`): `OMS_RELAY_EVENTS` staff orders (default
//! 600) placed on DynamoDB Local, then the sweep relays their events to six queues on
//! moto's SQS (one per worker, as in AWS) until none is pending. Prints events/s and the
//! requests one event cost; checks every event reached every queue once. Exits 1 if not.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use oms_adapters::sqs::SqsPublisher;
use oms_api::workers::relay_until_empty;
use oms_tests::sdk::OpCounter;
use oms_tests::{dynamodb_endpoint, moto_endpoint, TestApp};
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (Some(ddb), Some(moto)) = (dynamodb_endpoint(), moto_endpoint()) else {
        println!("relay bench: needs OMS_TEST_DYNAMODB_ENDPOINT and OMS_TEST_MOTO_ENDPOINT");
        return;
    };
    let n: usize = std::env::var("OMS_RELAY_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let ops = OpCounter::default();
    let app = TestApp::dynamo_with_client(ops.dynamodb(&oms_api::app::sdk_config(Some(&ddb)).await)).await;
    let demo = app.seed_demo().await;
    let staff = app.token(demo.company.as_str(), "STAFF", None);
    // Placed 8 at a time: the relay has nothing to do with how fast this goes.
    let body = json!({"items": [{"sku": "PALLET-JACK", "quantity": 1}]});
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let calls = chunk
            .iter()
            .map(|_| app.call("POST", "/api/v1/sales/orders", &staff, Some(body.clone())));
        for r in futures_util::future::join_all(calls).await {
            assert_eq!(r.status, 201, "{}", r.body);
        }
    }
    let pending = app.store().pending_outbox(10_000, 0).await.expect("pending").len();
    let sqs = oms_api::app::sqs_client(Some(&moto)).await;
    let mut queues = Vec::new();
    for w in oms_domain::usecases::notifications::Worker::ALL {
        let name = format!("rb-{}-{}", w.as_str(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        queues.push(oms_tests::moto_queue(&sqs, &name, 3, 300).await.0);
    }
    let publisher = SqsPublisher::new(ops.sqs(&oms_api::app::sdk_config(Some(&moto)).await), queues.clone());
    ops.take();
    let started = Instant::now();
    let relayed = relay_until_empty(&app.app().deps, &publisher, std::time::Duration::from_secs(600))
        .await
        .expect("relay");
    let took = started.elapsed().as_secs_f64();
    let counts = ops.take();
    let requests: usize = counts.values().sum();
    println!(
        "relay: {relayed} events ({pending} pending) to {} queues in {took:.2} s = {:.0} events/s; {:.2} requests per event ({})",
        queues.len(),
        relayed as f64 / took,
        requests as f64 / relayed.max(1) as f64,
        counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Every event on every queue, once.
    let mut ok = relayed == pending;
    for url in &queues {
        let messages = oms_tests::drain_queue(&sqs, url).await;
        let seen: std::collections::BTreeSet<_> = messages.iter().filter_map(|m| m.body()).collect();
        ok &= messages.len() == pending && seen.len() == pending;
    }
    if !ok {
        println!("relay bench: FAILED (an event is missing from a queue, or was sent twice)");
        std::process::exit(1);
    }
    println!("relay bench: every event reached every queue once");
}
