//! CSV product import (issue 13, part 6), on both adapters: quotes, a BOM and CRLF; a dry
//! run that counts and reports every bad row; a bad file that applies nothing; a file
//! that creates and updates with one audit entry; a file larger than one transaction,
//! stopped part-way as a crash would leave it and resumed by the jobs worker (and by two
//! runners at once) without applying a row twice; a step computed from a stale job that
//! writes nothing; sales between upload and apply kept; the edges of the endpoint.

use serde_json::{json, Value};

use oms_domain::auth::Actor;
use oms_domain::ids::ImportId;
use oms_domain::ports::{ImportStep, ImportWrite};
use oms_domain::usecases::import::{self as uc, ImportOutcome, ImportStatus};
use oms_tests::{on_both_adapters, Reply, TestApp};

use crate::support::{demo, items, Demo, ORDERS};

on_both_adapters!(
    a_dry_run_counts_and_reports_every_bad_row_and_changes_nothing,
    a_file_creates_and_updates_with_one_audit_entry,
    a_large_file_stopped_part_way_is_resumed_without_applying_a_row_twice,
    a_step_from_a_stale_job_writes_nothing,
    sales_between_upload_and_apply_are_kept,
    the_import_endpoint_refuses_what_it_cannot_take,
);

const IMPORT: &str = "/api/v1/products/import";

async fn post(app: &TestApp, token: &str, query: &str, body: &str) -> Reply {
    let headers = vec![
        ("authorization".to_owned(), format!("Bearer {token}")),
        ("content-type".to_owned(), "text/csv".to_owned()),
    ];
    app.raw("POST", &format!("{IMPORT}{query}"), headers, body.as_bytes().to_vec())
        .await
}

async fn product(app: &TestApp, token: &str, sku: &str) -> Value {
    let r = app
        .call("GET", &format!("/api/v1/products?q={sku}&per_page=100"), token, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["sku"].as_str().is_some_and(|s| s.eq_ignore_ascii_case(sku)))
        .cloned()
        .unwrap_or(Value::Null)
}

async fn product_count(app: &TestApp, d: &Demo) -> usize {
    let mut n = 0;
    let mut next = Some("/api/v1/products?per_page=100".to_owned());
    while let Some(url) = next {
        let r = app.call("GET", &url, &d.owner, None).await;
        n += r.body["data"].as_array().map_or(0, Vec::len);
        next = r.body["links"]["next"].as_str().map(str::to_owned);
    }
    n
}

async fn imports_audited(app: &TestApp, d: &Demo) -> Vec<Value> {
    let r = app
        .call(
            "GET",
            "/api/v1/audit-log?action=ProductsImported&per_page=100",
            &d.owner,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].as_array().cloned().unwrap_or_default()
}

fn actor(d: &Demo) -> Actor {
    Actor::from_claims("importer", d.t.company.as_str(), "OWNER", None).expect("actor")
}

/// Stores the import without applying a step, as a crash right after the upload leaves it.
async fn stored(app: &TestApp, d: &Demo, body: &str) -> ImportId {
    match uc::import_with(&app.app().deps, &actor(d), body.as_bytes(), false, 0).await {
        Ok(ImportOutcome::Job(job)) => {
            assert_eq!(job.status, ImportStatus::Applying);
            assert_eq!(job.applied_rows, 0);
            job.id
        }
        Ok(ImportOutcome::Preview(p)) => panic!("a preview: {p:?}"),
        Err(e) => panic!("{e}"),
    }
}

