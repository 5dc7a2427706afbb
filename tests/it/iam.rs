//! IAM follows the code: every function's scenarios run against DynamoDB Local and moto
//! through SDK clients with a recording interceptor, and each AWS action a function really
//! performs (a transaction's actions one by one, index reads on the index resource) must be
//! allowed by that function's policy in `infra/template.yaml`. A missing permission fails
//! here, not as a 500 in AWS.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::{json, Value};
use serde_yaml::Value as Yaml;

use oms_adapters::dynamo::{create_table, DynamoStore};
use oms_adapters::ses::SesMailer;
use oms_adapters::sqs::SqsPublisher;
use oms_api::routes::ROUTES;
use oms_api::workers::{relay_until_empty, sqs_batch};
use oms_api::App;
use oms_domain::usecases::notifications::{NotifyDeps, Worker};
use oms_tests::sdk::{CallRecorder, Needed};
use oms_tests::TEST_LEASE_SECS;
use oms_tests::{dynamodb_endpoint, moto_endpoint, Backend, TestApp};

use crate::support::{demo, Demo, ORDERS};

fn pascal(snake: &str) -> String {
    snake.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect()
}

/// The actions each function's policy allows: (action, allowed on an index resource).
fn policies() -> BTreeMap<String, Vec<(String, bool)>> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let t: Yaml = serde_yaml::from_str(&std::fs::read_to_string(path).expect("template")).expect("YAML");
    let mut out = BTreeMap::new();
    for (name, res) in t["Resources"].as_mapping().expect("Resources") {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let mut allowed = Vec::new();
        for policy in res["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            for st in policy["Statement"].as_sequence().into_iter().flatten() {
                if st["Effect"].as_str() != Some("Allow") {
                    continue;
                }
                let resources = serde_yaml::to_string(&st["Resource"]).unwrap_or_default();
                let on_index = resources.contains("/index/");
                let actions: Vec<String> = match &st["Action"] {
                    Yaml::String(a) => vec![a.clone()],
                    Yaml::Sequence(s) => s.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
                    _ => Vec::new(),
                };
                allowed.extend(actions.into_iter().map(|a| (a, on_index)));
            }
        }
        out.insert(name.as_str().unwrap_or_default().to_owned(), allowed);
    }
    out
}

/// Which route a request took: its function.
fn function_of(method: &str, target: &str) -> &'static str {
    let path = target.split('?').next().unwrap_or_default();
    let matches = |pattern: &str| {
        let (a, b): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
        a.len() == b.len() && a.iter().zip(&b).all(|(p, s)| p.starts_with('{') || p == s)
    };
    // Literal segments win over parameters (`/orders/search` before `/orders/{id}`).
    ROUTES
        .iter()
        .filter(|r| r.method == method && matches(r.path))
        .min_by_key(|r| r.path.matches('{').count())
        .map(|r| r.function)
        .unwrap_or_else(|| panic!("no route for {method} {path}"))
}

struct Recording {
    app: TestApp,
    rec: CallRecorder,
    seen: BTreeMap<String, BTreeSet<Needed>>,
}

impl Recording {
    /// Calls the API and files what the call performed under the function that served it.
    async fn call(&mut self, method: &str, target: &str, token: &str, body: Option<Value>) -> Value {
        self.rec.take();
        let r = self.app.call(method, target, token, body).await;
        assert!(r.status.is_success(), "{method} {target}: {} {}", r.status, r.body);
        let f = function_of(method, target).to_owned();
        self.seen.entry(f).or_default().extend(self.rec.take());
        r.body
    }

