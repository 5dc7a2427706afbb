//! Shared fixtures for the scenarios: the demo tenant and a token per role.

use oms_api::demo::DemoTenant;
use oms_domain::ids::ProductId;
use oms_domain::order::OrderStatus::{self, *};
use oms_tests::{Reply, TestApp};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::HashSet;

pub struct Demo {
    pub t: DemoTenant,
    pub owner: String,
    pub staff: String,
    pub finance: String,
    pub buyer: String,
    pub integration: String,
}

pub async fn demo(app: &TestApp) -> Demo {
    let t = app.seed_demo().await;
    let c = t.company.as_str().to_owned();
    Demo {
        owner: app.token(&c, "OWNER", None),
        staff: app.token(&c, "STAFF", None),
        finance: app.token(&c, "FINANCE", None),
        buyer: app.token(&c, "CUSTOMER", Some(t.acme)),
        integration: app.token(&c, "INTEGRATION", None),
        t,
    }
}

impl Demo {
    pub fn id(&self, sku: &str) -> ProductId {
        self.t.product(sku).expect("demo sku")
    }
}

pub async fn stock(app: &TestApp, demo: &Demo, sku: &str) -> u32 {
    app.store()
        .get_product(&demo.t.company, demo.id(sku))
        .await
        .expect("read")
        .expect("product")
        .stock
}

pub fn items(lines: &[(&str, i64)]) -> Value {
    json!({ "items": lines.iter().map(|(sku, q)| json!({"sku": sku, "quantity": q})).collect::<Vec<_>>() })
}

pub const ORDERS: &str = "/api/v1/sales/orders";

pub async fn place(app: &TestApp, d: &Demo) -> String {
    let r = app
        .call("POST", ORDERS, &d.staff, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().expect("id").to_owned()
}

pub async fn place_draft(app: &TestApp, d: &Demo, sku: &str, qty: i64) -> String {
    let body = json!({"customer_id": d.t.acme, "status": "draft", "items": [{"sku": sku, "quantity": qty}]});
    let r = app.call("POST", ORDERS, &d.staff, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().expect("id").to_owned()
}

pub async fn to(app: &TestApp, token: &str, id: &str, status: OrderStatus) -> Reply {
    let mut body = json!({"status": status.as_str()});
    if status == Cancelled {
        body["cancellation_reason"] = json!("customer changed their mind");
    }
    app.call("POST", &format!("{ORDERS}/{id}/status"), token, Some(body))
        .await
}

/// The shortest allowed path from a new (pending) order, or a draft, to `s`.
pub fn path_to(s: OrderStatus) -> (bool, Vec<OrderStatus>) {
    match s {
        Draft => (true, vec![]),
        Pending => (false, vec![]),
        PendingApproval => (false, vec![PendingApproval]),
        Confirmed => (false, vec![Confirmed]),
        Processing => (false, vec![Confirmed, Processing]),
        OnHold => (false, vec![OnHold]),
        Shipped => (false, vec![Confirmed, Processing, Shipped]),
        Delivered => (false, vec![Confirmed, Processing, Shipped, Delivered]),
        Completed => (false, vec![Confirmed, Processing, Shipped, Completed]),
        Cancelled => (false, vec![Cancelled]),
    }
}

pub async fn order_in(app: &TestApp, d: &Demo, s: OrderStatus) -> String {
    let (draft, path) = path_to(s);
    let id = if draft {
        place_draft(app, d, "WIDGET-001", 1).await
    } else {
        place(app, d).await
    };
    for step in path {
        let r = to(app, &d.owner, &id, step).await;
        assert_eq!(r.status, 200, "to {step}: {}", r.body);
    }
    id
}

pub const SEARCH: &str = "/api/v1/sales/orders/search";
pub const ATTENTION: &str = "/api/v1/sales/orders/requires-attention";
pub const HIGH_VALUE: &str = "/api/v1/sales/orders/high-value";

/// Every page of a list (following `links.next`), checking no order appears twice.
pub async fn all_pages(app: &TestApp, token: &str, first: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut next = Some(first.to_owned());
    let mut pages = 0;
    while let Some(url) = next {
        let r = app.call("GET", &url, token, None).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let data = r.body["data"].as_array().expect("data").clone();
        assert!(data.len() <= r.body["meta"]["per_page"].as_u64().expect("per_page") as usize);
        assert_eq!(r.body["meta"]["count"].as_u64(), Some(data.len() as u64));
        out.extend(data);
        next = r.body["links"]["next"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 200, "paging does not end");
    }
    let ids = ids(&out);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no order twice: {ids:?}"
    );
    out
}

pub fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|o| o["id"].as_str().expect("id").to_owned()).collect()
}

pub fn set(items: &[Value]) -> HashSet<String> {
    ids(items).into_iter().collect()
}

pub fn dec(v: &Value) -> Decimal {
    v.as_str().expect("a decimal string").parse().expect("decimal")
}

/// `n` storefront orders of `quantity` x `sku` by the demo buyer, all at once: how many
/// were placed. Every other answer must be a 409 with `refusal` (the test's limit).
pub async fn burst(app: &TestApp, d: &Demo, sku: &str, quantity: i64, n: usize, refusal: &str) -> usize {
    let calls = (0..n).map(|_| app.call("POST", ORDERS, &d.buyer, Some(items(&[(sku, quantity)]))));
    let mut placed = 0;
    for r in futures_util::future::join_all(calls).await {
        match r.status.as_u16() {
            201 => placed += 1,
            409 => assert_eq!(r.code(), refusal, "{}", r.body),
            s => panic!("{s}: {}", r.body),
        }
    }
    placed
}

/// Sets the company's `stock_policy` (`at_placement` or `reserve_on_confirm`) as its OWNER.
pub async fn stock_policy(app: &TestApp, d: &Demo, policy: &str) {
    let r = app
        .call(
            "PATCH",
            "/api/v1/settings",
            &d.owner,
            Some(json!({"stock_policy": policy})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["stock_policy"], policy);
}
