//! Bad input gets a clear error in the one shape, and changes nothing (brief §4).

use serde_json::{json, Value};

use oms_api::routes::ROUTES;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, stock, Demo, ORDERS};

on_both_adapters!(
    every_route_refuses_missing_expired_and_forged_tokens,
    order_bodies_are_checked_field_by_field_and_change_nothing,
    oversized_bodies_are_refused,
    product_bodies_are_checked,
    customer_bodies_are_checked,
    unknown_and_malformed_ids_are_not_found,
    missing_permissions_are_forbidden,
    whole_numbers_written_with_a_decimal_point_are_accepted,
    every_route_refuses_unknown_query_parameters,
    null_in_a_change_clears_or_is_refused_never_ignored,
);

/// A concrete path for a route, using demo ids.
fn concrete(path: &str, d: &Demo) -> String {
    path.replace(
        "{id}",
        &match path {
            p if p.starts_with("/api/v1/customers") => d.t.acme.to_string(),
            _ => d.id("WIDGET-001").to_string(),
        },
    )
    .replace("{product_id}", &d.id("WIDGET-001").to_string())
}

fn assert_error_shape(body: &Value) {
    let e = &body["error"];
    assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "no code in {body}");
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message in {body}"
    );
}

async fn every_route_refuses_missing_expired_and_forged_tokens(app: TestApp) {
    let d = demo(&app).await;
    let before = app.counts(&d.t.company).await;
    let expired = app.jwt.mint("user-owner", "demo", "OWNER", None, -10);
    let forged = oms_api::auth::LocalJwt::new(b"somebody-else").mint("user-owner", "demo", "OWNER", None, 3600);
    let bad_role = app.jwt.mint("user-x", "demo", "SUPERUSER", None, 3600);
    let customer_without_id = app.jwt.mint("user-x", "demo", "CUSTOMER", None, 3600);
    for route in ROUTES {
        let path = concrete(route.path, &d);
        let body = (route.method != "GET").then(|| json!({}));
        let none = app
            .raw(
                route.method,
                &path,
                vec![("content-type".into(), "application/json".into())],
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(none.status, 401, "{} {path} without a token", route.method);
        assert_eq!(none.code(), "unauthorized");
        for (what, token) in [
            ("expired", &expired),
            ("forged", &forged),
            ("unknown role", &bad_role),
            ("customer without customer_id", &customer_without_id),
            ("garbage", &"x.y.z".to_owned()),
        ] {
            let r = app.call(route.method, &path, token, body.clone()).await;
            assert_eq!(r.status, 401, "{} {path} with a {what} token: {}", route.method, r.body);
            assert_error_shape(&r.body);
        }
    }
    assert_eq!(app.counts(&d.t.company).await, before);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 120);
}

/// A typo in a query parameter is a 422 naming it on every route (not a silently
/// unfiltered list, nor an ignored option on a write), and nothing changes.
async fn every_route_refuses_unknown_query_parameters(app: TestApp) {
    let d = demo(&app).await;
    let before = app.counts(&d.t.company).await;
    for route in ROUTES {
        let path = format!("{}?staus=held", concrete(route.path, &d));
        let body = (route.method != "GET").then(|| json!({}));
        let r = app.call(route.method, &path, &d.owner, body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "validation_error"),
            "{} {path}: {}",
            route.method,
            r.body
        );
        assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "staus", "{}", r.body);
        assert_error_shape(&r.body);
    }
    // The declared ones are still taken.
    let r = app
        .call("GET", "/api/v1/products?active=true&per_page=2", &d.owner, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.counts(&d.t.company).await, before);
}

