//! The order lifecycle through the API (SPEC §5.4, §5.5, §9), on both adapters.

use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::Arc;

use oms_domain::order::status::targets;
use oms_domain::order::OrderStatus::{self, *};
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, stock, Demo, ORDERS};

on_both_adapters!(
    the_full_transition_table,
    twenty_concurrent_transitions_on_one_order_one_wins,
    cancel_with_restock_returns_the_units_exactly_once,
    a_refused_transition_restocks_nothing,
    leaving_draft_places_the_order_or_refuses_it_whole,
    timestamps_and_on_hold_resume,
    updates_follow_the_rules_of_each_status,
    if_match_guards_updates_and_transitions,
    concurrent_updates_and_status_changes_lose_neither,
    every_change_is_audited_exactly_once,
    the_audit_log_filters_and_pages,
    customers_and_other_companies_cannot_change_orders,
    a_draft_changes_its_lines_until_it_is_placed,
);

async fn place(app: &TestApp, d: &Demo) -> String {
    let r = app
        .call("POST", ORDERS, &d.staff, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().expect("id").to_owned()
}

async fn place_draft(app: &TestApp, d: &Demo, sku: &str, qty: i64) -> String {
    let body = json!({"customer_id": d.t.acme, "status": "draft", "items": [{"sku": sku, "quantity": qty}]});
    let r = app.call("POST", ORDERS, &d.staff, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().expect("id").to_owned()
}

async fn to(app: &TestApp, token: &str, id: &str, status: OrderStatus) -> oms_tests::Reply {
    let mut body = json!({"status": status.as_str()});
    if status == Cancelled {
        body["cancellation_reason"] = json!("customer changed their mind");
    }
    app.call("POST", &format!("{ORDERS}/{id}/status"), token, Some(body))
        .await
}

/// The shortest allowed path from a new (pending) order, or a draft, to `s`.
fn path_to(s: OrderStatus) -> (bool, Vec<OrderStatus>) {
    match s {
        Draft => (true, vec![]),
        Pending => (false, vec![]),
        PendingApproval => (false, vec![PendingApproval]),
        Confirmed => (false, vec![Confirmed]),
        Processing => (false, vec![Confirmed, Processing]),
        OnHold => (false, vec![OnHold]),
        Shipped => (false, vec![Confirmed, Processing, Shipped]),
        Delivered => (false, vec![Confirmed, Processing, Shipped, Delivered]),
        Completed => (false, vec![Confirmed, Processing, Shipped, Completed]),
        Cancelled => (false, vec![Cancelled]),
    }
}

async fn order_in(app: &TestApp, d: &Demo, s: OrderStatus) -> String {
    let (draft, path) = path_to(s);
    let id = if draft {
        place_draft(app, d, "WIDGET-001", 1).await
    } else {
        place(app, d).await
    };
    for step in path {
        let r = to(app, &d.owner, &id, step).await;
        assert_eq!(r.status, 200, "to {step}: {}", r.body);
    }
    id
}

async fn the_full_transition_table(app: TestApp) {
    let d = demo(&app).await;
    for from in OrderStatus::ALL.iter().copied() {
        // on_hold is reached from pending, so it resumes to pending.
        let allowed = targets(from, (from == OnHold).then_some(Pending));
        let id = order_in(&app, &d, from).await;
        for target in OrderStatus::ALL.iter().copied().filter(|t| !allowed.contains(t)) {
            let r = to(&app, &d.owner, &id, target).await;
            assert_eq!(r.status, 409, "{from} -> {target} must be refused: {}", r.body);
            assert_eq!(r.code(), "invalid_transition");
            assert!(r.message().contains(&format!("the order is {from}")), "{}", r.message());
        }
        let still = app.call("GET", &format!("{ORDERS}/{id}"), &d.owner, None).await;
        assert_eq!(still.body["data"]["status"], from.as_str(), "refusals changed nothing");
        for target in allowed {
            let id = order_in(&app, &d, from).await;
            let r = to(&app, &d.owner, &id, target).await;
            assert_eq!(r.status, 200, "{from} -> {target} must be allowed: {}", r.body);
            assert_eq!(r.body["data"]["status"], target.as_str());
        }
    }
}

async fn twenty_concurrent_transitions_on_one_order_one_wins(app: TestApp) {
    let d = demo(&app).await;
    let id = place(&app, &d).await;
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, token, id) = (app.clone(), d.owner.clone(), id.clone());
            // Twenty clerks press "confirm" at once: one confirms, nineteen are told it is.
            tokio::spawn(async move { (Confirmed, to(&app, &token, &id, Confirmed).await) })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for t in tasks {
        let (target, r) = t.await.expect("task");
        match r.status.as_u16() {
            200 => winners.push(target),
            409 => losers.push(r),
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one transition wins");
    let now = winners[0];
    for r in &losers {
        assert_eq!(r.code(), "invalid_transition");
        assert!(
            r.message().contains(&format!("the order is {now}")),
            "the loser is told the current status: {}",
            r.message()
        );
    }
    let log = app
        .call(
            "GET",
            &format!("/api/v1/audit-log?entity=order&entity_id={id}&action=OrderStatusChanged"),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(log.body["data"].as_array().map(Vec::len), Some(1), "{}", log.body);
}

async fn cancel_with_restock_returns_the_units_exactly_once(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.buyer,
            Some(items(&[("WIDGET-001", 5), ("BOLT-M8", 2)])),
        )
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 115);
    let app = Arc::new(app);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (app, token, id) = (app.clone(), d.owner.clone(), id.clone());
            tokio::spawn(async move {
                let body = json!({"status": "cancelled", "cancellation_reason": "duplicate", "restock": true});
                app.call("POST", &format!("{ORDERS}/{id}/status"), &token, Some(body))
                    .await
                    .status
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("task") {
            200 => ok += 1,
            409 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 120, "restocked once");
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 3);
    let o = app.call("GET", &format!("{ORDERS}/{id}"), &d.owner, None).await;
    assert_eq!(o.body["data"]["status"], "cancelled");
    assert_eq!(o.body["data"]["cancellation_reason"], "duplicate");
    assert_eq!(o.body["data"]["stock_decremented"], false);

    // Without restock (the default) the units stay gone.
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 4)])))
        .await;
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(to(&app, &d.owner, &id, Cancelled).await.status, 200);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, 116);
}

