//! The order form's product browser (issue 13, part 5), on both adapters: `q` over SKU,
//! name and category prefixes; `active=true` pages that are full because only active
//! products are on their index; activation and deactivation; bad `q`.

use serde_json::{json, Value};

use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, Demo};

on_both_adapters!(
    q_finds_products_by_prefixes_of_sku_name_and_category,
    active_pages_are_full_however_the_inactive_ones_interleave,
    products_are_activated_and_deactivated,
);

const PRODUCTS: &str = "/api/v1/products";

fn skus(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["sku"].as_str().map(str::to_owned))
        .collect()
}

async fn create(app: &TestApp, d: &Demo, sku: &str, name: &str, category: &str) -> String {
    let r = app
        .call(
            "POST",
            PRODUCTS,
            &d.owner,
            Some(json!({"sku": sku, "name": name, "category": category, "price": "2.50", "stock": 5})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().unwrap_or_default().to_owned()
}

async fn find(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    let r = app.call("GET", &format!("{PRODUCTS}?q={q}"), token, None).await;
    assert_eq!(r.status, 200, "{q}: {}", r.body);
    let mut got = skus(&r.body);
    got.sort();
    got
}

async fn q_finds_products_by_prefixes_of_sku_name_and_category(app: TestApp) {
    let d = demo(&app).await;
    create(&app, &d, "CAB-5E-2M", "Cat's 5e patch cable, 2 m", "Network Cables").await;
    let hdmi = create(&app, &d, "HDMI-1", "HDMI cable", "Video").await;
    assert_eq!(
        find(&app, &d.staff, "cab").await,
        ["CAB-5E-2M", "CABLE-CAT6", "HDMI-1"],
        "SKU and name word"
    );
    assert_eq!(find(&app, &d.staff, "CAB-5").await, ["CAB-5E-2M"]);
    assert_eq!(
        find(&app, &d.staff, "network%20c").await,
        ["CAB-5E-2M"],
        "the whole category"
    );
    assert!(
        find(&app, &d.staff, "netw").await.contains(&"CAB-5E-2M".to_owned()),
        "a category word"
    );
    assert_eq!(find(&app, &d.staff, "Patch").await, ["CAB-5E-2M"], "case-insensitive");
    assert_eq!(find(&app, &d.staff, "hdmi%20ca").await, ["HDMI-1"], "the whole name");
    assert!(find(&app, &d.staff, "zzz").await.is_empty());
    // "c" matches several terms of one product: it is listed once.
    let c = find(&app, &d.staff, "c").await;
    let mut unique = c.clone();
    unique.dedup();
    assert_eq!(c, unique);
    // A renamed product is found by its new name only.
    let r = app
        .call(
            "PATCH",
            &format!("{PRODUCTS}/{hdmi}"),
            &d.owner,
            Some(json!({"name": "DisplayPort lead"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(find(&app, &d.staff, "cable").await.iter().all(|s| s != "HDMI-1"));
    assert_eq!(find(&app, &d.staff, "displ").await, ["HDMI-1"]);
    // Buyers browse what is on sale.
    app.call("POST", &format!("{PRODUCTS}/{hdmi}/deactivate"), &d.owner, None)
        .await;
    assert!(find(&app, &d.buyer, "displ").await.is_empty());
    assert_eq!(find(&app, &d.staff, "displ").await, ["HDMI-1"]);
    let r = app
        .call("GET", &format!("{PRODUCTS}?q=displ&active=true"), &d.staff, None)
        .await;
    assert!(skus(&r.body).is_empty(), "{}", r.body);
    for q in ["", "%20", &"x".repeat(101)] {
        let r = app.call("GET", &format!("{PRODUCTS}?q={q}"), &d.staff, None).await;
        assert_eq!(r.status, 422, "{q:?}: {}", r.body);
    }
    // Another company's catalog is its own.
    let other = app.token("zulu", "OWNER", None);
    assert!(find(&app, &other, "cab").await.is_empty());
}

async fn active_pages_are_full_however_the_inactive_ones_interleave(app: TestApp) {
    let d = demo(&app).await;
    for i in 0..12 {
        let id = create(&app, &d, &format!("P-{i:02}"), &format!("Part {i}"), "Parts").await;
        if i % 3 != 0 {
            let r = app
                .call("POST", &format!("{PRODUCTS}/{id}/deactivate"), &d.owner, None)
                .await;
            assert_eq!(r.body["data"]["active"], false, "{}", r.body);
        }
    }
    for base in [
        format!("{PRODUCTS}?active=true"),
        format!("{PRODUCTS}?active=true&category=parts"),
    ] {
        let mut pages = Vec::new();
        let mut next = Some(format!("{base}&per_page=2"));
        while let Some(url) = next {
            let r = app.call("GET", &url, &d.staff, None).await;
            assert_eq!(r.status, 200, "{}", r.body);
            pages.push(skus(&r.body));
            next = r.body["links"]["next"].as_str().map(str::to_owned);
        }
        let all: Vec<String> = pages.concat();
        let last = pages.len() - 1;
        for (i, p) in pages.iter().enumerate() {
            assert!(i == last || p.len() == 2, "{base}: page {i} is short: {pages:?}");
        }
        assert!(
            all.iter()
                .all(|s| !s.starts_with("P-") || ["P-00", "P-03", "P-06", "P-09"].contains(&s.as_str())),
            "{all:?}"
        );
        let parts: Vec<&String> = all.iter().filter(|s| s.starts_with("P-")).collect();
        assert_eq!(parts.len(), 4, "{base}: {all:?}");
    }
}

async fn products_are_activated_and_deactivated(app: TestApp) {
    let d = demo(&app).await;
    let bolt = d.id("BOLT-M8");
    let r = app
        .call("POST", &format!("{PRODUCTS}/{bolt}/deactivate"), &d.staff, None)
        .await;
    assert_eq!(r.status, 403, "staff lack products:write: {}", r.body);
    let r = app
        .call("POST", &format!("{PRODUCTS}/{bolt}/deactivate"), &d.owner, None)
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.body["data"]["active"]),
        (200, &json!(false)),
        "{}",
        r.body
    );
    // Not orderable, not shown to buyers.
    let r = app
        .call(
            "POST",
            "/api/v1/sales/orders",
            &d.buyer,
            Some(json!({"items": [{"sku": "BOLT-M8", "quantity": 1}]})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = app.call("GET", &format!("{PRODUCTS}/{bolt}"), &d.buyer, None).await;
    assert_eq!(r.status, 404);
    // Twice is harmless; activation restores it.
    let r = app
        .call("POST", &format!("{PRODUCTS}/{bolt}/deactivate"), &d.owner, None)
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .call("POST", &format!("{PRODUCTS}/{bolt}/activate"), &d.owner, None)
        .await;
    assert_eq!(r.body["data"]["active"], true, "{}", r.body);
    let r = app.call("GET", &format!("{PRODUCTS}/{bolt}"), &d.buyer, None).await;
    assert_eq!(r.status, 200);
    let other = app.token("zulu", "OWNER", None);
    let r = app
        .call("POST", &format!("{PRODUCTS}/{bolt}/activate"), &other, None)
        .await;
    assert_eq!(r.status, 404);
    let log = app
        .call(
            "GET",
            &format!("/api/v1/audit-log?entity=product&entity_id={bolt}"),
            &d.owner,
            None,
        )
        .await;
    let actions = log.body["data"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|e| e["action"] == "ProductUpdated").count());
    assert_eq!(actions, 2, "{}", log.body);
}
