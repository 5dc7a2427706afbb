//! Order views (SPEC §6, issue 4): word-prefix search, requires-attention at its
//! boundaries on a hand-moved clock, and high-value sums, on both adapters.

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::support::*;
use oms_domain::order::OrderStatus::*;
use oms_tests::{on_both_adapters, ManualClock, TestApp};

on_both_adapters!(
    search_matches_word_prefixes_case_insensitively,
    attention_reasons_at_the_boundaries,
    high_value_sums_are_exact,
);

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