async fn a_refused_transition_restocks_nothing(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("GADGET-002", 3)])))
        .await;
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    for s in [Confirmed, Processing, Shipped] {
        assert_eq!(to(&app, &d.owner, &id, s).await.status, 200);
    }
    let body = json!({"status": "cancelled", "cancellation_reason": "too late", "restock": true});
    let r = app
        .call("POST", &format!("{ORDERS}/{id}/status"), &d.owner, Some(body))
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.message().contains("the order is shipped"));
    assert_eq!(stock(&app, &d, "GADGET-002").await, 37);
    // restock belongs to cancellation only, and a cancellation needs a reason.
    let bad = app
        .call(
            "POST",
            &format!("{ORDERS}/{id}/status"),
            &d.owner,
            Some(json!({"status": "delivered", "restock": true})),
        )
        .await;
    assert_eq!(bad.status, 422);
    let fresh = place(&app, &d).await;
    let no_reason = app
        .call(
            "POST",
            &format!("{ORDERS}/{fresh}/status"),
            &d.owner,
            Some(json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(no_reason.status, 422);
    assert!(no_reason.body.to_string().contains("cancellation_reason"));
}

async fn leaving_draft_places_the_order_or_refuses_it_whole(app: TestApp) {
    let d = demo(&app).await;
    let short = place_draft(&app, &d, "BOLT-M8", 5).await;
    let r = to(&app, &d.staff, &short, Pending).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.code(), "insufficient_stock");
    assert_eq!(
        r.message(),
        "Not enough stock for Hex Bolt M8, box of 100. Only 3 available."
    );
    let still = app.call("GET", &format!("{ORDERS}/{short}"), &d.staff, None).await;
    assert_eq!(still.body["data"]["status"], "draft");
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 3);

    let ok = place_draft(&app, &d, "BOLT-M8", 2).await;
    let r = to(&app, &d.staff, &ok, Confirmed).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["stock_decremented"], true);
    assert!(r.body["data"]["cap_month"].is_string(), "the cap counts it now");
    assert!(r.body["data"]["confirmed_at"].is_string());
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 1);
}

