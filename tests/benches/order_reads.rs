//! Order-read benchmark (`make bench-reads`, also part of `make bench`): one tenant with
//! 1,000 orders and one with 50,000, loaded into DynamoDB Local, then the first page of
//! each read endpoint through the real gateway and handlers. For each it prints the items
//! DynamoDB read (`ScannedCount` of queries plus items of gets and batch gets), the
//! requests made and the latency, and the 50k/1k ratio of items read, which must stay at
//! or below 1.1 (the process exits 1 otherwise).
//!
//! The two tenants are the same business at two ages: 40 orders a day, orders older than
//! 14 days closed (completed or cancelled), due 7 days after their order date. The 50k
//! tenant has 1,250 days of history; the 1k tenant 25. Open work is the same size; the
//! history is 50 times larger.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use rust_decimal::Decimal;

use oms_adapters::dynamo::{create_table, DynamoStore};
use oms_api::App;
use oms_domain::ids::{CustomerId, OrderId, UserId};
use oms_domain::money::Amount;
use oms_domain::order::{CustomerSummary, Order, OrderNumber, OrderStatus, Priority, Source};
use oms_tests::{Backend, TestApp};

const ORDERS: &str = "/api/v1/sales/orders";
const PER_DAY: usize = 40;
const OPEN_DAYS: usize = 14;
const COMPANIES: &[&str] = &[
    "Acme Supply",
    "Globex Trading",
    "Initech Parts",
    "Umbrella Wholesale",
    "Stark Industrial",
    "Wayne Hardware",
    "Wonka Foods",
    "Cyberdyne Systems",
    "Tyrell Components",
    "Soylent Distribution",
];

/// A small deterministic generator (xorshift), so both tenants are built the same way.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Tenant {
    app: TestApp,
    store: DynamoStore,
    owner: String,
    buyer: String,
    customer: CustomerId,
}

const BIG_ACCOUNT: usize = 3;

fn customers() -> Vec<CustomerSummary> {
    (0..50)
        .map(|i| {
            let company = COMPANIES[i % COMPANIES.len()];
            let word = company.split(' ').next().unwrap_or("co").to_lowercase();
            CustomerSummary {
                id: CustomerId::new(uuid::Uuid::from_u128(0x000C_0570_0000 + i as u128)),
                customer_number: format!("CUST-{:05}", i + 1),
                company_name: format!("{company} {}", i / COMPANIES.len() + 1),
                contact_name: Some(format!("Buyer {i}")),
                email: Some(format!("buyer{i}@{word}.example")),
                phone: None,
            }
        })
        .collect()
}

/// Order `i` of the tenant's history (0 is the newest), built from a real placed order.
fn historic(template: &Order, i: usize, rng: &mut Rng, customers: &[CustomerSummary]) -> Order {
    let now = Utc::now();
    let age = i / PER_DAY;
    let mut o = template.clone();
    // The id from the generator too: order `i` is the same order in both tenants, in the
    // same index write shard, so the two first pages merge the same entries.
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next().to_le_bytes());
    o.id = OrderId::new(uuid::Builder::from_random_bytes(bytes).into_uuid());
    o.order_number = OrderNumber::parse(&format!("H-{i:07}")).expect("number");
    o.created_at = now - Days::days(age as i64) - Days::minutes((i % PER_DAY) as i64 * 20);
    o.updated_at = o.created_at;
    o.order_date = o.created_at.date_naive();
    o.due_date = Some(o.order_date + Days::days(7));
    // Customer 3 is the big account (a fifth of the orders, 30% of them high-value), whose
    // buyer's token the customer rows read as: its own history grows with the tenant's.
    let c = if rng.below(5) == 0 {
        &customers[BIG_ACCOUNT]
    } else {
        &customers[rng.below(customers.len() as u64) as usize]
    };
    o.customer_id = Some(c.id);
    o.customer = Some(c.clone());
    o.sales_rep_id = (rng.below(10) < 7).then(|| UserId::parse(&format!("rep-{}", rng.below(8))).expect("rep"));
    o.source = Source::ALL[rng.below(Source::ALL.len() as u64) as usize];
    o.priority = Priority::ALL[rng.below(Priority::ALL.len() as u64) as usize];
    o.status = if age >= OPEN_DAYS {
        if rng.below(20) == 0 {
            OrderStatus::Cancelled
        } else {
            OrderStatus::Completed
        }
    } else {
        use OrderStatus::*;
        [
            Pending,
            Pending,
            Pending,
            Confirmed,
            Confirmed,
            Processing,
            Processing,
            Shipped,
            OnHold,
            PendingApproval,
        ][rng.below(10) as usize]
    };
    // Mostly hundreds to a few thousand; about 3% at or above 10,000 (so even the young
    // tenant has a full first page of high-value orders), 30% for the big account.
    let high_value_per_mille = if c.id == customers[BIG_ACCOUNT].id { 300 } else { 30 };
    let cents = if rng.below(1000) < high_value_per_mille {
        1_000_000 + rng.below(4_000_000)
    } else {
        5_000 + rng.below(600_000)
    };
    o.total_amount = Amount::from_decimal(Decimal::new(cents as i64, 2));
    o
}

