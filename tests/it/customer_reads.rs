//! A customer's reads cost its own page, never the tenant's: its high-value list and
//! totals, requires-attention page and counts, and search read that customer's own index
//! partitions, and nothing about other customers' orders shows through (not even in a
//! cursor). Counting and summing over a set stop after a bounded number of entries and
//! say so.

use serde_json::{json, Value};

use chrono::Utc;
use oms_domain::order::query::OrderFilter;
use oms_tests::{on_both_adapters, Backend, TestApp};

use crate::support::{demo, Demo, ORDERS};

on_both_adapters!(
    a_customer_search_never_sees_other_customers_entries,
    a_customer_high_value_list_and_totals_are_its_own,
    counts_and_sums_stop_at_their_bound_and_say_so,
);

async fn order_for(app: &TestApp, d: &Demo, customer: &str, extra: Value) -> Value {
    let mut body = json!({"customer_id": customer, "items": [{"sku": "PALLET-JACK", "quantity": 1}]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = app.call("POST", ORDERS, &d.owner, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"].clone()
}

async fn a_customer_search_never_sees_other_customers_entries(app: TestApp) {
    let d = demo(&app).await;
    let (acme, globex) = (d.t.acme.to_string(), d.t.globex.to_string());
    for _ in 0..30 {
        order_for(&app, &d, &globex, json!({"notes": "secret project"})).await;
    }
    let mine = order_for(&app, &d, &acme, json!({"notes": "secret"})).await;
    app.relay().await;
    for per_page in [1, 5] {
        let r = app
            .call(
                "GET",
                &format!("{ORDERS}/search?q=secret&per_page={per_page}"),
                &d.buyer,
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["data"].as_array().map(Vec::len), Some(1), "{}", r.body);
        assert_eq!(r.body["data"][0]["id"], mine["id"]);
        assert_eq!(
            r.body["links"]["next"],
            Value::Null,
            "a next page would say other customers' orders match: {}",
            r.body
        );
    }
    // Staff see all of them.
    let r = app
        .call("GET", &format!("{ORDERS}/search?q=secret&per_page=100"), &d.owner, None)
        .await;
    assert_eq!(r.body["data"].as_array().map(Vec::len), Some(31));
}

async fn a_customer_high_value_list_and_totals_are_its_own(app: TestApp) {
    let d = demo(&app).await;
    let (acme, globex) = (d.t.acme.to_string(), d.t.globex.to_string());
    let big = |price: &str| json!({"items": [{"sku": "PALLET-JACK", "quantity": 1, "unit_price": price}]});
    for price in ["20000.00", "30000.00", "40000.00"] {
        order_for(&app, &d, &globex, big(price)).await;
    }
    let a1 = order_for(&app, &d, &acme, big("15000.00")).await;
    let a2 = order_for(&app, &d, &acme, big("12500.50")).await;
    order_for(&app, &d, &acme, big("99.00")).await;
    let r = app
        .call("GET", &format!("{ORDERS}/high-value?per_page=1"), &d.buyer, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"][0]["id"], a1["id"], "largest of its own first");
    assert_eq!(r.body["meta"]["total"], 2);
    assert_eq!(r.body["meta"]["total_value"], "27500.50");
    assert_eq!(r.body["meta"]["totals_partial"], false);
    assert_eq!(
        r.body["meta"]["totals_from"], "counters",
        "the customer's own counters: one read"
    );
    // Another minimum sums over the customer's own index entries instead.
    let other = app
        .call(
            "GET",
            &format!("{ORDERS}/high-value?minimum_amount=13000"),
            &d.buyer,
            None,
        )
        .await;
    assert_eq!(other.body["meta"]["total"], 1, "{}", other.body);
    assert_eq!(other.body["meta"]["totals_from"], "orders");
    let next = r.body["links"]["next"].as_str().expect("a second page").to_owned();
    let r2 = app.call("GET", &next, &d.buyer, None).await;
    assert_eq!(r2.body["data"][0]["id"], a2["id"]);
    // DynamoDB cannot tell a full last page from a page with more after it: a cursor may
    // follow the last order, and it leads to an empty page of this customer's index.
    if let Some(next) = r2.body["links"]["next"].as_str() {
        let r3 = app.call("GET", next, &d.buyer, None).await;
        assert_eq!(r3.body["data"], json!([]), "{}", r3.body);
        assert_eq!(r3.body["links"]["next"], Value::Null);
    }
    // Sorting its list by total reads its own index too, in the same order.
    let l = app
        .call(
            "GET",
            &format!("{ORDERS}?sort_by=total_amount&per_page=2"),
            &d.buyer,
            None,
        )
        .await;
    assert_eq!(l.status, 200, "{}", l.body);
    assert_eq!(l.body["data"][0]["id"], a1["id"]);
    assert_eq!(l.body["data"][1]["id"], a2["id"]);
    // The company's view includes everyone's.
    let staff = app.call("GET", &format!("{ORDERS}/high-value"), &d.owner, None).await;
    assert_eq!(staff.body["meta"]["total"], 5);
}

async fn counts_and_sums_stop_at_their_bound_and_say_so(app: TestApp) {
    let d = demo(&app).await;
    let acme = d.t.acme.to_string();
    let mut totals = Vec::new();
    for i in 1..=5 {
        let o = order_for(
            &app,
            &d,
            &acme,
            json!({"due_date": "2020-01-0".to_owned() + &i.to_string(), "order_date": "2020-01-01",
                "items": [{"sku": "PALLET-JACK", "quantity": 1, "unit_price": format!("{}0000.00", i)}]}),
        )
        .await;
        totals.push(
            o["total_amount"]
                .as_str()
                .unwrap_or_default()
                .parse::<rust_decimal::Decimal>()
                .unwrap_or_default(),
        );
    }
    let store = app.store();
    let now = Utc::now();
    for customer in [None, Some(d.t.acme)] {
        let all = store
            .attention_counts(&d.t.company, customer, now, 10)
            .await
            .expect("counts");
        assert_eq!((all.total, all.overdue, all.partial), (5, 5, false));
        let exact = store
            .attention_counts(&d.t.company, customer, now, 5)
            .await
            .expect("counts");
        assert_eq!(
            (exact.total, exact.partial),
            (5, false),
            "exactly the bound is complete"
        );
        let some = store
            .attention_counts(&d.t.company, customer, now, 3)
            .await
            .expect("counts");
        assert_eq!((some.total, some.partial), (3, true));

        let filter = OrderFilter {
            customer_id: customer,
            ..OrderFilter::default()
        };
        let min = rust_decimal::Decimal::from(10_000);
        let t = store
            .high_value_totals(&d.t.company, min, &filter, 10)
            .await
            .expect("sums");
        assert_eq!((t.count, t.partial), (5, false));
        assert_eq!(t.total_value, totals.iter().sum());
        let two = store
            .high_value_totals(&d.t.company, min, &filter, 2)
            .await
            .expect("sums");
        assert_eq!((two.count, two.partial), (2, true));
        assert_eq!(two.total_value, totals[3] + totals[4], "the largest first");
    }
}

/// DynamoDB only (the items read are DynamoDB's `ScannedCount`): what a customer's reads
/// cost does not change when other customers' orders multiply.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_read_costs_the_same_however_many_orders_others_have() {
    let Some(app) = TestApp::dynamo().await else { return };
    let Backend::Dynamo(store) = app.backend.clone() else {
        return;
    };
    let d = demo(&app).await;
    let (acme, globex) = (d.t.acme.to_string(), d.t.globex.to_string());
    let big = json!({"notes": "quarterly restock", "due_date": "2020-01-02", "order_date": "2020-01-01",
        "items": [{"sku": "PALLET-JACK", "quantity": 1, "unit_price": "25000.00"}]});
    for _ in 0..3 {
        order_for(&app, &d, &acme, big.clone()).await;
    }
    let reads = [
        format!("{ORDERS}/high-value"),
        format!("{ORDERS}/high-value?minimum_amount=20000"),
        format!("{ORDERS}/requires-attention"),
        format!("{ORDERS}/search?q=quarterly"),
        format!("{ORDERS}?sort_by=total_amount"),
    ];
    let cost = || async {
        let mut out = Vec::new();
        for path in &reads {
            store.read_stats().take();
            let r = app.call("GET", path, &d.buyer, None).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            assert_eq!(r.body["links"]["next"], Value::Null, "{path}: {}", r.body);
            out.push((path.clone(), store.read_stats().take().1));
        }
        out
    };
    app.relay().await;
    let before = cost().await;
    for _ in 0..60 {
        order_for(&app, &d, &globex, big.clone()).await;
    }
    app.relay().await;
    let after = cost().await;
    assert_eq!(
        before, after,
        "items read per customer read, before and after 60 other orders"
    );
}
