//! The store port's contract, run against both adapters: the same inputs give the same
//! answers, and a refused commit writes nothing.

use chrono::Utc;
use serde_json::json;

use oms_domain::audit::{AuditAction, AuditEntry, EntityKind};
use oms_domain::auth::Actor;
use oms_domain::catalog::Sku;
use oms_domain::ids::{EventId, OrderId, ProductId};
use oms_domain::order::{Order, OrderNumber};
use oms_domain::outbox::{EventKind, OutboxEvent};
use oms_domain::ports::{
    CapIncrement, CommitError, CommitRejection, IdempotencyKey, IdempotencyRecord, OrderCommit, PlacementKeys,
    StockDecrement,
};
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, stock, Demo, ORDERS};

on_both_adapters!(
    sku_lookups_ignore_case_and_skip_unknowns,
    the_placement_snapshot_holds_everything_placement_needs,
    settings_default_when_a_company_has_none,
    every_commit_rejection_names_its_rule_and_writes_nothing,
);

async fn sku_lookups_ignore_case_and_skip_unknowns(app: TestApp) {
    let d = demo(&app).await;
    let skus = [
        Sku::parse("widget-001").expect("sku"),
        Sku::parse("Bolt-M8").expect("sku"),
        Sku::parse("NOPE").expect("sku"),
    ];
    let found = app.store().find_skus(&d.t.company, &skus).await.expect("lookup");
    assert_eq!(found.len(), 2);
    assert_eq!(found["WIDGET-001"], d.id("WIDGET-001"));
    assert_eq!(found["BOLT-M8"], d.id("BOLT-M8"));
    let rival = oms_domain::ids::CompanyId::parse("rival").expect("id");
    assert!(app.store().find_skus(&rival, &skus).await.expect("lookup").is_empty());
}

async fn the_placement_snapshot_holds_everything_placement_needs(app: TestApp) {
    let d = demo(&app).await;
    let unknown = ProductId::parse("00000000-0000-4000-8000-0000000000ff").expect("id");
    let snap = app
        .store()
        .load_placement(&PlacementKeys {
            company: d.t.company.clone(),
            products: vec![d.id("WIDGET-001"), d.id("GADGET-002"), unknown],
            customer: Some(d.t.acme),
            idempotency: Some(IdempotencyKey {
                principal: oms_domain::ids::UserId::parse("u").expect("id"),
                key: "k".into(),
            }),
            origin: None,
        })
        .await
        .expect("snapshot");
    assert_eq!(snap.settings.name, "Demo Distributors");
    assert_eq!(snap.products.len(), 2, "unknown products are simply absent");
    assert_eq!(snap.products[&d.id("GADGET-002")].stock, 40);
    assert_eq!(
        snap.customer.as_ref().map(|c| c.customer_number.as_str()),
        Some("CUST-00001")
    );
    assert_eq!(snap.overrides.len(), 1);
    assert_eq!(snap.overrides[&d.id("WIDGET-001")].to_string(), "89.99");
    assert!(snap.idempotency.is_none());
    assert!(snap.origin_order.is_none());
}

async fn settings_default_when_a_company_has_none(app: TestApp) {
    let c = oms_domain::ids::CompanyId::parse("brand-new").expect("id");
    let s = app.store().get_settings(&c).await.expect("settings");
    assert_eq!(s.low_stock_threshold, 5);
    assert!(!s.dashboard_orders_decrement_stock);
    assert_eq!(s.high_value_threshold.to_string(), "10000");
}

fn commit_of(d: &Demo, template: &Order, number: &str) -> OrderCommit {
    let actor = Actor::from_claims("contract", d.t.company.as_str(), "OWNER", None).expect("actor");
    let mut order = template.clone();
    order.id = OrderId::new(uuid::Uuid::new_v4());
    order.order_number = OrderNumber::parse(number).expect("number");
    let now = Utc::now();
    OrderCommit {
        high_value: None,
        audit: AuditEntry::new(
            EventId::new(uuid::Uuid::new_v4()),
            now,
            &actor,
            AuditAction::OrderPlaced,
            EntityKind::Order,
            order.id,
            None,
            None,
            json!({}),
        ),
        outbox: OutboxEvent {
            id: EventId::new(uuid::Uuid::new_v4()),
            company_id: d.t.company.clone(),
            kind: EventKind::OrderPlaced,
            subject: order.id.to_string(),
            occurred_at: now,
            data: json!({}),
        },
        order,
        stock: Vec::new(),
        cap: None,
        idempotency: None,
        origin: None,
    }
}

