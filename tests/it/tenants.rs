//! Tenant isolation on every route, derived from the route table so a new route is
//! covered the day it is added: another company's OWNER, calling with this company's real
//! ids, gets 404 on every route that names one, sees none of this company's records on
//! every list, and changes nothing.

use serde_json::json;

use oms_api::routes::ROUTES;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, place, stock, Demo};

on_both_adapters!(another_company_reaches_nothing_of_this_one_on_any_route);

/// The route's path with this company's real ids; `None` for the webhook intake (no
/// token: its tenant is the integration's, checked by signature in `webhooks`).
fn with_real_ids(path: &str, d: &Demo, order: &str, import: &str) -> Option<String> {
    if path.starts_with("/api/v1/webhooks/") {
        return None;
    }
    let integration = d.t.integrations[0].id.to_string();
    let id = match path {
        p if p.starts_with("/api/v1/sales/orders") => order.to_owned(),
        p if p.starts_with("/api/v1/customers") => d.t.acme.to_string(),
        p if p.starts_with("/api/v1/integrations") => integration,
        p if p.starts_with("/api/v1/users") => "user-staff".to_owned(),
        p if p.starts_with("/api/v1/imports") => import.to_owned(),
        _ => d.id("WIDGET-001").to_string(),
    };
    Some(
        path.replace("{id}", &id)
            .replace("{product_id}", &d.id("WIDGET-001").to_string())
            // No delivery exists yet; the integration's own 404 comes first anyway.
            .replace("{delivery_id}", "00000000-0000-4000-8000-00000000d001"),
    )
}

/// A body the route would accept for this company, so what answers is the tenant check,
/// not validation.
fn valid_body(function: &str, d: &Demo) -> Option<serde_json::Value> {
    let widget = d.id("WIDGET-001").to_string();
    Some(match function {
        "create_order" => json!({"customer_id": d.t.acme, "items": [{"sku": "WIDGET-001", "quantity": 1}]}),
        "update_order" => json!({"notes": "mine now"}),
        "change_order_status" => json!({"status": "cancelled", "cancellation_reason": "x"}),
        "update_product" => json!({"name": "Stolen"}),
        "adjust_stock" => json!({"delta": -5, "reason": "x"}),
        "bulk_stock" => json!({"product_ids": [widget], "mode": "set", "value": 0, "reason": "x"}),
        "set_customer_price" => json!({"price": "0.01"}),
        "update_customer" => json!({"company_name": "Stolen"}),
        "update_user" => json!({"role": "FINANCE"}),
        "create_product" => json!({"sku": "ZULU-1", "name": "Z", "price": "1.00"}),
        "create_customer" => json!({"company_name": "Zulu Buyer"}),
        "create_user" => json!({"name": "Z", "email": "z@zulu.example", "role": "STAFF"}),
        "create_integration" => json!({"name": "Z", "kind": "standard"}),
        "update_settings" => json!({"monthly_order_limit": 1}),
        "create_child_order" => json!({"kind": "invoice"}),
        "record_payment" => json!({"amount": "1.00"}),
        _ => return None,
    })
}

async fn another_company_reaches_nothing_of_this_one_on_any_route(app: TestApp) {
    let d = demo(&app).await;
    let order = place(&app, &d).await;
    // An import of this company's, for `/imports/{id}`.
    let headers = vec![
        ("authorization".to_owned(), format!("Bearer {}", d.owner)),
        ("content-type".to_owned(), "text/csv".to_owned()),
    ];
    let imported = app
        .raw(
            "POST",
            "/api/v1/products/import",
            headers,
            b"sku,name,price\nTENANT-1,Ours,1.00\n".to_vec(),
        )
        .await;
    assert_eq!(imported.status, 201, "{}", imported.body);
    let import = imported.body["data"]["id"].as_str().unwrap_or_default().to_owned();
    let zulu = app.token("zulu", "OWNER", None);
    let before = app.counts(&d.t.company).await;
    let widget_stock = stock(&app, &d, "WIDGET-001").await;
    // What must never appear in another company's answer.
    let ours = [
        order.clone(),
        d.t.acme.to_string(),
        d.id("WIDGET-001").to_string(),
        // Low and out of stock: what the inventory lists would show.
        d.id("BOLT-M8").to_string(),
        d.id("CABLE-CAT6").to_string(),
        import.clone(),
        "user-staff".to_owned(),
        "Acme Corporation".to_owned(),
        "Demo Distributors".to_owned(),
    ];
    let mut checked = 0;
    for route in ROUTES {
        let Some(path) = with_real_ids(route.path, &d, &order, &import) else {
            continue;
        };
        let body = valid_body(route.function, &d);
        let sent = format!("{path} {}", body.as_ref().map(|b| b.to_string()).unwrap_or_default());
        let r = app.call(route.method, &path, &zulu, body).await;
        let text = r.body.to_string();
        if route.path.contains('{') {
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (404, "not_found"),
                "{} {path} as another company: {text}",
                route.method
            );
        } else {
            // Lists and creates: whatever the answer, nothing of ours is in it.
            assert!(r.status.as_u16() < 500, "{} {path}: {text}", route.method);
        }
        // (A 404 names the id the caller sent; that is no leak.)
        for secret in ours.iter().filter(|s| !sent.contains(s.as_str())) {
            assert!(
                !text.contains(secret.as_str()),
                "{} {path} leaked {secret}: {text}",
                route.method
            );
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} routes checked");
    assert_eq!(app.counts(&d.t.company).await, before);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, widget_stock);
    // Nothing of ours moved: the demo's settings, users and customer are as they were.
    let s = app.call("GET", "/api/v1/settings", &d.owner, None).await;
    assert_eq!(s.body["data"]["version"], 0, "{}", s.body);
    let u = app.call("GET", "/api/v1/users/user-staff", &d.owner, None).await;
    assert_eq!(u.body["data"]["version"], 0, "{}", u.body);
    let c = app
        .call("GET", &format!("/api/v1/customers/{}", d.t.acme), &d.owner, None)
        .await;
    assert_eq!(c.body["data"]["version"], 0, "{}", c.body);
}
