//! The high-value recount after a threshold change (issue 13, part 1), on both adapters:
//! the totals stay right while the job has not run (summed over the orders), the job
//! driven by the outbox fills the new generation's counters, changes during and after it
//! are counted once, and a write derived from an order before the job counted it is not
//! applied.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use oms_domain::order::query::HighValueCounting;
use oms_domain::ports::RecountWrite;
use oms_domain::usecases::high_value;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{dec, demo, Demo, ORDERS};

on_both_adapters!(
    a_threshold_change_is_recounted_by_the_job_while_reads_stay_right,
    orders_racing_the_recount_are_counted_once,
    an_order_counted_by_the_recount_is_not_counted_again_from_an_older_read,
);

const HIGH: &str = "/api/v1/sales/orders/high-value";

async fn order(app: &TestApp, d: &Demo, customer: &str, widgets: i64) -> String {
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(json!({"customer_id": customer, "items": [{"sku": "WIDGET-001", "quantity": widgets}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().unwrap_or_default().to_owned()
}

/// (total, total_value, where they came from) of the high-value meta for `query`.
async fn totals(app: &TestApp, token: &str, query: &str) -> (u64, Decimal, String) {
    let r = app.call("GET", &format!("{HIGH}{query}"), token, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = &r.body["meta"];
    (
        m["total"].as_u64().unwrap_or(u64::MAX),
        dec(&m["total_value"]),
        m["totals_from"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The counters' answer equals the sum over the orders (a date range forces the sum).
async fn assert_counters_match_the_orders(app: &TestApp, token: &str, status: &str) {
    let (n, v, from) = totals(app, token, status).await;
    assert_eq!(
        from, "counters",
        "{status}: the counters answer once the recount is done"
    );
    let sep = if status.is_empty() { '?' } else { '&' };
    let (sn, sv, sfrom) = totals(app, token, &format!("{status}{sep}from_date=2000-01-01")).await;
    assert_eq!(sfrom, "orders");
    assert_eq!((n, v), (sn, sv), "{status}: counters vs the orders");
}

async fn set_threshold(app: &TestApp, d: &Demo, t: &str) -> Value {
    let r = app
        .call(
            "PATCH",
            "/api/v1/settings",
            &d.owner,
            Some(json!({"high_value_threshold": t})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].clone()
}

async fn a_threshold_change_is_recounted_by_the_job_while_reads_stay_right(app: TestApp) {
    let d = demo(&app).await;
    let (acme, globex) = (d.t.acme.to_string(), d.t.globex.to_string());
    // 19.99 a widget (89.99 for Acme, its price list): totals from 19.99 to 899.90.
    let mut ids = Vec::new();
    for (c, n) in [
        (&acme, 1),
        (&acme, 3),
        (&globex, 5),
        (&globex, 1),
        (&acme, 10),
        (&globex, 20),
    ] {
        ids.push(order(&app, &d, c, n).await);
    }
    app.relay().await;
    let before = totals(&app, &d.owner, "").await;
    assert_eq!(before.0, 0, "none at the default 10,000");

    let s = set_threshold(&app, &d, "99.95").await;
    assert_eq!(s["high_value_generation"], json!(1));
    // Before the job ran: right, from the orders.
    let (n, v, from) = totals(&app, &d.owner, "").await;
    assert_eq!(from, "orders", "the new counters are not complete yet");
    let (sn, sv, _) = totals(&app, &d.owner, "?from_date=2000-01-01").await;
    assert_eq!((n, v), (sn, sv));
    assert!(n >= 4, "{n}");

    app.relay().await;
    assert_counters_match_the_orders(&app, &d.owner, "").await;
    assert_counters_match_the_orders(&app, &d.owner, "?status=pending").await;
    assert_counters_match_the_orders(&app, &d.buyer, "").await;

    // Changes after the recount move the new counters: a cancel, a new order.
    let r = app
        .call(
            "POST",
            &format!("{ORDERS}/{}/status", ids[5]),
            &d.owner,
            Some(json!({"status": "cancelled", "cancellation_reason": "changed mind"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    order(&app, &d, &acme, 2).await;
    app.relay().await;
    assert_counters_match_the_orders(&app, &d.owner, "").await;
    assert_counters_match_the_orders(&app, &d.owner, "?status=cancelled").await;
    assert_counters_match_the_orders(&app, &d.buyer, "").await;

    // A second change, and back: each a generation of its own, each recounted.
    assert_eq!(set_threshold(&app, &d, "500").await["high_value_generation"], json!(2));
    assert_eq!(
        set_threshold(&app, &d, "99.95").await["high_value_generation"],
        json!(3)
    );
    app.relay().await;
    assert_counters_match_the_orders(&app, &d.owner, "").await;
    assert_counters_match_the_orders(&app, &d.buyer, "").await;
}

async fn orders_racing_the_recount_are_counted_once(app: TestApp) {
    let d = demo(&app).await;
    let widget = d.id("WIDGET-001");
    let r = app
        .call(
            "POST",
            &format!("/api/v1/products/{widget}/stock-adjustments"),
            &d.owner,
            Some(json!({"delta": 10000, "reason": "enough for the race"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (acme, globex) = (d.t.acme.to_string(), d.t.globex.to_string());
    let mut ids = Vec::new();
    for i in 0..60 {
        let c = if i % 2 == 0 { &acme } else { &globex };
        ids.push(order(&app, &d, c, 1 + (i % 7)).await);
    }
    app.relay().await;
    set_threshold(&app, &d, "100").await;
    // Before the job runs: changes to orders it has not counted move no counter (it counts
    // them as they then are), new orders count at once.
    for (i, id) in ids.iter().enumerate().skip(30).take(12) {
        let to = if i % 3 == 0 { "cancelled" } else { "confirmed" };
        let body = json!({"status": to, "cancellation_reason": "before the recount"});
        let r = app
            .call("POST", &format!("{ORDERS}/{id}/status"), &d.owner, Some(body))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    order(&app, &d, &acme, 9).await;
    app.relay().await;
    for status in ["", "?status=pending", "?status=confirmed", "?status=cancelled"] {
        assert_counters_match_the_orders(&app, &d.owner, status).await;
    }

    // Another change; the recount, while orders are placed, confirmed and cancelled.
    set_threshold(&app, &d, "50").await;
    let c = &d.t.company;
    let deps = &app.app().deps;
    let job = high_value::recount(deps, c, 2);
    let traffic = async {
        for (i, id) in ids.iter().enumerate().take(30) {
            let to = if i % 3 == 0 { "cancelled" } else { "confirmed" };
            let body = json!({"status": to, "cancellation_reason": "race"});
            let r = app
                .call("POST", &format!("{ORDERS}/{id}/status"), &d.owner, Some(body))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            order(&app, &d, if i % 2 == 0 { &acme } else { &globex }, 3 + (i as i64 % 5)).await;
        }
    };
    let (steps, ()) = tokio::join!(job, traffic);
    assert!(steps.expect("the recount") > 0);
    // The jobs worker then sees every event (a second run of the job finds it complete).
    app.relay().await;
    for status in ["", "?status=pending", "?status=confirmed", "?status=cancelled"] {
        assert_counters_match_the_orders(&app, &d.owner, status).await;
    }
    assert_counters_match_the_orders(&app, &d.buyer, "").await;
}

async fn an_order_counted_by_the_recount_is_not_counted_again_from_an_older_read(app: TestApp) {
    let d = demo(&app).await;
    let id = order(&app, &d, &d.t.acme.to_string(), 10).await;
    set_threshold(&app, &d, "100").await;
    let c = &d.t.company;
    let store = app.store();
    let id = oms_domain::ids::OrderId::parse(&id).expect("id");
    let read = store.get_order(c, id).await.expect("read").expect("order");
    let counting = HighValueCounting {
        threshold: Decimal::from(100),
        generation: 1,
    };
    assert_eq!(
        store
            .count_into_generation(c, counting, std::slice::from_ref(&read), None)
            .await
            .expect("count"),
        RecountWrite::Applied
    );
    // A second counter (the job, after the fix-up) working from the same read: refused.
    assert_eq!(
        store
            .count_into_generation(c, counting, std::slice::from_ref(&read), None)
            .await
            .expect("count"),
        RecountWrite::Raced
    );
    let stats = store
        .high_value_stats(c, None, 1)
        .await
        .expect("read")
        .expect("counters");
    assert_eq!(stats.by_status.get("pending").map(|(n, _)| *n), Some(1), "{stats:?}");
    // A status change derived from the read before the count moves no counter and is
    // refused: the lifecycle reads again and applies it to the counted order.
    let r = app
        .call(
            "POST",
            &format!("{ORDERS}/{id}/status"),
            &d.owner,
            Some(json!({"status": "confirmed"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.relay().await;
    assert_counters_match_the_orders(&app, &d.owner, "?status=confirmed").await;
    assert_counters_match_the_orders(&app, &d.owner, "?status=pending").await;
}
