//! Test support: a [`TestApp`] that serves requests through the local gateway (same routes,
//! same JWT check, same API Gateway event conversion as production) over either adapter,
//! and helpers to look inside the store for orphans.
//!
//! DynamoDB tests need Amazon's DynamoDB Local; `make test` starts it and sets
//! `OMS_TEST_DYNAMODB_ENDPOINT`. Run without it they fail with that instruction, unless
//! `OMS_SKIP_DYNAMODB=1` says to skip them on purpose (the fast loop: `make test-fast`).

pub mod sdk;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::http::StatusCode;
use serde_json::Value;

use oms_adapters::dynamo::{create_table, DynamoStore};
use oms_adapters::memory::MemoryStore;
use oms_api::auth::LocalJwt;
use oms_api::demo::DemoTenant;
use oms_api::gateway::{Gateway, HttpRequest};
use oms_api::App;
use oms_domain::ids::{CompanyId, CustomerId};
use oms_domain::ports::Store;

pub const JWT_SECRET: &[u8] = b"test-signing-key";
/// The e-mail claim lease the worker tests use: the template's 60 s visibility timeout and
/// 10 s function timeout give 35 s.
pub const TEST_LEASE_SECS: i64 = 35;

#[derive(Clone)]
pub enum Backend {
    Memory(MemoryStore),
    Dynamo(DynamoStore),
}

pub struct TestApp {
    pub gateway: Gateway,
    pub backend: Backend,
    pub jwt: LocalJwt,
}

/// What a call answered.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: lambda_http::http::HeaderMap,
}

impl Reply {
    /// The stable error code, or "" for a success.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
    /// The fields a validation error names, in order.
    pub fn fields(&self) -> Vec<&str> {
        self.body["error"]["details"]["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default()
    }
}

/// What placing orders left in the store, for orphan checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub orders: usize,
    pub order_numbers: usize,
    pub order_audit: usize,
    pub outbox: usize,
}

/// The DynamoDB Local endpoint, or `None` when the caller opted out of DynamoDB tests.
pub fn dynamodb_endpoint() -> Option<String> {
    match std::env::var("OMS_TEST_DYNAMODB_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("OMS_SKIP_DYNAMODB").as_deref() == Ok("1") => None,
        _ => panic!(
            "DynamoDB tests need DynamoDB Local: run `make test` (it starts one), or set \
             OMS_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:PORT, or OMS_SKIP_DYNAMODB=1 to skip them"
        ),
    }
}

/// moto's server (SQS and SES), started by `make test`; `None` only when skipped on purpose.
pub fn moto_endpoint() -> Option<String> {
    match std::env::var("OMS_TEST_MOTO_ENDPOINT") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("OMS_SKIP_DYNAMODB").as_deref() == Ok("1") => None,
        _ => panic!(
            "SQS/SES tests need moto's server: run `make test` (it starts one), or set \
             OMS_TEST_MOTO_ENDPOINT=http://127.0.0.1:PORT, or OMS_SKIP_DYNAMODB=1 to skip them"
        ),
    }
}

/// `GET <endpoint><path>` over plain HTTP/1.1, body as JSON (moto's `/moto-api/data.json`).
pub async fn http_get_json(endpoint: &str, path: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(body)
    } else {
        body.to_owned()
    };
    serde_json::from_str(&body).expect("JSON body")
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n.min(rest.len())]);
        s = rest.get(n + 2..).unwrap_or_default();
    }
    out
}

impl TestApp {
    pub fn from_app(app: App, backend: Backend) -> TestApp {
        // Logs (and so the cause of any 500) show in a failing test's output.
        oms_api::telemetry::init();
        let jwt = LocalJwt::new(JWT_SECRET);
        TestApp {
            gateway: Gateway::new(app, jwt.clone()),
            backend,
            jwt,
        }
    }

