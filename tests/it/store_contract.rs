//! The store port's contract, run against both adapters: the same inputs give the same
//! answers, and a refused commit writes nothing. `commit(plan)` is driven directly, with
//! plans built here, including its time rules (idempotency expiry on the plan's clock)
//! and its race rule (a change derived from an older version is refused).

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use oms_domain::audit::{AuditAction, AuditEntry, EntityKind};
use oms_domain::auth::Actor;
use oms_domain::catalog::Sku;
use oms_domain::ids::{EventId, OrderId, ProductId};
use oms_domain::order::{Order, OrderNumber, OrderStatus};
use oms_domain::outbox::{DomainEvent, OrderUpdated, OutboxEvent};
use oms_domain::plan::{CapIncrement, Claim, EffectPlan, OrderWrite, ParentWrite, StockMove};
use oms_domain::ports::{CommitError, CommitRejection, IdempotencyKey, IdempotencyRecord, OriginKey, PlacementKeys};
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, stock, Demo, ORDERS};

on_both_adapters!(
    sku_lookups_ignore_case_and_skip_unknowns,
    the_placement_snapshot_holds_everything_placement_needs,
    settings_default_when_a_company_has_none,
    every_commit_rejection_names_its_rule_and_writes_nothing,
    a_retried_claim_is_reported_before_the_others,
    idempotency_records_expire_after_24_hours_on_the_plans_clock,
    a_change_derived_from_an_older_version_is_refused_and_writes_nothing,
    a_child_whose_parent_moved_is_refused_and_writes_nothing,
    releasing_more_than_is_reserved_is_refused_and_writes_nothing,
    putting_back_stock_of_a_missing_product_is_refused_on_both,
    a_stock_set_derived_from_a_moved_stock_is_refused,
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
            at: Utc::now(),
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

fn actor(d: &Demo) -> Actor {
    Actor::from_claims("contract", d.t.company.as_str(), "OWNER", None).expect("actor")
}

fn audit_of(d: &Demo, order: &Order, at: DateTime<Utc>) -> AuditEntry {
    AuditEntry::new(
        EventId::new(uuid::Uuid::new_v4()),
        at,
        &actor(d),
        AuditAction::OrderPlaced,
        EntityKind::Order,
        order.id,
        None,
        None,
        json!({}),
    )
}

fn event_of(order: &Order, at: DateTime<Utc>) -> OutboxEvent {
    OutboxEvent {
        id: EventId::new(uuid::Uuid::new_v4()),
        company_id: order.company_id.clone(),
        subject: order.id.to_string(),
        occurred_at: at,
        event: DomainEvent::OrderUpdated(OrderUpdated {
            order_id: order.id,
            order_number: order.order_number.clone(),
            customer_id: order.customer_id,
            status: order.status,
            fields: Vec::new(),
        }),
    }
}

/// A plan creating a copy of `template` under a new id and `number`, claiming the number.
fn create_plan(d: &Demo, template: &Order, number: &str, at: DateTime<Utc>) -> EffectPlan {
    let mut order = template.clone();
    order.id = OrderId::new(uuid::Uuid::new_v4());
    order.order_number = OrderNumber::parse(number).expect("number");
    EffectPlan {
        company: d.t.company.clone(),
        stock: Vec::new(),
        cap: None,
        high_value: None,
        claims: vec![Claim::OrderNumber(order.order_number.clone())],
        audit: audit_of(d, &order, at),
        event: event_of(&order, at),
        order: OrderWrite::Create(Box::new(order)),
        at,
        parent: None,
    }
}

fn with_key(mut plan: EffectPlan, key: &IdempotencyKey) -> EffectPlan {
    let record = IdempotencyRecord {
        request_hash: "h".into(),
        order: plan.order().clone(),
        created_at: plan.at,
    };
    plan.claims.push(Claim::Idempotency(key.clone(), Box::new(record)));
    plan
}

fn rejection(r: Result<Order, CommitError>) -> CommitRejection {
    match r {
        Err(CommitError::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

async fn placed(app: &TestApp, d: &Demo) -> Order {
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id: OrderId = OrderId::parse(r.body["data"]["id"].as_str().expect("id")).expect("id");
    app.store()
        .get_order(&d.t.company, id)
        .await
        .expect("read")
        .expect("order")
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey {
        principal: oms_domain::ids::UserId::parse("u1").expect("id"),
        key: k.into(),
    }
}

async fn every_commit_rejection_names_its_rule_and_writes_nothing(app: TestApp) {
    let d = demo(&app).await;
    let template = placed(&app, &d).await;
    let before = app.counts(&d.t.company).await;
    let store = app.store();
    let now = Utc::now();

    let dup = create_plan(&d, &template, template.order_number.as_str(), now);
    assert!(matches!(
        rejection(store.commit(&dup).await),
        CommitRejection::OrderNumberTaken(_)
    ));

    let take = |sku: &str, quantity| StockMove::Take {
        product_id: d.id(sku),
        quantity,
        shard: 0,
    };
    let mut short = create_plan(&d, &template, "C-SHORT", now);
    short.stock = vec![take("WIDGET-001", 5), take("BOLT-M8", 4), take("GADGET-002", 41)];
    match rejection(store.commit(&short).await) {
        CommitRejection::InsufficientStock(mut lines) => {
            lines.sort();
            let mut expected = vec![(d.id("BOLT-M8"), 3), (d.id("GADGET-002"), 40)];
            expected.sort();
            assert_eq!(lines, expected);
        }
        other => panic!("{other:?}"),
    }

    let mut inactive = create_plan(&d, &template, "C-INACTIVE", now);
    inactive.stock = vec![take("OLD-GIZMO", 1)];
    assert!(
        matches!(rejection(store.commit(&inactive).await), CommitRejection::ProductUnavailable(p) if p == d.id("OLD-GIZMO"))
    );

    let mut capped = create_plan(&d, &template, "C-CAP", now);
    capped.cap = Some(CapIncrement {
        month: template.cap_month.clone().expect("counted"),
        limit: Some(1),
    });
    assert!(matches!(
        rejection(store.commit(&capped).await),
        CommitRejection::MonthlyCapReached { limit: 1 }
    ));

    let first = with_key(create_plan(&d, &template, "C-IDEM-1", now), &key("same"));
    let first_id = first.order().id;
    store.commit(&first).await.expect("first commit");
    let second = with_key(create_plan(&d, &template, "C-IDEM-2", now), &key("same"));
    assert!(matches!(
        rejection(store.commit(&second).await),
        CommitRejection::IdempotencyKeyTaken
    ));
    let rec = store
        .get_idempotency(&d.t.company, &key("same"), now)
        .await
        .expect("read")
        .expect("record");
    assert_eq!(rec.order.id, first_id);

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

/// When a retried request's plan meets several taken claims, the retry is what is
/// reported: idempotency before origin before order number, whatever their order in the
/// transaction.
async fn a_retried_claim_is_reported_before_the_others(app: TestApp) {
    let d = demo(&app).await;
    let template = placed(&app, &d).await;
    let store = app.store();
    let now = Utc::now();
    let origin = OriginKey {
        integration_id: "erp".into(),
        origin_order_id: "SO-1".into(),
    };
    let mut first = with_key(create_plan(&d, &template, "C-FIRST", now), &key("k"));
    first.claims.push(Claim::Origin(origin.clone()));
    store.commit(&first).await.expect("first");
    // The same number, origin and key: the key wins.
    let mut again = with_key(create_plan(&d, &template, "C-FIRST", now), &key("k"));
    again.claims.push(Claim::Origin(origin.clone()));
    assert!(matches!(
        rejection(store.commit(&again).await),
        CommitRejection::IdempotencyKeyTaken
    ));
    // The same number and origin under a new key: the origin wins.
    let mut resent = with_key(create_plan(&d, &template, "C-FIRST", now), &key("other"));
    resent.claims.push(Claim::Origin(origin));
    assert!(matches!(
        rejection(store.commit(&resent).await),
        CommitRejection::OriginTaken
    ));
}

async fn idempotency_records_expire_after_24_hours_on_the_plans_clock(app: TestApp) {
    let d = demo(&app).await;
    let template = placed(&app, &d).await;
    let store = app.store();
    // A clock far from the wall clock: expiry follows the plan's time, not the machine's.
    let t0: DateTime<Utc> = "2031-05-01T12:00:00Z".parse().expect("time");
    let first = with_key(create_plan(&d, &template, "C-EXP-1", t0), &key("day"));
    store.commit(&first).await.expect("first");
    let later = t0 + Duration::hours(23);
    assert!(store
        .get_idempotency(&d.t.company, &key("day"), later)
        .await
        .expect("read")
        .is_some());
    let early = with_key(create_plan(&d, &template, "C-EXP-2", later), &key("day"));
    assert!(matches!(
        rejection(store.commit(&early).await),
        CommitRejection::IdempotencyKeyTaken
    ));
    let expired = t0 + Duration::hours(25);
    assert!(store
        .get_idempotency(&d.t.company, &key("day"), expired)
        .await
        .expect("read")
        .is_none());
    let snap = store
        .load_placement(&PlacementKeys {
            company: d.t.company.clone(),
            at: expired,
            products: Vec::new(),
            customer: None,
            idempotency: Some(key("day")),
            origin: None,
        })
        .await
        .expect("snapshot");
    assert!(snap.idempotency.is_none(), "expired in the snapshot too");
    // After its 24 hours the key may be used again, for a new order.
    let reused = with_key(create_plan(&d, &template, "C-EXP-3", expired), &key("day"));
    let reused_id = reused.order().id;
    store.commit(&reused).await.expect("an expired key is taken over");
    let rec = store
        .get_idempotency(&d.t.company, &key("day"), expired)
        .await
        .expect("read")
        .expect("record");
    assert_eq!(rec.order.id, reused_id);
}

async fn a_change_derived_from_an_older_version_is_refused_and_writes_nothing(app: TestApp) {
    let d = demo(&app).await;
    let before = placed(&app, &d).await;
    let store = app.store();
    let now = Utc::now();
    let change = |from: &Order, notes: &str, stock: Vec<StockMove>| {
        let mut after = from.clone();
        after.notes = Some(notes.into());
        after.version = from.version + 1;
        after.updated_at = now;
        EffectPlan {
            company: d.t.company.clone(),
            stock,
            cap: None,
            high_value: None,
            claims: Vec::new(),
            audit: audit_of(&d, from, now),
            event: event_of(from, now),
            order: OrderWrite::Change {
                before: Box::new(from.clone()),
                after: Box::new(after),
                if_match: None,
            },
            at: now,
            parent: None,
        }
    };
    let first = store
        .commit(&change(&before, "first", Vec::new()))
        .await
        .expect("first change");
    assert_eq!(first.version, before.version + 1);
    assert_eq!(first.notes.as_deref(), Some("first"));
    let counts = app.counts(&d.t.company).await;
    // Derived from the version before the first change: refused, naming the order as it is.
    let stale = change(
        &before,
        "stale",
        vec![StockMove::PutBack {
            product_id: d.id("WIDGET-001"),
            quantity: 1,
            shard: 0,
        }],
    );
    match rejection(store.commit(&stale).await) {
        CommitRejection::OrderMoved { current } => {
            assert_eq!(current, Some((OrderStatus::Pending, before.version + 1)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        stock(&app, &d, "WIDGET-001").await,
        119,
        "the refused plan put nothing back"
    );
    assert_eq!(app.counts(&d.t.company).await, counts);
    let now_stored = store
        .get_order(&d.t.company, before.id)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(now_stored.notes.as_deref(), Some("first"));
}

/// A child order's plan writes its parent only if the parent is still at the version the
/// child was derived from (the rule that keeps two children off one parent line): a stale
/// parent refuses the whole plan, the child and its restock included.
async fn a_child_whose_parent_moved_is_refused_and_writes_nothing(app: TestApp) {
    let d = demo(&app).await;
    let parent = placed(&app, &d).await;
    let store = app.store();
    let now = Utc::now();
    let with_child = |from: &Order, number: &str| {
        let mut plan = create_plan(&d, from, number, now);
        plan.stock = vec![StockMove::PutBack {
            product_id: d.id("WIDGET-001"),
            quantity: 1,
            shard: 0,
        }];
        let mut after = from.clone();
        after.notes = Some(format!("child {number}"));
        after.version = from.version + 1;
        after.updated_at = now;
        plan.parent = Some(ParentWrite {
            before: Box::new(from.clone()),
            after: Box::new(after),
        });
        plan
    };
    store
        .commit(&with_child(&parent, "ORD-CHILD-1"))
        .await
        .expect("first child");
    let counts = app.counts(&d.t.company).await;
    let widgets = stock(&app, &d, "WIDGET-001").await;
    // Derived from the parent as it was before the first child.
    match rejection(store.commit(&with_child(&parent, "ORD-CHILD-2")).await) {
        CommitRejection::ParentMoved => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        app.counts(&d.t.company).await,
        counts,
        "no child, claim, audit or event"
    );
    assert_eq!(stock(&app, &d, "WIDGET-001").await, widgets, "no restock");
    let stored = store
        .get_order(&d.t.company, parent.id)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(stored.notes.as_deref(), Some("child ORD-CHILD-1"));
    assert_eq!(stored.version, parent.version + 1);
}

/// Reserved units are released only as far as they are held (`reserved >= n` on the
/// product's first shard): a count out of step fails the whole plan, which writes nothing.
async fn releasing_more_than_is_reserved_is_refused_and_writes_nothing(app: TestApp) {
    let d = demo(&app).await;
    let template = placed(&app, &d).await;
    let store = app.store();
    let now = Utc::now();
    let widget = d.id("WIDGET-001");
    let mut hold = create_plan(&d, &template, "ORD-HOLD-1", now);
    hold.stock = vec![
        StockMove::Take {
            product_id: widget,
            quantity: 2,
            shard: 0,
        },
        StockMove::Hold {
            product_id: widget,
            quantity: 2,
        },
    ];
    store.commit(&hold).await.expect("hold two");
    let held = |app: &TestApp| {
        let store = app.store().clone();
        let c = d.t.company.clone();
        async move {
            let p = store.get_product(&c, widget).await.expect("read").expect("product");
            (p.stock, p.reserved)
        }
    };
    let levels = held(&app).await;
    assert_eq!(levels.1, 2);
    let counts = app.counts(&d.t.company).await;
    let mut release = create_plan(&d, &template, "ORD-RELEASE-3", now);
    release.stock = vec![
        StockMove::PutBack {
            product_id: widget,
            quantity: 3,
            shard: 0,
        },
        StockMove::Release {
            product_id: widget,
            quantity: 3,
        },
    ];
    assert!(
        matches!(store.commit(&release).await, Err(CommitError::Failed(_))),
        "three released where two are held"
    );
    assert_eq!(held(&app).await, levels, "nothing put back, nothing released");
    assert_eq!(app.counts(&d.t.company).await, counts);
}

async fn putting_back_stock_of_a_missing_product_is_refused_on_both(app: TestApp) {
    let d = demo(&app).await;
    let template = placed(&app, &d).await;
    let mut plan = create_plan(&d, &template, "C-GONE", Utc::now());
    let gone = ProductId::parse("00000000-0000-4000-8000-0000000000ee").expect("id");
    plan.stock = vec![StockMove::PutBack {
        product_id: gone,
        quantity: 1,
        shard: 0,
    }];
    assert!(matches!(rejection(app.store().commit(&plan).await), CommitRejection::ProductUnavailable(p) if p == gone));
}

/// The in-memory store is all or nothing like a transaction: it does every fallible step
/// (here, counters that would overflow) before it mutates anything, so a refused commit
/// leaves no stock taken, no idempotency record and no order behind.
#[tokio::test]
async fn memory_store_fails_a_commit_before_it_mutates_anything() {
    let app = TestApp::memory().await;
    let d = demo(&app).await;
    let template = placed(&app, &d).await;
    let before = app.counts(&d.t.company).await;
    let now = Utc::now();
    let overflowing = || oms_domain::order::query::HighValueDelta {
        threshold: rust_decimal::Decimal::ZERO,
        generation: 0,
        customer: None,
        changes: vec![(template.status, 1, rust_decimal::Decimal::MAX)],
    };
    let mut first = create_plan(&d, &template, "C-MAX-1", now);
    first.high_value = Some(overflowing());
    app.store().commit(&first).await.expect("the first maximum fits");
    let mut second = with_key(create_plan(&d, &template, "C-MAX-2", now), &key("overflow"));
    second.high_value = Some(overflowing());
    second.stock = vec![StockMove::Take {
        product_id: d.id("WIDGET-001"),
        quantity: 3,
        shard: 0,
    }];
    assert!(matches!(app.store().commit(&second).await, Err(CommitError::Failed(_))));
    let after = app.counts(&d.t.company).await;
    assert_eq!(after.orders, before.orders + 1, "only the first commit wrote an order");
    assert_eq!(
        stock(&app, &d, "WIDGET-001").await,
        119,
        "the failed commit took no stock"
    );
    assert!(app
        .store()
        .get_idempotency(&d.t.company, &key("overflow"), now)
        .await
        .expect("read")
        .is_none());
    // ... and the store still answers its reads.
    let hv = app.call("GET", "/api/v1/sales/orders/high-value", &d.owner, None).await;
    assert_eq!(hv.status, 200, "{}", hv.body);
}

/// A product edit read at stock 120 that sets 150, while a sale took the stock to 119 in
/// between: the store refuses it with the stock now, and the sale stays.
async fn a_stock_set_derived_from_a_moved_stock_is_refused(app: TestApp) {
    let d = demo(&app).await;
    let store = app.store();
    let before = store
        .get_product(&d.t.company, d.id("WIDGET-001"))
        .await
        .expect("read")
        .expect("product");
    placed(&app, &d).await; // takes one
    let mut after = before.clone();
    after.stock = 150;
    after.version = before.version + 1;
    let audit = AuditEntry::new(
        EventId::new(uuid::Uuid::new_v4()),
        Utc::now(),
        &actor(&d),
        AuditAction::ProductUpdated,
        EntityKind::Product,
        before.id,
        None,
        None,
        json!({}),
    );
    match store.update_product(&before, &after, &audit).await {
        Err(oms_domain::Error::StockChanged { current_stock }) => assert_eq!(current_stock, 119),
        other => panic!("expected stock_changed, got {other:?}"),
    }
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 119);
    // A catalog-only edit from the same read still lands: sales do not move the version.
    let mut renamed = before.clone();
    renamed.name = "Widget, renamed".into();
    renamed.version = before.version + 1;
    store.update_product(&before, &renamed, &audit).await.expect("a rename");
    let now = store
        .get_product(&d.t.company, d.id("WIDGET-001"))
        .await
        .expect("read")
        .expect("product");
    assert_eq!((now.name.as_str(), now.stock), ("Widget, renamed", 119));
}
