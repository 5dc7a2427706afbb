//! Trust at the edge: no request can crash the service, overflow an amount or leave a
//! half-applied write behind, on both adapters.

use std::sync::Arc;

use serde_json::{json, Value};

use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, stock, ORDERS};

on_both_adapters!(
    a_panic_inside_a_handler_is_a_500_in_the_error_shape,
    absurd_amounts_are_refused_naming_the_field_and_change_nothing,
    the_largest_orders_sort_by_total_like_numbers,
    a_storefront_order_may_set_only_the_buyers_fields,
    storefront_tax_and_shipping_come_from_the_company_settings,
    an_order_always_fits_its_item,
    zero_and_tiny_amounts_are_written_exactly,
    a_wrong_method_names_the_allowed_ones,
    amounts_sent_as_json_numbers_are_read_as_written,
);

/// A clock that panics: the fault this test injects through a port.
struct PanickingClock;
impl oms_domain::ports::Clock for PanickingClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        panic!("injected: the clock is broken")
    }
}

async fn a_panic_inside_a_handler_is_a_500_in_the_error_shape(app: TestApp) {
    let d = demo(&app).await;
    let broken = app.with_clock(Arc::new(PanickingClock));
    let r = broken
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.code(), "internal_error");
    assert_eq!(r.message(), "internal error", "the panic's text is logged, never shown");
    assert!(!r.body.to_string().contains("injected"), "{}", r.body);
    // The same server goes on answering.
    let ok = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(
        stock(&app, &d, "WIDGET-001").await,
        119,
        "only the second order took stock"
    );
}

/// Decimal's own maximum, and other numbers no business would send.
const ABSURD: &str = "79228162514264337593543950335";

