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
        .call("POST", ORDERS, &d.buyer, Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]})))
        .await;
    assert_eq!(r.status, 500, "{}", r.body);
    assert_eq!(r.code(), "internal_error");
    assert_eq!(r.message(), "internal error", "the panic's text is logged, never shown");
    assert!(!r.body.to_string().contains("injected"), "{}", r.body);
    // The same server goes on answering.
    let ok = app
        .call("POST", ORDERS, &d.buyer, Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]})))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 119, "only the second order took stock");
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
        .call("POST", ORDERS, &d.owner, Some(json!({"customer_id": d.t.acme, "status": "draft", "items": [{"sku": "WIDGET-001", "quantity": 1}]})))
        .await;
    assert_eq!(draft.status, 201, "{}", draft.body);
    let id = draft.body["data"]["id"].as_str().unwrap_or_default().to_owned();
    for body in [
        json!({"shipping_amount": ABSURD}),
        json!({"items": [{"sku": "WIDGET-001", "quantity": 1, "tax_amount": ABSURD}]}),
    ] {
        let r = app.call("PATCH", &format!("{ORDERS}/{id}"), &d.owner, Some(body.clone())).await;
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
    let place = |price: &str, qty: u32| {
        json!({"items": [{"sku": "PALLET-JACK", "quantity": qty, "unit_price": price}]})
    };
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
    let over = app.call("POST", ORDERS, &d.owner, Some(place("1000000000000", 1001))).await;
    assert_eq!(over.status, 422, "{}", over.body);
    want.sort_by(|a, b| {
        let (a, b): (rust_decimal::Decimal, rust_decimal::Decimal) =
            (a.parse().unwrap_or_default(), b.parse().unwrap_or_default());
        b.cmp(&a)
    });
    let r = app
        .call("GET", &format!("{ORDERS}?sort_by=total_amount&per_page=10"), &d.owner, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got: Vec<String> = r.body["data"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["total_amount"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    assert_eq!(got, want);
    let hv = app
        .call("GET", "/api/v1/sales/orders/high-value?minimum_amount=99999999999999", &d.owner, None)
        .await;
    assert_eq!(hv.status, 200, "{}", hv.body);
    assert_eq!(hv.body["meta"]["total"], 2, "{}", hv.body);
    assert_eq!(hv.body["meta"]["total_value"], "1999999999999990.00");
}
