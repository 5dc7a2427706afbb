//! Placing orders through the production route (SPEC §5.3), on both adapters.

use serde_json::json;

use oms_domain::settings::CompanySettings;
use oms_tests::{on_both_adapters, ManualClock, TestApp};

use crate::support::{demo, items, stock, ORDERS};

on_both_adapters!(
    synthesq_worked_example_totals,
    storefront_snapshots_the_customer_price_and_decrements_stock,
    short_stock_rejects_whole_order_naming_every_short_line,
    out_of_stock_products_cannot_be_ordered_on_the_storefront,
    dashboard_orders_neither_check_nor_decrement_stock_by_default,
    dashboard_setting_turns_on_stock_check_and_decrement,
    untracked_products_are_never_checked,
    inactive_products_are_refused,
    another_companys_product_is_not_found,
    customers_cannot_set_prices_or_discounts,
    idempotency_key_returns_the_first_response,
    a_retry_that_would_now_fail_validation_gets_the_first_response,
    caller_order_numbers_are_unique_per_company,
    monthly_cap_is_enforced_for_customer_orders_only,
    too_many_stocked_products_are_refused_whole,
    draft_api_orders_move_no_stock,
    integration_origin_ids_return_the_existing_order,
    large_discounts_wait_for_approval,
    customers_see_only_their_own_orders,
    order_read_back_equals_the_create_response,
);

async fn synthesq_worked_example_totals(app: TestApp) {
    let d = demo(&app).await;
    let body = json!({
        "customer_id": d.t.globex,
        "items": [
            {"sku": "WIDGET-001", "quantity": 2, "tax_amount": "5.00", "discount_amount": 0},
            {"sku": "GADGET-002", "quantity": 1, "tax_amount": 7.50, "discount_amount": "15.00"}
        ]
    });
    let r = app.call("POST", ORDERS, &d.owner, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body["data"];
    assert_eq!(o["subtotal_amount"], "349.97");
    assert_eq!(o["tax_amount"], "12.50");
    assert_eq!(o["discount_amount"], "15.00");
    assert_eq!(o["shipping_amount"], "0.00");
    assert_eq!(o["total_amount"], "347.47");
    assert_eq!(o["items"][0]["line_total"], "204.98");
    assert_eq!(o["items"][1]["line_total"], "142.49");
    assert_eq!(o["channel"], "api");
    let number = o["order_number"].as_str().expect("number");
    assert!(number.len() == 12 && number.starts_with("ORD-"), "{number}");
}

async fn storefront_snapshots_the_customer_price_and_decrements_stock(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(items(&[("WIDGET-001", 2), ("BOLT-M8", 1)])),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body["data"];
    assert_eq!(o["channel"], "storefront");
    assert_eq!(o["status"], "pending");
    assert_eq!(o["customer_id"], d.t.acme.to_string());
    assert_eq!(o["items"][0]["unit_price"], "89.99", "Acme's negotiated price");
    assert_eq!(
        o["items"][1]["unit_price"], "12.50",
        "catalog price without an override"
    );
    assert_eq!(o["total_amount"], "192.48");
    assert_eq!(o["stock_decremented"], true);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 118);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 2);
    assert_eq!(
        r.headers["location"],
        format!("/api/v1/sales/orders/{}", o["id"].as_str().unwrap_or_default())
    );

    // A later catalog price change does not touch the placed order.
    let patch = app
        .call(
            "PATCH",
            &format!("/api/v1/products/{}", d.id("BOLT-M8")),
            &d.owner,
            Some(json!({"price": "20.00"})),
        )
        .await;
    assert_eq!(patch.status, 200, "{}", patch.body);
    let read = app
        .call(
            "GET",
            &format!("{ORDERS}/{}", o["id"].as_str().unwrap_or_default()),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(read.body["data"]["items"][1]["unit_price"], "12.50");
}

