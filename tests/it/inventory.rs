//! Inventory health (issue 13, part 7) and the index-served `in_stock` filter (part 4),
//! on both adapters: the level counts and the low/out lists (own thresholds and the
//! company's), a company threshold change that needs no rewrite, orders moving products
//! between levels (indexed by the jobs worker), and full `in_stock` pages.

use serde_json::{json, Value};

use oms_domain::ids::CompanyId;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, ORDERS};

on_both_adapters!(
    health_counts_each_level_and_lists_the_low_and_the_out,
    orders_move_a_product_between_levels_once_the_jobs_worker_ran,
    in_stock_pages_are_full_however_the_out_of_stock_interleave,
    concurrent_sales_and_reindexes_leave_the_entries_of_the_last_stock,
    inventory_health_needs_inventory_read,
);

const PRODUCTS: &str = "/api/v1/products";
const HEALTH: &str = "/api/v1/inventory/health";

struct Tenant {
    company: CompanyId,
    owner: String,
}

fn tenant(app: &TestApp) -> Tenant {
    let company = format!("inv-{}", uuid::Uuid::new_v4().simple());
    Tenant {
        owner: app.token(&company, "OWNER", None),
        company: CompanyId::parse(&company).expect("a company id"),
    }
}

async fn create(app: &TestApp, token: &str, body: Value) -> String {
    let mut body = body;
    body["price"] = json!("1.00");
    if body.get("name").is_none() {
        body["name"] = body["sku"].clone();
    }
    let r = app.call("POST", PRODUCTS, token, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().unwrap_or_default().to_owned()
}

async fn health(app: &TestApp, token: &str) -> (u64, u64, u64) {
    let r = app.call("GET", HEALTH, token, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let n = |k: &str| r.body["data"][k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(n("total"), n("healthy") + n("low") + n("out"), "{}", r.body);
    (n("healthy"), n("low"), n("out"))
}

fn skus(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["sku"].as_str().map(str::to_owned))
        .collect()
}

/// Every page of `path`, `per_page` at a time, following `links.next`.
async fn walk(app: &TestApp, token: &str, path: &str, per_page: u32) -> (Vec<String>, Vec<usize>) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut url = format!("{path}{sep}per_page={per_page}");
    let (mut all, mut sizes) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let r = app.call("GET", &url, token, None).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let page = skus(&r.body);
        sizes.push(page.len());
        all.extend(page);
        match r.body["links"]["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return (all, sizes),
        }
    }
    panic!("more than 100 pages of {path}");
}