async fn a_dry_run_counts_and_reports_every_bad_row_and_changes_nothing(app: TestApp) {
    let d = demo(&app).await;
    // WIDGET-001 exists (price 19.99): one row changes it, GADGET-002's row is its current
    // state, two rows are new; four rows are bad, one of them in two cells.
    let widget = product(&app, &d.owner, "WIDGET-001").await;
    let gadget = product(&app, &d.owner, "GADGET-002").await;
    let g = |k: &str| gadget[k].as_str().unwrap_or_default().to_owned();
    let file = format!(
        "\u{feff}SKU,Name,Price,Stock,Category,Active,Low_Stock_Threshold,Description\r\n\
         NEW-CAB-1,\"Cat's 5\"\" cable\",4.50,10,Cables,true,,\"two lines:\r\nfirst, second\"\r\n\
         WIDGET-001,{},21.00,,,,,\r\n\
         GADGET-002,{},{},,{},,{},{}\r\n\
         BAD SKU,Nameless,1.00,,,,,\r\n\
         NEW-2,Something,12.345,-4,,maybe,,\r\n\
         NEW-3,Valid,3,5,,,,\r\n\
         NEW-3,Twice,3,5,,,,\r\n\
         NEW-4,,abc,,,,,\r\n",
        widget["name"].as_str().unwrap_or_default(),
        g("name"),
        g("price"),
        g("category"),
        gadget["low_stock_threshold"]
            .as_u64()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        g("description"),
    );
    let before = product_count(&app, &d).await;
    // A dry run of a bad file answers what a real run would (422), with the counts too.
    let r = post(&app, &d.owner, "?dry_run=true", &file).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_csv"), "{}", r.body);
    let p = &r.body["error"]["details"];
    assert_eq!(p["dry_run"], json!(true));
    assert_eq!((p["rows"].as_u64(), p["create"].as_u64()), (Some(8), Some(2)), "{p}");
    assert_eq!(
        (p["update"].as_u64(), p["unchanged"].as_u64()),
        (Some(1), Some(1)),
        "{p}"
    );
    let errors: Vec<(u64, String, String)> = p["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["line"].as_u64().unwrap_or(0),
                e["column"].as_str().unwrap_or_default().to_owned(),
                e["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // The quoted cell spans lines 2-3, so every later row is one line further on.
    assert_eq!(
        errors,
        vec![
            (6, "sku".into(), "BAD SKU".into()),
            (7, "price".into(), "12.345".into()),
            (7, "stock".into(), "-4".into()),
            (7, "active".into(), "maybe".into()),
            (9, "sku".into(), "NEW-3".into()),
            (10, "name".into(), String::new()),
            (10, "price".into(), "abc".into()),
        ],
        "{p}"
    );
    assert!(p["errors"][4]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("line 8"));
    assert_eq!(product_count(&app, &d).await, before, "a dry run applies nothing");

    // The same file for real: refused whole, every error listed, nothing applied.
    let r = post(&app, &d.owner, "", &file).await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_csv"), "{}", r.body);
    assert_eq!(r.body["error"]["details"]["errors"].as_array().map(Vec::len), Some(7));
    assert_eq!(product_count(&app, &d).await, before);
    assert_eq!(product(&app, &d.owner, "WIDGET-001").await["price"], widget["price"]);
    assert!(imports_audited(&app, &d).await.is_empty());

    // Without the bad rows, the dry run answers 200 with the counts.
    let good: String = file
        .split("\r\n")
        .enumerate()
        .filter(|(i, _)| *i < 5 || *i == 7)
        .map(|(_, l)| format!("{l}\r\n"))
        .collect();
    let r = post(&app, &d.owner, "?dry_run=true", &good).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = &r.body["data"];
    assert_eq!(
        (
            p["rows"].as_u64(),
            p["create"].as_u64(),
            p["update"].as_u64(),
            p["unchanged"].as_u64()
        ),
        (Some(4), Some(2), Some(1), Some(1)),
        "{p}"
    );
    assert_eq!(product_count(&app, &d).await, before, "a dry run applies nothing");

    // Header problems are reported on line 1.
    let r = post(&app, &d.owner, "?dry_run=true", "sku,colour,name\nA,red,B\n").await;
    let cols: Vec<&str> = r.body["error"]["details"]["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["column"].as_str())
        .collect();
    assert_eq!(cols, ["colour", "price"], "{}", r.body);
}

async fn a_file_creates_and_updates_with_one_audit_entry(app: TestApp) {
    let d = demo(&app).await;
    let file = "sku,name,price,stock,category,active,low_stock_threshold,description\n\
                IMP-1,\"Cat's 5\"\" cable\",4.50,10,Cables,yes,3,\"Grey, 5 m\"\n\
                IMP-2,Inactive thing,1,0,,false,,\n\
                widget-001,Widget (renamed),19.99,,,,,\n";
    let r = post(&app, &d.owner, "", file).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let job = &r.body["data"];
    assert_eq!(job["status"], json!("completed"));
    assert_eq!(
        (job["rows"].as_u64(), job["created"].as_u64(), job["updated"].as_u64()),
        (Some(3), Some(2), Some(1))
    );
    let id = job["id"].as_str().unwrap_or_default();
    let location = r
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(location, format!("/api/v1/imports/{id}"));
    let got = app.call("GET", location, &d.staff, None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["data"]["applied_rows"], json!(3));

    let p = product(&app, &d.owner, "IMP-1").await;
    assert_eq!(p["name"], json!("Cat's 5\" cable"));
    assert_eq!(
        (p["price"].as_str(), p["stock"].as_u64(), p["category"].as_str()),
        (Some("4.50"), Some(10), Some("Cables"))
    );
    assert_eq!(
        (p["low_stock_threshold"].as_u64(), p["description"].as_str()),
        (Some(3), Some("Grey, 5 m"))
    );
    assert_eq!(product(&app, &d.owner, "IMP-2").await["active"], json!(false));
    let w = product(&app, &d.owner, "WIDGET-001").await;
    assert_eq!(w["name"], json!("Widget (renamed)"));
    assert_eq!(w["version"], json!(2), "updated once");
    // Found by its new name: the search terms moved with it.
    assert_eq!(product(&app, &d.owner, "renamed").await, Value::Null);
    let r = app.call("GET", "/api/v1/products?q=renamed", &d.owner, None).await;
    assert_eq!(r.body["data"][0]["sku"], json!("WIDGET-001"));

    let audited = imports_audited(&app, &d).await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["entity_id"], json!(id));
    assert_eq!(audited[0]["summary"]["created"], json!(2));

    // Sending the same file again changes nothing, and says so.
    let r = post(&app, &d.owner, "", file).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (r.body["data"]["unchanged"].as_u64(), r.body["data"]["created"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(product(&app, &d.owner, "WIDGET-001").await["version"], json!(2));
    for sku in ["IMP-1", "IMP-2", "WIDGET-001"] {
        let p = product(&app, &d.owner, sku).await;
        app.assert_product_index_matches(&d.t.company, p["id"].as_str().unwrap_or_default())
            .await;
    }
}

fn big_file(rows: usize, stock: u32) -> String {
    let mut f = String::from("sku,name,price,stock,category\n");
    for i in 0..rows {
        f.push_str(&format!(
            "BULK-{i:05},Bulk item number {i},{}.25,{stock},Bulk {}\n",
            i % 90 + 1,
            i % 7
        ));
    }
    f
}

async fn a_large_file_stopped_part_way_is_resumed_without_applying_a_row_twice(app: TestApp) {
    let d = demo(&app).await;
    let rows = 260;
    let before = product_count(&app, &d).await;
    let (health_before, _) = health_total(&app, &d).await;
    let id = stored(&app, &d, &big_file(rows, 7)).await;
    let c = &d.t.company;
    let deps = &app.app().deps;
    // Two steps, then the "crash".
    let part = uc::run(deps, c, id, Some(2)).await.expect("two steps");
    assert!(part.applied_rows > 0 && part.applied_rows < rows as u64, "{part:?}");
    assert_eq!(part.created, part.applied_rows);
    assert_eq!(product_count(&app, &d).await, before + part.applied_rows as usize);
    let r = app.call("GET", &format!("/api/v1/imports/{id}"), &d.owner, None).await;
    assert_eq!(r.body["data"]["status"], json!("applying"), "{}", r.body);

    // Two runners at once (a redelivery racing the first delivery), then the jobs worker.
    let (a, b) = tokio::join!(uc::run(deps, c, id, None), uc::run(deps, c, id, None));
    let (a, b) = (a.expect("runner a"), b.expect("runner b"));
    assert_eq!(a, b, "both see the one finished job");
    app.relay().await;
    let done = app.call("GET", &format!("/api/v1/imports/{id}"), &d.owner, None).await;
    let job = &done.body["data"];
    assert_eq!(job["status"], json!("completed"), "{job}");
    assert_eq!(
        (
            job["applied_rows"].as_u64(),
            job["created"].as_u64(),
            job["updated"].as_u64(),
            job["unchanged"].as_u64()
        ),
        (Some(rows as u64), Some(rows as u64), Some(0), Some(0)),
        "every row applied once"
    );
    assert_eq!(product_count(&app, &d).await, before + rows);
    assert_eq!(imports_audited(&app, &d).await.len(), 1, "one audit entry");
    let (health_after, _) = health_total(&app, &d).await;
    assert_eq!(
        health_after,
        health_before + rows as u64,
        "each new product counted once"
    );
    let p = product(&app, &d.owner, "BULK-00259").await;
    assert_eq!((p["stock"].as_u64(), p["version"].as_u64()), (Some(7), Some(1)));
}

async fn health_total(app: &TestApp, d: &Demo) -> (u64, Value) {
    let r = app.call("GET", "/api/v1/inventory/health", &d.owner, None).await;
    (r.body["data"]["total"].as_u64().unwrap_or(0), r.body)
}

async fn a_step_from_a_stale_job_writes_nothing(app: TestApp) {
    let d = demo(&app).await;
    let c = &d.t.company;
    let store = app.store();
    let id = stored(&app, &d, &big_file(100, 1)).await;
    let stale = store.get_import(c, id).await.expect("read").expect("job");
    uc::run(&app.app().deps, c, id, Some(1)).await.expect("one step");
    // A runner that read the job before that step writes its own step: refused whole.
    let mut p = store
        .get_product(c, d.id("WIDGET-001"))
        .await
        .expect("read")
        .expect("widget");
    p.id = oms_domain::ids::ProductId::new(uuid::Uuid::new_v4());
    p.sku = oms_domain::catalog::Sku::parse("STALE-1").expect("sku");
    let mut after = stale.clone();
    after.applied_rows += 1;
    after.created += 1;
    let step = store
        .apply_import_step(&stale, &after, &[ImportWrite::Create(p)], None)
        .await
        .expect("step");
    assert_eq!(step, ImportStep::JobMoved);
    assert_eq!(product(&app, &d.owner, "STALE-1").await, Value::Null, "nothing written");
    let now = store.get_import(c, id).await.expect("read").expect("job");
    assert!(
        now.applied_rows > after.applied_rows,
        "the job is where the real step left it"
    );
}

async fn sales_between_upload_and_apply_are_kept(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call(
            "PATCH",
            "/api/v1/settings",
            &d.owner,
            Some(json!({"dashboard_orders_decrement_stock": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let start = product(&app, &d.owner, "WIDGET-001").await["stock"]
        .as_u64()
        .unwrap_or(0);
    // The file counts 50; three are sold after the upload, before the rows are applied.
    let id = stored(&app, &d, "sku,name,price,stock\nWIDGET-001,Widget,19.99,50\n").await;
    let r = app
        .call("POST", ORDERS, &d.staff, Some(items(&[("WIDGET-001", 3)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        product(&app, &d.owner, "WIDGET-001").await["stock"].as_u64(),
        Some(start - 3)
    );
    app.relay().await;
    let job = app
        .store()
        .get_import(&d.t.company, id)
        .await
        .expect("read")
        .expect("job");
    assert_eq!(job.status, ImportStatus::Completed);
    assert_eq!(
        product(&app, &d.owner, "WIDGET-001").await["stock"].as_u64(),
        Some(47),
        "the file's 50, less the 3 sold since"
    );
}

async fn the_import_endpoint_refuses_what_it_cannot_take(app: TestApp) {
    let d = demo(&app).await;
    let file = "sku,name,price\nEDGE-1,Edge,1.00\n";
    // Only staff who may write products and adjust stock (OWNER, ADMIN).
    for (token, status) in [
        (&d.staff, 403),
        (&d.finance, 403),
        (&d.buyer, 403),
        (&d.integration, 403),
    ] {
        assert_eq!(post(&app, token, "", file).await.status, status);
    }
    let wrong_type = app
        .raw(
            "POST",
            IMPORT,
            vec![
                ("authorization".into(), format!("Bearer {}", d.owner)),
                ("content-type".into(), "application/json".into()),
            ],
            b"{\"sku\": \"x\"}".to_vec(),
        )
        .await;
    assert_eq!(
        (wrong_type.status.as_u16(), wrong_type.code()),
        (415, "unsupported_media_type")
    );
    let huge = "x".repeat(5 * 1024 * 1024 + 1);
    assert_eq!(post(&app, &d.owner, "", &huge).await.status, 413);
    for (body, what) in [
        ("", "empty"),
        ("\u{feff}", "a BOM alone"),
        ("sku,name,price\n", "no rows"),
    ] {
        let r = post(&app, &d.owner, "", body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (422, "invalid_csv"),
            "{what}: {}",
            r.body
        );
    }
    let r = post(&app, &d.owner, "?dry_run=perhaps", file).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = post(&app, &d.owner, "?force=true", file).await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Not valid UTF-8: a bad row, not a crash.
    let headers = vec![
        ("authorization".to_owned(), format!("Bearer {}", d.owner)),
        ("content-type".to_owned(), "text/csv".to_owned()),
    ];
    let r = app
        .raw("POST", IMPORT, headers, b"sku,name,price\nA,\xff\xfe,1\n".to_vec())
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "invalid_csv"), "{}", r.body);
    // Absurd numbers.
    let r = post(
        &app,
        &d.owner,
        "?dry_run=true",
        "sku,name,price,stock\nA,B,1e400,99999999999999999999999\n",
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.body["error"]["details"]["errors"].as_array().map(Vec::len),
        Some(2),
        "{}",
        r.body
    );
    // Another company's import is not found.
    let mine = post(&app, &d.owner, "", file).await;
    let id = mine.body["data"]["id"].as_str().unwrap_or_default().to_owned();
    let other = app.token("someone-else", "OWNER", None);
    assert_eq!(
        app.call("GET", &format!("/api/v1/imports/{id}"), &other, None)
            .await
            .status,
        404
    );
    assert_eq!(
        app.call("GET", "/api/v1/imports/not-a-uuid", &d.owner, None)
            .await
            .status,
        404
    );
}
