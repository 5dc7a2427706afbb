//! One bad event does not stop the others: the outbox relay claims each event, counts its
//! attempts, parks a poison event, keeps concurrent relays from publishing the same event,
//! and relays what the table's stream hands it; on both adapters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::future::join_all;
use serde_json::json;

use oms_domain::ids::EventId;
use oms_domain::outbox::OutboxEvent;
use oms_domain::ports::EventPublisher;
use oms_domain::ports::RelayClaim;
use oms_domain::usecases::relay::{relay_pending, MAX_RELAY_ATTEMPTS, MAX_RELAY_CLAIMS, RELAY_LEASE_SECS};
use oms_tests::{on_both_adapters, Backend, ManualClock, TestApp};

use crate::support::{demo, Demo, ORDERS};

on_both_adapters!(
    a_poison_event_is_parked_after_its_attempts_and_the_rest_flow,
    relays_dying_on_a_healthy_event_do_not_park_it_before_a_crash_loop,
    concurrent_relays_publish_each_event_once,
    a_relay_pass_publishes_its_events_at_once,
    the_stream_relay_publishes_the_records_it_is_handed,
);

/// Counts what it publishes (and the most publishes in flight at once); refuses the
/// events it is told to.
#[derive(Default, Clone)]
struct Counting {
    published: Arc<Mutex<HashMap<EventId, usize>>>,
    poison: Arc<Mutex<Vec<EventId>>>,
    in_flight: Arc<Mutex<(usize, usize)>>,
}

#[async_trait]
impl EventPublisher for Counting {
    async fn publish(&self, event: &OutboxEvent) -> Result<(), oms_domain::Error> {
        if self.poison.lock().expect("lock").contains(&event.id) {
            return Err(oms_domain::Error::internal("the queue refuses this message (injected)"));
        }
        {
            let mut f = self.in_flight.lock().expect("lock");
            f.0 += 1;
            f.1 = f.1.max(f.0);
        }
        // A little time on the wire, so concurrent relays overlap.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        self.in_flight.lock().expect("lock").0 -= 1;
        *self.published.lock().expect("lock").entry(event.id).or_default() += 1;
        Ok(())
    }
}

impl Counting {
    fn counts(&self) -> HashMap<EventId, usize> {
        self.published.lock().expect("lock").clone()
    }
}

