//! The sample events in `events/` replayed through the handlers exactly as Lambda would
//! deliver them (the same `lambda_http` conversion), against the seeded demo tenant.

use lambda_http::request::LambdaRequest;
use serde_json::{json, Value};
use std::path::PathBuf;

use oms_api::routes::{dispatch, ROUTES};
use oms_domain::integration::IntegrationKind::Standard;
use oms_tests::webhooks::sign;
use oms_tests::TEST_LEASE_SECS;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, ORDERS};

on_both_adapters!(
    every_sample_event_succeeds_against_the_demo_tenant,
    the_worker_sample_events_are_handled_without_failures
);

fn event(function: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(format!("{function}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("event file")).expect("event JSON")
}

async fn every_sample_event_succeeds_against_the_demo_tenant(app: TestApp) {
    let d = demo(&app).await;
    // get_order's event names an order id; place that order first under a real id.
    let placed = app
        .call("POST", ORDERS, &d.staff, Some(items(&[("WIDGET-001", 1)])))
        .await;
    let order_id = placed.body["data"]["id"].as_str().expect("id").to_owned();
    // The delivery events name a delivery of the demo Standard integration: a failed one
    // (an unknown SKU), so that retrying it is allowed.
    let standard = d.t.integration(Standard).expect("demo integration");
    let body = json!({"origin_order_id": "EV-1", "customer": {"email": "ev@example.com"},
        "items": [{"sku": "NO-SUCH-SKU", "quantity": 1}]})
    .to_string();
    let headers = sign(
        Standard,
        standard.secret,
        &body,
        "msg_events",
        chrono::Utc::now().timestamp(),
    );
    let r = app.post_webhook(&standard.id.to_string(), headers, &body).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let delivery_id = r.body["data"]["delivery_id"].as_str().expect("id").to_owned();
    app.relay().await;
    let mut functions: Vec<_> = ROUTES.iter().map(|r| r.function).collect();
    functions.dedup();
    // Disabling the demo integration comes last, after its other events ran.
    functions.sort_by_key(|f| *f == "delete_integration");
    let mut import_id = String::new();
    // The payment event names an invoice: make one from another order.
    let billed = app
        .call("POST", ORDERS, &d.staff, Some(items(&[("WIDGET-001", 1)])))
        .await;
    let billed = billed.body["data"]["id"].as_str().expect("id").to_owned();
    let invoice = app
        .call(
            "POST",
            &format!("{ORDERS}/{billed}/children"),
            &d.owner,
            Some(json!({"kind": "invoice"})),
        )
        .await;
    assert_eq!(invoice.status, 201, "{}", invoice.body);
    let invoice_id = invoice.body["data"]["id"].as_str().expect("id").to_owned();
    for function in functions {
        let mut ev = event(function);
        let order_id = match function {
            "record_payment" => invoice_id.clone(),
            _ => order_id.clone(),
        };
        let method = ev["requestContext"]["http"]["method"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // The order events name an order id; point them at the order placed above.
        if ev["rawPath"]
            .as_str()
            .is_some_and(|p| p.starts_with(&format!("{ORDERS}/")))
        {
            let raw = ev["rawPath"]
                .as_str()
                .unwrap_or_default()
                .replace("00000000-0000-4000-8000-00000000a001", &order_id)
                .replace("00000000-0000-4000-8000-00000000d001", &delivery_id);
            ev["pathParameters"]["id"] = Value::from(order_id.clone());
            ev["rawPath"] = Value::from(raw);
        }
        if ev["pathParameters"]["delivery_id"].is_string() {
            let raw = ev["rawPath"]
                .as_str()
                .unwrap_or_default()
                .replace("00000000-0000-4000-8000-00000000d001", &delivery_id);
            ev["pathParameters"]["delivery_id"] = Value::from(delivery_id.clone());
            ev["rawPath"] = Value::from(raw);
        }
        // The import sample names an import: point it at the one the import sample made.
        if function == "get_import" {
            let raw = ev["rawPath"]
                .as_str()
                .unwrap_or_default()
                .replace("00000000-0000-4000-8000-0000000000c1", &import_id);
            ev["pathParameters"]["id"] = Value::from(import_id.clone());
            ev["rawPath"] = Value::from(raw);
        }
        let req: LambdaRequest = serde_json::from_value(ev).expect("a valid API Gateway v2 event");
        let resp = dispatch(app.app(), function, req.into()).await.expect("a handler");
        let status = resp.status().as_u16();
        let expected = match function {
            // Recorded for a worker (a delivery, a retry, an invoice e-mail).
            "receive_webhook" | "retry_delivery" | "email_invoice" => 202,
            "change_order_status"
            | "rotate_integration_secret"
            | "bulk_stock"
            | "activate_product"
            | "deactivate_product" => 200,
            "delete_customer_price" => 204,
            _ if method == "POST" => 201,
            _ => 200,
        };
        let body = match resp.body() {
            lambda_http::Body::Text(t) => t.clone(),
            _ => String::new(),
        };
        assert_eq!(status, expected, "events/{function}.json -> {body}");
        if function == "import_products" {
            let v: Value = serde_json::from_str(&body).expect("JSON");
            import_id = v["data"]["id"].as_str().unwrap_or_default().to_owned();
        }
    }
}

async fn the_worker_sample_events_are_handled_without_failures(app: TestApp) {
    use aws_lambda_events::event::sqs::SqsEvent;
    use oms_domain::usecases::notifications::{NotifyDeps, Worker};
    let d = demo(&app).await;
    let placed = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(items(&[("WIDGET-001", 1), ("BOLT-M8", 1)])),
        )
        .await;
    let order_id = placed.body["data"]["id"].as_str().expect("id").to_owned();
    // The webhook worker's event names a delivery: record the Shopify sample as one.
    let received: LambdaRequest = serde_json::from_value(event("receive_webhook")).expect("an API Gateway event");
    let resp = dispatch(app.app(), "receive_webhook", received.into())
        .await
        .expect("a handler");
    let body = match resp.body() {
        lambda_http::Body::Text(t) => t.clone(),
        _ => String::new(),
    };
    assert_eq!(resp.status().as_u16(), 202, "{body}");
    let delivery: Value = serde_json::from_str(&body).expect("JSON");
    let delivery_id = delivery["data"]["delivery_id"].as_str().expect("id").to_owned();
    let mailer = oms_adapters::mail::MemoryMailer::default();
    let n = NotifyDeps {
        deps: app.app().deps.clone(),
        mailer: std::sync::Arc::new(mailer.clone()),
        lease_secs: TEST_LEASE_SECS,
        documents: None,
    };
    for w in Worker::ALL {
        let mut ev: SqsEvent = serde_json::from_value(event(&format!("{}_worker", w.as_str()))).expect("an SQS event");
        // Point the sample at the order placed above.
        for r in &mut ev.records {
            let body = r
                .body
                .clone()
                .unwrap_or_default()
                .replace("00000000-0000-4000-8000-00000000a001", &order_id)
                .replace("00000000-0000-4000-8000-00000000d001", &delivery_id);
            r.body = Some(body);
        }
        let resp = oms_api::workers::sqs_batch(&n, w, ev).await;
        assert!(
            resp.batch_item_failures.is_empty(),
            "{w:?}: {:?}",
            resp.batch_item_failures
        );
    }
    let kinds: Vec<_> = mailer.sent().iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["receipt", "staff_alert", "low_stock"]);
    // The webhook worker placed the Shopify sample's order.
    let delivery_id = oms_domain::ids::DeliveryId::parse(&delivery_id).expect("id");
    let placed = app
        .store()
        .get_delivery(&d.t.company, delivery_id)
        .await
        .expect("read")
        .expect("delivery");
    assert_eq!(
        placed.status,
        oms_domain::integration::DeliveryStatus::Placed,
        "{placed:?}"
    );
    let relay: serde_json::Value = event("outbox_relay");
    assert_eq!(
        relay["Records"][0]["dynamodb"]["NewImage"]["_type"]["S"], "OUTBOX",
        "matches the stream filter"
    );
    // The stream relay reads the event from the record's image.
    let batch: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(relay).expect("a stream event");
    let image = batch.records[0].change.new_image.clone();
    let event: oms_domain::outbox::OutboxEvent = serde_dynamo::from_item(image).expect("an outbox event image");
    assert!(event.event.placed_order().is_some(), "{event:?}");
}