async fn short_stock_rejects_whole_order_naming_every_short_line(app: TestApp) {
    let d = demo(&app).await;
    let before = app.counts(&d.t.company).await;
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(items(&[("WIDGET-001", 1), ("BOLT-M8", 4), ("GADGET-002", 41)])),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.code(), "insufficient_stock");
    assert!(
        r.message()
            .contains("Not enough stock for Hex Bolt M8, box of 100. Only 3 available."),
        "{}",
        r.message()
    );
    assert!(
        r.message()
            .contains("Not enough stock for Smart Gadget. Only 40 available."),
        "{}",
        r.message()
    );
    let lines = r.body["error"]["details"]["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2);
    // Nothing moved: not even the line that had enough.
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 120);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 3);
    assert_eq!(app.counts(&d.t.company).await, before);
}

async fn out_of_stock_products_cannot_be_ordered_on_the_storefront(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("CABLE-CAT6", 1)])))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.message(),
        "Not enough stock for Cat6 Cable, 305 m reel. Only 0 available."
    );
    // ... but it is still visible in the catalog.
    let p = app
        .call(
            "GET",
            &format!("/api/v1/products/{}", d.id("CABLE-CAT6")),
            &d.buyer,
            None,
        )
        .await;
    assert_eq!(p.status, 200);
}

async fn dashboard_orders_neither_check_nor_decrement_stock_by_default(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.staff,
            Some(items(&[("CABLE-CAT6", 3), ("BOLT-M8", 10)])),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body["data"];
    assert_eq!(o["channel"], "dashboard");
    assert_eq!(o["customer_id"], serde_json::Value::Null);
    assert_eq!(o["placed_by"]["user_id"], "user-staff");
    assert_eq!(o["stock_decremented"], false);
    assert_eq!(o["cap_month"], serde_json::Value::Null);
    assert_eq!(stock(&app, &d, "CABLE-CAT6").await, 0);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 3);
}

async fn dashboard_setting_turns_on_stock_check_and_decrement(app: TestApp) {
    let d = demo(&app).await;
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.dashboard_orders_decrement_stock = true;
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    let short = app.call("POST", ORDERS, &d.staff, Some(items(&[("BOLT-M8", 4)]))).await;
    assert_eq!(short.status, 409, "{}", short.body);
    let ok = app.call("POST", ORDERS, &d.staff, Some(items(&[("BOLT-M8", 3)]))).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 0);
}

async fn untracked_products_are_never_checked(app: TestApp) {
    let d = demo(&app).await;
    // PALLET-JACK has stock 0 but track_inventory = false (dropshipped).
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("PALLET-JACK", 5)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["fulfillment_method"], "DROPSHIP");
    assert_eq!(stock(&app, &d, "PALLET-JACK").await, 0);
    let mixed = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(items(&[("PALLET-JACK", 1), ("WIDGET-001", 1)])),
        )
        .await;
    assert_eq!(mixed.body["data"]["fulfillment_method"], "MIXED");
}

async fn inactive_products_are_refused(app: TestApp) {
    let d = demo(&app).await;
    let before = app.counts(&d.t.company).await;
    let r = app
        .call("POST", ORDERS, &d.staff, Some(items(&[("OLD-GIZMO", 1)])))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.code(), "validation_error");
    assert!(r.message().contains("not active"), "{}", r.message());
    assert_eq!(app.counts(&d.t.company).await, before);
}

async fn another_companys_product_is_not_found(app: TestApp) {
    let d = demo(&app).await;
    // A second company with its own product.
    let rival = app.token("rival", "OWNER", None);
    let p = app
        .call(
            "POST",
            "/api/v1/products",
            &rival,
            Some(json!({"sku": "RIVAL-1", "name": "Rival thing", "price": "1.00", "stock": 100})),
        )
        .await;
    assert_eq!(p.status, 201, "{}", p.body);
    let rival_id = p.body["data"]["id"].as_str().expect("id").to_owned();
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"product_id": rival_id, "quantity": 1}]})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.code(), "not_found");
    // Its SKU is unknown here too, and its stock untouched.
    let by_sku = app.call("POST", ORDERS, &d.buyer, Some(items(&[("RIVAL-1", 1)]))).await;
    assert_eq!(by_sku.status, 404);
    let read = app
        .call("GET", &format!("/api/v1/products/{rival_id}"), &d.owner, None)
        .await;
    assert_eq!(read.status, 404, "another tenant's id reads as absent");
}