async fn timestamps_and_on_hold_resume(app: TestApp) {
    let d = demo(&app).await;
    let id = place(&app, &d).await;
    let held = to(&app, &d.owner, &id, OnHold).await;
    assert_eq!(held.body["data"]["held_from"], "pending");
    let wrong = to(&app, &d.owner, &id, Confirmed).await;
    assert_eq!(wrong.status, 409, "on_hold resumes only to the status it left");
    assert!(wrong.message().contains("pending"), "{}", wrong.message());
    let back = to(&app, &d.owner, &id, Pending).await;
    assert_eq!(back.status, 200);
    assert_eq!(back.body["data"]["held_from"], Value::Null);
    for (s, field) in [
        (Confirmed, "confirmed_at"),
        (Processing, ""),
        (Shipped, "shipped_at"),
        (Delivered, "delivered_at"),
    ] {
        let r = to(&app, &d.owner, &id, s).await;
        assert_eq!(r.status, 200);
        if !field.is_empty() {
            assert!(r.body["data"][field].is_string(), "{field} set by {s}");
        }
    }
    assert_eq!(
        to(&app, &d.owner, &id, Completed).await.body["data"]["status"],
        "completed"
    );
}

async fn updates_follow_the_rules_of_each_status(app: TestApp) {
    let d = demo(&app).await;
    let path = |id: &str| format!("{ORDERS}/{id}");
    let id = place(&app, &d).await;
    let r = app
        .call(
            "PUT",
            &path(&id),
            &d.staff,
            Some(json!({"priority": "urgent", "due_date": "2099-12-22", "notes": "Call first", "tags": ["rush"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["priority"], "urgent");
    assert_eq!(r.body["data"]["version"], 2);
    assert_eq!(r.headers["etag"], "\"2\"");
    let lines_before = r.body["data"]["items"].clone();
    let r = app
        .call(
            "PATCH",
            &path(&id),
            &d.staff,
            Some(json!({"order_date": "2099-01-01", "sales_rep_id": "rep-1"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let fields: HashSet<&str> = r.body["error"]["details"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        HashSet::from(["order_date", "sales_rep_id"]),
        "each refused field is named"
    );
    assert_eq!(
        app.call("PATCH", &path(&id), &d.staff, Some(json!({"items": []})))
            .await
            .status,
        422,
        "lines never change"
    );

    for s in [Confirmed, Processing] {
        assert_eq!(to(&app, &d.owner, &id, s).await.status, 200);
    }
    let late = app
        .call("PATCH", &path(&id), &d.staff, Some(json!({"priority": "low"})))
        .await;
    assert_eq!(late.status, 422);
    assert!(late.message().contains("processing"), "{}", late.message());
    let notes = app
        .call(
            "PATCH",
            &path(&id),
            &d.staff,
            Some(json!({"notes": "Packed", "custom_fields": {"bay": 4}})),
        )
        .await;
    assert_eq!(notes.status, 200, "{}", notes.body);
    assert_eq!(notes.body["data"]["items"], lines_before);
    assert_eq!(notes.body["data"]["priority"], "urgent");

    let cancelled = order_in(&app, &d, Cancelled).await;
    let closed = app
        .call("PATCH", &path(&cancelled), &d.staff, Some(json!({"notes": "x"})))
        .await;
    assert_eq!(closed.status, 409);
    assert_eq!(closed.code(), "order_closed");

    let draft = place_draft(&app, &d, "WIDGET-001", 1).await;
    let everything = json!({"order_date": "2099-01-01", "due_date": "2099-01-10", "sales_rep_id": "rep-7", "quote_id": "Q-9",
        "billing_address": {"street": "9 Elm St", "city": "Austin", "country": "US"}, "payment_terms": {"terms": "Net 60"}});
    let r = app.call("PUT", &path(&draft), &d.staff, Some(everything)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["sales_rep_id"], "rep-7");
    assert_eq!(r.body["data"]["billing_address"]["address1"], "9 Elm St");
    let bad = app
        .call("PUT", &path(&draft), &d.staff, Some(json!({"due_date": "2098-12-31"})))
        .await;
    assert_eq!(bad.status, 422, "due before order date");
    assert_eq!(
        app.call("PUT", &path(&draft), &d.staff, Some(json!({}))).await.status,
        422
    );
    assert_eq!(
        app.call("PUT", &path(&draft), &d.staff, Some(json!({"colour": "red"})))
            .await
            .status,
        422
    );
}

async fn if_match_guards_updates_and_transitions(app: TestApp) {
    let d = demo(&app).await;
    let id = place(&app, &d).await;
    let read = app.call("GET", &format!("{ORDERS}/{id}"), &d.staff, None).await;
    let etag = read.headers["etag"].to_str().expect("etag").to_owned();
    assert_eq!(etag, "\"1\"");
    let with = |tag: &str| {
        vec![
            ("authorization".to_owned(), format!("Bearer {}", d.staff)),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("if-match".to_owned(), tag.to_owned()),
        ]
    };
    let first = app
        .raw(
            "PATCH",
            &format!("{ORDERS}/{id}"),
            with(&etag),
            br#"{"notes":"first"}"#.to_vec(),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let stale = app
        .raw(
            "PATCH",
            &format!("{ORDERS}/{id}"),
            with(&etag),
            br#"{"notes":"second"}"#.to_vec(),
        )
        .await;
    assert_eq!(stale.status, 412);
    assert_eq!(stale.code(), "precondition_failed");
    let stale_status = app
        .raw(
            "POST",
            &format!("{ORDERS}/{id}/status"),
            with(&etag),
            br#"{"status":"confirmed"}"#.to_vec(),
        )
        .await;
    assert_eq!(stale_status.status, 412);
    let current = first.headers["etag"].to_str().expect("etag").to_owned();
    let ok = app
        .raw(
            "POST",
            &format!("{ORDERS}/{id}/status"),
            with(&current),
            br#"{"status":"confirmed"}"#.to_vec(),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let garbage = app
        .raw(
            "PATCH",
            &format!("{ORDERS}/{id}"),
            with("yesterday"),
            br#"{"notes":"x"}"#.to_vec(),
        )
        .await;
    assert_eq!(garbage.status, 422);
    let o = app.call("GET", &format!("{ORDERS}/{id}"), &d.staff, None).await;
    assert_eq!(o.body["data"]["notes"], "first");
}

async fn concurrent_updates_and_status_changes_lose_neither(app: TestApp) {
    let d = demo(&app).await;
    let app = Arc::new(app);
    for round in 0..6 {
        let id = place(&app, &d).await;
        let (a, b) = (app.clone(), app.clone());
        let (t1, t2, id1, id2) = (d.owner.clone(), d.staff.clone(), id.clone(), id.clone());
        let status = tokio::spawn(async move { to(&a, &t1, &id1, Confirmed).await });
        let update = tokio::spawn(async move {
            b.call(
                "PATCH",
                &format!("{ORDERS}/{id2}"),
                &t2,
                Some(json!({"tags": [format!("round-{round}")]})),
            )
            .await
        });
        let (s, u) = (status.await.expect("task"), update.await.expect("task"));
        assert_eq!(
            s.status, 200,
            "the status change never fails because of an update: {}",
            s.body
        );
        let o = app.call("GET", &format!("{ORDERS}/{id}"), &d.owner, None).await;
        assert_eq!(o.body["data"]["status"], "confirmed");
        match u.status.as_u16() {
            200 => assert_eq!(
                o.body["data"]["tags"],
                json!([format!("round-{round}")]),
                "the update survived"
            ),
            409 => assert_eq!(u.code(), "version_conflict"),
            other => panic!("unexpected {other}: {}", u.body),
        }
        assert_eq!(o.body["data"]["version"], if u.status == 200 { 3 } else { 2 });
    }
}

async fn every_change_is_audited_exactly_once(app: TestApp) {
    let d = demo(&app).await;
    let id = place(&app, &d).await;
    assert_eq!(
        app.call(
            "PATCH",
            &format!("{ORDERS}/{id}"),
            &d.staff,
            Some(json!({"notes": "n1"}))
        )
        .await
        .status,
        200
    );
    assert_eq!(to(&app, &d.owner, &id, Confirmed).await.status, 200);
    assert_eq!(to(&app, &d.owner, &id, Processing).await.status, 200);
    assert_eq!(
        to(&app, &d.owner, &id, Delivered).await.status,
        409,
        "a refused change is not audited"
    );
    let log = app
        .call(
            "GET",
            &format!("/api/v1/audit-log?entity=order&entity_id={id}"),
            &d.finance,
            None,
        )
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let entries = log.body["data"].as_array().expect("data");
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "OrderStatusChanged",
            "OrderStatusChanged",
            "OrderUpdated",
            "OrderPlaced"
        ]
    );
    assert_eq!(entries[0]["before"], json!({"status": "confirmed"}));
    assert_eq!(entries[0]["after"], json!({"status": "processing"}));
    assert_eq!(entries[0]["actor_id"], "user-owner");
    assert_eq!(entries[2]["before"], json!({"notes": null}));
    assert_eq!(entries[2]["after"], json!({"notes": "n1"}));
    assert_eq!(entries[2]["actor_id"], "user-staff");
    let counts = app.counts(&d.t.company).await;
    assert_eq!(counts.outbox, 4, "one outbox event per change, in the same transaction");
}

async fn the_audit_log_filters_and_pages(app: TestApp) {
    let d = demo(&app).await;
    let start = chrono::Utc::now();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = place(&app, &d).await;
        assert_eq!(to(&app, &d.owner, &id, Confirmed).await.status, 200);
        ids.push(id);
    }
    let get = |q: String| {
        let (app, t) = (&app, d.owner.clone());
        async move { app.call("GET", &format!("/api/v1/audit-log?{q}"), &t, None).await }
    };
    let placed = get("action=OrderPlaced&per_page=100".into()).await;
    assert_eq!(placed.body["data"].as_array().map(Vec::len), Some(3), "{}", placed.body);
    let by_owner = get("actor=user-owner&entity=order&per_page=100".into()).await;
    assert_eq!(
        by_owner.body["data"].as_array().map(Vec::len),
        Some(3),
        "{}",
        by_owner.body
    );
    let since = get(format!(
        "from={}&per_page=100",
        start
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .replace('+', "%2B")
    ))
    .await;
    assert_eq!(
        since.body["data"].as_array().map(Vec::len),
        Some(6),
        "6 order entries since start (the seed is older): {}",
        since.body
    );
    let until = get(format!(
        "to={}&per_page=100",
        start
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .replace('+', "%2B")
    ))
    .await;
    assert!(until.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .all(|e| e["entity"] != "order"));

    let mut seen = Vec::new();
    let mut next = Some("/api/v1/audit-log?entity=order&per_page=2".to_owned());
    while let Some(url) = next {
        let r = app.call("GET", &url, &d.owner, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        for e in r.body["data"].as_array().expect("data") {
            seen.push((
                e["at"].as_str().unwrap_or_default().to_owned(),
                e["id"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        next = r.body["links"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 6, "no duplicates");
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first");

    assert_eq!(
        app.call("GET", "/api/v1/audit-log", &d.staff, None).await.status,
        403,
        "STAFF lacks audit:read"
    );
    for bad in [
        "entity=planet",
        "entity_id=x",
        "action=Exploded",
        "from=yesterday",
        "per_page=0",
        "from=2026-02-02&to=2026-02-01",
        "cursor=forged",
    ] {
        let r = get(bad.into()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
    let rival = app.token("rival", "OWNER", None);
    let theirs = app.call("GET", "/api/v1/audit-log?per_page=100", &rival, None).await;
    assert_eq!(theirs.body["data"], json!([]), "another company sees none of it");
}

async fn customers_and_other_companies_cannot_change_orders(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    let status = to(&app, &d.buyer, &id, Cancelled).await;
    assert_eq!(status.status, 403);
    assert_eq!(status.body["error"]["details"]["permission"], "orders:status");
    let update = app
        .call(
            "PATCH",
            &format!("{ORDERS}/{id}"),
            &d.buyer,
            Some(json!({"notes": "x"})),
        )
        .await;
    assert_eq!(update.status, 403);
    let rival = app.token("rival", "OWNER", None);
    assert_eq!(to(&app, &rival, &id, Confirmed).await.status, 404);
    assert_eq!(
        app.call("PATCH", &format!("{ORDERS}/{id}"), &rival, Some(json!({"notes": "x"})))
            .await
            .status,
        404
    );
    let unknown = app
        .call(
            "POST",
            &format!("{ORDERS}/{id}/status"),
            &d.owner,
            Some(json!({"status": "teleported"})),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.message().contains("teleported"));
    let o = app.call("GET", &format!("{ORDERS}/{id}"), &d.owner, None).await;
    assert_eq!(o.body["data"]["status"], "pending");
    assert_eq!(o.body["data"]["version"], 1);
}

async fn a_draft_changes_its_lines_until_it_is_placed(app: TestApp) {
    let d = demo(&app).await;
    let id = place_draft(&app, &d, "WIDGET-001", 1).await;
    let path = format!("{ORDERS}/{id}");
    let body = json!({"items": [{"sku": "GADGET-002", "quantity": 2}, {"sku": "BOLT-M8", "quantity": 1}], "shipping_amount": "10.00"});
    let r = app.call("PUT", &path, &d.staff, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let o = &r.body["data"];
    assert_eq!(o["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(o["items"][0]["unit_price"], "149.99");
    assert_eq!(o["subtotal_amount"], "312.48");
    assert_eq!(o["total_amount"], "322.48");
    let discount = app
        .call("PUT", &path, &d.staff, Some(json!({"discount_amount": "5.00"})))
        .await;
    assert_eq!(discount.status, 403, "a discount needs orders:price_override");
    let owner = app
        .call("PUT", &path, &d.owner, Some(json!({"discount_amount": "2.48"})))
        .await;
    assert_eq!(owner.body["data"]["total_amount"], "320.00", "{}", owner.body);
    assert_eq!(
        app.call("PUT", &path, &d.staff, Some(json!({"items": []})))
            .await
            .status,
        422
    );
    assert_eq!(stock(&app, &d, "GADGET-002").await, 40, "a draft moves no stock");
    assert_eq!(to(&app, &d.staff, &id, Confirmed).await.status, 200);
    assert_eq!(stock(&app, &d, "GADGET-002").await, 38);
    assert_eq!(stock(&app, &d, "BOLT-M8").await, 2);
    assert_eq!(
        stock(&app, &d, "WIDGET-001").await,
        120,
        "the replaced line took nothing"
    );
    let late = app
        .call(
            "PUT",
            &path,
            &d.owner,
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    assert_eq!(late.status, 422);
    assert!(
        late.message()
            .contains("items cannot change while the order is confirmed"),
        "{}",
        late.message()
    );
}
