//! Products and customers through the API (SPEC §4, §7).

use serde_json::json;
use std::collections::HashSet;

use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, stock, ORDERS};

on_both_adapters!(
    products_page_through_without_duplicates_or_gaps,
    product_filters_by_category_active_and_stock,
    customers_browse_only_active_products,
    renaming_a_sku_frees_the_old_one,
    an_edit_never_overwrites_an_order_decrement,
    stale_versions_are_refused,
    customers_get_sequential_numbers_and_price_lists,
    forged_and_foreign_cursors_are_refused,
);

async fn products_page_through_without_duplicates_or_gaps(app: TestApp) {
    let d = demo(&app).await;
    for i in 0..7 {
        let r = app
            .call(
                "POST",
                "/api/v1/products",
                &d.owner,
                Some(json!({"sku": format!("PG-{i:02}"), "name": "Paged", "price": "1.00"})),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/products?per_page=4".to_owned());
    let mut pages = 0;
    while let Some(url) = next {
        let r = app.call("GET", &url, &d.staff, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["data"].as_array().expect("data").len() <= 4);
        seen.extend(
            r.body["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|p| p["sku"].as_str().unwrap_or_default().to_owned()),
        );
        next = r.body["links"]["next"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 10, "paging must end");
    }
    assert_eq!(seen.len(), 13, "{seen:?}");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 13, "no duplicates");
    let mut sorted = seen.clone();
    sorted.sort_by_key(|s| s.to_uppercase());
    assert_eq!(seen, sorted, "SKU order");
}

async fn product_filters_by_category_active_and_stock(app: TestApp) {
    let d = demo(&app).await;
    let skus = |v: &serde_json::Value| -> Vec<String> {
        v["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|p| p["sku"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let gadgets = app
        .call("GET", "/api/v1/products?category=gadgets", &d.staff, None)
        .await;
    assert_eq!(skus(&gadgets.body), vec!["GADGET-002", "OLD-GIZMO"]);
    let active = app
        .call("GET", "/api/v1/products?category=Gadgets&active=true", &d.staff, None)
        .await;
    assert_eq!(skus(&active.body), vec!["GADGET-002"]);
    let in_stock = app
        .call(
            "GET",
            "/api/v1/products?active=true&in_stock=true&per_page=100",
            &d.staff,
            None,
        )
        .await;
    // The pallet jack ships from the supplier and tracks no stock: always available.
    assert_eq!(
        skus(&in_stock.body),
        vec!["BOLT-M8", "GADGET-002", "PALLET-JACK", "WIDGET-001"]
    );
    for bad in ["per_page=0", "per_page=101", "per_page=ten", "active=maybe"] {
        let r = app
            .call("GET", &format!("/api/v1/products?{bad}"), &d.staff, None)
            .await;
        assert_eq!(r.status, 422, "{bad}");
    }
}

async fn customers_browse_only_active_products(app: TestApp) {
    let d = demo(&app).await;
    let r = app.call("GET", "/api/v1/products?per_page=100", &d.buyer, None).await;
    let skus: Vec<&str> = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|p| p["sku"].as_str())
        .collect();
    assert!(!skus.contains(&"OLD-GIZMO"), "{skus:?}");
    assert!(skus.contains(&"CABLE-CAT6"), "out-of-stock products stay visible");
    let inactive = app
        .call(
            "GET",
            &format!("/api/v1/products/{}", d.id("OLD-GIZMO")),
            &d.buyer,
            None,
        )
        .await;
    assert_eq!(inactive.status, 404);
    assert_eq!(
        app.call(
            "GET",
            &format!("/api/v1/products/{}", d.id("OLD-GIZMO")),
            &d.staff,
            None
        )
        .await
        .status,
        200
    );
}

async fn renaming_a_sku_frees_the_old_one(app: TestApp) {
    let d = demo(&app).await;
    let path = format!("/api/v1/products/{}", d.id("BOLT-M8"));
    let r = app
        .call(
            "PATCH",
            &path,
            &d.owner,
            Some(json!({"sku": "BOLT-M8-100", "category": "Hardware"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["version"], 2);
    let new = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "bolt-m8-100", "quantity": 1}]})),
        )
        .await;
    assert_eq!(new.status, 201, "{}", new.body);
    let old = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "BOLT-M8", "quantity": 1}]})),
        )
        .await;
    assert_eq!(old.status, 404);
    let reuse = app
        .call(
            "POST",
            "/api/v1/products",
            &d.owner,
            Some(json!({"sku": "BOLT-M8", "name": "New bolt", "price": "1.00"})),
        )
        .await;
    assert_eq!(reuse.status, 201, "{}", reuse.body);
    let hw = app
        .call("GET", "/api/v1/products?category=hardware", &d.staff, None)
        .await;
    assert_eq!(hw.body["data"][0]["sku"], "BOLT-M8-100");
    let fasteners = app
        .call("GET", "/api/v1/products?category=fasteners", &d.staff, None)
        .await;
    assert_eq!(fasteners.body["data"], json!([]));
}

