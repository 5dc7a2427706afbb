//! Shared fixtures for the scenarios: the demo tenant and a token per role.

use oms_api::demo::DemoTenant;
use oms_domain::ids::ProductId;
use oms_domain::order::OrderStatus::{self, *};
use oms_tests::{Reply, TestApp};
use serde_json::{json, Value};

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