fn rejection(r: Result<(), CommitError>) -> CommitRejection {
    match r {
        Err(CommitError::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

async fn every_commit_rejection_names_its_rule_and_writes_nothing(app: TestApp) {
    let d = demo(&app).await;
    let placed = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(placed.status, 201);
    let id: OrderId = OrderId::parse(placed.body["data"]["id"].as_str().expect("id")).expect("id");
    let template = app
        .store()
        .get_order(&d.t.company, id)
        .await
        .expect("read")
        .expect("order");
    let before = app.counts(&d.t.company).await;
    let store = app.store();

    let dup = commit_of(&d, &template, template.order_number.as_str());
    assert!(matches!(
        rejection(store.commit_order(&dup).await),
        CommitRejection::OrderNumberTaken(_)
    ));

    let mut short = commit_of(&d, &template, "C-SHORT");
    short.stock = vec![
        StockDecrement {
            product_id: d.id("WIDGET-001"),
            quantity: 5,
        },
        StockDecrement {
            product_id: d.id("BOLT-M8"),
            quantity: 4,
        },
        StockDecrement {
            product_id: d.id("GADGET-002"),
            quantity: 41,
        },
    ];
    match rejection(store.commit_order(&short).await) {
        CommitRejection::InsufficientStock(mut lines) => {
            lines.sort();
            let mut expected = vec![(d.id("BOLT-M8"), 3), (d.id("GADGET-002"), 40)];
            expected.sort();
            assert_eq!(lines, expected);
        }
        other => panic!("{other:?}"),
    }

    let mut inactive = commit_of(&d, &template, "C-INACTIVE");
    inactive.stock = vec![StockDecrement {
        product_id: d.id("OLD-GIZMO"),
        quantity: 1,
    }];
    assert!(
        matches!(rejection(store.commit_order(&inactive).await), CommitRejection::ProductUnavailable(p) if p == d.id("OLD-GIZMO"))
    );

    let mut capped = commit_of(&d, &template, "C-CAP");
    capped.cap = Some(CapIncrement {
        month: template.cap_month.clone().expect("counted"),
        limit: Some(1),
    });
    assert!(matches!(
        rejection(store.commit_order(&capped).await),
        CommitRejection::MonthlyCapReached { limit: 1 }
    ));

    let key = IdempotencyKey {
        principal: oms_domain::ids::UserId::parse("u1").expect("id"),
        key: "same".into(),
    };
    let mut first = commit_of(&d, &template, "C-IDEM-1");
    first.idempotency = Some((
        key.clone(),
        IdempotencyRecord {
            request_hash: "h".into(),
            order: first.order.clone(),
            created_at: Utc::now(),
        },
    ));
    store.commit_order(&first).await.expect("first commit");
    let mut second = commit_of(&d, &template, "C-IDEM-2");
    second.idempotency = Some((
        key.clone(),
        IdempotencyRecord {
            request_hash: "h".into(),
            order: second.order.clone(),
            created_at: Utc::now(),
        },
    ));
    assert!(matches!(
        rejection(store.commit_order(&second).await),
        CommitRejection::IdempotencyKeyTaken
    ));
    let rec = store
        .get_idempotency(&d.t.company, &key)
        .await
        .expect("read")
        .expect("record");
    assert_eq!(rec.order.id, first.order.id);

    let after = app.counts(&d.t.company).await;
    assert_eq!(
        after.orders,
        before.orders + 1,
        "only the one accepted commit wrote an order"
    );
    assert_eq!(after.order_numbers, before.order_numbers + 1);
    assert_eq!(after.outbox, before.outbox + 1);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 119);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 3);
    assert_eq!(stock(&app, &d, "GADGET-002").await, 40);
}

/// The in-memory store is all or nothing like a transaction: it does every fallible step
/// (here, counters that would overflow) before it mutates anything, so a refused commit
/// leaves no stock taken, no idempotency record and no order behind.
#[tokio::test]
async fn memory_store_fails_a_commit_before_it_mutates_anything() {
    let app = TestApp::memory().await;
    let d = demo(&app).await;
    let placed = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(placed.status, 201);
    let id = OrderId::parse(placed.body["data"]["id"].as_str().expect("id")).expect("id");
    let template = app
        .store()
        .get_order(&d.t.company, id)
        .await
        .expect("read")
        .expect("order");
    let before = app.counts(&d.t.company).await;
    let overflowing = || oms_domain::order::query::HighValueDelta {
        threshold: rust_decimal::Decimal::ZERO,
        customer: None,
        changes: vec![(template.status, 1, rust_decimal::Decimal::MAX)],
    };
    let mut first = commit_of(&d, &template, "C-MAX-1");
    first.high_value = Some(overflowing());
    app.store().commit_order(&first).await.expect("the first maximum fits");
    let key = IdempotencyKey {
        principal: oms_domain::ids::UserId::parse("u1").expect("id"),
        key: "overflow".into(),
    };
    let mut second = commit_of(&d, &template, "C-MAX-2");
    second.high_value = Some(overflowing());
    second.stock = vec![StockDecrement {
        product_id: d.id("WIDGET-001"),
        quantity: 3,
    }];
    second.idempotency = Some((
        key.clone(),
        IdempotencyRecord {
            request_hash: "h".into(),
            order: second.order.clone(),
            created_at: Utc::now(),
        },
    ));
    assert!(matches!(
        app.store().commit_order(&second).await,
        Err(CommitError::Failed(_))
    ));
    let after = app.counts(&d.t.company).await;
    assert_eq!(after.orders, before.orders + 1, "only the first commit wrote an order");
    assert_eq!(
        stock(&app, &d, "WIDGET-001").await,
        119,
        "the failed commit took no stock"
    );
    assert!(app
        .store()
        .get_idempotency(&d.t.company, &key)
        .await
        .expect("read")
        .is_none());
    // ... and the store still answers its reads.
    let hv = app.call("GET", "/api/v1/sales/orders/high-value", &d.owner, None).await;
    assert_eq!(hv.status, 200, "{}", hv.body);
}
