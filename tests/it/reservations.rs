//! The reservation stock policy (SPEC §10, §11): with `stock_policy:
//! "reserve_on_confirm"`, placing only checks what is available, confirming reserves
//! (units out of `stock`, into `reserved`), shipping takes them for good, cancelling puts
//! them back; each in the status change's own transaction. The concurrency scenarios are
//! the placement policy's (tests/it/concurrency.rs), moved to the confirm.

use futures_util::future::join_all;
use serde_json::{json, Value};

use oms_domain::order::OrderStatus::{self, *};
use oms_tests::{on_both_adapters, Reply, TestApp};

use crate::support::{demo, items, stock_policy, to, Demo, ORDERS};

on_both_adapters!(
    confirming_reserves_shipping_takes_and_cancelling_releases,
    placement_and_confirmation_count_what_is_available,
    concurrent_confirms_never_reserve_more_than_there_is,
    a_hot_products_reservations_survive_its_shards_changing,
    a_reserved_order_raced_by_ship_and_cancel_moves_its_units_once,
    stock_edits_racing_confirms_lose_neither,
    a_policy_switch_applies_to_each_order_from_its_next_step,
    the_low_and_out_lists_count_what_is_available,
);

async fn product(app: &TestApp, d: &Demo, sku: &str, stock: u32) -> String {
    let body = json!({"sku": sku, "name": format!("Part {sku}"), "price": "4.00", "stock": stock});
    let r = app.call("POST", "/api/v1/products", &d.owner, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().expect("id").to_owned()
}

/// The product's (stock, available, reserved) as the API shows it.
async fn levels(app: &TestApp, d: &Demo, id: &str) -> (u64, u64, u64) {
    let r = app.call("GET", &format!("/api/v1/products/{id}"), &d.owner, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let n = |f: &str| r.body["data"][f].as_u64().unwrap_or_else(|| panic!("{f}: {}", r.body));
    (n("stock"), n("available"), n("reserved"))
}

async fn order(app: &TestApp, d: &Demo, sku: &str, quantity: i64) -> String {
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[(sku, quantity)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().expect("id").to_owned()
}

/// The order's (stock_decremented, stock_reserved).
async fn state(app: &TestApp, d: &Demo, id: &str) -> (bool, bool) {
    let r = app.call("GET", &format!("{ORDERS}/{id}"), &d.owner, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = |f: &str| r.body["data"][f].as_bool().unwrap_or_else(|| panic!("{f}: {}", r.body));
    (b("stock_decremented"), b("stock_reserved"))
}

async fn step(app: &TestApp, d: &Demo, id: &str, s: OrderStatus) -> Reply {
    to(app, &d.owner, id, s).await
}

async fn walk(app: &TestApp, d: &Demo, id: &str, path: &[OrderStatus]) {
    for s in path {
        let r = step(app, d, id, *s).await;
        assert_eq!(r.status, 200, "to {s}: {}", r.body);
    }
}

async fn confirming_reserves_shipping_takes_and_cancelling_releases(app: TestApp) {
    let d = demo(&app).await;
    stock_policy(&app, &d, "reserve_on_confirm").await;
    let p = product(&app, &d, "RES-1", 10).await;

    let a = order(&app, &d, "RES-1", 3).await;
    assert_eq!(levels(&app, &d, &p).await, (10, 10, 0), "placing holds nothing");
    assert_eq!(state(&app, &d, &a).await, (false, false));

    walk(&app, &d, &a, &[Confirmed]).await;
    assert_eq!(levels(&app, &d, &p).await, (7, 7, 3), "confirming reserves");
    assert_eq!(state(&app, &d, &a).await, (false, true));
    walk(&app, &d, &a, &[OnHold, Confirmed, Processing]).await;
    assert_eq!(levels(&app, &d, &p).await, (7, 7, 3), "held and resumed: reserved once");
    walk(&app, &d, &a, &[Shipped]).await;
    assert_eq!(
        levels(&app, &d, &p).await,
        (7, 7, 0),
        "shipping takes the reserved units"
    );
    assert_eq!(state(&app, &d, &a).await, (true, false));
    walk(&app, &d, &a, &[Delivered, Completed]).await;
    assert_eq!(levels(&app, &d, &p).await, (7, 7, 0));

    // Cancelling a reserved order releases it whatever `restock_on_cancel` says.
    let b = order(&app, &d, "RES-1", 2).await;
    walk(&app, &d, &b, &[Confirmed, Processing]).await;
    assert_eq!(levels(&app, &d, &p).await, (5, 5, 2));
    walk(&app, &d, &b, &[Cancelled]).await;
    assert_eq!(levels(&app, &d, &p).await, (7, 7, 0), "cancelling releases");
    assert_eq!(state(&app, &d, &b).await, (false, false));

    // A pending order never held anything: its cancel moves nothing.
    let c = order(&app, &d, "RES-1", 4).await;
    walk(&app, &d, &c, &[Cancelled]).await;
    assert_eq!(levels(&app, &d, &p).await, (7, 7, 0));

    // A draft confirmed straight away is placed and reserved in one write.
    let body = json!({"customer_id": d.t.acme, "status": "draft", "items": [{"sku": "RES-1", "quantity": 2}]});
    let r = app.call("POST", ORDERS, &d.staff, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let draft = r.body["data"]["id"].as_str().expect("id").to_owned();
    walk(&app, &d, &draft, &[Confirmed]).await;
    assert_eq!(levels(&app, &d, &p).await, (5, 5, 2));
    walk(&app, &d, &draft, &[Cancelled]).await;
    assert_eq!(levels(&app, &d, &p).await, (7, 7, 0));

    // A confirm back through pending_approval reserves once.
    let e = order(&app, &d, "RES-1", 1).await;
    walk(&app, &d, &e, &[Confirmed, PendingApproval, Confirmed]).await;
    assert_eq!(levels(&app, &d, &p).await, (6, 6, 1));

    // Each step says in its audit entry what it did to the stock.
    let r = app
        .call(
            "GET",
            &format!("/api/v1/audit-log?entity=order&entity_id={b}"),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut steps: Vec<String> = r.body["data"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["summary"]["stock"].as_str().map(str::to_owned))
        .collect();
    steps.sort();
    assert_eq!(steps, ["none", "release", "reserve"], "{}", r.body);
}

async fn placement_and_confirmation_count_what_is_available(app: TestApp) {
    let d = demo(&app).await;
    stock_policy(&app, &d, "reserve_on_confirm").await;
    let p = product(&app, &d, "RES-2", 5).await;
    let a = order(&app, &d, "RES-2", 4).await;
    walk(&app, &d, &a, &[Confirmed]).await;
    assert_eq!(levels(&app, &d, &p).await, (1, 1, 4));

    // Five on the shelf, four of them promised: the storefront may sell one.
    let r = app.call("POST", ORDERS, &d.buyer, Some(items(&[("RES-2", 2)]))).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "insufficient_stock"), "{}", r.body);
    assert!(r.message().contains("Not enough stock"), "{}", r.body);
    let b = order(&app, &d, "RES-2", 1).await;
    let c = order(&app, &d, "RES-2", 1).await;

    // Both were placed against the one available unit; the first confirm holds it.
    walk(&app, &d, &b, &[Confirmed]).await;
    let before = app.call("GET", &format!("{ORDERS}/{c}"), &d.owner, None).await.body;
    let r = step(&app, &d, &c, Confirmed).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "insufficient_stock"), "{}", r.body);
    let after = app.call("GET", &format!("{ORDERS}/{c}"), &d.owner, None).await.body;
    assert_eq!(before, after, "a refused confirm changes nothing");
    assert_eq!(levels(&app, &d, &p).await, (0, 0, 5));
}

async fn concurrent_confirms_never_reserve_more_than_there_is(app: TestApp) {
    let d = demo(&app).await;
    stock_policy(&app, &d, "reserve_on_confirm").await;
    let p = product(&app, &d, "RES-HOT", 10).await;
    let mut orders = Vec::new();
    for _ in 0..30 {
        orders.push(order(&app, &d, "RES-HOT", 1).await);
    }
    assert_eq!(levels(&app, &d, &p).await, (10, 10, 0));
    let replies = join_all(orders.iter().map(|id| step(&app, &d, id, Confirmed))).await;
    let mut confirmed = Vec::new();
    for (id, r) in orders.iter().zip(&replies) {
        match r.status.as_u16() {
            200 => confirmed.push(id.clone()),
            409 => assert_eq!(r.code(), "insufficient_stock", "{}", r.body),
            s => panic!("{s}: {}", r.body),
        }
    }
    assert_eq!(confirmed.len(), 10);
    assert_eq!(levels(&app, &d, &p).await, (0, 0, 10));
    for id in &orders {
        let held = state(&app, &d, id).await.1;
        assert_eq!(held, confirmed.contains(id), "{id}: reserved exactly when confirmed");
    }
}

/// A hot product's units come from any of its shards; the count of what is reserved is
/// on the first, which a change of the shard count keeps.
async fn a_hot_products_reservations_survive_its_shards_changing(app: TestApp) {
    let d = demo(&app).await;
    stock_policy(&app, &d, "reserve_on_confirm").await;
    let body = json!({"sku": "RES-FLASH", "name": "Flash", "price": "2.00", "stock": 12, "stock_shards": 4});
    let r = app.call("POST", "/api/v1/products", &d.owner, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let p = r.body["data"]["id"].as_str().expect("id").to_owned();
    let mut orders = Vec::new();
    for _ in 0..16 {
        orders.push(order(&app, &d, "RES-FLASH", 1).await);
    }
    let replies = join_all(orders.iter().map(|id| step(&app, &d, id, Confirmed))).await;
    let confirmed: Vec<&String> = orders
        .iter()
        .zip(&replies)
        .filter(|(_, r)| r.status == 200)
        .map(|(id, _)| id)
        .collect();
    for r in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(r.code(), "insufficient_stock", "{}", r.body);
    }
    assert_eq!(confirmed.len(), 12);
    assert_eq!(levels(&app, &d, &p).await, (0, 0, 12));

    let r = app
        .call(
            "PATCH",
            &format!("/api/v1/products/{p}"),
            &d.owner,
            Some(json!({"stock_shards": 1})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        levels(&app, &d, &p).await,
        (0, 0, 12),
        "one shard now, the same reservations"
    );
    for (k, id) in confirmed.iter().enumerate() {
        let last = if k % 2 == 0 { Shipped } else { Cancelled };
        walk(&app, &d, id, &[Processing, last]).await;
    }
    assert_eq!(levels(&app, &d, &p).await, (6, 6, 0));
}

async fn a_reserved_order_raced_by_ship_and_cancel_moves_its_units_once(app: TestApp) {
    let d = demo(&app).await;
    stock_policy(&app, &d, "reserve_on_confirm").await;
    let p = product(&app, &d, "RES-RACE", 40).await;
    let mut orders = Vec::new();
    for _ in 0..8 {
        let id = order(&app, &d, "RES-RACE", 2).await;
        walk(&app, &d, &id, &[Confirmed, Processing]).await;
        orders.push(id);
    }
    assert_eq!(levels(&app, &d, &p).await, (24, 24, 16));
    let races = orders.iter().map(|id| async {
        let (ship, cancel) = futures_util::join!(step(&app, &d, id, Shipped), step(&app, &d, id, Cancelled));
        (ship, cancel)
    });
    let mut shipped = 0;
    for (ship, cancel) in join_all(races).await {
        let wins = [&ship, &cancel].iter().filter(|r| r.status == 200).count();
        assert_eq!(wins, 1, "one of the two: {} / {}", ship.body, cancel.body);
        let loser = if ship.status == 200 { &cancel } else { &ship };
        assert_eq!(loser.code(), "invalid_transition", "{}", loser.body);
        shipped += usize::from(ship.status == 200);
    }
    let released = orders.len() - shipped;
    let stock = 24 + 2 * released as u64;
    assert_eq!(levels(&app, &d, &p).await, (stock, stock, 0), "{shipped} shipped");
}

async fn stock_edits_racing_confirms_lose_neither(app: TestApp) {
    let d = demo(&app).await;
    stock_policy(&app, &d, "reserve_on_confirm").await;
    let p = product(&app, &d, "RES-BUSY", 100).await;
    let mut orders = Vec::new();
    for _ in 0..12 {
        orders.push(order(&app, &d, "RES-BUSY", 3).await);
    }
    let confirms = orders.iter().map(|id| step(&app, &d, id, Confirmed));
    let adjust = format!("/api/v1/products/{p}/stock-adjustments");
    let adjustments = (0..6).map(|i| {
        let body = json!({"delta": 5, "reason": format!("delivery {i}")});
        app.call("POST", &adjust, &d.owner, Some(body))
    });
    let (confirms, adjustments) = futures_util::join!(join_all(confirms), join_all(adjustments));
    for r in confirms.iter().chain(&adjustments) {
        assert!(r.status == 200 || r.status == 201, "{}", r.body);
    }
    assert_eq!(levels(&app, &d, &p).await, (100 + 30 - 36, 94, 36));
}

async fn a_policy_switch_applies_to_each_order_from_its_next_step(app: TestApp) {
    let d = demo(&app).await;
    let p = product(&app, &d, "RES-SWITCH", 20).await;
    // Placed under at_placement: taken; confirmed under reserve_on_confirm: not again.
    let taken = order(&app, &d, "RES-SWITCH", 2).await;
    assert_eq!(levels(&app, &d, &p).await, (18, 18, 0));
    stock_policy(&app, &d, "reserve_on_confirm").await;
    walk(&app, &d, &taken, &[Confirmed, Processing, Shipped]).await;
    assert_eq!(levels(&app, &d, &p).await, (18, 18, 0));
    assert_eq!(state(&app, &d, &taken).await, (true, false));

    // Placed under reserve_on_confirm, confirmed under at_placement: taken at the confirm.
    let untouched = order(&app, &d, "RES-SWITCH", 3).await;
    // Reserved under reserve_on_confirm, shipped and cancelled under at_placement.
    let held = order(&app, &d, "RES-SWITCH", 4).await;
    let dropped = order(&app, &d, "RES-SWITCH", 5).await;
    walk(&app, &d, &held, &[Confirmed, Processing]).await;
    walk(&app, &d, &dropped, &[Confirmed]).await;
    assert_eq!(levels(&app, &d, &p).await, (9, 9, 9));
    stock_policy(&app, &d, "at_placement").await;
    walk(&app, &d, &untouched, &[Confirmed]).await;
    assert_eq!(state(&app, &d, &untouched).await, (true, false));
    assert_eq!(levels(&app, &d, &p).await, (6, 6, 9));
    walk(&app, &d, &held, &[Shipped]).await;
    assert_eq!(levels(&app, &d, &p).await, (6, 6, 5));
    walk(&app, &d, &dropped, &[Cancelled]).await;
    assert_eq!(levels(&app, &d, &p).await, (11, 11, 0));

    let r = app
        .call(
            "PATCH",
            "/api/v1/settings",
            &d.owner,
            Some(json!({"stock_policy": "on_ship"})),
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.fields()),
        (422, vec!["stock_policy"]),
        "{}",
        r.body
    );
}

async fn the_low_and_out_lists_count_what_is_available(app: TestApp) {
    let d = demo(&app).await;
    stock_policy(&app, &d, "reserve_on_confirm").await;
    let low = product(&app, &d, "RES-LOW", 8).await;
    let out = product(&app, &d, "RES-OUT", 2).await;
    let a = order(&app, &d, "RES-LOW", 5).await;
    let b = order(&app, &d, "RES-OUT", 2).await;
    app.relay().await;
    let listed = |r: Reply, id: &str| -> Option<Value> {
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
    };
    let low_page = app
        .call("GET", "/api/v1/inventory/low?per_page=100", &d.owner, None)
        .await;
    assert!(listed(low_page, &low).is_none(), "placing holds nothing");
    walk(&app, &d, &a, &[Confirmed]).await;
    walk(&app, &d, &b, &[Confirmed]).await;
    app.relay().await;
    let low_page = app
        .call("GET", "/api/v1/inventory/low?per_page=100", &d.owner, None)
        .await;
    let shown = listed(low_page, &low).expect("low once reserved");
    assert_eq!(
        (shown["available"].clone(), shown["reserved"].clone()),
        (json!(3), json!(5))
    );
    let out_page = app
        .call("GET", "/api/v1/inventory/out?per_page=100", &d.owner, None)
        .await;
    let shown = listed(out_page, &out).expect("out once all reserved");
    assert_eq!(
        (shown["available"].clone(), shown["reserved"].clone()),
        (json!(0), json!(2))
    );
    let health = app.call("GET", "/api/v1/inventory/health", &d.owner, None).await;
    assert_eq!(
        health.body["data"]["stock_policy"], "reserve_on_confirm",
        "{}",
        health.body
    );
}