async fn an_edit_never_overwrites_an_order_decrement(app: TestApp) {
    let d = demo(&app).await;
    // Read the product (as an editor would), then an order lands, then the edit is saved.
    let path = format!("/api/v1/products/{}", d.id("WIDGET-001"));
    let read = app.call("GET", &path, &d.owner, None).await;
    let version = read.body["data"]["version"].as_u64().expect("version");
    assert_eq!(
        app.call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 5}]}))
        )
        .await
        .status,
        201
    );
    let edit = app
        .call(
            "PATCH",
            &path,
            &d.owner,
            Some(json!({"name": "Premium Widget v2", "expected_version": version})),
        )
        .await;
    assert_eq!(edit.status, 200, "{}", edit.body);
    assert_eq!(edit.body["data"]["name"], "Premium Widget v2");
    assert_eq!(
        stock(&app, &d, "WIDGET-001").await,
        115,
        "the order's decrement survived the edit"
    );
}

async fn stale_versions_are_refused(app: TestApp) {
    let d = demo(&app).await;
    let path = format!("/api/v1/products/{}", d.id("GADGET-002"));
    assert_eq!(
        app.call(
            "PATCH",
            &path,
            &d.owner,
            Some(json!({"price": "150.00", "expected_version": 1}))
        )
        .await
        .status,
        200
    );
    let stale = app
        .call(
            "PATCH",
            &path,
            &d.owner,
            Some(json!({"price": "151.00", "expected_version": 1})),
        )
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.code(), "version_conflict");
    let p = app.call("GET", &path, &d.owner, None).await;
    assert_eq!(p.body["data"]["price"], "150.00");
}

async fn customers_get_sequential_numbers_and_price_lists(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call(
            "POST",
            "/api/v1/customers",
            &d.staff,
            Some(json!({"company_name": "Initech", "email": "bill@initech.example"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["customer_number"], "CUST-00003");
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    let set = app
        .call(
            "PUT",
            &format!("/api/v1/customers/{id}/prices/{}", d.id("GADGET-002")),
            &d.owner,
            Some(json!({"price": 120})),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["data"]["price"], "120.00");
    let view = app
        .call("GET", &format!("/api/v1/customers/{id}"), &d.staff, None)
        .await;
    assert_eq!(view.body["data"]["customer_number"], "CUST-00003");
    assert_eq!(view.body["data"]["price_overrides"][0]["price"], "120.00");
    // The override is what the customer pays.
    let token = app.token(
        "demo",
        "CUSTOMER",
        Some(oms_domain::ids::CustomerId::parse(&id).expect("uuid")),
    );
    let o = app
        .call(
            "POST",
            ORDERS,
            &token,
            Some(json!({"items": [{"sku": "GADGET-002", "quantity": 1}]})),
        )
        .await;
    assert_eq!(o.body["data"]["items"][0]["unit_price"], "120.00", "{}", o.body);
}

async fn forged_and_foreign_cursors_are_refused(app: TestApp) {
    let d = demo(&app).await;
    let first = app.call("GET", "/api/v1/products?per_page=2", &d.staff, None).await;
    let next = first.body["links"]["next"].as_str().expect("next page").to_owned();
    let cursor = next.split("cursor=").nth(1).expect("cursor").to_owned();
    assert_eq!(app.call("GET", &next, &d.staff, None).await.status, 200);
    let tampered = format!("/api/v1/products?per_page=2&cursor=A{cursor}");
    let r = app.call("GET", &tampered, &d.staff, None).await;
    assert_eq!(r.status, 422);
    assert!(r.body.to_string().contains("cursor"));
    let other_filter = format!("/api/v1/products?per_page=2&active=true&cursor={cursor}");
    assert_eq!(app.call("GET", &other_filter, &d.staff, None).await.status, 422);
    let rival = app.token("rival", "OWNER", None);
    assert_eq!(
        app.call("GET", &next, &rival, None).await.status,
        422,
        "another tenant cannot use the cursor"
    );
}