    /// An app over a fresh table on DynamoDB Local, through `client` (one built with an
    /// interceptor, to count or tally what the adapter sends).
    pub async fn dynamo_with_client(client: aws_sdk_dynamodb::Client) -> TestApp {
        let table = format!("oms-t-{}", uuid::Uuid::new_v4().simple());
        create_table(&client, &table).await.expect("table");
        let store = DynamoStore::new(client, table);
        TestApp::from_app(
            App::new(Arc::new(store.clone()), b"test-cursor-secret-0123"),
            Backend::Dynamo(store),
        )
    }

    pub async fn memory() -> TestApp {
        let store = MemoryStore::new();
        TestApp::from_app(App::in_memory(store.clone()), Backend::Memory(store))
    }

    /// A fresh table in DynamoDB Local, so tests never see each other's data. `None` when
    /// DynamoDB tests are skipped on purpose.
    pub async fn dynamo() -> Option<TestApp> {
        let endpoint = dynamodb_endpoint()?;
        TestApp::dynamo_at(&endpoint).await
    }

    /// A fresh table at this DynamoDB endpoint.
    pub async fn dynamo_at(endpoint: &str) -> Option<TestApp> {
        let endpoint = endpoint.to_owned();
        let client = oms_api::app::dynamo_client(Some(&endpoint)).await;
        let table = format!("oms-test-{}", uuid::Uuid::new_v4().simple());
        if let Err(e) = create_table(&client, &table).await {
            panic!("cannot create a table in DynamoDB Local at {endpoint}: {e:#}");
        }
        let store = DynamoStore::new(client, table);
        let app = App::new(Arc::new(store.clone()), b"test-cursor-secret");
        Some(TestApp::from_app(app, Backend::Dynamo(store)))
    }

    pub fn app(&self) -> &App {
        self.gateway.app()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.app().deps.store
    }

    pub async fn seed_demo(&self) -> DemoTenant {
        oms_api::demo::seed(self.app()).await.expect("demo tenant seeds")
    }

    pub fn token(&self, company: &str, role: &str, customer: Option<CustomerId>) -> String {
        let sub = format!("user-{}", role.to_lowercase());
        self.jwt
            .mint(&sub, company, role, customer.map(|c| c.to_string()).as_deref(), 3600)
    }

    /// A JSON call with a bearer token.
    pub async fn call(&self, method: &str, target: &str, token: &str, body: Option<Value>) -> Reply {
        let mut headers = vec![("authorization".to_owned(), format!("Bearer {token}"))];
        let body = match body {
            Some(b) => {
                headers.push(("content-type".to_owned(), "application/json".to_owned()));
                serde_json::to_vec(&b).expect("json")
            }
            None => Vec::new(),
        };
        self.raw(method, target, headers, body).await
    }

    pub async fn raw(&self, method: &str, target: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Reply {
        let (parts, bytes) = self.raw_bytes(method, target, headers, body).await;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("every response is JSON")
        };
        Reply {
            status: parts.status,
            body,
            headers: parts.headers,
        }
    }

    /// A `GET` whose answer is not JSON (a PDF): its status, headers and bytes.
    pub async fn download(&self, target: &str, token: &str) -> (StatusCode, lambda_http::http::HeaderMap, Vec<u8>) {
        let headers = vec![("authorization".to_owned(), format!("Bearer {token}"))];
        let (parts, bytes) = self.raw_bytes("GET", target, headers, Vec::new()).await;
        (parts.status, parts.headers, bytes)
    }