async fn customers_cannot_set_prices_or_discounts(app: TestApp) {
    let d = demo(&app).await;
    let price = json!({"items": [{"sku": "WIDGET-001", "quantity": 1, "unit_price": "0.01"}]});
    // A storefront order cannot carry a price or discount at all: named and refused.
    let r = app.call("POST", ORDERS, &d.buyer, Some(price.clone())).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "items[0].unit_price");
    let discount = json!({"items": [{"sku": "WIDGET-001", "quantity": 1, "discount_amount": "50"}]});
    assert_eq!(app.call("POST", ORDERS, &d.buyer, Some(discount)).await.status, 422);
    assert_eq!(
        app.call("POST", ORDERS, &d.staff, Some(price.clone())).await.status,
        403,
        "STAFF lacks price_override"
    );
    let owner = app.call("POST", ORDERS, &d.owner, Some(price)).await;
    assert_eq!(owner.status, 201, "{}", owner.body);
    assert_eq!(owner.body["data"]["items"][0]["unit_price"], "0.01");
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 120);
}

async fn idempotency_key_returns_the_first_response(app: TestApp) {
    let d = demo(&app).await;
    let headers = |key: &str| {
        vec![
            ("authorization".to_owned(), format!("Bearer {}", d.buyer)),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("idempotency-key".to_owned(), key.to_owned()),
        ]
    };
    let body = br#"{"items":[{"sku":"WIDGET-001","quantity":3}]}"#.to_vec();
    let first = app.raw("POST", ORDERS, headers("checkout-42"), body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    // Same JSON, different spacing and key order: still the same request.
    let same = br#"{ "items": [ { "quantity": 3, "sku": "WIDGET-001" } ] }"#.to_vec();
    let retry = app.raw("POST", ORDERS, headers("checkout-42"), same).await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 117, "stock moved once");
    assert_eq!(app.counts(&d.t.company).await.orders, 1);
    let other = app
        .raw(
            "POST",
            ORDERS,
            headers("checkout-42"),
            br#"{"items":[{"sku":"WIDGET-001","quantity":4}]}"#.to_vec(),
        )
        .await;
    assert_eq!(other.status, 422);
    assert_eq!(other.code(), "idempotency_key_reused");
    let fresh = app.raw("POST", ORDERS, headers("checkout-43"), body).await;
    assert_eq!(fresh.status, 201);
    assert_ne!(fresh.body["data"]["id"], first.body["data"]["id"]);
}

/// A retry is answered with the first response even when the request would now be
/// refused: here its due date (today when it was placed) has since passed.
async fn a_retry_that_would_now_fail_validation_gets_the_first_response(app: TestApp) {
    let d = demo(&app).await;
    let clock = ManualClock::at("2031-01-10T08:00:00Z");
    let app = app.with_clock(clock.clone());
    let headers = vec![
        ("authorization".to_owned(), format!("Bearer {}", d.buyer)),
        ("content-type".to_owned(), "application/json".to_owned()),
        ("idempotency-key".to_owned(), "checkout-77".to_owned()),
    ];
    let body = br#"{"due_date":"2031-01-10","items":[{"sku":"WIDGET-001","quantity":2}]}"#.to_vec();
    let first = app.raw("POST", ORDERS, headers.clone(), body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    clock.set("2031-01-11T01:00:00Z");
    let fresh = vec![
        headers[0].clone(),
        headers[1].clone(),
        ("idempotency-key".to_owned(), "checkout-78".to_owned()),
    ];
    let refused = app.raw("POST", ORDERS, fresh, body.clone()).await;
    assert_eq!(
        refused.status, 422,
        "a new request with that due date is refused now: {}",
        refused.body
    );
    let retry = app.raw("POST", ORDERS, headers, body).await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(retry.body, first.body);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(app.counts(&d.t.company).await.orders, 1);
}

async fn caller_order_numbers_are_unique_per_company(app: TestApp) {
    let d = demo(&app).await;
    let body = json!({"order_number": "PO-2026-0001", "items": [{"sku": "WIDGET-001", "quantity": 1}]});
    let first = app.call("POST", ORDERS, &d.staff, Some(body.clone())).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["data"]["order_number"], "PO-2026-0001");
    let lower = json!({"order_number": "po-2026-0001", "items": [{"sku": "WIDGET-001", "quantity": 1}]});
    let dup = app.call("POST", ORDERS, &d.staff, Some(lower)).await;
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert_eq!(dup.code(), "duplicate_order_number");
    assert_eq!(app.counts(&d.t.company).await.orders, 1);
    // Another company may use the same number.
    let rival = app.token("rival", "OWNER", None);
    let p = app
        .call(
            "POST",
            "/api/v1/products",
            &rival,
            Some(json!({"sku": "W", "name": "W", "price": "1.00", "stock": 1})),
        )
        .await;
    assert_eq!(p.status, 201);
    let theirs = app
        .call(
            "POST",
            ORDERS,
            &rival,
            Some(json!({"order_number": "PO-2026-0001", "items": [{"sku": "W", "quantity": 1}]})),
        )
        .await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
}

