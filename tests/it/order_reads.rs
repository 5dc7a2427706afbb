//! Order reads (SPEC §6, issue 4): every filter and sort alone and combined, paging while
//! orders are created, search rules, attention boundaries with a controlled clock,
//! high-value sums, invalid parameters and tenant/customer scoping, on both adapters.

use std::cmp::Ordering;
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::support::*;
use oms_domain::order::OrderStatus::{self, *};
use oms_tests::{on_both_adapters, ManualClock, TestApp};

on_both_adapters!(
    every_filter_alone_and_combined,
    every_sort_in_both_directions_pages_in_order,
    paging_while_orders_are_created_has_no_duplicates_or_gaps,
    search_matches_word_prefixes_case_insensitively,
    attention_reasons_at_the_boundaries,
    high_value_sums_are_exact,
    invalid_parameters_are_refused_and_named,
    customers_and_other_tenants_see_only_their_own,
);

const SEARCH: &str = "/api/v1/sales/orders/search";
const ATTENTION: &str = "/api/v1/sales/orders/requires-attention";
const HIGH_VALUE: &str = "/api/v1/sales/orders/high-value";

/// Every page of a list (following `links.next`), checking no order appears twice.
async fn all_pages(app: &TestApp, token: &str, first: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut next = Some(first.to_owned());
    let mut pages = 0;
    while let Some(url) = next {
        let r = app.call("GET", &url, token, None).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let data = r.body["data"].as_array().expect("data").clone();
        assert!(data.len() <= r.body["meta"]["per_page"].as_u64().expect("per_page") as usize);
        assert_eq!(r.body["meta"]["count"].as_u64(), Some(data.len() as u64));
        out.extend(data);
        next = r.body["links"]["next"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 200, "paging does not end");
    }
    let ids = ids(&out);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no order twice: {ids:?}"
    );
    out
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|o| o["id"].as_str().expect("id").to_owned()).collect()
}

fn set(items: &[Value]) -> HashSet<String> {
    ids(items).into_iter().collect()
}

fn dec(v: &Value) -> Decimal {
    v.as_str().expect("a decimal string").parse().expect("decimal")
}

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