async fn health_counts_each_level_and_lists_the_low_and_the_out(app: TestApp) {
    let t = tenant(&app);
    let o = &t.owner;
    // The company's threshold is 5 until changed.
    for (sku, stock, own) in [
        ("A-OUT", 0, None),
        ("B-LOW", 3, None),
        ("C-LOW", 5, None),
        ("D-OK", 6, None),
        ("E-LOW", 10, Some(20)),
        ("F-LOW", 20, Some(20)),
        ("G-OK", 21, Some(20)),
        ("H-OK", 1, Some(0)),
    ] {
        create(&app, o, json!({"sku": sku, "stock": stock, "low_stock_threshold": own})).await;
    }
    // Not counted: inactive, or not tracking inventory.
    create(&app, o, json!({"sku": "I-INACTIVE", "stock": 0, "active": false})).await;
    let untracked = create(
        &app,
        o,
        json!({"sku": "J-UNTRACKED", "stock": 0, "track_inventory": false}),
    )
    .await;
    assert_eq!(health(&app, o).await, (3, 4, 1));

    // Lowest first on the company's threshold, then by margin on their own; one at a
    // time across the two.
    let (low, sizes) = walk(&app, o, "/api/v1/inventory/low", 1).await;
    assert_eq!(low, ["B-LOW", "C-LOW", "E-LOW", "F-LOW"]);
    assert!(sizes.iter().all(|s| *s <= 1), "{sizes:?}");
    assert_eq!(walk(&app, o, "/api/v1/inventory/low", 3).await.0, low);
    assert_eq!(walk(&app, o, "/api/v1/inventory/out", 10).await.0, ["A-OUT"]);

    // The company's threshold moves B and C to healthy at once: nothing is rewritten.
    let r = app
        .call("PATCH", "/api/v1/settings", o, Some(json!({"low_stock_threshold": 2})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(health(&app, o).await, (5, 2, 1));
    assert_eq!(walk(&app, o, "/api/v1/inventory/low", 10).await.0, ["E-LOW", "F-LOW"]);
    let r = app
        .call("PATCH", "/api/v1/settings", o, Some(json!({"low_stock_threshold": 0})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        health(&app, o).await,
        (5, 2, 1),
        "0: none is low on the company's threshold"
    );

    // Product edits move it at once: a threshold of its own, deactivation, tracking.
    let find = |sku: &'static str| {
        let app = &app;
        async move {
            let r = app.call("GET", &format!("{PRODUCTS}?q={sku}"), o, None).await;
            r.body["data"][0]["id"].as_str().unwrap_or_default().to_owned()
        }
    };
    let d = find("D-OK").await;
    let r = app
        .call(
            "PATCH",
            &format!("{PRODUCTS}/{d}"),
            o,
            Some(json!({"low_stock_threshold": 6})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(health(&app, o).await, (4, 3, 1));
    let a = find("A-OUT").await;
    let r = app.call("POST", &format!("{PRODUCTS}/{a}/deactivate"), o, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(health(&app, o).await, (4, 3, 0));
    let r = app
        .call(
            "PATCH",
            &format!("{PRODUCTS}/{untracked}"),
            o,
            Some(json!({"track_inventory": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(health(&app, o).await, (4, 3, 1), "now tracked, with none");
    let r = app
        .call(
            "POST",
            &format!("{PRODUCTS}/{untracked}/stock-adjustments"),
            o,
            Some(json!({"delta": 9, "reason": "found"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A relative adjustment is one atomic ADD, like a sale: its event re-derives the entries.
    app.relay().await;
    assert_eq!(health(&app, o).await, (5, 3, 0), "an adjustment moves it once indexed");
    for id in [d, a, untracked] {
        app.assert_product_index_matches(&t.company, &id).await;
    }
}

async fn orders_move_a_product_between_levels_once_the_jobs_worker_ran(app: TestApp) {
    let d = demo(&app).await;
    let o = &d.owner;
    let id = create(
        &app,
        o,
        json!({"sku": "INV-1", "stock": 7, "low_stock_threshold": 4, "category": "InvTest"}),
    )
    .await;
    let c = &d.t.company;
    // Phone orders take stock too, in this test.
    let r = app
        .call(
            "PATCH",
            "/api/v1/settings",
            o,
            Some(json!({"dashboard_orders_decrement_stock": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let base = health(&app, o).await;
    let listed = |path: String| {
        let app = &app;
        async move { walk(app, o, &path, 100).await.0.contains(&"INV-1".to_owned()) }
    };
    let order = |n: i64| {
        let app = &app;
        let d = &d;
        async move {
            let r = app.call("POST", ORDERS, &d.staff, Some(items(&[("INV-1", n)]))).await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["data"]["id"].as_str().unwrap_or_default().to_owned()
        }
    };
    order(3).await;
    app.relay().await;
    app.assert_product_index_matches(c, &id).await;
    assert_eq!(health(&app, o).await, (base.0 - 1, base.1 + 1, base.2), "7 -> 4: low");
    assert!(listed("/api/v1/inventory/low".into()).await);

    let last = order(4).await;
    app.relay().await;
    app.assert_product_index_matches(c, &id).await;
    assert_eq!(health(&app, o).await, (base.0 - 1, base.1, base.2 + 1), "4 -> 0: out");
    assert!(listed("/api/v1/inventory/out".into()).await);
    assert!(!listed("/api/v1/inventory/low".into()).await);
    assert!(!listed(format!("{PRODUCTS}?category=InvTest&in_stock=true")).await);
    assert!(!listed(format!("{PRODUCTS}?in_stock=true&active=true")).await);
    assert!(listed(format!("{PRODUCTS}?category=InvTest")).await);

    // A restocking cancel puts the 4 back: low again, in stock again.
    let r = app
        .call(
            "POST",
            &format!("{ORDERS}/{last}/status"),
            o,
            Some(json!({"status": "cancelled", "cancellation_reason": "customer asked", "restock": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.relay().await;
    app.assert_product_index_matches(c, &id).await;
    assert_eq!(health(&app, o).await, (base.0 - 1, base.1 + 1, base.2));
    assert!(listed(format!("{PRODUCTS}?category=InvTest&in_stock=true&active=true")).await);
    // A redelivered event rewrites nothing and breaks nothing.
    app.relay().await;
    assert_eq!(health(&app, o).await, (base.0 - 1, base.1 + 1, base.2));
}

/// Sales racing each other and the jobs worker's reindexes (each of which may lose to a
/// later sale and leave it to that sale's own reindex) end with the entries of the last
/// stock, at the level it is at.
async fn concurrent_sales_and_reindexes_leave_the_entries_of_the_last_stock(app: TestApp) {
    let d = demo(&app).await;
    let o = &d.owner;
    let id = create(
        &app,
        o,
        json!({"sku": "RACE-1", "stock": 24, "low_stock_threshold": 10}),
    )
    .await;
    let r = app
        .call(
            "PATCH",
            "/api/v1/settings",
            o,
            Some(json!({"dashboard_orders_decrement_stock": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let base = health(&app, o).await;
    let sales = (0..20).map(|_| async {
        let r = app.call("POST", ORDERS, &d.staff, Some(items(&[("RACE-1", 1)]))).await;
        assert_eq!(r.status, 201, "{}", r.body);
        app.relay().await;
    });
    futures_util::future::join_all(sales).await;
    app.relay().await;
    app.assert_product_index_matches(&d.t.company, &id).await;
    assert_eq!(health(&app, o).await, (base.0 - 1, base.1 + 1, base.2), "24 -> 4: low");
    assert!(walk(&app, o, "/api/v1/inventory/low", 100)
        .await
        .0
        .contains(&"RACE-1".to_owned()));
}

async fn in_stock_pages_are_full_however_the_out_of_stock_interleave(app: TestApp) {
    let t = tenant(&app);
    let o = &t.owner;
    let mut want_in = Vec::new();
    let mut want_active_in = Vec::new();
    for i in 0..12 {
        let sku = format!("P-{i:02}");
        let stock = if i % 3 == 0 { 5 } else { 0 };
        let active = i % 2 == 0;
        let category = if i < 6 { "Left" } else { "Right" };
        create(
            &app,
            o,
            json!({"sku": sku, "stock": stock, "active": active, "category": category}),
        )
        .await;
        if stock > 0 {
            want_in.push(sku.clone());
            if active {
                want_active_in.push(sku.clone());
            }
        }
    }
    // One that does not track inventory is always in stock.
    create(
        &app,
        o,
        json!({"sku": "Z-SERVICE", "stock": 0, "track_inventory": false, "category": "Right"}),
    )
    .await;
    want_in.push("Z-SERVICE".into());
    want_active_in.push("Z-SERVICE".into());
    for (path, want) in [
        (format!("{PRODUCTS}?in_stock=true"), want_in.clone()),
        (format!("{PRODUCTS}?in_stock=true&active=true"), want_active_in.clone()),
        (
            format!("{PRODUCTS}?in_stock=true&category=right"),
            want_in.iter().filter(|s| s.as_str() >= "P-06").cloned().collect(),
        ),
        (
            format!("{PRODUCTS}?in_stock=true&active=true&category=Left"),
            want_active_in.iter().filter(|s| s.as_str() < "P-06").cloned().collect(),
        ),
    ] {
        let (got, sizes) = walk(&app, o, &path, 2).await;
        assert_eq!(got, want, "{path}");
        let (last, full) = sizes.split_last().unwrap_or((&0, &[]));
        assert!(
            full.iter().all(|s| *s == 2),
            "{path}: every page but the last is full: {sizes:?}"
        );
        assert!(*last <= 2, "{path}");
    }
}

async fn inventory_health_needs_inventory_read(app: TestApp) {
    let d = demo(&app).await;
    for (token, status) in [(&d.owner, 200), (&d.staff, 200), (&d.buyer, 403), (&d.integration, 403)] {
        for path in [HEALTH, "/api/v1/inventory/low", "/api/v1/inventory/out"] {
            let r = app.call("GET", path, token, None).await;
            assert_eq!(r.status, status, "{path}: {}", r.body);
        }
    }
}