async fn monthly_cap_is_enforced_for_customer_orders_only(app: TestApp) {
    let d = demo(&app).await;
    let s = CompanySettings {
        monthly_order_limit: Some(2),
        ..app.store().get_settings(&d.t.company).await.expect("settings")
    };
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    for _ in 0..2 {
        assert_eq!(
            app.call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
                .await
                .status,
            201
        );
    }
    let third = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(third.status, 409, "{}", third.body);
    assert_eq!(third.code(), "monthly_limit_reached");
    assert!(
        third.message().contains("2 customer orders per month"),
        "{}",
        third.message()
    );
    assert_eq!(
        stock(&app, &d, "WIDGET-001").await,
        118,
        "the refused order moved no stock"
    );
    // Dashboard orders do not count and are not capped.
    assert_eq!(
        app.call("POST", ORDERS, &d.staff, Some(items(&[("WIDGET-001", 1)])))
            .await
            .status,
        201
    );
}

async fn too_many_stocked_products_are_refused_whole(app: TestApp) {
    let d = demo(&app).await;
    // 90 of DynamoDB's 100 actions per transaction, on both adapters (DynamoDB Local
    // 3.3.1 enforces AWS's limit).
    let limit = 90;
    let mut lines = Vec::new();
    for i in 0..=limit {
        let r = app
            .call(
                "POST",
                "/api/v1/products",
                &d.owner,
                Some(json!({"sku": format!("BULK-{i}"), "name": format!("Bulk {i}"), "price": "1.00", "stock": 10})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        lines.push(json!({"sku": format!("BULK-{i}"), "quantity": 1}));
    }
    let r = app.call("POST", ORDERS, &d.buyer, Some(json!({"items": lines}))).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.code(), "too_many_products");
    assert!(
        r.message().contains(&format!("at most {limit} distinct")),
        "{}",
        r.message()
    );
    assert_eq!(app.counts(&d.t.company).await.orders, 0);
    // Exactly the limit fits in one transaction.
    lines.pop();
    let ok = app.call("POST", ORDERS, &d.buyer, Some(json!({"items": lines}))).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(ok.body["data"]["items"].as_array().map(Vec::len), Some(limit));
}

async fn draft_api_orders_move_no_stock(app: TestApp) {
    let d = demo(&app).await;
    let body = json!({"customer_id": d.t.globex, "status": "draft", "items": [{"sku": "BOLT-M8", "quantity": 100}]});
    let r = app.call("POST", ORDERS, &d.staff, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["status"], "draft");
    assert_eq!(r.body["data"]["stock_decremented"], false);
    assert_eq!(r.body["data"]["cap_month"], serde_json::Value::Null);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 3);
    // Storefront orders cannot start as drafts.
    let bad = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"status": "draft", "items": [{"sku": "BOLT-M8", "quantity": 1}]})),
        )
        .await;
    assert_eq!(bad.status, 422);
}

