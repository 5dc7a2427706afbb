//! Create-order benchmark (`make bench`): throughput and latency in-process on the memory
//! adapter, and the number of DynamoDB requests one create-order makes against DynamoDB
//! Local (counted by an SDK interceptor on every HTTP attempt, retries included).
#![allow(clippy::print_stdout)]

use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{json, Value};

use oms_adapters::dynamo::{create_table, DynamoStore};
use oms_api::App;
use oms_tests::{Backend, TestApp};

const ORDERS: &str = "/api/v1/sales/orders";

#[derive(Debug, Default, Clone)]
struct RequestLog(Arc<Mutex<Vec<String>>>);

impl RequestLog {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }
    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_default();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(op);
        Ok(())
    }
}

struct Tokens {
    buyer: String,
    staff: String,
}

/// Seeds the demo tenant without a monthly cap, plus `n` well-stocked products.
async fn prepare(app: &TestApp, n: usize) -> (Tokens, Vec<String>) {
    let demo = app.seed_demo().await;
    let mut s = app.store().get_settings(&demo.company).await.expect("settings");
    s.monthly_order_limit = None;
    app.store().put_settings(&demo.company, &s).await.expect("settings");
    let owner = app.token("demo", "OWNER", None);
    let mut ids = Vec::new();
    for i in 0..n {
        let r = app
            .call("POST", "/api/v1/products", &owner, Some(json!({"sku": format!("BENCH-{i}"), "name": format!("Bench {i}"), "price": "2.50", "stock": 100_000_000})))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["data"]["id"].as_str().expect("id").to_owned());
    }
    (
        Tokens {
            buyer: app.token("demo", "CUSTOMER", Some(demo.acme)),
            staff: app.token("demo", "STAFF", None),
        },
        ids,
    )
}