    /// A `GET` answered with something other than JSON (the invoice PDF).
    async fn download(&mut self, target: &str, token: &str) {
        self.rec.take();
        let (status, _, bytes) = self.app.download(target, token).await;
        assert!(
            status.is_success(),
            "GET {target}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        let f = function_of("GET", target).to_owned();
        self.seen.entry(f).or_default().extend(self.rec.take());
    }

    async fn with_key(&mut self, token: &str, key: &str, body: Value) -> Value {
        self.rec.take();
        let headers = vec![
            ("authorization".to_owned(), format!("Bearer {token}")),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("idempotency-key".to_owned(), key.to_owned()),
        ];
        let r = self
            .app
            .raw("POST", ORDERS, headers, serde_json::to_vec(&body).expect("json"))
            .await;
        assert!(r.status.is_success(), "{}", r.body);
        self.seen
            .entry("create_order".into())
            .or_default()
            .extend(self.rec.take());
        r.body
    }

    /// A signed webhook delivery (no token), filed under `receive_webhook`.
    async fn webhook(&mut self, integration: &str, secret: &str, id: &str, body: &str) -> Value {
        self.rec.take();
        let ts = chrono::Utc::now().timestamp();
        let sig = oms_domain::webhook::sign_standard(secret, id, ts, body.as_bytes()).expect("a whsec_ secret");
        let headers = vec![
            ("webhook-id".to_owned(), id.to_owned()),
            ("webhook-timestamp".to_owned(), ts.to_string()),
            ("webhook-signature".to_owned(), sig),
        ];
        let r = self.app.post_webhook(integration, headers, body).await;
        assert_eq!(r.status.as_u16(), 202, "{}", r.body);
        self.file("receive_webhook");
        r.body
    }

    /// A CSV import (its first steps run in the request).
    async fn import(&mut self, token: &str, csv: &str) -> Value {
        self.rec.take();
        let headers = vec![
            ("authorization".to_owned(), format!("Bearer {token}")),
            ("content-type".to_owned(), "text/csv".to_owned()),
        ];
        let r = self
            .app
            .raw("POST", "/api/v1/products/import", headers, csv.as_bytes().to_vec())
            .await;
        assert!(r.status.is_success(), "import: {} {}", r.status, r.body);
        self.file("import_products");
        r.body
    }

    fn file(&mut self, function: &str) {
        let calls = self.rec.take();
        self.seen.entry(function.to_owned()).or_default().extend(calls);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_function_is_allowed_every_aws_action_it_performs() {
    let (Some(ddb), Some(moto)) = (dynamodb_endpoint(), moto_endpoint()) else {
        eprintln!("skipped (OMS_SKIP_DYNAMODB=1)");
        return;
    };
    let rec = CallRecorder::default();
    let client = rec.dynamodb(&oms_api::app::sdk_config(Some(&ddb)).await);
    let table = format!("oms-iam-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table).await.expect("table");
    let store = DynamoStore::new(client, table);
    let app = TestApp::from_app(
        App::new(Arc::new(store.clone()), b"iam-cursor-secret"),
        Backend::Dynamo(store),
    );
    let d = demo(&app).await;
    // A monthly cap, so the cap-usage worker has notices to send.
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.monthly_order_limit = Some(6);
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    rec.take();
    let mut r = Recording {
        app,
        rec: rec.clone(),
        seen: BTreeMap::new(),
    };
    let (acme, globex) = (d.t.acme.to_string(), d.t.globex.to_string());
    let widget = d.id("WIDGET-001").to_string();

    // Orders: every channel and option placement has.
    r.call(
        "POST",
        ORDERS,
        &d.buyer,
        Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]})),
    )
    .await;
    r.with_key(
        &d.buyer,
        "iam-1",
        json!({"items": [{"product_id": widget, "quantity": 1}]}),
    )
    .await;
    r.with_key(
        &d.buyer,
        "iam-1",
        json!({"items": [{"product_id": widget, "quantity": 1}]}),
    )
    .await;
    r.call(
        "POST",
        ORDERS,
        &d.staff,
        Some(json!({"source": "phone", "items": [{"sku": "BOLT-M8", "quantity": 1}]})),
    )
    .await;
    let origin =
        json!({"customer_id": globex, "origin_order_id": "ERP-1", "items": [{"sku": "GADGET-002", "quantity": 1}]});
    r.call("POST", ORDERS, &d.integration, Some(origin.clone())).await;
    r.call("POST", ORDERS, &d.integration, Some(origin)).await;
    let big = r
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(
                json!({"customer_id": acme, "due_date": "2020-01-02", "order_date": "2020-01-01",
            "items": [{"sku": "PALLET-JACK", "quantity": 1, "unit_price": "25000.00"}]}),
            ),
        )
        .await;
    let big = big["data"]["id"].as_str().unwrap_or_default().to_owned();
    let draft = r
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(json!({"customer_id": acme, "status": "draft", "items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    let draft = draft["data"]["id"].as_str().unwrap_or_default().to_owned();

    r.download(&format!("{ORDERS}/{big}/invoice"), &d.owner).await;
    // Child orders: a delivered order's return (restocked) and invoice, a payment on it,
    // the return completed (its parent changed with it).
    let sold = r
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(json!({"customer_id": acme, "items": [{"sku": "WIDGET-001", "quantity": 2}]})),
        )
        .await;
    let sold = sold["data"]["id"].as_str().unwrap_or_default().to_owned();
    for s in ["confirmed", "processing", "shipped", "delivered"] {
        r.call(
            "POST",
            &format!("{ORDERS}/{sold}/status"),
            &d.owner,
            Some(json!({"status": s})),
        )
        .await;
    }
    let ret = r
        .call(
            "POST",
            &format!("{ORDERS}/{sold}/children"),
            &d.owner,
            Some(json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 1}], "restock": true})),
        )
        .await;
    let ret = ret["data"]["id"].as_str().unwrap_or_default().to_owned();
    r.call(
        "POST",
        &format!("{ORDERS}/{ret}/status"),
        &d.owner,
        Some(json!({"status": "completed"})),
    )
    .await;
    let inv = r
        .call(
            "POST",
            &format!("{ORDERS}/{sold}/children"),
            &d.owner,
            Some(json!({"kind": "invoice"})),
        )
        .await;
    let inv = inv["data"]["id"].as_str().unwrap_or_default().to_owned();
    r.call(
        "POST",
        &format!("{ORDERS}/{inv}/payments"),
        &d.finance,
        Some(json!({"amount": "1.00"})),
    )
    .await;
    // Its e-mail: recorded here, rendered and sent by the receipts worker below.
    r.call(
        "POST",
        &format!("{ORDERS}/{big}/invoice/email"),
        &d.owner,
        Some(json!({"to": ["ap@acme.example"]})),
    )
    .await;

    // Changes: line edits of a draft, field edits, placing it, cancelling with restock.
    r.call(
        "PATCH",
        &format!("{ORDERS}/{draft}"),
        &d.owner,
        Some(json!({"items": [{"sku": "BOLT-M8", "quantity": 1}, {"product_id": widget, "quantity": 2}]})),
    )
    .await;
    r.call(
        "PUT",
        &format!("{ORDERS}/{draft}"),
        &d.owner,
        Some(json!({"notes": "call first", "due_date": "2030-01-01"})),
    )
    .await;
    r.call(
        "POST",
        &format!("{ORDERS}/{draft}/status"),
        &d.owner,
        Some(json!({"status": "confirmed"})),
    )
    .await;
    r.call(
        "POST",
        &format!("{ORDERS}/{big}/status"),
        &d.owner,
        Some(json!({"status": "on_hold"})),
    )
    .await;
    r.call(
        "POST",
        &format!("{ORDERS}/{draft}/status"),
        &d.owner,
        Some(json!({"status": "cancelled", "cancellation_reason": "test", "restock": true})),
    )
    .await;

    // Boxed: the whole scenario in one future outgrows the test thread's stack.
    Box::pin(settings_and_users(&mut r, &d)).await;

    // Integrations, and two deliveries for the webhook worker: one it places (a new
    // customer), one that fails on an unknown SKU (retried below).
    let created = r
        .call(
            "POST",
            "/api/v1/integrations",
            &d.owner,
            Some(json!({"name": "IAM ERP", "kind": "standard"})),
        )
        .await;
    let integration = created["data"]["id"].as_str().unwrap_or_default().to_owned();
    r.call("GET", "/api/v1/integrations", &d.owner, None).await;
    r.call("GET", &format!("/api/v1/integrations/{integration}"), &d.owner, None)
        .await;
    let rotated = r
        .call(
            "POST",
            &format!("/api/v1/integrations/{integration}/rotate-secret"),
            &d.owner,
            None,
        )
        .await;
    let secret = rotated["data"]["secret"].as_str().unwrap_or_default().to_owned();
    let mut delivery_ids = Vec::new();
    for (n, sku) in ["WIDGET-001", "NO-SUCH-SKU"].into_iter().enumerate() {
        let body = json!({"origin_order_id": format!("IAM-{n}"), "customer": {"external_id": "X1", "email": "iam-buyer@example.com"},
            "items": [{"sku": sku, "quantity": 1}],
            "shipping_address": {"address1": "1 Main", "city": "Austin", "postal_code": "78701", "country": "US"}})
        .to_string();
        let got = r.webhook(&integration, &secret, &format!("msg_iam_{n}"), &body).await;
        delivery_ids.push(got["data"]["delivery_id"].as_str().unwrap_or_default().to_owned());
    }

    // The outbox relay: pending events to the worker queues, search index kept.
    let sqs_plain = oms_api::app::sqs_client(Some(&moto)).await;
    let mut queues = Vec::new();
    for w in Worker::ALL {
        let url = sqs_plain
            .create_queue()
            .queue_name(format!("iam-{}-{}", w.as_str(), uuid::Uuid::new_v4().simple()))
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("url");
        queues.push((w, url));
    }
    let sdk = oms_api::app::sdk_config(Some(&moto)).await;
    let publisher = SqsPublisher::new(rec.sqs(&sdk), queues.iter().map(|(_, u)| u.clone()).collect());
    r.rec.take();
    relay_until_empty(&r.app.app().deps, &publisher, Duration::from_secs(20))
        .await
        .expect("relay");
    r.file("outbox_relay");

    // Reads, for staff and for a customer, with the options that pick other indexes.
    for (token, paths) in [
        (
            &d.owner,
            vec![
                format!("{ORDERS}/{big}"),
                format!("{ORDERS}?status=pending"),
                format!("{ORDERS}?customer_id={acme}"),
                format!("{ORDERS}?sort_by=total_amount"),
                format!("{ORDERS}?sort_by=due_date"),
                format!("{ORDERS}?sort_by=status"),
                format!("{ORDERS}?origin_order_id=ERP-1"),
                format!("{ORDERS}?search=acme"),
                format!("{ORDERS}?source=phone"),
                format!("{ORDERS}/search?q=acme"),
                format!("{ORDERS}/requires-attention"),
                format!("{ORDERS}/high-value"),
                format!("{ORDERS}/high-value?minimum_amount=100"),
                "/api/v1/audit-log".into(),
                format!("/api/v1/audit-log?entity=order&entity_id={big}"),
                "/api/v1/audit-log?actor=user-owner".into(),
                "/api/v1/products".into(),
                "/api/v1/products?category=Hardware&in_stock=true".into(),
                format!("/api/v1/products/{widget}"),
                format!("/api/v1/customers/{acme}"),
            ],
        ),
        (
            &d.buyer,
            vec![
                format!("{ORDERS}"),
                format!("{ORDERS}?sort_by=total_amount"),
                format!("{ORDERS}/search?q=acme"),
                format!("{ORDERS}/requires-attention"),
                format!("{ORDERS}/high-value"),
                format!("{ORDERS}/high-value?minimum_amount=1"),
            ],
        ),
    ] {
        for path in paths {
            r.call("GET", &path, token, None).await;
        }
    }

    // Catalog and customers.
    let p = r
        .call(
            "POST",
            "/api/v1/products",
            &d.owner,
            Some(json!({"sku": "IAM-1", "name": "IAM", "price": "1.00", "stock": 5, "category": "Tests"})),
        )
        .await;
    let p = p["data"]["id"].as_str().unwrap_or_default().to_owned();
    r.call(
        "PATCH",
        &format!("/api/v1/products/{p}"),
        &d.owner,
        Some(json!({"sku": "IAM-2", "stock": 7, "expected_stock": 5, "price": "2.00"})),
    )
    .await;
    for (delta, reason) in [(3, "delivery"), (-50, "count")] {
        let path = format!("/api/v1/products/{p}/stock-adjustments");
        r.call("POST", &path, &d.owner, Some(json!({"delta": delta, "reason": reason})))
            .await;
    }
    let c = r
        .call(
            "POST",
            "/api/v1/customers",
            &d.owner,
            Some(json!({"company_name": "IAM Inc", "email": "iam@example.com"})),
        )
        .await;
    let c = c["data"]["id"].as_str().unwrap_or_default().to_owned();
    r.call(
        "PUT",
        &format!("/api/v1/customers/{c}/prices/{p}"),
        &d.owner,
        Some(json!({"price": "1.50"})),
    )
    .await;

    // The workers, fed what the relay put on their queues, sending through SES on moto.
    let ses_plain = oms_api::app::ses_client(Some(&moto)).await;
    let sender = format!("iam-{}@test.example", uuid::Uuid::new_v4().simple());
    ses_plain
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("identity");
    let notify = NotifyDeps {
        deps: r.app.app().deps.clone(),
        mailer: Arc::new(SesMailer::new(rec.ses(&sdk), sender)),
        lease_secs: TEST_LEASE_SECS,
        documents: Some(Arc::new(oms_documents::InvoiceDocuments)),
    };
    for (w, url) in &queues {
        let mut records = Vec::new();
        loop {
            let got = sqs_plain
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            let msgs = got.messages.unwrap_or_default();
            if msgs.is_empty() {
                break;
            }
            for m in msgs {
                let mut msg = SqsMessage::default();
                msg.message_id = m.message_id.clone();
                msg.body = m.body.clone();
                records.push(msg);
            }
        }
        assert!(!records.is_empty(), "the relay fed the {} queue", w.as_str());
        let mut event = SqsEvent::default();
        event.records = records;
        r.rec.take();
        let out = sqs_batch(&notify, *w, event).await;
        assert!(
            out.batch_item_failures.is_empty(),
            "{} worker failed a message",
            w.as_str()
        );
        r.file(&format!("{}_worker", w.as_str()));
    }

    // The delivery log, and a retry of the failed delivery; then the integration goes.
    let deliveries = format!("/api/v1/integrations/{integration}/deliveries");
    r.call("GET", &deliveries, &d.owner, None).await;
    r.call("GET", &format!("{deliveries}?status=failed"), &d.owner, None)
        .await;
    r.call("GET", &format!("{deliveries}/{}", delivery_ids[1]), &d.owner, None)
        .await;
    r.call(
        "POST",
        &format!("{deliveries}/{}/retry", delivery_ids[1]),
        &d.owner,
        None,
    )
    .await;
    r.call("DELETE", &format!("/api/v1/integrations/{integration}"), &d.owner, None)
        .await;

    // Compare with the template.
    let policies = policies();
    let mut missing = Vec::new();
    for (function, needed) in &r.seen {
        let id = format!("{}Function", pascal(function));
        let allowed = policies
            .get(&id)
            .unwrap_or_else(|| panic!("{id} is not in the template"));
        for n in needed {
            let ok = allowed.iter().any(|(a, idx)| a == &n.action && (!n.on_index || *idx));
            if !ok {
                missing.push(format!(
                    "{id} performs {}{} but its policy does not allow it",
                    n.action,
                    if n.on_index { " on an index" } else { "" }
                ));
            }
        }
    }
    assert!(missing.is_empty(), "missing IAM permissions:\n{}", missing.join("\n"));
    // Every function was exercised, so the comparison covers them all.
    let exercised: BTreeSet<&str> = r
        .seen
        .iter()
        .filter(|(_, n)| !n.is_empty())
        .map(|(f, _)| f.as_str())
        .collect();
    for id in policies.keys() {
        let function = id.trim_end_matches("Function");
        let snake: String = function
            .chars()
            .enumerate()
            .flat_map(|(i, c)| {
                let lower = c.to_ascii_lowercase();
                if c.is_ascii_uppercase() && i > 0 {
                    vec!['_', lower]
                } else {
                    vec![lower]
                }
            })
            .collect();
        assert!(
            exercised.contains(snake.as_str()),
            "{id} was not exercised by this test"
        );
    }
}