async fn orders(app: &TestApp, d: &Demo, n: usize) {
    for _ in 0..n {
        let r = app
            .call(
                "POST",
                ORDERS,
                &d.staff,
                Some(json!({"items": [{"sku": "PALLET-JACK", "quantity": 1}]})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

async fn a_poison_event_is_parked_after_its_attempts_and_the_rest_flow(app: TestApp) {
    let d = demo(&app).await;
    orders(&app, &d, 3).await;
    let clock = ManualClock::at("2031-02-01T09:00:00Z");
    let app = app.with_clock(clock.clone());
    let pending = app.store().pending_outbox(10, 0).await.expect("pending");
    assert_eq!(pending.len(), 3);
    let publisher = Counting::default();
    // Whichever comes first in the sweep is the poison one.
    let poison = pending[0].id;
    publisher.poison.lock().expect("lock").push(poison);
    let deps = &app.app().deps;
    let first = relay_pending(deps, &publisher, 100).await.expect("a pass");
    assert_eq!(
        (first.published, first.failed),
        (2, 1),
        "the failure did not stop the others"
    );
    // Each later pass (after the claim's lease) retries it, until it is parked.
    for minute in 1..=MAX_RELAY_ATTEMPTS {
        clock.set(&format!("2031-02-01T09:{:02}:00Z", minute * 2));
        let r = relay_pending(deps, &publisher, 100).await.expect("a pass");
        let expected = if minute < MAX_RELAY_ATTEMPTS {
            (0, 1, 0)
        } else {
            (0, 0, 1)
        };
        assert_eq!((r.published, r.failed, r.parked), expected, "pass {minute}: {r:?}");
    }
    let parked = app.store().parked_outbox(10).await.expect("parked");
    assert_eq!(parked.iter().map(|e| e.id).collect::<Vec<_>>(), vec![poison]);
    assert!(
        app.store().pending_outbox(10, 0).await.expect("pending").is_empty(),
        "not pending any more"
    );
    clock.set("2031-02-01T10:00:00Z");
    assert_eq!(
        relay_pending(deps, &publisher, 100).await.expect("a pass").seen(),
        0,
        "left alone"
    );
    let counts = publisher.counts();
    assert_eq!(counts.len(), 2);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

/// A relay that dies after claiming an event (killed mid-publish) reports no failure: its
/// claim just expires. More such deaths than failed attempts are allowed before parking,
/// so a healthy event is relayed however often relays die on it; only a crash loop
/// (`MAX_RELAY_CLAIMS` claims, none relayed) parks it.
async fn relays_dying_on_a_healthy_event_do_not_park_it_before_a_crash_loop(app: TestApp) {
    let d = demo(&app).await;
    orders(&app, &d, 2).await;
    let clock = ManualClock::at("2031-03-01T09:00:00Z");
    let app = app.with_clock(clock.clone());
    let store = app.store();
    let pending = store.pending_outbox(10, 0).await.expect("pending");
    let (healthy, looping) = (pending[0].clone(), pending[1].clone());
    let mut at = chrono::DateTime::parse_from_rfc3339("2031-03-01T09:00:00Z")
        .expect("time")
        .to_utc();
    // Twice MAX_RELAY_ATTEMPTS deaths on one, MAX_RELAY_CLAIMS on the other: each claim
    // taken after the last one's lease, none ever relayed.
    for i in 1..=MAX_RELAY_CLAIMS {
        at += chrono::Duration::seconds(RELAY_LEASE_SECS + 1);
        for e in [&healthy, &looping] {
            if e.id == healthy.id && i > 2 * MAX_RELAY_ATTEMPTS {
                continue;
            }
            assert!(matches!(
                store.claim_relay(e, at, RELAY_LEASE_SECS).await.expect("claim"),
                RelayClaim::Claimed { failures: 0, .. }
            ));
        }
    }
    clock.set(&(at + chrono::Duration::seconds(RELAY_LEASE_SECS + 1)).to_rfc3339());
    let publisher = Counting::default();
    let r = relay_pending(&app.app().deps, &publisher, 100).await.expect("a pass");
    assert_eq!((r.published, r.parked), (1, 1), "{r:?}");
    assert_eq!(publisher.counts().keys().collect::<Vec<_>>(), vec![&healthy.id]);
    let parked = store.parked_outbox(10).await.expect("parked");
    assert_eq!(parked.iter().map(|e| e.id).collect::<Vec<_>>(), vec![looping.id]);
}

async fn concurrent_relays_publish_each_event_once(app: TestApp) {
    let d = demo(&app).await;
    orders(&app, &d, 20).await;
    let publisher = Counting::default();
    let deps = &app.app().deps;
    let passes = (0..4).map(|_| relay_pending(deps, &publisher, 100));
    let reports = join_all(passes).await;
    let published: usize = reports.iter().map(|r| r.as_ref().expect("a pass").published).sum();
    assert_eq!(published, 20, "{reports:?}");
    let counts = publisher.counts();
    assert_eq!(counts.len(), 20);
    assert!(counts.values().all(|n| *n == 1), "each event once: {counts:?}");
}

/// A pass does not walk its events one at a time: they are claimed, published and marked
/// together (the relay kept up with about 40 events/s on DynamoDB Local when it did).
async fn a_relay_pass_publishes_its_events_at_once(app: TestApp) {
    let d = demo(&app).await;
    orders(&app, &d, 12).await;
    let publisher = Counting::default();
    let r = relay_pending(&app.app().deps, &publisher, 100).await.expect("a pass");
    assert_eq!(r.published, 12, "{r:?}");
    let most = publisher.in_flight.lock().expect("lock").1;
    assert!(
        most > 1,
        "the pass published one event at a time (at most {most} in flight)"
    );
    assert!(app.store().pending_outbox(100, 0).await.expect("pending").is_empty());
}

/// The stream hands the relay the outbox items just inserted: it relays them from the
/// records' images, and the sweep then finds nothing left.
async fn the_stream_relay_publishes_the_records_it_is_handed(app: TestApp) {
    let d = demo(&app).await;
    orders(&app, &d, 2).await;
    let pending = app.store().pending_outbox(10, 0).await.expect("pending");
    // The stream record of each outbox insert, as DynamoDB Streams delivers it.
    let mut records = Vec::new();
    for e in &pending {
        let image: serde_dynamo::Item = match &app.backend {
            Backend::Dynamo(store) => {
                let key = std::collections::HashMap::from([
                    (
                        "PK".to_owned(),
                        aws_sdk_dynamodb::types::AttributeValue::S(format!("C#{}#OUTBOX#{}", e.company_id, e.id)),
                    ),
                    (
                        "SK".to_owned(),
                        aws_sdk_dynamodb::types::AttributeValue::S("OUTBOX".into()),
                    ),
                ]);
                let item = store
                    .client()
                    .get_item()
                    .table_name(store.table())
                    .set_key(Some(key))
                    .send()
                    .await
                    .expect("get")
                    .item
                    .expect("the outbox item");
                item.into()
            }
            Backend::Memory(_) => {
                let mut item: serde_dynamo::Item = serde_dynamo::to_item(e).expect("item");
                item.insert("_type".into(), serde_dynamo::AttributeValue::S("OUTBOX".into()));
                item
            }
        };
        records.push(json!({
            "eventID": e.id.to_string(), "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {"Keys": {}, "NewImage": serde_json::to_value(&image).expect("json"), "SequenceNumber": "1",
                "SizeBytes": 1, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"
        }));
    }
    // A record that is not an outbox insert is ignored.
    records.push(json!({"eventID": "x", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1", "dynamodb": {"Keys": {}, "SequenceNumber": "2", "SizeBytes": 1, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x"}));
    let batch: aws_lambda_events::event::dynamodb::Event =
        serde_json::from_value(json!({ "Records": records })).expect("a stream event");
    let publisher = Counting::default();
    let r = oms_api::workers::relay_stream(&app.app().deps, &publisher, batch)
        .await
        .expect("relay");
    assert_eq!((r.published, r.failed), (2, 0), "{r:?}");
    assert!(app.store().pending_outbox(10, 0).await.expect("pending").is_empty());
    let swept = relay_pending(&app.app().deps, &publisher, 100).await.expect("sweep");
    assert_eq!(swept.seen(), 0, "the sweep finds nothing left");
    assert!(publisher.counts().values().all(|n| *n == 1));
}