fn order(ids: &[String], lines: usize) -> Value {
    json!({"items": ids.iter().take(lines).map(|id| json!({"product_id": id, "quantity": 1})).collect::<Vec<_>>()})
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

async fn memory_bench() {
    println!(
        "== create-order, in-process, memory adapter (through the gateway: JWT check, event conversion, handler) =="
    );
    let app = TestApp::memory().await;
    let (tokens, ids) = prepare(&app, 10).await;
    for lines in [1usize, 10] {
        let body = order(&ids, lines);
        for _ in 0..200 {
            app.call("POST", ORDERS, &tokens.buyer, Some(body.clone())).await;
        }
        let n = 3000;
        let mut lat = Vec::with_capacity(n);
        let start = Instant::now();
        for _ in 0..n {
            let t = Instant::now();
            let r = app.call("POST", ORDERS, &tokens.buyer, Some(body.clone())).await;
            lat.push(t.elapsed());
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let total = start.elapsed();
        lat.sort();
        println!(
            "{lines:>2} line(s), sequential: {n} orders in {:.2} s = {:.0} orders/s; p50 {} p99 {} max {}",
            total.as_secs_f64(),
            n as f64 / total.as_secs_f64(),
            ms(pct(&lat, 0.50)),
            ms(pct(&lat, 0.99)),
            ms(lat[lat.len() - 1])
        );
    }
    let app = Arc::new(app);
    let (tasks, per_task) = (16, 500);
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (app, token, body) = (app.clone(), tokens.buyer.clone(), order(&ids, 1));
            tokio::spawn(async move {
                for _ in 0..per_task {
                    assert_eq!(app.call("POST", ORDERS, &token, Some(body.clone())).await.status, 201);
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    let total = start.elapsed();
    println!(
        " 1 line, {tasks} concurrent callers on 2 cores: {} orders in {:.2} s = {:.0} orders/s",
        tasks * per_task,
        total.as_secs_f64(),
        (tasks * per_task) as f64 / total.as_secs_f64()
    );
}

async fn dynamo_bench(endpoint: &str) {
    println!("\n== DynamoDB requests per create-order, against DynamoDB Local at {endpoint} ==");
    let log = RequestLog::default();
    let client = oms_tests::sdk::dynamodb_with(&oms_api::app::sdk_config(Some(endpoint)).await, log.clone());
    let table = format!("oms-bench-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table).await.expect("table");
    let store = DynamoStore::new(client, table);
    let app = TestApp::from_app(
        App::new(Arc::new(store.clone()), b"bench-cursor-secret"),
        Backend::Dynamo(store),
    );
    let (tokens, ids) = prepare(&app, 25).await;
    let runs = 20;
    let cases: Vec<(&str, &String, usize, bool)> = vec![
        ("storefront (stock + cap)", &tokens.buyer, 1, false),
        ("storefront (stock + cap)", &tokens.buyer, 5, false),
        ("storefront (stock + cap)", &tokens.buyer, 25, false),
        ("storefront + Idempotency-Key", &tokens.buyer, 1, true),
        ("dashboard (no stock)", &tokens.staff, 1, false),
        ("dashboard (no stock)", &tokens.staff, 10, false),
        ("dashboard (no stock)", &tokens.staff, 25, false),
    ];
    for (label, token, lines, idem) in cases {
        let body = order(&ids, lines);
        log.take();
        let mut lat = Vec::new();
        for i in 0..runs {
            let mut headers = vec![
                ("authorization".to_owned(), format!("Bearer {token}")),
                ("content-type".to_owned(), "application/json".to_owned()),
            ];
            if idem {
                headers.push((
                    "idempotency-key".to_owned(),
                    format!("bench-{lines}-{i}-{}", uuid::Uuid::new_v4()),
                ));
            }
            let t = Instant::now();
            let r = app
                .raw("POST", ORDERS, headers, serde_json::to_vec(&body).expect("json"))
                .await;
            lat.push(t.elapsed());
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let ops = log.take();
        let mut kinds: Vec<(String, usize)> = Vec::new();
        for op in &ops {
            match kinds.iter_mut().find(|(k, _)| k == op) {
                Some((_, c)) => *c += 1,
                None => kinds.push((op.clone(), 1)),
            }
        }
        lat.sort();
        println!(
            "{label:<30} {lines:>2} line(s): {:.2} requests/order ({}), p50 {}",
            ops.len() as f64 / runs as f64,
            kinds
                .iter()
                .map(|(k, c)| format!("{k} x{:.2}", *c as f64 / runs as f64))
                .collect::<Vec<_>>()
                .join(", "),
            ms(pct(&lat, 0.5))
        );
    }
}

/// Relay throughput: `n` placed orders' events, relayed by one sweeping relay and by four
/// concurrent ones (each event claimed, its search entries written, published to a
/// publisher that drops it, marked relayed).
async fn relay_bench(label: &str, app: &TestApp, n: usize) {
    struct Drop;
    #[async_trait::async_trait]
    impl oms_domain::ports::EventPublisher for Drop {
        async fn publish(&self, _: &oms_domain::outbox::OutboxEvent) -> Result<(), oms_domain::Error> {
            Ok(())
        }
    }
    let (tokens, ids) = prepare(app, 5).await;
    for relays in [1usize, 4] {
        let placed = (0..n).map(|i| {
            let body = order(&ids[i % ids.len()..], 1);
            let token = tokens.staff.clone();
            async move { app.call("POST", ORDERS, &token, Some(body)).await.status }
        });
        let statuses: Vec<_> = futures_util::stream::iter(placed).buffer_unordered(8).collect().await;
        assert!(statuses.iter().all(|s| *s == 201));
        let start = Instant::now();
        let passes =
            (0..relays).map(|_| oms_api::workers::relay_until_empty(&app.app().deps, &Drop, Duration::from_secs(600)));
        let relayed: usize = futures_util::future::join_all(passes)
            .await
            .into_iter()
            .map(|r| r.expect("relay"))
            .sum();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label}: {relays} relay(s): {relayed} events in {secs:.2} s = {:.0} events/s",
            relayed as f64 / secs
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Quiet: the handlers log every request at info.
    if std::env::var("RUST_LOG").is_err() {
        std::env::set_var("RUST_LOG", "error");
    }
    memory_bench().await;
    println!("\n== outbox relay throughput (claim, search index, publish, mark relayed) ==");
    relay_bench("memory", &TestApp::memory().await, 2000).await;
    match std::env::var("OMS_TEST_DYNAMODB_ENDPOINT") {
        Ok(ep) if !ep.is_empty() => {
            if let Some(app) = TestApp::dynamo_at(&ep).await {
                relay_bench("DynamoDB Local", &app, 300).await;
            }
            dynamo_bench(&ep).await
        }
        _ => println!("\nDynamoDB request counts skipped: run `make bench`, which starts DynamoDB Local."),
    }
}
