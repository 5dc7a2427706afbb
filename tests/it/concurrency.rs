//! No oversell under any concurrency, and no orphans (brief §3).

use serde_json::json;
use std::sync::Arc;

use oms_tests::{on_both_adapters, Counts, TestApp};

use crate::support::{demo, ORDERS};

on_both_adapters!(
    fifty_concurrent_orders_for_ten_units_sell_exactly_ten,
    multi_line_orders_under_contention_commit_whole_or_not_at_all,
    concurrent_edits_and_orders_lose_neither,
);

async fn create_product(app: &TestApp, owner: &str, sku: &str, stock: u32) -> String {
    let r = app
        .call(
            "POST",
            "/api/v1/products",
            owner,
            Some(json!({"sku": sku, "name": sku, "price": "5.00", "stock": stock})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().expect("id").to_owned()
}

async fn fifty_concurrent_orders_for_ten_units_sell_exactly_ten(app: TestApp) {
    let d = demo(&app).await;
    let id = create_product(&app, &d.owner, "HOT-1", 10).await;
    let before = app.counts(&d.t.company).await;
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (app, token, id) = (app.clone(), d.buyer.clone(), id.clone());
            tokio::spawn(async move {
                app.call(
                    "POST",
                    ORDERS,
                    &token,
                    Some(json!({"items": [{"product_id": id, "quantity": 1}]})),
                )
                .await
            })
        })
        .collect();
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        let r = t.await.expect("task");
        match r.status.as_u16() {
            201 => created += 1,
            409 => {
                assert_eq!(r.code(), "insufficient_stock", "{}", r.body);
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!((created, refused), (10, 40));
    let p = app.call("GET", &format!("/api/v1/products/{id}"), &d.owner, None).await;
    assert_eq!(p.body["data"]["stock"], 0);
    let after = app.counts(&d.t.company).await;
    let added = Counts {
        orders: after.orders - before.orders,
        order_numbers: after.order_numbers - before.order_numbers,
        order_audit: after.order_audit - before.order_audit,
        outbox: after.outbox - before.outbox,
    };
    assert_eq!(
        added,
        Counts {
            orders: 10,
            order_numbers: 10,
            order_audit: 10,
            outbox: 10
        },
        "no orphans"
    );
}

async fn multi_line_orders_under_contention_commit_whole_or_not_at_all(app: TestApp) {
    let d = demo(&app).await;
    let scarce = create_product(&app, &d.owner, "SCARCE", 7).await;
    let plenty = create_product(&app, &d.owner, "PLENTY", 1000).await;
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (app, token, a, b) = (app.clone(), d.buyer.clone(), scarce.clone(), plenty.clone());
            tokio::spawn(async move {
                let body = json!({"items": [{"product_id": b, "quantity": 3}, {"product_id": a, "quantity": 1}]});
                app.call("POST", ORDERS, &token, Some(body)).await.status.as_u16()
            })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        match t.await.expect("task") {
            201 => created += 1,
            409 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(created, 7);
    let stock = |id: String| {
        let app = app.clone();
        let owner = d.owner.clone();
        async move {
            app.call("GET", &format!("/api/v1/products/{id}"), &owner, None)
                .await
                .body["data"]["stock"]
                .clone()
        }
    };
    assert_eq!(stock(scarce).await, 0);
    assert_eq!(
        stock(plenty).await,
        1000 - 7 * 3,
        "refused orders took nothing from the other line"
    );
}

async fn concurrent_edits_and_orders_lose_neither(app: TestApp) {
    let d = demo(&app).await;
    let id = create_product(&app, &d.owner, "BUSY-1", 100).await;
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (app, buyer, owner, id) = (app.clone(), d.buyer.clone(), d.owner.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            if i % 4 == 0 {
                let r = app
                    .call(
                        "PATCH",
                        &format!("/api/v1/products/{id}"),
                        &owner,
                        Some(json!({"description": format!("edit {i}")})),
                    )
                    .await;
                // Two edits racing each other may conflict; an order never makes an edit fail.
                assert!(r.status == 200 || r.code() == "version_conflict", "{}", r.body);
                None
            } else {
                Some(
                    app.call(
                        "POST",
                        ORDERS,
                        &buyer,
                        Some(json!({"items": [{"product_id": id, "quantity": 2}]})),
                    )
                    .await
                    .status
                    .as_u16(),
                )
            }
        }));
    }
    let mut orders = 0;
    for t in tasks {
        if let Some(status) = t.await.expect("task") {
            assert_eq!(status, 201);
            orders += 1;
        }
    }
    let p = app.call("GET", &format!("/api/v1/products/{id}"), &d.owner, None).await;
    assert_eq!(p.body["data"]["stock"], 100 - 2 * orders);
    assert!(p.body["data"]["description"]
        .as_str()
        .is_some_and(|s| s.starts_with("edit ")));
}