async fn tenant(endpoint: &str, n: usize) -> Tenant {
    let client = oms_api::app::dynamo_client(Some(endpoint)).await;
    let table = format!("oms-bench-reads-{}", uuid::Uuid::new_v4().simple());
    create_table(&client, &table).await.expect("table");
    let store = DynamoStore::new(client, table);
    let app = TestApp::from_app(
        App::new(Arc::new(store.clone()), b"bench-cursor-secret"),
        Backend::Dynamo(store.clone()),
    );
    let demo = app.seed_demo().await;
    let staff = app.token("demo", "STAFF", None);
    let owner = app.token("demo", "OWNER", None);
    let r = app
        .call(
            "POST",
            ORDERS,
            &staff,
            Some(serde_json::json!({"customer_id": demo.acme, "items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = OrderId::parse(r.body["data"]["id"].as_str().expect("id")).expect("id");
    let template = app
        .store()
        .get_order(&demo.company, id)
        .await
        .expect("read")
        .expect("order");
    let customers = customers();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let orders: Vec<Order> = (0..n).map(|i| historic(&template, i, &mut rng, &customers)).collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for part in orders.chunks(n.div_ceil(4)) {
        let (store, part) = (store.clone(), part.to_vec());
        tasks.push(tokio::spawn(async move {
            store.import_orders(&part, Decimal::from(10_000)).await.expect("import")
        }));
    }
    for t in tasks {
        t.await.expect("import task");
    }
    println!(
        "loaded {n} orders (with their index keys, number claims and search entries) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The same customer id in both tenants: the synthetic customers are deterministic.
    let customer = customers[BIG_ACCOUNT].id;
    Tenant {
        buyer: app.token("demo", "CUSTOMER", Some(customer)),
        app,
        store,
        owner,
        customer,
    }
}

/// (items read, requests, p50 latency) of one first page, asked `runs` times.
async fn measure(t: &Tenant, token: &str, url: &str) -> (u64, u64, Duration, usize) {
    let runs = 15;
    let mut lat = Vec::new();
    let mut cost = (0, 0);
    let mut count = 0;
    for i in 0..runs {
        t.store.read_stats().take();
        let started = Instant::now();
        let r = t.app.call("GET", url, token, None).await;
        lat.push(started.elapsed());
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let (requests, items) = t.store.read_stats().take();
        if i == 0 {
            cost = (items, requests);
            count = r.body["data"].as_array().map_or(0, Vec::len);
        }
        assert_eq!(
            (items, requests),
            cost,
            "{url}: the same page costs the same every time"
        );
    }
    lat.sort();
    (cost.0, cost.1, lat[lat.len() / 2], count)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var("RUST_LOG").is_err() {
        std::env::set_var("RUST_LOG", "error");
    }
    oms_api::telemetry::init();
    let endpoint = match std::env::var("OMS_TEST_DYNAMODB_ENDPOINT") {
        Ok(ep) if !ep.is_empty() => ep,
        _ => {
            println!("order-read benchmark skipped: run `make bench`, which starts DynamoDB Local.");
            return;
        }
    };
    println!("\n== Order reads: first page (per_page 25), 1,000-order vs 50,000-order tenant, DynamoDB Local ==");
    let small = tenant(&endpoint, 1_000).await;
    let large = tenant(&endpoint, 50_000).await;
    // Every endpoint's default first page, then the list's index-served filters and sorts,
    // a filter no index serves (bounded), and the customer's view.
    let cases: Vec<(&str, String, bool)> = vec![
        ("list, newest first", ORDERS.into(), false),
        ("list ?status=pending", format!("{ORDERS}?status=pending"), false),
        (
            "list ?customer_id=",
            format!("{ORDERS}?customer_id={}", small.customer),
            false,
        ),
        (
            "list ?sales_rep_id=rep-3",
            format!("{ORDERS}?sales_rep_id=rep-3"),
            false,
        ),
        (
            "list ?from_date&to_date (a week)",
            format!("{ORDERS}?from_date={}&to_date={}", week_ago(), today()),
            false,
        ),
        (
            "list ?sort_by=total_amount",
            format!("{ORDERS}?sort_by=total_amount"),
            false,
        ),
        (
            "list ?sort_by=due_date&asc",
            format!("{ORDERS}?sort_by=due_date&sort_direction=asc"),
            false,
        ),
        ("list ?sort_by=status", format!("{ORDERS}?sort_by=status"), false),
        (
            "list ?min_total=5000",
            format!("{ORDERS}?min_total=5000&sort_by=total_amount"),
            false,
        ),
        (
            "list ?source=phone (filter only)",
            format!("{ORDERS}?source=phone"),
            false,
        ),
        ("customer: list", ORDERS.into(), true),
        (
            "customer: list ?sort_by=total_amount",
            format!("{ORDERS}?sort_by=total_amount"),
            true,
        ),
        (
            "customer: search ?q=buyer3",
            "/api/v1/sales/orders/search?q=buyer3".into(),
            true,
        ),
        (
            "customer: requires-attention",
            "/api/v1/sales/orders/requires-attention".into(),
            true,
        ),
        (
            "customer: high-value (counters)",
            "/api/v1/sales/orders/high-value".into(),
            true,
        ),
        ("search ?q=wayne", "/api/v1/sales/orders/search?q=wayne".into(), false),
        ("search ?q=buyer1", "/api/v1/sales/orders/search?q=buyer1".into(), false),
        (
            "requires-attention",
            "/api/v1/sales/orders/requires-attention".into(),
            false,
        ),
        (
            "high-value (default, counters)",
            "/api/v1/sales/orders/high-value".into(),
            false,
        ),
        (
            "high-value ?status=confirmed",
            "/api/v1/sales/orders/high-value?status=confirmed".into(),
            false,
        ),
    ];
    println!(
        "{:<36} {:>8} {:>8} {:>6} {:>8} {:>9} {:>9} {:>9}",
        "first page of", "read@1k", "read@50k", "ratio", "reqs@50k", "p50@1k", "p50@50k", "rows"
    );
    let mut worst: f64 = 0.0;
    let mut unequal = Vec::new();
    for (label, url, as_customer) in cases {
        let (ts, tl) = if as_customer {
            (&small.buyer, &large.buyer)
        } else {
            (&small.owner, &large.owner)
        };
        let (items_s, _, lat_s, rows_s) = measure(&small, ts, &url).await;
        let (items_l, req_l, lat_l, rows_l) = measure(&large, tl, &url).await;
        let ratio = items_l as f64 / items_s.max(1) as f64;
        // The ratio compares like with like only when both tenants fill the same page.
        if rows_s == rows_l {
            worst = worst.max(ratio);
        } else {
            unequal.push(label);
        }
        println!(
            "{label:<36} {items_s:>8} {items_l:>8} {ratio:>6.2} {req_l:>8} {:>9} {:>9} {:>9}",
            ms(lat_s),
            ms(lat_l),
            format!("{rows_s}/{rows_l}")
        );
    }
    let required = [
        "list, newest first",
        "search ?q=wayne",
        "requires-attention",
        "high-value (default, counters)",
        "customer: list",
        "customer: list ?sort_by=total_amount",
        "customer: search ?q=buyer3",
        "customer: high-value (counters)",
    ];
    if let Some(l) = unequal.iter().find(|l| required.contains(l)) {
        println!("FAILED: the default first page of `{l}` is not full in both tenants, so it cannot be compared");
        std::process::exit(1);
    }
    if !unequal.is_empty() {
        println!(
            "(not compared, the 1k tenant has fewer matching orders than a page: {})",
            unequal.join(", ")
        );
    }
    // What a sum over a set costs, for contrast: the high-value totals for another minimum
    // are summed over the matching orders' index entries, at most 2,000 of them (then
    // `totals_partial` says so).
    let url = "/api/v1/sales/orders/high-value?minimum_amount=20000";
    for (who, s_token, l_token) in [
        ("staff", &small.owner, &large.owner),
        ("customer", &small.buyer, &large.buyer),
    ] {
        let (s, _, _, _) = measure(&small, s_token, url).await;
        let (l, _, _, _) = measure(&large, l_token, url).await;
        println!(
            "(for contrast, not a first-page read: {who} high-value ?minimum_amount=20000 sums the matching orders, at most 2,000: {s} vs {l} items)"
        );
    }
    println!("worst ratio of items read, 50k / 1k: {worst:.2} (must be <= 1.10)");
    if worst > 1.10 {
        println!("FAILED: a first page reads more as the tenant grows");
        std::process::exit(1);
    }
}

fn today() -> String {
    Utc::now().date_naive().to_string()
}

fn week_ago() -> String {
    (Utc::now().date_naive() - Days::days(7)).to_string()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