/// In every partial update, `null` either clears a field that may be empty or is refused
/// naming the field; it is never read as "leave it alone" (a client that sends
/// `"name": null` must learn the name was not cleared).
async fn null_in_a_change_clears_or_is_refused_never_ignored(app: TestApp) {
    let d = demo(&app).await;
    let order = crate::support::place(&app, &d).await;
    let product = format!("/api/v1/products/{}", d.id("WIDGET-001"));
    let customer = format!("/api/v1/customers/{}", d.t.acme);
    let refused = [
        ("PATCH", "/api/v1/settings".to_owned(), json!({"name": null}), "name"),
        (
            "PATCH",
            "/api/v1/settings".to_owned(),
            json!({"restock_on_cancel": null}),
            "restock_on_cancel",
        ),
        (
            "PATCH",
            "/api/v1/settings".to_owned(),
            json!({"low_stock_threshold": null}),
            "low_stock_threshold",
        ),
        (
            "PATCH",
            "/api/v1/settings".to_owned(),
            json!({"storefront": {"tax_rate": null}}),
            "tax_rate",
        ),
        (
            "PATCH",
            "/api/v1/settings".to_owned(),
            json!({"default_currency": null}),
            "default_currency",
        ),
        ("PATCH", product.clone(), json!({"name": null}), "name"),
        ("PATCH", product.clone(), json!({"price": null}), "price"),
        ("PATCH", product.clone(), json!({"active": null}), "active"),
        (
            "PATCH",
            product.clone(),
            json!({"stock": null, "expected_stock": 120}),
            "stock",
        ),
        (
            "PATCH",
            "/api/v1/users/user-staff".to_owned(),
            json!({"role": null}),
            "role",
        ),
        (
            "PATCH",
            "/api/v1/users/user-staff".to_owned(),
            json!({"email": null}),
            "email",
        ),
        ("PATCH", customer.clone(), json!({"company_name": null}), "company_name"),
        (
            "PATCH",
            format!("{ORDERS}/{order}"),
            json!({"priority": null}),
            "priority",
        ),
        ("PATCH", format!("{ORDERS}/{order}"), json!({"notes": null}), "notes"),
    ];
    let before = app.counts(&d.t.company).await;
    for (method, path, body, field) in refused {
        let before_body = app.call("GET", &path, &d.owner, None).await.body;
        let r = app.call(method, &path, &d.owner, Some(body.clone())).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "validation_error"),
            "{path} {body}: {}",
            r.body
        );
        assert!(
            r.body["error"].to_string().contains(field),
            "{body} should name {field}: {}",
            r.body
        );
        assert_eq!(
            app.call("GET", &path, &d.owner, None).await.body,
            before_body,
            "{path} {body}"
        );
    }
    assert_eq!(app.counts(&d.t.company).await, before);
    // Where empty is allowed, null clears.
    let r = app
        .call(
            "PATCH",
            &product,
            &d.owner,
            Some(json!({"category": null, "low_stock_threshold": null})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["category"], Value::Null);
    assert_eq!(r.body["data"]["low_stock_threshold"], Value::Null);
    let r = app
        .call("PATCH", &customer, &d.owner, Some(json!({"phone": null})))
        .await;
    assert_eq!(
        (r.status.as_u16(), &r.body["data"]["phone"]),
        (200, &Value::Null),
        "{}",
        r.body
    );
}