async fn search_matches_word_prefixes_case_insensitively(app: TestApp) {
    let d = demo(&app).await;
    let place_with = |customer: Option<String>, notes: &'static str| {
        let app = &app;
        let token = d.staff.clone();
        async move {
            let mut body = json!({"notes": notes, "items": [{"sku": "WIDGET-001", "quantity": 1}]});
            if let Some(c) = customer {
                body["customer_id"] = json!(c);
            }
            let r = app.call("POST", ORDERS, &token, Some(body)).await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["data"].clone()
        }
    };
    let a1 = place_with(Some(d.t.acme.to_string()), "Rush delivery to the north warehouse").await;
    let a2 = place_with(Some(d.t.acme.to_string()), "Standard").await;
    let g1 = place_with(Some(d.t.globex.to_string()), "Rushed, call before delivery").await;
    let n1 = place_with(None, "Sample pallet for the trade show").await;
    app.relay().await;
    let id = |o: &Value| o["id"].as_str().expect("id").to_owned();
    let search = |q: &str| {
        let app = &app;
        let token = d.owner.clone();
        let url = format!("{SEARCH}?q={q}");
        async move { set(&all_pages(app, &token, &url).await) }
    };
    let hs = |v: &[&Value]| v.iter().map(|o| id(o)).collect::<HashSet<_>>();
    assert_eq!(search("acm").await, hs(&[&a1, &a2]), "a prefix of the company name");
    assert_eq!(search("ACME").await, hs(&[&a1, &a2]), "case does not matter");
    assert_eq!(
        search("cme").await,
        HashSet::new(),
        "the middle of a word is not a prefix"
    );
    assert_eq!(
        search("rush").await,
        hs(&[&a1, &g1]),
        "`rush` is the start of Rush and Rushed"
    );
    assert_eq!(search("rush%20ware").await, hs(&[&a1]), "every word must match");
    assert_eq!(search("rush%20acme").await, hs(&[&a1]));
    assert_eq!(search("trade").await, hs(&[&n1]));
    // Customer number, e-mail and order number.
    let number = a2["customer"]["customer_number"]
        .as_str()
        .expect("customer number")
        .to_lowercase();
    assert_eq!(search(&number).await, hs(&[&a1, &a2]));
    let email = a2["customer"]["email"].as_str().expect("email").to_owned();
    let local = email.split('@').next().expect("local part");
    assert!(search(local).await.contains(&id(&a2)));
    let order_no = g1["order_number"].as_str().expect("number");
    assert_eq!(
        search(&order_no[..order_no.len() - 2]).await,
        hs(&[&g1]),
        "an order-number prefix"
    );
    // Status and date filters narrow the result.
    let r = to(&app, &d.owner, &id(&a1), Confirmed).await;
    assert_eq!(r.status, 200);
    assert_eq!(search("acme&status=confirmed").await, hs(&[&a1]));
    assert_eq!(search("acme&date_from=2999-01-01").await, HashSet::new());
    // The list's `search` narrows by the list filters.
    let got = set(&all_pages(
        &app,
        &d.owner,
        &format!("{ORDERS}?search=rush&customer_id={}", d.t.globex),
    )
    .await);
    assert_eq!(got, hs(&[&g1]));
    // Paging through a search.
    let got = all_pages(&app, &d.owner, &format!("{SEARCH}?q=w&per_page=1")).await;
    assert_eq!(set(&got), search("w").await);
    // The index follows edits: after the notes change, old words no longer match.
    let r = app
        .call(
            "PATCH",
            &format!("{ORDERS}/{}", id(&n1)),
            &d.staff,
            Some(json!({"notes": "Fragile glassware"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.relay().await;
    assert_eq!(search("trade").await, HashSet::new());
    assert_eq!(search("fragile%20glass").await, hs(&[&n1]));
}

async fn attention_reasons_at_the_boundaries(app: TestApp) {
    let clock = ManualClock::at("2026-03-09T23:00:00Z");
    let app = app.with_clock(clock.clone());
    let d = demo(&app).await;
    let mk = |due: Option<&'static str>| {
        let app = &app;
        let token = d.staff.clone();
        async move {
            let mut body = json!({"order_date": "2026-03-01", "items": [{"sku": "WIDGET-001", "quantity": 1}]});
            if let Some(due) = due {
                body["due_date"] = json!(due);
            }
            let r = app.call("POST", ORDERS, &token, Some(body)).await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["data"]["id"].as_str().expect("id").to_owned()
        }
    };
    let due_11th = mk(Some("2026-03-11")).await;
    let due_later = mk(Some("2026-04-30")).await;
    let undated = mk(None).await;
    let held = mk(Some("2026-04-30")).await;
    assert_eq!(to(&app, &d.owner, &held, OnHold).await.status, 200);
    let approval = mk(None).await;
    assert_eq!(to(&app, &d.owner, &approval, PendingApproval).await.status, 200);
    let done = mk(Some("2026-03-02")).await;
    assert_eq!(to(&app, &d.owner, &done, Cancelled).await.status, 200);

    let look = |_: &str| {
        let app = &app;
        let token = d.owner.clone();
        async move {
            let r = app.call("GET", &format!("{ATTENTION}?per_page=2"), &token, None).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let items = all_pages(app, &token, &format!("{ATTENTION}?per_page=2")).await;
            (r.body["meta"].clone(), items)
        }
    };
    let find = |items: &[Value], id: &str| items.iter().find(|o| o["id"] == id).cloned();

    // 25 hours before the due date: not yet urgent; only the held and approval orders show.
    let (meta, items) = look("25h").await;
    assert_eq!(set(&items), HashSet::from([held.clone(), approval.clone()]));
    assert_eq!(meta["total_attention_required"], 2);
    assert_eq!(
        (meta["overdue_count"].as_u64(), meta["urgent_count"].as_u64()),
        (Some(0), Some(0))
    );
    let h = find(&items, &held).expect("held");
    assert_eq!(
        (
            h["reason"].as_str(),
            h["is_overdue"].as_bool(),
            h["is_urgent"].as_bool()
        ),
        (Some("On hold"), Some(false), Some(false))
    );
    assert_eq!(
        find(&items, &approval).expect("approval")["reason"],
        "Awaiting approval"
    );
    assert_eq!(
        find(&items, &approval).expect("approval")["days_until_due"],
        Value::Null
    );

    // 23 hours before: urgent.
    clock.set("2026-03-10T01:00:00Z");
    let (meta, items) = look("23h").await;
    let o = find(&items, &due_11th).expect("due within a day is listed");
    assert_eq!(
        (o["is_urgent"].as_bool(), o["is_overdue"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(o["reason"], "Due within 1 day");
    assert_eq!(o["days_until_due"], 1);
    assert_eq!(meta["total_attention_required"], 3);
    assert_eq!(
        (meta["overdue_count"].as_u64(), meta["urgent_count"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(items[0]["id"], due_11th, "the dated, pressing orders come first");

    // Exactly at the due moment: still urgent, not overdue.
    clock.set("2026-03-11T00:00:00Z");
    let (_, items) = look("0s").await;
    let o = find(&items, &due_11th).expect("listed");
    assert_eq!(
        (o["is_urgent"].as_bool(), o["is_overdue"].as_bool()),
        (Some(true), Some(false))
    );

    // One second late: overdue.
    clock.set("2026-03-11T00:00:01Z");
    let (meta, items) = look("1s").await;
    let o = find(&items, &due_11th).expect("listed");
    assert_eq!(
        (o["is_urgent"].as_bool(), o["is_overdue"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(o["reason"], "Overdue (due today)");
    assert_eq!(o["days_until_due"], 0);
    assert_eq!(
        (meta["overdue_count"].as_u64(), meta["urgent_count"].as_u64()),
        (Some(1), Some(0))
    );

    // Days later, then shipped (still open) and delivered (no longer due).
    clock.set("2026-03-14T09:00:00Z");
    let (_, items) = look("3d").await;
    assert_eq!(find(&items, &due_11th).expect("listed")["reason"], "Overdue by 3 days");
    assert_eq!(find(&items, &due_11th).expect("listed")["days_until_due"], -3);
    for s in [Confirmed, Processing, Shipped] {
        assert_eq!(to(&app, &d.owner, &due_11th, s).await.status, 200);
    }
    assert!(
        find(&look("shipped").await.1, &due_11th).is_some(),
        "shipped late is still late"
    );
    assert_eq!(to(&app, &d.owner, &due_11th, Delivered).await.status, 200);
    let (meta, items) = look("delivered").await;
    assert!(find(&items, &due_11th).is_none());
    assert!(find(&items, &due_later).is_none() && find(&items, &undated).is_none() && find(&items, &done).is_none());
    assert_eq!(meta["total_attention_required"], 2);
    // Releasing the hold takes it off the list; moving the due date brings an order on.
    assert_eq!(to(&app, &d.owner, &held, Pending).await.status, 200);
    let r = app
        .call(
            "PATCH",
            &format!("{ORDERS}/{due_later}"),
            &d.staff,
            Some(json!({"due_date": "2026-03-15"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (meta, items) = look("moved").await;
    assert_eq!(set(&items), HashSet::from([approval.clone(), due_later.clone()]));
    assert_eq!(
        (meta["urgent_count"].as_u64(), meta["overdue_count"].as_u64()),
        (Some(1), Some(0))
    );
}

async fn high_value_sums_are_exact(app: TestApp) {
    let d = demo(&app).await;
    // GADGET-002 is 149.99: 67 make 10,049.33; 100 make 14,999.00; 200 make 29,998.00.
    let mut big = Vec::new();
    for qty in [67, 100, 200] {
        let r = app
            .call("POST", ORDERS, &d.staff, Some(items(&[("GADGET-002", qty)])))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        big.push(r.body["data"].clone());
    }
    for qty in [1, 66] {
        let r = app
            .call("POST", ORDERS, &d.staff, Some(items(&[("GADGET-002", qty)])))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = app.call("GET", HIGH_VALUE, &d.finance, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = &r.body["meta"];
    assert_eq!(m["minimum_amount"], "10000");
    assert_eq!(m["total"], 3);
    assert_eq!(m["total_value"], "55046.33");
    assert_eq!(m["average_value"], "18348.78");
    let totals: Vec<&str> = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|o| o["total_amount"].as_str())
        .collect();
    assert_eq!(totals, ["29998.00", "14999.00", "10049.33"], "largest first");
    assert!(r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .all(|o| o["is_high_value"] == true));

    // A custom minimum, a status filter, paging.
    let r = app
        .call("GET", &format!("{HIGH_VALUE}?minimum_amount=14999"), &d.finance, None)
        .await;
    assert_eq!(
        (r.body["meta"]["total"].as_u64(), r.body["meta"]["total_value"].as_str()),
        (Some(2), Some("44997.00"))
    );
    let id = big[2]["id"].as_str().expect("id");
    assert_eq!(to(&app, &d.owner, id, Confirmed).await.status, 200);
    let r = app
        .call("GET", &format!("{HIGH_VALUE}?status=confirmed"), &d.finance, None)
        .await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(r.body["meta"]["average_value"], "29998.00");
    let r = app
        .call("GET", &format!("{HIGH_VALUE}?from_date=2999-01-01"), &d.finance, None)
        .await;
    assert_eq!(
        (r.body["meta"]["total"].as_u64(), r.body["meta"]["total_value"].as_str()),
        (Some(0), Some("0"))
    );
    let got = all_pages(&app, &d.finance, &format!("{HIGH_VALUE}?per_page=1")).await;
    assert_eq!(set(&got), set(&big));

    // The counters kept with each order agree with a sum over the orders, per status,
    // through confirmations, cancellations and a draft repriced below the threshold.
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.staff,
            Some(
                json!({"status": "draft", "customer_id": d.t.globex, "items": [{"sku": "GADGET-002", "quantity": 70}]}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let draft = r.body["data"]["id"].as_str().expect("id").to_owned();
    let agree = |stage: &'static str| {
        let app = &app;
        let token = d.finance.clone();
        async move {
            for status in [
                "",
                "&status=pending",
                "&status=confirmed",
                "&status=cancelled",
                "&status=draft",
            ] {
                let c = app
                    .call("GET", &format!("{HIGH_VALUE}?per_page=1{status}"), &token, None)
                    .await;
                let o = app
                    .call(
                        "GET",
                        &format!("{HIGH_VALUE}?per_page=1&from_date=1900-01-01{status}"),
                        &token,
                        None,
                    )
                    .await;
                assert_eq!(c.body["meta"]["totals_from"], "counters", "{stage}{status}: {}", c.body);
                assert_eq!(o.body["meta"]["totals_from"], "orders");
                for k in ["total", "total_value", "average_value"] {
                    assert_eq!(c.body["meta"][k], o.body["meta"][k], "{stage}{status}: {k}");
                }
            }
        }
    };
    agree("placed").await;
    let r = app
        .call("GET", &format!("{HIGH_VALUE}?status=draft"), &d.finance, None)
        .await;
    assert_eq!(
        (r.body["meta"]["total"].as_u64(), r.body["meta"]["total_value"].as_str()),
        (Some(1), Some("10499.30"))
    );
    assert_eq!(
        to(&app, &d.owner, big[0]["id"].as_str().expect("id"), Cancelled)
            .await
            .status,
        200
    );
    agree("cancelled").await;
    let r = app
        .call(
            "PATCH",
            &format!("{ORDERS}/{draft}"),
            &d.staff,
            Some(json!({"items": [{"sku": "GADGET-002", "quantity": 10}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    agree("repriced").await;
    let r = app
        .call("GET", &format!("{HIGH_VALUE}?status=draft"), &d.finance, None)
        .await;
    assert_eq!(r.body["meta"]["total"], 0);

    // The company's own threshold is the default; counters started at another threshold
    // are not used for it.
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.high_value_threshold = Decimal::from(20_000);
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    let r = app.call("GET", HIGH_VALUE, &d.finance, None).await;
    assert_eq!(
        (
            r.body["meta"]["minimum_amount"].as_str(),
            r.body["meta"]["total"].as_u64()
        ),
        (Some("20000"), Some(1))
    );
    assert_eq!(r.body["meta"]["totals_from"], "orders");
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