async fn absurd_amounts_are_refused_naming_the_field_and_change_nothing(app: TestApp) {
    let d = demo(&app).await;
    let before = app.counts(&d.t.company).await;
    let line = |extra: Value| {
        let mut l = json!({"sku": "WIDGET-001", "quantity": 1});
        if let (Some(l), Some(e)) = (l.as_object_mut(), extra.as_object()) {
            l.extend(e.clone());
        }
        json!({"customer_id": d.t.acme, "items": [l]})
    };
    let with = |k: &str, v: Value| {
        let mut b = line(json!({}));
        b[k] = v;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (line(json!({"tax_amount": ABSURD})), "items[0].tax_amount"),
        (line(json!({"unit_price": ABSURD})), "items[0].unit_price"),
        (line(json!({"discount_amount": ABSURD})), "items[0].discount_amount"),
        (line(json!({"tax_amount": 1e300})), "items[0].tax_amount"),
        (line(json!({"tax_amount": "1000000000000.01"})), "items[0].tax_amount"),
        (with("shipping_amount", json!(ABSURD)), "shipping_amount"),
        (with("discount_amount", json!(ABSURD)), "discount_amount"),
        // Each amount is allowed, but their product is over the largest order total.
        (
            line(json!({"unit_price": "1000000000000", "quantity": 1_000_000})),
            "items[0].quantity",
        ),
    ];
    for (body, field) in cases {
        let r = app.call("POST", ORDERS, &d.owner, Some(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        let fields: Vec<&str> = r.body["error"]["details"]["fields"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&field), "{body} names {fields:?}, not {field}");
    }
    // A draft's reprice is bounded the same way.
    let draft = app
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(json!({"customer_id": d.t.acme, "status": "draft", "items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.body);
    let id = draft.body["data"]["id"].as_str().unwrap_or_default().to_owned();
    for body in [
        json!({"shipping_amount": ABSURD}),
        json!({"items": [{"sku": "WIDGET-001", "quantity": 1, "tax_amount": ABSURD}]}),
    ] {
        let r = app
            .call("PATCH", &format!("{ORDERS}/{id}"), &d.owner, Some(body.clone()))
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
    }
    let after = app.counts(&d.t.company).await;
    assert_eq!(after.orders, before.orders + 1, "only the draft was stored");
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 120);
    // The reads that sum totals still answer.
    for path in [
        "/api/v1/sales/orders/high-value",
        "/api/v1/sales/orders/high-value?minimum_amount=0",
        "/api/v1/sales/orders?sort_by=total_amount",
    ] {
        let r = app.call("GET", path, &d.owner, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    for path in [
        &format!("/api/v1/sales/orders/high-value?minimum_amount={ABSURD}"),
        &format!("/api/v1/sales/orders?min_total={ABSURD}"),
    ] {
        let r = app.call("GET", path, &d.owner, None).await;
        assert_eq!(r.status, 422, "{path}: {}", r.body);
    }
}

async fn the_largest_orders_sort_by_total_like_numbers(app: TestApp) {
    let d = demo(&app).await;
    // Dashboard orders with explicit prices: 10^12 × 1,000 is the largest total allowed.
    let place =
        |price: &str, qty: u32| json!({"items": [{"sku": "PALLET-JACK", "quantity": qty, "unit_price": price}]});
    let mut want = Vec::new();
    for (price, qty) in [
        ("1000000000000", 1000),
        ("999999999999.99", 1000),
        ("1000000000000", 1),
        ("0.01", 1),
        ("99999999999.99", 10),
    ] {
        let r = app.call("POST", ORDERS, &d.owner, Some(place(price, qty))).await;
        assert_eq!(r.status, 201, "{}", r.body);
        want.push(r.body["data"]["total_amount"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(want[0], "1000000000000000.00");
    let over = app
        .call("POST", ORDERS, &d.owner, Some(place("1000000000000", 1001)))
        .await;
    assert_eq!(over.status, 422, "{}", over.body);
    want.sort_by(|a, b| {
        let (a, b): (rust_decimal::Decimal, rust_decimal::Decimal) =
            (a.parse().unwrap_or_default(), b.parse().unwrap_or_default());
        b.cmp(&a)
    });
    let r = app
        .call(
            "GET",
            &format!("{ORDERS}?sort_by=total_amount&per_page=10"),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got: Vec<String> = r.body["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["total_amount"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(got, want);
    let hv = app
        .call(
            "GET",
            "/api/v1/sales/orders/high-value?minimum_amount=99999999999999",
            &d.owner,
            None,
        )
        .await;
    assert_eq!(hv.status, 200, "{}", hv.body);
    assert_eq!(hv.body["meta"]["total"], 2, "{}", hv.body);
    assert_eq!(hv.body["meta"]["total_value"], "1999999999999990.00");
}

async fn a_storefront_order_may_set_only_the_buyers_fields(app: TestApp) {
    let d = demo(&app).await;
    let before = app.counts(&d.t.company).await;
    let forged = json!({
        "order_number": "ERP-000123",
        "order_date": "2020-01-01",
        "source": "phone",
        "sales_rep_id": "rep-1",
        "priority": "urgent",
        "status": "pending",
        "currency": "USD",
        "tags": ["vip"],
        "custom_fields": {"x": 1},
        "opportunity_id": "OPP-1",
        "shipping_amount": "0.00",
        "discount_amount": "0",
        "payment_terms": {"method": "card", "terms": "Net 90", "due_days": 90},
        "items": [
            {"sku": "WIDGET-001", "quantity": 1, "tax_amount": "250000.00"},
            {"sku": "BOLT-M8", "quantity": 1, "unit_price": "0.01", "discount_amount": "1"},
        ]
    });
    let r = app.call("POST", ORDERS, &d.buyer, Some(forged)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let named: Vec<&str> = r.body["error"]["details"]["fields"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    for field in [
        "order_number",
        "order_date",
        "source",
        "sales_rep_id",
        "priority",
        "status",
        "currency",
        "tags",
        "custom_fields",
        "opportunity_id",
        "shipping_amount",
        "discount_amount",
        "payment_terms.terms",
        "payment_terms.due_days",
        "items[0].tax_amount",
        "items[1].unit_price",
        "items[1].discount_amount",
    ] {
        assert!(named.contains(&field), "{field} is not named in {named:?}");
    }
    assert_eq!(named.len(), 17, "exactly the refused fields: {named:?}");
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).date_naive();
    let late = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"due_date": yesterday, "items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    assert_eq!(late.status, 422, "{}", late.body);
    assert_eq!(late.body["error"]["details"]["fields"][0]["field"], "due_date");
    assert_eq!(app.counts(&d.t.company).await, before, "nothing refused was stored");
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 120);

    // Everything a buyer describes is accepted.
    let today = chrono::Utc::now().date_naive();
    let ok = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({
                "customer_id": d.t.acme,
                "due_date": today,
                "notes": "Leave at the loading dock",
                "quote_id": "Q-77",
                "payment_terms": {"method": "card"},
                "billing_address": {"address1": "1 Main St", "city": "Springfield", "country": "US"},
                "shipping_info": {"method": "ground", "instructions": "Ring twice", "address1": "2 Dock Rd", "country": "US"},
                "items": [{"sku": "WIDGET-001", "quantity": 2, "notes": "blue ones"}, {"product_id": d.id("BOLT-M8"), "quantity": 1}]
            })),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let o = &ok.body["data"];
    assert_eq!(o["channel"], "storefront");
    assert_eq!(o["source"], "online_store");
    assert_eq!(o["priority"], "normal");
    assert_eq!(o["order_date"], json!(today));
    assert_eq!(o["items"][0]["notes"], "blue ones");
    assert_eq!(o["shipping_info"]["instructions"], "Ring twice");

    // Staff keep every field (an API order for the same customer).
    let staff = app
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(
                json!({"customer_id": d.t.acme, "order_number": "ERP-000123", "source": "phone", "priority": "urgent",
                "items": [{"sku": "WIDGET-001", "quantity": 1, "tax_amount": "1.00"}]}),
            ),
        )
        .await;
    assert_eq!(staff.status, 201, "{}", staff.body);
    assert_eq!(staff.body["data"]["order_number"], "ERP-000123");
}

async fn storefront_tax_and_shipping_come_from_the_company_settings(app: TestApp) {
    let d = demo(&app).await;
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.storefront = oms_domain::settings::StorefrontPricing {
        tax_rate: "8.25".parse().unwrap_or_default(),
        shipping_amount: "9.95".parse().unwrap_or_default(),
        free_shipping_threshold: "500".parse().unwrap_or_default(),
    };
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    // Acme pays 89.99 for WIDGET-001: 2 × 89.99 = 179.98, tax 8.25 % = 14.84835 -> 14.85;
    // BOLT-M8 12.50: tax 1.03125 -> 1.03. Under 500: flat shipping.
    let small = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 2}, {"sku": "BOLT-M8", "quantity": 1}]})),
        )
        .await;
    assert_eq!(small.status, 201, "{}", small.body);
    let o = &small.body["data"];
    assert_eq!(o["items"][0]["tax_amount"], "14.85");
    assert_eq!(o["items"][0]["line_total"], "194.83");
    assert_eq!(o["items"][1]["tax_amount"], "1.03");
    assert_eq!(o["subtotal_amount"], "192.48");
    assert_eq!(o["tax_amount"], "15.88");
    assert_eq!(o["shipping_amount"], "9.95");
    assert_eq!(o["total_amount"], "218.31");
    // 6 × 89.99 = 539.94 reaches the threshold: free shipping. 44.54505 -> 44.55.
    let big = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 6}]})),
        )
        .await;
    assert_eq!(big.status, 201, "{}", big.body);
    assert_eq!(big.body["data"]["shipping_amount"], "0.00");
    assert_eq!(big.body["data"]["tax_amount"], "44.55");
    assert_eq!(big.body["data"]["total_amount"], "584.49");
    // Half-cent ties go to even: 10 % of 0.25 is 0.025 -> 0.02.
    s.storefront.tax_rate = "10".parse().unwrap_or_default();
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    let mut cheap = app
        .call(
            "POST",
            "/api/v1/products",
            &d.owner,
            Some(json!({"sku": "PENNY-25", "name": "Quarter", "price": "0.25", "stock": 10})),
        )
        .await;
    assert_eq!(cheap.status, 201, "{}", cheap.body);
    cheap = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "PENNY-25", "quantity": 1}]})),
        )
        .await;
    assert_eq!(cheap.status, 201, "{}", cheap.body);
    assert_eq!(cheap.body["data"]["tax_amount"], "0.02");
}

