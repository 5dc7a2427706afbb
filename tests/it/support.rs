//! Shared fixtures for the scenarios: the demo tenant and a token per role.

use oms_api::demo::DemoTenant;
use oms_domain::ids::ProductId;
use oms_tests::TestApp;
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