    async fn raw_bytes(
        &self,
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> (lambda_http::http::response::Parts, Vec<u8>) {
        // Boxed: the handler futures are large in debug builds, and scenarios nest them.
        let resp = Box::pin(self.gateway.handle(HttpRequest {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
            body,
        }))
        .await;
        let (parts, body) = resp.into_parts();
        let bytes: Vec<u8> = match body {
            lambda_http::Body::Text(t) => t.into_bytes(),
            lambda_http::Body::Binary(b) => b,
            _ => Vec::new(),
        };
        (parts, bytes)
    }

    /// Orders, order-number claims, order audit entries and outbox records of a company.
    pub async fn counts(&self, company: &CompanyId) -> Counts {
        match &self.backend {
            Backend::Memory(m) => {
                let c = m.counts(company);
                Counts {
                    orders: c.orders,
                    order_numbers: c.order_numbers,
                    order_audit: c.audit,
                    outbox: c.outbox,
                }
            }
            Backend::Dynamo(d) => dynamo_counts(d, company).await,
        }
    }

    /// The same app and store, reading the time from `clock` (attention boundaries).
    pub fn with_clock(&self, clock: Arc<dyn oms_domain::ports::Clock>) -> TestApp {
        let mut app = self.app().clone();
        app.deps.clock = clock;
        TestApp::from_app(app, self.backend.clone())
    }

    /// Runs the outbox relay until nothing is pending, as the stream-driven relay does in
    /// AWS: it keeps the search index, and hands webhook deliveries to the webhook worker
    /// (the same use case its Lambda runs), so the orders they place are placed here too,
    /// and runs the jobs worker's part (the stock-level index after orders). E-mail events
    /// go nowhere (no mail workers here).
    pub async fn relay(&self) {
        struct Inline(oms_domain::ports::Deps);
        #[async_trait::async_trait]
        impl oms_domain::ports::EventPublisher for Inline {
            async fn publish(&self, e: &oms_domain::outbox::OutboxEvent) -> Result<(), oms_domain::Error> {
                if let oms_domain::outbox::DomainEvent::DeliveryReceived(d) = &e.event {
                    oms_domain::usecases::webhooks::process_delivery(&self.0, &e.company_id, d).await?;
                }
                oms_domain::usecases::jobs::handle(&self.0, e, &Default::default()).await
            }
        }
        let publisher = Inline(self.app().deps.clone());
        // Placing a delivery writes new events (the order's): relay until none are left.
        while oms_domain::usecases::relay::relay_pending(&self.app().deps, &publisher, 100)
            .await
            .expect("relay")
            .published
            > 0
        {}
    }

    /// An item as DynamoDB stores it (consistent read); `None` on the in-memory store.
    async fn stored_item(&self, pk: String, sk: &str) -> Option<HashMap<String, AttributeValue>> {
        let Backend::Dynamo(_) = &self.backend else { return None };
        Some(
            self.stored_item_if_any(pk, sk)
                .await
                .unwrap_or_else(|| panic!("no item {sk}")),
        )
    }

    /// [`TestApp::stored_item`], `None` when there is no such item.
    async fn stored_item_if_any(&self, pk: String, sk: &str) -> Option<HashMap<String, AttributeValue>> {
        let Backend::Dynamo(d) = &self.backend else { return None };
        let key = HashMap::from([
            ("PK".to_owned(), AttributeValue::S(pk)),
            ("SK".to_owned(), AttributeValue::S(sk.to_owned())),
        ]);
        let got = d
            .client()
            .get_item()
            .table_name(d.table())
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .expect("get");
        got.item
    }

    /// The index keys stored on an order item are the ones its stored fields give. The
    /// in-memory store derives them on every read, so there they hold by construction.
    pub async fn assert_index_keys_match(&self, company: &CompanyId, order_id: &str) {
        let Some(item) = self.stored_item(format!("C#{company}#O#{order_id}"), "ORDER").await else {
            return;
        };
        let order: oms_domain::order::Order = serde_dynamo::from_item(item.clone()).expect("an order");
        for (attr, want) in oms_adapters::dynamo::order_index_attrs(&order) {
            let stored = item.get(attr).and_then(|v| v.as_s().ok()).cloned();
            assert_eq!(stored, want, "{attr} of order {order_id}");
        }
    }

    /// As [`TestApp::assert_index_keys_match`], for a product: its stock-level, in-stock
    /// and active index entries are the ones its stored fields give.
    pub async fn assert_product_index_matches(&self, company: &CompanyId, product_id: &str) {
        let Some(item) = self.stored_item(format!("C#{company}#P#{product_id}"), "PRODUCT").await else {
            return;
        };
        let stored: oms_domain::catalog::Product = serde_dynamo::from_item(item.clone()).expect("a product");
        // The entries follow the stock as it is (the sum of its shards), not the snapshot
        // on the product item.
        let product = self
            .store()
            .get_product(company, stored.id)
            .await
            .expect("read")
            .expect("the product");
        for (attr, want) in oms_adapters::dynamo::product_index_attrs(&product) {
            let stored = item.get(attr).and_then(|v| v.as_s().ok()).cloned();
            assert_eq!(stored, want, "{attr} of product {product_id} (stock {})", product.stock);
        }
        let level = self
            .stored_item_if_any(format!("C#{company}#P#{product_id}#LEVEL"), "LEVEL")
            .await;
        for (attr, want) in oms_adapters::dynamo::product_level_attrs(&product) {
            let stored = level.as_ref().and_then(|l| l.get(attr)?.as_s().ok().cloned());
            assert_eq!(
                stored, want,
                "{attr} of product {product_id}'s level entry (stock {})",
                product.stock
            );
        }
    }

    pub fn is_dynamo(&self) -> bool {
        matches!(self.backend, Backend::Dynamo(_))
    }
}

/// Test-only: reads the whole (per-test) table to find every item of a company. Production
/// code never scans.
async fn dynamo_counts(d: &DynamoStore, company: &CompanyId) -> Counts {
    let prefix = format!("C#{company}#");
    let mut counts = Counts::default();
    let mut start = None;
    loop {
        let page = d
            .client()
            .scan()
            .table_name(d.table())
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items.unwrap_or_default() {
            let s = |k: &str| {
                item.get(k)
                    .and_then(|v: &AttributeValue| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            let (pk, sk) = (s("PK"), s("SK"));
            if !pk.starts_with(&prefix) {
                continue;
            }
            match sk.as_str() {
                "ORDER" => counts.orders += 1,
                "ORDERNO" => counts.order_numbers += 1,
                "OUTBOX" => counts.outbox += 1,
                _ if pk.contains("#AUDIT#order#") => counts.order_audit += 1,
                _ => {}
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return counts;
        }
    }
}

/// Declares each listed scenario `async fn name(app: TestApp)` as a test on the in-memory
/// adapter and again on DynamoDB Local.
#[macro_export]
macro_rules! on_both_adapters {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    // Boxed so the scenario's (large, in debug builds) future lives on the heap.
                    Box::pin(super::$name($crate::TestApp::memory().await)).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    match $crate::TestApp::dynamo().await {
                        Some(app) => Box::pin(super::$name(app)).await,
                        None => eprintln!("skipped on DynamoDB (OMS_SKIP_DYNAMODB=1)"),
                    }
                }
            )*
        }
    };
}