/// Creates a product and returns its id.
async fn product(app: &TestApp, d: &crate::support::Demo, sku: &str, name: &str, description: &str) -> String {
    let r = app
        .call(
            "POST",
            "/api/v1/products",
            &d.owner,
            Some(json!({"sku": sku, "name": name, "description": description, "price": "1.00", "stock": 100_000})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().unwrap_or_default().to_owned()
}

async fn an_order_always_fits_its_item(app: TestApp) {
    let d = demo(&app).await;
    let lines = |id: &str, notes: &str, n: usize| -> Value {
        json!({"customer_id": d.t.acme, "items": (0..n).map(|_| json!({"product_id": id, "quantity": 1, "notes": notes})).collect::<Vec<_>>()})
    };
    // 250 lines of a product with a 4,000-character description: the description stays
    // with the product, so the order is small.
    let long = product(&app, &d, "LONG-DESC", "Long description", &"d".repeat(4_000)).await;
    let r = app.call("POST", ORDERS, &d.owner, Some(lines(&long, "", 250))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.body["data"]["items"][0].get("description").is_none(),
        "{}",
        r.body["data"]["items"][0]
    );

    // Long multi-byte names and notes: each field is within its bound and the request
    // within the body limit, but the order would not fit one item.
    let wide = product(&app, &d, "WIDE-NAME", &"\u{1D11E}".repeat(200), "").await;
    let before = app.counts(&d.t.company).await;
    let too_big = lines(&wide, &"\u{1D11E}".repeat(200), 250);
    assert!(serde_json::to_vec(&too_big).map(|v| v.len()).unwrap_or(0) < 256 * 1024);
    let r = app.call("POST", ORDERS, &d.owner, Some(too_big)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.code(), "order_too_large");
    assert_eq!(app.counts(&d.t.company).await, before, "nothing stored");

    // Just under the bound is stored, on DynamoDB too: the bound leaves room for the item's
    // index attributes and DynamoDB's own overhead.
    let size_of = |r: &oms_tests::Reply| serde_json::to_vec(&r.body["data"]).map(|v| v.len()).unwrap_or(0);
    let one = app.call("POST", ORDERS, &d.owner, Some(lines(&wide, "", 1))).await;
    let two = app.call("POST", ORDERS, &d.owner, Some(lines(&wide, "", 2))).await;
    let per_line = size_of(&two) - size_of(&one);
    let fixed = size_of(&one) - per_line;
    let room = oms_domain::order::MAX_ORDER_BYTES - 1_024 - fixed - 250 * per_line;
    let notes = "n".repeat((room / 250).min(500));
    let r = app
        .call("POST", ORDERS, &d.owner, Some(lines(&wide, &notes, 250)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body["error"]);
    let stored = size_of(&r);
    assert!(
        stored > oms_domain::order::MAX_ORDER_BYTES - 8 * 1024,
        "{stored} bytes is not near the bound"
    );
    let id = r.body["data"]["id"].as_str().unwrap_or_default().to_owned();
    let read = app.call("GET", &format!("{ORDERS}/{id}"), &d.owner, None).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["data"]["items"].as_array().map(Vec::len), Some(250));
    // A draft edit that would outgrow the item is refused the same way.
    let draft = app
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(json!({"customer_id": d.t.acme, "status": "draft", "items": [{"product_id": wide, "quantity": 1}]})),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.body);
    let id = draft.body["data"]["id"].as_str().unwrap_or_default().to_owned();
    let grow = json!({"items": (0..250).map(|_| json!({"product_id": wide, "quantity": 1, "notes": "\u{1D11E}".repeat(200)})).collect::<Vec<_>>()});
    let r = app.call("PATCH", &format!("{ORDERS}/{id}"), &d.owner, Some(grow)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.code(), "order_too_large");
}

async fn zero_and_tiny_amounts_are_written_exactly(app: TestApp) {
    let d = demo(&app).await;
    // A free line: every amount is a plain zero in the currency's minor units, never "-0".
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(json!({"customer_id": d.t.acme, "items": [{"sku": "BOLT-M8", "quantity": 1, "unit_price": "0"}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body["data"];
    for field in [
        "subtotal_amount",
        "tax_amount",
        "shipping_amount",
        "discount_amount",
        "total_amount",
    ] {
        assert_eq!(o[field], "0.00", "{field}: {o}");
    }
    assert_eq!(o["items"][0]["line_total"], "0.00");
    // A JSON number with more digits than an amount holds is refused, not rounded to zero.
    for tiny in [json!(1e-30), json!(-1e-30)] {
        let p = app
            .call(
                "POST",
                "/api/v1/products",
                &d.owner,
                Some(json!({"sku": "TINY-1", "name": "Tiny", "price": tiny})),
            )
            .await;
        assert_eq!(p.status, 422, "{}", p.body);
    }
}

async fn a_wrong_method_names_the_allowed_ones(app: TestApp) {
    let d = demo(&app).await;
    let r = app.call("DELETE", "/api/v1/products", &d.owner, None).await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.code(), "method_not_allowed");
    assert_eq!(r.headers["allow"], "POST, GET");
}

/// An amount may be a JSON number as well as a string. The number is read as the decimal
/// the client wrote, not as a nearby double: the largest valid amounts (15 significant
/// digits) come through exactly, and one ten-thousandth past the maximum is still over it.
async fn amounts_sent_as_json_numbers_are_read_as_written(app: TestApp) {
    let d = demo(&app).await;
    let send = |method: &'static str, path: String, body: String| {
        let app = &app;
        let headers = vec![
            ("authorization".to_owned(), format!("Bearer {}", d.owner)),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        async move { app.raw(method, &path, headers, body.into_bytes()).await }
    };
    let price_path = format!("/api/v1/customers/{}/prices/{}", d.t.acme, d.id("WIDGET-001"));
    for (literal, want) in [
        ("999999999999.99", Some("999999999999.99")),
        ("1000000000000", Some("1000000000000.00")),
        ("12.5", Some("12.50")),
        ("0.07", Some("0.07")),
        ("1000000000000.0001", None),
        ("1000000000000.01", None),
        ("0.005", None),
        ("123456789012.345", None),
    ] {
        let r = send("PUT", price_path.clone(), format!(r#"{{"price": {literal}}}"#)).await;
        match want {
            Some(want) => {
                assert_eq!(r.status, 200, "{literal}: {}", r.body);
                assert_eq!(r.body["data"]["price"], want, "{literal}");
            }
            None => {
                assert_eq!(r.status, 422, "{literal} must be refused: {}", r.body);
                assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "price", "{literal}");
            }
        }
    }
    // The same reading on an order line.
    let body = format!(
        r#"{{"customer_id": "{}", "items": [{{"sku": "WIDGET-001", "quantity": 1, "unit_price": 1000000000000.0001}}]}}"#,
        d.t.acme
    );
    let r = send("POST", ORDERS.to_owned(), body).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "items[0].unit_price");
}