async fn integration_origin_ids_return_the_existing_order(app: TestApp) {
    let d = demo(&app).await;
    let body = json!({"customer_id": d.t.acme, "origin_order_id": "shop-1001", "items": [{"sku": "WIDGET-001", "quantity": 1}]});
    let first = app.call("POST", ORDERS, &d.integration, Some(body.clone())).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["data"]["financial_status"], "paid");
    assert_eq!(first.body["data"]["origin_order_id"], "shop-1001");
    let again = app.call("POST", ORDERS, &d.integration, Some(body)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["data"]["id"], first.body["data"]["id"]);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 119);
    let missing_customer = app
        .call("POST", ORDERS, &d.integration, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(missing_customer.status, 422);
}

async fn large_discounts_wait_for_approval(app: TestApp) {
    let d = demo(&app).await;
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.discount_approval_threshold = Some("50".parse().expect("decimal"));
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    let small =
        json!({"customer_id": d.t.globex, "discount_amount": "50.00", "items": [{"sku": "WIDGET-001", "quantity": 1}]});
    assert_eq!(
        app.call("POST", ORDERS, &d.owner, Some(small)).await.body["data"]["status"],
        "pending"
    );
    let big =
        json!({"customer_id": d.t.globex, "discount_amount": "50.01", "items": [{"sku": "WIDGET-001", "quantity": 1}]});
    let r = app.call("POST", ORDERS, &d.owner, Some(big)).await;
    assert_eq!(r.body["data"]["status"], "pending_approval", "{}", r.body);
    assert_eq!(r.body["data"]["total_amount"], "49.98");
}

async fn customers_see_only_their_own_orders(app: TestApp) {
    let d = demo(&app).await;
    let mine = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    let theirs = app
        .call(
            "POST",
            ORDERS,
            &d.staff,
            Some(json!({"customer_id": d.t.globex, "items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    let mine_id = mine.body["data"]["id"].as_str().expect("id");
    let theirs_id = theirs.body["data"]["id"].as_str().expect("id");
    assert_eq!(
        app.call("GET", &format!("{ORDERS}/{mine_id}"), &d.buyer, None)
            .await
            .status,
        200
    );
    let other = app.call("GET", &format!("{ORDERS}/{theirs_id}"), &d.buyer, None).await;
    assert_eq!(other.status, 404, "another customer's order is absent, not forbidden");
    let rival = app.token("rival", "OWNER", None);
    assert_eq!(
        app.call("GET", &format!("{ORDERS}/{mine_id}"), &rival, None)
            .await
            .status,
        404
    );
    assert_eq!(
        app.call("GET", &format!("{ORDERS}/{theirs_id}"), &d.finance, None)
            .await
            .status,
        200
    );
}

async fn order_read_back_equals_the_create_response(app: TestApp) {
    let d = demo(&app).await;
    let body = json!({
        "customer_id": d.t.acme,
        "source": "phone",
        "priority": "high",
        "due_date": "2099-01-31",
        "order_date": "2099-01-02",
        "notes": "Leave at dock 4",
        "tags": ["vip", "phone"],
        "custom_fields": {"po": "A-77", "nested": {"n": 1.5}},
        "shipping_amount": "12.00",
        "shipping_info": {"method": "express", "street": "1 Dock Rd", "city": "Oakland", "postal_code": "94607", "country": "us"},
        "payment_terms": {"method": "invoice", "terms": "Net 30", "due_days": 30},
        "items": [{"sku": "widget-001", "quantity": 2, "notes": "blue ones"}]
    });
    let r = app.call("POST", ORDERS, &d.staff, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["data"]["id"].as_str().expect("id");
    let read = app.call("GET", &format!("{ORDERS}/{id}"), &d.staff, None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, r.body, "what is stored is what was answered");
    assert_eq!(read.body["data"]["total_amount"], "191.98");
    assert_eq!(read.body["data"]["items"][0]["sku"], "WIDGET-001");
}
