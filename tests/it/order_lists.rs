//! Order lists (SPEC §6, issue 4): every filter and sort alone and combined, paging while
//! orders are created, invalid parameters and tenant/customer scoping, on both adapters.
//! Search, requires-attention and high-value are in `order_views.rs`.

use std::cmp::Ordering;
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::support::*;
use oms_domain::order::OrderStatus::{self, *};
use oms_tests::{on_both_adapters, TestApp};

on_both_adapters!(
    every_filter_alone_and_combined,
    every_sort_in_both_directions_pages_in_order,
    paging_while_orders_are_created_has_no_duplicates_or_gaps,
    invalid_parameters_are_refused_and_named,
    customers_and_other_tenants_see_only_their_own,
);

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().expect("time").parse().expect("RFC 3339")
}

fn rank(v: &Value) -> usize {
    let s = OrderStatus::parse(v.as_str().expect("status")).expect("status");
    OrderStatus::ALL.iter().position(|x| *x == s).expect("rank")
}

/// How `sort_by` orders two listed orders (ascending); ties go by creation, then id.
fn compare(sort: &str, a: &Value, b: &Value) -> Ordering {
    let tail = |a: &Value, b: &Value| {
        a["order_date"]
            .as_str()
            .cmp(&b["order_date"].as_str())
            .then(time(&a["created_at"]).cmp(&time(&b["created_at"])))
            .then(a["id"].as_str().cmp(&b["id"].as_str()))
    };
    let first = match sort {
        "order_date" => Ordering::Equal,
        "total_amount" => dec(&a["total_amount"]).cmp(&dec(&b["total_amount"])),
        "status" => rank(&a["status"]).cmp(&rank(&b["status"])),
        "due_date" => {
            let d = |v: &Value| v["due_date"].as_str().unwrap_or("9999-12-31").to_owned();
            d(a).cmp(&d(b))
        }
        other => panic!("no sort {other}"),
    };
    first.then_with(|| tail(a, b))
}

/// customer, sales rep, source, priority, order date, due date, widgets, status.
type Spec = (
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    i64,
    OrderStatus,
);

const SPECS: &[Spec] = &[
    (
        Some("acme"),
        Some("rep-ann"),
        "phone",
        "high",
        "2026-01-05",
        Some("2026-01-20"),
        3,
        Pending,
    ),
    (Some("acme"), None, "email", "normal", "2026-01-09", None, 1, Confirmed),
    (
        Some("globex"),
        Some("rep-bob"),
        "phone",
        "urgent",
        "2026-02-01",
        Some("2026-02-03"),
        12,
        Confirmed,
    ),
    (
        None,
        Some("rep-ann"),
        "manual",
        "low",
        "2026-02-14",
        Some("2026-03-01"),
        7,
        OnHold,
    ),
    (Some("globex"), None, "email", "high", "2026-03-02", None, 2, Cancelled),
    (
        Some("acme"),
        Some("rep-bob"),
        "manual",
        "normal",
        "2026-03-02",
        Some("2026-03-30"),
        20,
        Pending,
    ),
    (
        None,
        None,
        "phone",
        "normal",
        "2026-03-15",
        Some("2026-04-01"),
        5,
        Processing,
    ),
    (
        Some("globex"),
        Some("rep-ann"),
        "manual",
        "urgent",
        "2026-04-01",
        None,
        9,
        Pending,
    ),
];