/// A clock the test moves by hand.
pub struct ManualClock(std::sync::Mutex<chrono::DateTime<chrono::Utc>>);

impl ManualClock {
    pub fn at(rfc3339: &str) -> Arc<ManualClock> {
        Arc::new(ManualClock(std::sync::Mutex::new(
            rfc3339.parse().expect("an RFC 3339 time"),
        )))
    }
    pub fn set(&self, rfc3339: &str) {
        *self.0.lock().expect("clock") = rfc3339.parse().expect("an RFC 3339 time");
    }
}

impl oms_domain::ports::Clock for ManualClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock().expect("clock")
    }
}

/// A queue on moto with a dead-letter queue after `max_receives`, under a unique name
/// starting with `name`: returns (queue URL, DLQ URL).
pub async fn moto_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    max_receives: u32,
    visibility_secs: u32,
) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let unique = format!("{name}-{}", uuid::Uuid::new_v4().simple());
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{unique}-dlq"))
        .send()
        .await
        .expect("dlq")
        .queue_url
        .expect("url");
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attrs")
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .expect("arn");
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives.to_string()}).to_string();
    let queue = sqs
        .create_queue()
        .queue_name(unique)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(QueueAttributeName::VisibilityTimeout, visibility_secs.to_string())
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    (queue, dlq)
}

/// Every message on `url` (received until the queue answers none; each stays invisible for
/// the queue's visibility timeout, so none is received twice if that is longer than this).
pub async fn drain_queue(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut all = Vec::new();
    loop {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}