/// The settings and users routes, recorded.
async fn settings_and_users(r: &mut Recording, d: &Demo) {
    // Settings: read, and a change (conditional on their version, with its audit entry).
    r.call("GET", "/api/v1/settings", &d.owner, None).await;
    r.call(
        "PATCH",
        "/api/v1/settings",
        &d.owner,
        Some(json!({"storefront": {"tax_rate": "5"}, "email": {"reply_to": "sales@demo.example"}, "high_value_threshold": "100"})),
    )
    .await;

    // A CSV import creating one product and updating another, then its job.
    let job = r
        .import(
            &d.owner,
            "sku,name,price,stock,category\nIAM-CSV-1,Imported,2.00,4,Tests\nWIDGET-001,Widget,19.99,,\n",
        )
        .await;
    let id = job["data"]["id"].as_str().unwrap_or_default().to_owned();
    r.call("GET", &format!("/api/v1/imports/{id}"), &d.owner, None).await;

    // Inventory health: the counter, the level counts, the low and out pages.
    for path in [
        "/api/v1/inventory/health",
        "/api/v1/inventory/low",
        "/api/v1/inventory/out",
    ] {
        r.call("GET", path, &d.owner, None).await;
    }

    // Users: list, create, read, change (with an e-mail move), demote an OWNER (the
    // ConditionCheck that another stays), deactivate.
    r.call("GET", "/api/v1/users", &d.owner, None).await;
    r.call(
        "POST",
        "/api/v1/users",
        &d.owner,
        Some(json!({"id": "iam-owner", "name": "IAM Owner", "email": "iam@demo.example", "role": "OWNER"})),
    )
    .await;
    r.call("GET", "/api/v1/users/iam-owner", &d.owner, None).await;
    r.call(
        "PATCH",
        "/api/v1/users/iam-owner",
        &d.owner,
        Some(json!({"email": "iam2@demo.example", "role": "ADMIN"})),
    )
    .await;
    r.call(
        "PATCH",
        "/api/v1/users/iam-owner",
        &d.owner,
        Some(json!({"role": "OWNER"})),
    )
    .await;
    r.call("DELETE", "/api/v1/users/iam-owner", &d.owner, None).await;
    // Customers: the list (by number, and searched), a change (terms moved), the price
    // list, and removing a negotiated price.
    let acme = d.t.acme;
    r.call("GET", "/api/v1/customers", &d.owner, None).await;
    r.call("GET", "/api/v1/customers?q=acme", &d.owner, None).await;
    r.call(
        "PATCH",
        &format!("/api/v1/customers/{acme}"),
        &d.owner,
        Some(json!({"company_name": "Acme Rockets"})),
    )
    .await;
    r.call("GET", &format!("/api/v1/customers/{acme}/prices"), &d.owner, None)
        .await;
    r.call(
        "DELETE",
        &format!("/api/v1/customers/{acme}/prices/{}", d.id("WIDGET-001")),
        &d.owner,
        None,
    )
    .await;
    // The product browser, and taking a product off sale and back.
    r.call("GET", "/api/v1/products?q=wid", &d.owner, None).await;
    r.call("GET", "/api/v1/products?active=true&category=widgets", &d.owner, None)
        .await;
    let bolt = d.id("BOLT-M8");
    r.call("POST", &format!("/api/v1/products/{bolt}/deactivate"), &d.owner, None)
        .await;
    r.call("POST", &format!("/api/v1/products/{bolt}/activate"), &d.owner, None)
        .await;
    // A bulk stock change: a batch read, then one transaction.
    let ids = [d.id("WIDGET-001").to_string(), d.id("GADGET-002").to_string()];
    r.call(
        "POST",
        "/api/v1/products/stock/bulk",
        &d.owner,
        Some(json!({"product_ids": ids, "mode": "delta", "value": 3, "reason": "IAM"})),
    )
    .await;
}