/// Places the spec'd orders from the dashboard and walks each to its status; returns each
/// order as the list shows it.
async fn seed(app: &TestApp, d: &Demo) -> Vec<Value> {
    let mut placed = Vec::new();
    for &(customer, rep, source, priority, order_date, due_date, qty, status) in SPECS {
        let mut body = json!({
            "source": source,
            "priority": priority,
            "order_date": order_date,
            "items": [{"sku": "WIDGET-001", "quantity": qty}],
        });
        match customer {
            Some("acme") => body["customer_id"] = json!(d.t.acme),
            Some(_) => body["customer_id"] = json!(d.t.globex),
            None => {}
        }
        if let Some(r) = rep {
            body["sales_rep_id"] = json!(r);
        }
        if let Some(due) = due_date {
            body["due_date"] = json!(due);
        }
        let r = app.call("POST", ORDERS, &d.staff, Some(body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["data"]["id"].as_str().expect("id").to_owned();
        let (_, path) = path_to(status);
        for step in path {
            let r = to(app, &d.owner, &id, step).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        placed.push(id);
    }
    let all = all_pages(app, &d.owner, &format!("{ORDERS}?per_page=100")).await;
    placed
        .iter()
        .map(|id| all.iter().find(|o| o["id"] == *id).expect("listed").clone())
        .collect()
}

async fn every_filter_alone_and_combined(app: TestApp) {
    let d = demo(&app).await;
    let orders = seed(&app, &d).await;
    let (acme, globex) = (d.t.acme.to_string(), d.t.globex.to_string());
    let expect = |pred: &dyn Fn(&Value) -> bool| -> HashSet<String> {
        orders
            .iter()
            .filter(|o| pred(o))
            .map(|o| o["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let customer = |o: &Value| o["customer"]["id"].as_str().map(str::to_owned);
    let cases: Vec<(String, HashSet<String>)> = vec![
        ("status=pending".into(), expect(&|o| o["status"] == "pending")),
        ("status=on_hold".into(), expect(&|o| o["status"] == "on_hold")),
        (
            format!("customer_id={acme}"),
            expect(&|o| customer(o) == Some(acme.clone())),
        ),
        (
            "sales_rep_id=rep-ann".into(),
            expect(&|o| o["sales_rep_id"] == "rep-ann"),
        ),
        ("source=phone".into(), expect(&|o| o["source"] == "phone")),
        ("channel=dashboard".into(), expect(&|o| o["channel"] == "dashboard")),
        ("channel=api".into(), expect(&|o| o["channel"] == "api")),
        ("channel=storefront".into(), HashSet::new()),
        ("priority=urgent".into(), expect(&|o| o["priority"] == "urgent")),
        (
            "from_date=2026-02-01".into(),
            expect(&|o| o["order_date"].as_str() >= Some("2026-02-01")),
        ),
        (
            "to_date=2026-03-02".into(),
            expect(&|o| o["order_date"].as_str() <= Some("2026-03-02")),
        ),
        (
            "min_total=500".into(),
            expect(&|o| dec(&o["total_amount"]) >= Decimal::from(500)),
        ),
        (
            "max_total=500".into(),
            expect(&|o| dec(&o["total_amount"]) <= Decimal::from(500)),
        ),
        (
            format!("status=pending&customer_id={globex}"),
            expect(&|o| o["status"] == "pending" && customer(o) == Some(globex.clone())),
        ),
        (
            "sales_rep_id=rep-bob&status=confirmed".into(),
            expect(&|o| o["sales_rep_id"] == "rep-bob" && o["status"] == "confirmed"),
        ),
        (
            "source=manual&priority=urgent&from_date=2026-03-01".into(),
            expect(&|o| {
                o["source"] == "manual" && o["priority"] == "urgent" && o["order_date"].as_str() >= Some("2026-03-01")
            }),
        ),
        (
            format!("customer_id={acme}&min_total=200&max_total=1000"),
            expect(&|o| {
                let t = dec(&o["total_amount"]);
                customer(o) == Some(acme.clone()) && t >= Decimal::from(200) && t <= Decimal::from(1000)
            }),
        ),
        (
            "from_date=2026-02-01&to_date=2026-03-02&status=cancelled".into(),
            expect(&|o| {
                let od = o["order_date"].as_str();
                od >= Some("2026-02-01") && od <= Some("2026-03-02") && o["status"] == "cancelled"
            }),
        ),
    ];
    for (q, want) in cases {
        for sort in ["order_date", "total_amount", "status", "due_date"] {
            let got = all_pages(&app, &d.owner, &format!("{ORDERS}?{q}&sort_by={sort}&per_page=2")).await;
            assert_eq!(set(&got), want, "{q} sorted by {sort}");
        }
    }
    // No filter matched nothing by accident: the cases above cover non-empty sets.
    assert!(orders.iter().any(|o| o["status"] == "on_hold"));

    // origin_order_id: an integration's own order id.
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.integration,
            Some(json!({"customer_id": d.t.acme, "origin_order_id": "shop-1001", "items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let origin_id = r.body["data"]["id"].as_str().expect("id").to_owned();
    let got = all_pages(&app, &d.owner, &format!("{ORDERS}?origin_order_id=shop-1001")).await;
    assert_eq!(ids(&got), std::slice::from_ref(&origin_id));
    let got = all_pages(
        &app,
        &d.owner,
        &format!("{ORDERS}?origin_order_id=shop-1001&status=cancelled"),
    )
    .await;
    assert!(got.is_empty());
    let got = all_pages(&app, &d.owner, &format!("{ORDERS}?origin_order_id=shop-9999")).await;
    assert!(got.is_empty());
    let got = all_pages(&app, &d.owner, &format!("{ORDERS}?channel=api&sort_by=total_amount")).await;
    assert!(got.iter().all(|o| o["channel"] == "api") && ids(&got).contains(&origin_id));
}

async fn every_sort_in_both_directions_pages_in_order(app: TestApp) {
    let d = demo(&app).await;
    let orders = seed(&app, &d).await;
    let everyone = set(&orders);
    for sort in ["order_date", "total_amount", "status", "due_date"] {
        for dir in ["asc", "desc"] {
            let got = all_pages(
                &app,
                &d.owner,
                &format!("{ORDERS}?sort_by={sort}&sort_direction={dir}&per_page=3"),
            )
            .await;
            assert_eq!(set(&got), everyone, "{sort} {dir}: every order, once");
            for w in got.windows(2) {
                let want = if dir == "asc" {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
                assert_eq!(
                    compare(sort, &w[0], &w[1]),
                    want,
                    "{sort} {dir}: {} then {}",
                    w[0],
                    w[1]
                );
            }
        }
    }
    // The default is newest order_date first.
    let r = app.call("GET", ORDERS, &d.owner, None).await;
    assert_eq!(r.body["meta"]["sort_by"], "order_date");
    assert_eq!(r.body["meta"]["sort_direction"], "desc");
    assert_eq!(r.body["data"][0]["order_date"], "2026-04-01");
    // A filtered sort pages in order too.
    let got = all_pages(
        &app,
        &d.owner,
        &format!("{ORDERS}?status=pending&sort_by=total_amount&sort_direction=asc&per_page=1"),
    )
    .await;
    assert_eq!(got.len(), orders.iter().filter(|o| o["status"] == "pending").count());
    for w in got.windows(2) {
        assert_eq!(compare("total_amount", &w[0], &w[1]), Ordering::Less);
    }
}

async fn paging_while_orders_are_created_has_no_duplicates_or_gaps(app: TestApp) {
    let d = demo(&app).await;
    let mut before = HashSet::new();
    for _ in 0..23 {
        before.insert(place(&app, &d).await);
    }
    for query in ["", "&sort_by=total_amount", "&status=pending"] {
        let mut seen: Vec<String> = Vec::new();
        let mut next = Some(format!("{ORDERS}?per_page=5{query}"));
        while let Some(url) = next {
            let r = app.call("GET", &url, &d.owner, None).await;
            assert_eq!(r.status, 200, "{}", r.body);
            seen.extend(ids(r.body["data"].as_array().expect("data")));
            next = r.body["links"]["next"].as_str().map(str::to_owned);
            // Orders arrive while the caller pages.
            place(&app, &d).await;
        }
        let unique: HashSet<String> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "no duplicates ({query})");
        assert!(
            before.is_subset(&unique),
            "no gaps: every order that existed is listed ({query})"
        );
    }
}

async fn invalid_parameters_are_refused_and_named(app: TestApp) {
    let d = demo(&app).await;
    place(&app, &d).await;
    place(&app, &d).await;
    let cases = [
        (format!("{ORDERS}?from_date=2026-13-01"), "from_date"),
        (format!("{ORDERS}?to_date=yesterday"), "to_date"),
        (format!("{ORDERS}?from_date=2026-05-01&to_date=2026-04-01"), "from_date"),
        (format!("{ORDERS}?per_page=0"), "per_page"),
        (format!("{ORDERS}?per_page=1000"), "per_page"),
        (format!("{ORDERS}?sort_by=customer"), "sort_by"),
        (format!("{ORDERS}?sort_direction=up"), "sort_direction"),
        (format!("{ORDERS}?status=lost"), "status"),
        (format!("{ORDERS}?source=fax"), "source"),
        (format!("{ORDERS}?channel=mail"), "channel"),
        (format!("{ORDERS}?priority=asap"), "priority"),
        (format!("{ORDERS}?min_total=-1"), "min_total"),
        (format!("{ORDERS}?max_total=lots"), "max_total"),
        (format!("{ORDERS}?min_total=10&max_total=5"), "min_total"),
        (format!("{ORDERS}?customer_id=not-a-uuid"), "customer_id"),
        (format!("{ORDERS}?statuz=pending"), "statuz"),
        (format!("{ORDERS}?search=acme&sort_by=total_amount"), "sort_by"),
        (format!("{ORDERS}?search=%20-%20"), "search"),
        (format!("{ORDERS}?cursor=forged"), "cursor"),
        (SEARCH.to_owned(), "q"),
        (format!("{SEARCH}?q=%21%21"), "q"),
        (format!("{SEARCH}?q=acme&date_from=03/01/2026"), "date_from"),
        (format!("{SEARCH}?q=acme&per_page=101"), "per_page"),
        (format!("{ATTENTION}?per_page=0"), "per_page"),
        (format!("{ATTENTION}?status=pending"), "status"),
        (format!("{HIGH_VALUE}?minimum_amount=-5"), "minimum_amount"),
        (format!("{HIGH_VALUE}?minimum_amount=ten"), "minimum_amount"),
        (format!("{HIGH_VALUE}?status=gone"), "status"),
        (format!("{HIGH_VALUE}?cursor=abc.def"), "cursor"),
    ];
    for (url, field) in cases {
        let r = app.call("GET", &url, &d.owner, None).await;
        assert_eq!(r.status, 422, "{url}: {}", r.body);
        assert_eq!(r.code(), "validation_error", "{url}");
        assert!(r.body.to_string().contains(field), "{url} names {field}: {}", r.body);
    }
    // A real cursor does not fit another list, or the same list with other filters.
    let r = app.call("GET", &format!("{ORDERS}?per_page=1"), &d.owner, None).await;
    let next = r.body["links"]["next"].as_str().expect("a next page");
    let cursor = next.split("cursor=").nth(1).expect("cursor");
    for other in [
        format!("{ORDERS}?per_page=1&status=pending&cursor={cursor}"),
        format!("{HIGH_VALUE}?cursor={cursor}"),
        format!("{ORDERS}?per_page=1&sort_by=total_amount&cursor={cursor}"),
    ] {
        let r = app.call("GET", &other, &d.owner, None).await;
        assert_eq!(r.status, 422, "{other}: {}", r.body);
    }
    // Tampering with it is caught.
    let mut forged = cursor.to_owned();
    forged.replace_range(2..4, if &forged[2..4] == "AA" { "BB" } else { "AA" });
    let r = app
        .call("GET", &format!("{ORDERS}?per_page=1&cursor={forged}"), &d.owner, None)
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // Bad tokens and missing permissions.
    for url in [
        ORDERS.to_owned(),
        format!("{SEARCH}?q=a"),
        ATTENTION.into(),
        HIGH_VALUE.into(),
    ] {
        let r = app.call("GET", &url, "not-a-token", None).await;
        assert_eq!(r.status, 401, "{url}");
    }
}

async fn customers_and_other_tenants_see_only_their_own(app: TestApp) {
    let d = demo(&app).await;
    seed(&app, &d).await;
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(json!({"notes": "mine", "items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    app.relay().await;
    let acme = d.t.acme.to_string();
    for url in [
        format!("{ORDERS}?per_page=2"),
        format!("{ORDERS}?sort_by=total_amount&per_page=2"),
        format!("{ORDERS}?sort_by=status&per_page=2"),
        format!("{ORDERS}?sort_by=due_date&per_page=2"),
        format!("{SEARCH}?q=acme&per_page=2"),
        format!("{SEARCH}?q=mine"),
        format!("{ATTENTION}?per_page=2"),
        format!("{HIGH_VALUE}?minimum_amount=0&per_page=2"),
    ] {
        let got = all_pages(&app, &d.buyer, &url).await;
        assert!(!got.is_empty(), "{url}: the customer's own orders are listed");
        assert!(
            got.iter().all(|o| o["customer"]["id"] == acme.as_str()),
            "{url}: only Acme's orders"
        );
    }
    // The attention counts a customer sees are over its own orders.
    let staff_view = all_pages(&app, &d.owner, ATTENTION).await;
    let own = staff_view
        .iter()
        .filter(|o| o["customer"]["id"] == acme.as_str())
        .count();
    let r = app.call("GET", ATTENTION, &d.buyer, None).await;
    assert_eq!(r.body["meta"]["total_attention_required"].as_u64(), Some(own as u64));
    assert!(own > 0 && own < staff_view.len(), "{own} of {}", staff_view.len());
    let r = app
        .call("GET", &format!("{ORDERS}?customer_id={}", d.t.globex), &d.buyer, None)
        .await;
    assert_eq!(r.status, 404, "another customer's orders: {}", r.body);
    // Staff of another company see none of these orders, and its cursors do not open here.
    let other = app.token("another-co", "OWNER", None);
    for url in [
        ORDERS.to_owned(),
        format!("{SEARCH}?q=acme"),
        ATTENTION.into(),
        format!("{HIGH_VALUE}?minimum_amount=0"),
    ] {
        let r = app.call("GET", &url, &other, None).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        assert_eq!(r.body["data"], json!([]), "{url}");
    }
    let r = app.call("GET", &format!("{ORDERS}?per_page=1"), &d.owner, None).await;
    let next = r.body["links"]["next"].as_str().expect("next");
    let r = app.call("GET", next, &other, None).await;
    assert_eq!(r.status, 422, "a cursor from another tenant: {}", r.body);
}
