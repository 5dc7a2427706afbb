//! A hot product: its stock spread over several stock shards (`stock_shards`), so a flash
//! sale's orders do not all write one item. Orders fall back across shards and are
//! refused only when the total is short; every read, edit and adjustment sees the total.

use serde_json::{json, Value};

use oms_domain::ids::ProductId;
use oms_tests::{on_both_adapters, TestApp};

use crate::scale::{heat_app, writes_to};
use crate::support::{self, demo, Demo};

on_both_adapters!(
    a_hot_product_never_oversells_and_sells_its_last_unit,
    an_order_larger_than_any_shard_takes_from_several,
    edits_adjustments_and_reads_see_the_total,
    the_shard_count_is_validated,
);

const PRODUCTS: &str = "/api/v1/products";

async fn hot(app: &TestApp, d: &Demo, sku: &str, stock: u32, shards: u32) -> String {
    let r = app
        .call(
            "POST",
            PRODUCTS,
            &d.owner,
            Some(json!({"sku": sku, "name": sku, "price": "2.00", "stock": stock, "stock_shards": shards})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["stock_shards"], shards, "{}", r.body);
    r.body["data"]["id"].as_str().expect("id").to_owned()
}

async fn product(app: &TestApp, d: &Demo, id: &str) -> Value {
    let r = app.call("GET", &format!("{PRODUCTS}/{id}"), &d.staff, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].clone()
}

/// `n` orders of `quantity` at once: how many were placed (the rest must be short).
async fn burst(app: &TestApp, d: &Demo, sku: &str, quantity: i64, n: usize) -> usize {
    support::burst(app, d, sku, quantity, n, "insufficient_stock").await
}

async fn a_hot_product_never_oversells_and_sells_its_last_unit(app: TestApp) {
    let d = demo(&app).await;
    let id = hot(&app, &d, "HOT-1", 10, 4).await;
    // 10 buyers at once for 10 units on 4 shards (3, 3, 2, 2): every one is placed,
    // however the shards empty under them (a buyer whose shard another emptied first is
    // served from another), and then no one more.
    assert_eq!(burst(&app, &d, "HOT-1", 1, 10).await, 10);
    assert_eq!(burst(&app, &d, "HOT-1", 1, 10).await, 0);
    let p = product(&app, &d, &id).await;
    assert_eq!((p["stock"].clone(), p["stock_shards"].clone()), (json!(0), json!(4)));
    // One unit back, wherever it lands, is sold to the next buyer, and only to one.
    let r = app
        .call(
            "POST",
            &format!("{PRODUCTS}/{id}/stock-adjustments"),
            &d.staff,
            Some(json!({"delta": 1, "reason": "found one"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(burst(&app, &d, "HOT-1", 1, 5).await, 1);
    assert_eq!(product(&app, &d, &id).await["stock"], 0);
}

async fn an_order_larger_than_any_shard_takes_from_several(app: TestApp) {
    let d = demo(&app).await;
    let id = hot(&app, &d, "HOT-2", 8, 4).await;
    // 2 units per shard: 7 come from four shards in one order.
    assert_eq!(burst(&app, &d, "HOT-2", 7, 1).await, 1);
    assert_eq!(product(&app, &d, &id).await["stock"], 1);
    assert_eq!(burst(&app, &d, "HOT-2", 2, 1).await, 0, "1 left: 2 is short");
    assert_eq!(burst(&app, &d, "HOT-2", 1, 3).await, 1);
    assert_eq!(product(&app, &d, &id).await["stock"], 0);
}

async fn edits_adjustments_and_reads_see_the_total(app: TestApp) {
    let d = demo(&app).await;
    let id = hot(&app, &d, "HOT-3", 20, 5).await;
    let adjust_path = format!("{PRODUCTS}/{id}/stock-adjustments");
    let adjust = |delta: i64| {
        app.call(
            "POST",
            &adjust_path,
            &d.staff,
            Some(json!({"delta": delta, "reason": "count"})),
        )
    };
    // 7 out of shards of 4: from two of them.
    let r = adjust(-7).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["product"]["stock"], 13, "{}", r.body);
    let path = format!("{PRODUCTS}/{id}");
    let edit = |body: Value| app.call("PATCH", &path, &d.owner, Some(body));
    let r = edit(json!({"stock": 40, "expected_stock": 20})).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "stock_changed"), "{}", r.body);
    let r = edit(json!({"stock": 40, "expected_stock": 13})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["stock"], 40);
    // Fewer shards: the stock is carried over whole.
    let r = edit(json!({"stock_shards": 2})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["data"]["stock"].clone(), r.body["data"]["stock_shards"].clone()),
        (json!(40), json!(2))
    );
    let r = adjust(5).await;
    assert_eq!(r.body["data"]["product"]["stock"], 45, "{}", r.body);
    let list = app.call("GET", &format!("{PRODUCTS}?q=hot-3"), &d.staff, None).await;
    assert_eq!(list.body["data"][0]["stock"], 45, "{}", list.body);
    let all = app
        .call("GET", &format!("{PRODUCTS}?per_page=100"), &d.staff, None)
        .await;
    let listed = all.body["data"].as_array().cloned().unwrap_or_default();
    assert!(
        listed.iter().any(|p| p["id"] == id.as_str() && p["stock"] == 45),
        "{}",
        all.body
    );
    // More shards again, then the whole stock sells in one order.
    let r = edit(json!({"stock_shards": 16})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(burst(&app, &d, "HOT-3", 45, 1).await, 1);
    assert_eq!(product(&app, &d, &id).await["stock"], 0);
    let p = app
        .store()
        .get_product(&d.t.company, ProductId::parse(&id).expect("id"))
        .await
        .expect("read")
        .expect("product");
    assert_eq!(p.stock, 0);
}

async fn the_shard_count_is_validated(app: TestApp) {
    let d = demo(&app).await;
    for bad in [json!(0), json!(17), json!(-1), json!("4"), json!(2.5)] {
        let r = app
            .call(
                "POST",
                PRODUCTS,
                &d.owner,
                Some(json!({"sku": "HOT-BAD", "name": "x", "price": "1.00", "stock_shards": bad})),
            )
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    let id = hot(&app, &d, "HOT-4", 3, 2).await;
    let r = app
        .call(
            "PATCH",
            &format!("{PRODUCTS}/{id}"),
            &d.owner,
            Some(json!({"stock_shards": 0})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // A clerk who may adjust stock but not edit the catalog may not mark a product hot.
    let r = app
        .call(
            "PATCH",
            &format!("{PRODUCTS}/{id}"),
            &d.staff,
            Some(json!({"stock_shards": 4})),
        )
        .await;
    assert!(matches!(r.status.as_u16(), 200 | 403), "{}", r.body);
    assert_eq!(product(&app, &d, &id).await["stock"], 3);
}

/// A flash sale on one hot SKU: its orders' transactions spread over its shards, and
/// nothing after its creation writes the product item. With one stock item (or the stock on the product item), every
/// order wrote it. DynamoDB only: the memory store has no items.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hot_skus_sales_spread_over_its_shards() {
    let Some((app, heat)) = heat_app().await else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let d = demo(&app).await;
    let id = hot(&app, &d, "HOT-5", 1_000, 8).await;
    for _ in 0..5 {
        assert_eq!(burst(&app, &d, "HOT-5", 1, 8).await, 8);
    }
    let stock = writes_to(&heat, |pk, _| pk.contains("#STOCK#"));
    let product: std::collections::BTreeMap<String, u64> = writes_to(&heat, |_, sk| sk == "PRODUCT")
        .into_iter()
        .filter(|(k, _)| k.contains(&id))
        .collect();
    let busiest = stock.values().copied().max().unwrap_or(0);
    assert!(stock.values().sum::<u64>() >= 40, "{stock:?}");
    assert!(busiest <= 20, "one shard took {busiest} of 40 orders: {stock:?}");
    // Only its creation wrote it: orders write shards, and the reindex after them writes
    // the small stock-level entry (before, every order's transaction wrote the product
    // item: 40, and the reindex again when its level moved).
    assert!(product.values().sum::<u64>() <= 1, "the product item took {product:?}");
}

/// Shards drained unevenly are evened out in the background (the jobs worker's reindex
/// after an order): half the difference moves from the fullest to the emptiest, the total
/// unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uneven_shards_are_rebalanced() {
    let Some((app, _)) = heat_app().await else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let d = demo(&app).await;
    let id = ProductId::parse(&hot(&app, &d, "HOT-6", 16, 4).await).expect("id");
    // 4 units in one order come from one shard that holds them all: it is left empty.
    assert_eq!(burst(&app, &d, "HOT-6", 4, 1).await, 1);
    let read = || async {
        app.store()
            .get_product(&d.t.company, id)
            .await
            .expect("read")
            .expect("product")
    };
    // (The jobs worker may have rebalanced already; once more changes nothing then.)
    app.store().reindex_product(&d.t.company, id).await.expect("reindex");
    let after = read().await;
    assert_eq!(after.stock, 12);
    assert!(after.shards.iter().all(|s| s.stock >= 2), "{:?}", after.shards);
}

/// DynamoDB only (the in-memory store derives its index on every read): sales and the
/// re-derivations they trigger, all at once and finishing in any order. One that loses to
/// a newer write (the stock-level entry written from a later read, a rebalance that found
/// its units sold) loses quietly, not as an error the jobs worker would retry and then
/// dead-letter; when all are done, the entries are the final stock's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rederivations_lose_quietly_and_leave_the_final_level() {
    let Some(app) = TestApp::dynamo().await else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let d = demo(&app).await;
    let id = hot(&app, &d, "HOT-7", 300, 4).await;
    let pid = oms_domain::ids::ProductId::parse(&id).expect("id");
    for round in 0..3 {
        let tasks = (0..12).map(|i| {
            let (app, d) = (&app, &d);
            async move {
                let r = app
                    .call(
                        "POST",
                        support::ORDERS,
                        &d.buyer,
                        Some(support::items(&[("HOT-7", 1 + (i % 3))])),
                    )
                    .await;
                assert_eq!(r.status, 201, "{}", r.body);
                // Each sale's re-derivation, and a stray late one for good measure.
                for _ in 0..2 {
                    app.store().reindex_product(&d.t.company, pid).await.expect("reindex");
                }
            }
        });
        futures_util::future::join_all(tasks).await;
        app.assert_product_index_matches(&d.t.company, &id).await;
        let stock = product(&app, &d, &id).await["stock"].as_i64().expect("stock");
        assert_eq!(stock, 300 - 24 * (round + 1), "round {round}");
    }
}
