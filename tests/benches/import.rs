//! CSV import benchmark (`make bench-import`; a short run in CI): a file of
//! `OMS_IMPORT_ROWS` rows (default 10,000) imported into a fresh DynamoDB Local table
//! through the real handler, then the same file with every price changed (all updates),
//! then once more unchanged. For each it prints the time from the POST to the finished job
//! and rows/s, and checks what a newcomer would: every row applied once (created, updated
//! or unchanged adds up to the rows), one `ProductsImported` audit entry per import, and
//! inventory health counting every imported product. Exits 1 if a check fails.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use oms_domain::ids::ImportId;
use oms_domain::usecases::import as uc;
use oms_tests::TestApp;

fn file(rows: usize, price_cents: usize) -> String {
    let mut f = String::from("sku,name,price,stock,category,active,low_stock_threshold,description\r\n");
    for i in 0..rows {
        let cents = price_cents + i % 500;
        f.push_str(&format!(
            "BENCH-{i:06},\"Bench item {i}, \"\"grade {}\"\"\",{}.{:02},{},Category {},true,{},Imported by the benchmark\r\n",
            i % 5,
            cents / 100,
            cents % 100,
            i % 40,
            i % 25,
            if i % 3 == 0 { "5".to_owned() } else { String::new() },
        ));
    }
    f
}

async fn import(app: &TestApp, token: &str, body: &str, label: &str, rows: usize) -> serde_json::Value {
    let started = Instant::now();
    let headers = vec![
        ("authorization".to_owned(), format!("Bearer {token}")),
        ("content-type".to_owned(), "text/csv".to_owned()),
    ];
    let r = app
        .raw("POST", "/api/v1/products/import", headers, body.as_bytes().to_vec())
        .await;
    assert!(r.status.is_success(), "{}: {}", r.status, r.body);
    let answered = started.elapsed();
    let id = ImportId::parse(r.body["data"]["id"].as_str().expect("id")).expect("id");
    // What the jobs worker does with the rest: run it to the end.
    let company = oms_domain::ids::CompanyId::parse("demo").expect("id");
    let job = uc::run(&app.app().deps, &company, id, None)
        .await
        .expect("the import finishes");
    let took = started.elapsed();
    println!(
        "{label:<34} {rows:>6} rows  answered in {:>6.2} s ({}), done in {:>6.2} s  {:>7.0} rows/s  (created {}, updated {}, unchanged {})",
        answered.as_secs_f64(),
        r.status.as_u16(),
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64(),
        job.created,
        job.updated,
        job.unchanged,
    );
    let ok = job.created + job.updated + job.unchanged == rows as u64 && job.applied_rows == rows as u64;
    if !ok {
        println!("FAILED: the rows do not add up: {job:?}");
        std::process::exit(1);
    }
    serde_json::to_value(&job).expect("json")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::var("RUST_LOG").is_err() {
        std::env::set_var("RUST_LOG", "error");
    }
    oms_api::telemetry::init();
    let Some(endpoint) = std::env::var("OMS_TEST_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    else {
        println!("import benchmark skipped: run `make bench-import`, which starts DynamoDB Local.");
        return;
    };
    let rows: usize = std::env::var("OMS_IMPORT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let app = TestApp::dynamo_at(&endpoint).await.expect("DynamoDB Local");
    app.seed_demo().await;
    let owner = app.token("demo", "OWNER", None);
    println!("\n== CSV import into DynamoDB Local: {rows} rows ==");
    let before = health_total(&app, &owner).await;

    let dry = Instant::now();
    let headers = vec![
        ("authorization".to_owned(), format!("Bearer {owner}")),
        ("content-type".to_owned(), "text/csv".to_owned()),
    ];
    let body = file(rows, 150);
    let r = app
        .raw(
            "POST",
            "/api/v1/products/import?dry_run=true",
            headers,
            body.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    println!(
        "{:<34} {rows:>6} rows  answered in {:>6.2} s  {:>7.0} rows/s  ({} bytes)",
        "dry run (parse, validate, count)",
        dry.elapsed().as_secs_f64(),
        rows as f64 / dry.elapsed().as_secs_f64(),
        body.len()
    );
    import(&app, &owner, &body, "new SKUs (all created)", rows).await;
    import(
        &app,
        &owner,
        &file(rows, 275),
        "every price changed (all updated)",
        rows,
    )
    .await;
    import(&app, &owner, &file(rows, 275), "the same file again (unchanged)", rows).await;

    let after = health_total(&app, &owner).await;
    let audited = app
        .call(
            "GET",
            "/api/v1/audit-log?action=ProductsImported&per_page=100",
            &owner,
            None,
        )
        .await;
    let entries = audited.body["data"].as_array().map_or(0, Vec::len);
    println!("inventory health total: {before} -> {after}; ProductsImported audit entries: {entries}");
    if after != before + rows as u64 || entries != 3 {
        println!(
            "FAILED: expected {} products counted and 3 audit entries",
            before + rows as u64
        );
        std::process::exit(1);
    }
}

async fn health_total(app: &TestApp, token: &str) -> u64 {
    let r = app.call("GET", "/api/v1/inventory/health", token, None).await;
    r.body["data"]["total"].as_u64().unwrap_or(0)
}