async fn order_bodies_are_checked_field_by_field_and_change_nothing(app: TestApp) {
    let d = demo(&app).await;
    let before = app.counts(&d.t.company).await;
    let w = d.id("WIDGET-001").to_string();
    let line = |extra: Value| {
        let mut l = json!({"product_id": w, "quantity": 1});
        if let (Some(l), Some(e)) = (l.as_object_mut(), extra.as_object()) {
            l.extend(e.clone());
        }
        json!({"items": [l]})
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({}), 422, "items"),
        (json!({"items": "lots"}), 422, "items"),
        (json!({"items": []}), 422, "items"),
        (json!({"items": [{"sku": "WIDGET-001"}]}), 422, "items[0]"),
        (line(json!({"quantity": 0})), 422, "items[0].quantity"),
        (line(json!({"quantity": -3})), 422, "items[0].quantity"),
        (line(json!({"quantity": 1_000_001})), 422, "items[0].quantity"),
        (line(json!({"quantity": 1.5})), 422, "items[0].quantity"),
        (line(json!({"quantity": "2"})), 422, "items[0].quantity"),
        (
            line(json!({"quantity": 99_999_999_999_999_999_999.0})),
            422,
            "items[0].quantity",
        ),
        (line(json!({"sku": "WIDGET-001"})), 422, "items[0].product_id"),
        // An array where an object belongs is a wrong type, not a struct by position.
        (json!({"items": [["WIDGET-001", 1]]}), 422, "items[0]"),
        (
            json!({"items": [{"sku": "WIDGET-001", "quantity": 1}], "shipping_info": [null, "1 Main St"]}),
            422,
            "shipping_info",
        ),
        (line(json!({"colour": "red"})), 422, "items[0].colour"),
        (line(json!({"tax_amount": "-1.00"})), 422, "items[0].tax_amount"),
        (line(json!({"tax_amount": "abc"})), 422, "items[0].tax_amount"),
        (line(json!({"tax_amount": "0.001"})), 422, "items[0].tax_amount"),
        (
            json!({"items": [{"product_id": "not-a-uuid", "quantity": 1}]}),
            422,
            "items[0].product_id",
        ),
        (
            json!({"items": [{"sku": "has space", "quantity": 1}]}),
            422,
            "items[0].sku",
        ),
        (
            json!({"notes": "x".repeat(2001), "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
            422,
            "notes",
        ),
        (
            json!({"currency": "XYZ", "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
            422,
            "currency",
        ),
        (
            json!({"currency": "EUR", "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
            422,
            "items[0].product_id",
        ),
        (
            json!({"shipping_amount": -5, "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
            422,
            "shipping_amount",
        ),
        (
            json!({"order_date": "2026-02-30", "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
            422,
            "order_date",
        ),
        (
            json!({"order_date": "2026-03-02", "due_date": "2026-03-01", "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
            422,
            "due_date",
        ),
        (
            json!({"priority": "asap", "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
            422,
            "priority",
        ),
        (
            json!({"status": "shipped", "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
            422,
            "status",
        ),
        (
            json!({"customer_id": d.t.globex, "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
            422,
            "customer_id",
        ),
        (
            json!({"shipping_info": {"country": "XX"}, "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
            422,
            "shipping_info",
        ),
        (json!({"items": [{"sku": "NOPE-404", "quantity": 1}]}), 404, ""),
        (
            json!({"items": [{"product_id": "00000000-0000-4000-8000-00000000dead", "quantity": 1}]}),
            404,
            "",
        ),
    ];
    for (body, status, field) in cases {
        // Fields a storefront may not set at all are checked here as the staff send them.
        let token = match body.as_object().map(|b| {
            b.keys()
                .all(|k| ["items", "notes", "customer_id", "shipping_info"].contains(&k.as_str()))
        }) {
            Some(true) => &d.buyer,
            _ => &d.owner,
        };
        let r = app.call("POST", ORDERS, token, Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), status, "{body} -> {}", r.body);
        assert_error_shape(&r.body);
        if status == 422 && !field.is_empty() {
            let fields = r.body["error"]["details"]["fields"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                fields
                    .iter()
                    .any(|f| f["field"].as_str().is_some_and(|n| n.starts_with(field))),
                "{body} should name {field}: {}",
                r.body
            );
        }
    }
    let auth = vec![("authorization".to_owned(), format!("Bearer {}", d.buyer))];
    let with_ct = |ct: &str| {
        let mut h = auth.clone();
        h.push(("content-type".into(), ct.into()));
        h
    };
    for (body, ct, status, code) in [
        (&b"{\"items\": ["[..], "application/json", 400, "malformed_json"),
        (&b""[..], "application/json", 400, "malformed_json"),
        (&b"[1,2]"[..], "application/json", 422, "validation_error"),
        (&b"\xff\xfe"[..], "application/json", 400, "malformed_json"),
        (
            &b"items=1"[..],
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
    ] {
        let r = app.raw("POST", ORDERS, with_ct(ct), body.to_vec()).await;
        assert_eq!(
            r.status.as_u16(),
            status,
            "{:?} -> {}",
            String::from_utf8_lossy(body),
            r.body
        );
        assert_eq!(r.code(), code);
    }
    assert_eq!(app.counts(&d.t.company).await, before, "no bad request wrote anything");
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 120);
}

async fn oversized_bodies_are_refused(app: TestApp) {
    let d = demo(&app).await;
    let huge = json!({"notes": "x".repeat(300 * 1024), "items": [{"sku": "WIDGET-001", "quantity": 1}]});
    for (method, path) in [("POST", ORDERS.to_owned()), ("POST", "/api/v1/products".to_owned())] {
        let r = app.call(method, &path, &d.owner, Some(huge.clone())).await;
        assert_eq!(r.status, 413, "{path}");
        assert_eq!(r.code(), "payload_too_large");
    }
    let many_lines: Vec<Value> = (0..251).map(|_| json!({"sku": "WIDGET-001", "quantity": 1})).collect();
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(json!({"items": many_lines})))
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(app.counts(&d.t.company).await.orders, 0);
}

async fn product_bodies_are_checked(app: TestApp) {
    let d = demo(&app).await;
    let ok = json!({"sku": "NEW-1", "name": "New", "price": "10.00", "stock": 5});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    for (body, status, field) in [
        (with("price", json!("-1")), 422, "price"),
        (with("price", json!("1.999")), 422, "price"),
        (with("price", json!(true)), 422, "price"),
        (with("stock", json!(-1)), 422, "stock"),
        (with("stock", json!("ten")), 422, "stock"),
        (with("sku", json!("")), 422, "sku"),
        (with("name", json!("   ")), 422, "name"),
        (with("currency", json!("usd")), 201, ""),
        (with("sku", json!("widget-001")), 409, ""),
        (json!({"sku": "NEW-2", "price": "1.00"}), 422, "name"),
    ] {
        let r = app.call("POST", "/api/v1/products", &d.owner, Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), status, "{body} -> {}", r.body);
        if status == 409 {
            assert_eq!(r.code(), "duplicate_sku");
        }
        if !field.is_empty() {
            assert!(
                r.body.to_string().contains(field),
                "{body} should name {field}: {}",
                r.body
            );
        }
    }
    let path = format!("/api/v1/products/{}", d.id("BOLT-M8"));
    for (body, status) in [
        (json!({}), 422),
        (json!({"stock": -5}), 422),
        (json!({"price": "x"}), 422),
        (json!({"sku": "GADGET-002"}), 409),
        (json!({"weight": 3}), 422),
    ] {
        let r = app.call("PATCH", &path, &d.owner, Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), status, "{body} -> {}", r.body);
    }
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 3);
}

async fn customer_bodies_are_checked(app: TestApp) {
    let d = demo(&app).await;
    for (body, status) in [
        (json!({}), 422),
        (json!({"company_name": ""}), 422),
        (json!({"company_name": "X", "email": "not-an-email"}), 422),
        (
            json!({"company_name": "X", "billing_address": {"country": "Narnia"}}),
            422,
        ),
        (json!({"company_name": "X", "billing_address": {"planet": "Mars"}}), 422),
    ] {
        let r = app
            .call("POST", "/api/v1/customers", &d.owner, Some(body.clone()))
            .await;
        assert_eq!(r.status.as_u16(), status, "{body} -> {}", r.body);
    }
    let price = format!("/api/v1/customers/{}/prices/{}", d.t.globex, d.id("WIDGET-001"));
    for (body, status) in [
        (json!({"price": "-1"}), 422),
        (json!({"price": "1.234"}), 422),
        (json!({}), 422),
    ] {
        let r = app.call("PUT", &price, &d.owner, Some(body.clone())).await;
        assert_eq!(r.status.as_u16(), status, "{body} -> {}", r.body);
    }
    let g = app
        .call("GET", &format!("/api/v1/customers/{}", d.t.globex), &d.owner, None)
        .await;
    assert_eq!(g.body["data"]["price_overrides"], json!([]), "no override was written");
}

async fn unknown_and_malformed_ids_are_not_found(app: TestApp) {
    let d = demo(&app).await;
    let unknown = "00000000-0000-4000-8000-00000000beef";
    for (method, path, body) in [
        ("GET", format!("{ORDERS}/{unknown}"), None),
        ("GET", format!("{ORDERS}/not-a-uuid"), None),
        ("GET", format!("/api/v1/products/{unknown}"), None),
        ("GET", "/api/v1/products/12".to_owned(), None),
        (
            "PATCH",
            format!("/api/v1/products/{unknown}"),
            Some(json!({"stock": 1})),
        ),
        ("GET", format!("/api/v1/customers/{unknown}"), None),
        ("GET", format!("/api/v1/imports/{unknown}"), None),
        ("GET", "/api/v1/imports/not-a-uuid".to_owned(), None),
        (
            "PUT",
            format!("/api/v1/customers/{unknown}/prices/{}", d.id("WIDGET-001")),
            Some(json!({"price": "1.00"})),
        ),
        (
            "PUT",
            format!("/api/v1/customers/{}/prices/{unknown}", d.t.acme),
            Some(json!({"price": "1.00"})),
        ),
        (
            "POST",
            ORDERS.to_owned(),
            Some(json!({"customer_id": unknown, "items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        ),
    ] {
        let r = app.call(method, &path, &d.owner, body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        assert_eq!(r.code(), "not_found");
    }
    let r = app.call("GET", "/api/v1/nothing-here", &d.owner, None).await;
    assert_eq!(r.status, 404);
    let r = app.call("DELETE", ORDERS, &d.owner, None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.code(), "method_not_allowed");
}

async fn missing_permissions_are_forbidden(app: TestApp) {
    let d = demo(&app).await;
    let product = json!({"sku": "P-1", "name": "P", "price": "1.00"});
    let w = format!("/api/v1/products/{}", d.id("WIDGET-001"));
    for (token, method, path, body, permission) in [
        (
            &d.finance,
            "POST",
            ORDERS.to_owned(),
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]})),
            "orders:create",
        ),
        (
            &d.buyer,
            "POST",
            "/api/v1/products".to_owned(),
            Some(product.clone()),
            "products:write",
        ),
        (
            &d.staff,
            "POST",
            "/api/v1/products".to_owned(),
            Some(product),
            "products:write",
        ),
        (
            &d.staff,
            "PATCH",
            w.clone(),
            Some(json!({"name": "Renamed"})),
            "products:write",
        ),
        (&d.finance, "PATCH", w, Some(json!({"stock": 1})), "stock:adjust"),
        (
            &d.buyer,
            "POST",
            "/api/v1/customers".to_owned(),
            Some(json!({"company_name": "X"})),
            "customers:write",
        ),
        (
            &d.buyer,
            "GET",
            format!("/api/v1/customers/{}", d.t.globex),
            None,
            "customers:read",
        ),
        (
            &d.staff,
            "PUT",
            format!("/api/v1/customers/{}/prices/{}", d.t.acme, d.id("BOLT-M8")),
            Some(json!({"price": "1.00"})),
            "orders:price_override",
        ),
        (
            &d.buyer,
            "GET",
            "/api/v1/inventory/health".to_owned(),
            None,
            "inventory:read",
        ),
        (
            &d.finance,
            "GET",
            "/api/v1/inventory/out".to_owned(),
            None,
            "inventory:read",
        ),
    ] {
        let r = app.call(method, &path, token, body).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert_eq!(r.code(), "permission_error");
        assert_eq!(r.body["error"]["details"]["permission"], permission);
    }
    // The CSV import needs products:write (STAFF lacks it), whatever the file.
    let headers = vec![
        ("authorization".to_owned(), format!("Bearer {}", d.staff)),
        ("content-type".to_owned(), "text/csv".to_owned()),
    ];
    let r = app
        .raw(
            "POST",
            "/api/v1/products/import",
            headers,
            b"sku,name,price\nS-1,S,1\n".to_vec(),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "permission_error"), "{}", r.body);
    assert_eq!(r.body["error"]["details"]["permission"], "products:write");
    // A customer may read itself, and staff may adjust stock without products:write.
    assert_eq!(
        app.call("GET", &format!("/api/v1/customers/{}", d.t.acme), &d.buyer, None)
            .await
            .status,
        200
    );
    let adj = app
        .call(
            "PATCH",
            &format!("/api/v1/products/{}", d.id("BOLT-M8")),
            &d.staff,
            Some(json!({"stock": 30, "expected_stock": 3})),
        )
        .await;
    assert_eq!(adj.status, 200, "{}", adj.body);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 30);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 120);
}

/// JSON Schema's `integer` (the OpenAPI document's type for quantities, stock and deltas)
/// counts `2.0` as 2, so the API does too; `2.5` stays a 422 (above).
async fn whole_numbers_written_with_a_decimal_point_are_accepted(app: TestApp) {
    let d = demo(&app).await;
    let before = stock(&app, &d, "WIDGET-001").await;
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 2.0}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["items"][0]["quantity"], 2);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, before - 2);

    let path = format!("/api/v1/products/{}", d.id("WIDGET-001"));
    let r = app
        .call(
            "POST",
            &format!("{path}/stock-adjustments"),
            &d.staff,
            Some(json!({"delta": 3.0, "reason": "delivery"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["applied"], 3);
    let r = app
        .call(
            "PATCH",
            &path,
            &d.staff,
            Some(json!({"stock": 1e2, "expected_stock": f64::from(before + 1)})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["stock"], 100);
    // A fraction is still refused, and changes nothing.
    let r = app
        .call(
            "POST",
            &format!("{path}/stock-adjustments"),
            &d.staff,
            Some(json!({"delta": 0.5, "reason": "x"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "delta");
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 100);
}
