//! Status changes through the API (SPEC §5.4), on both adapters.

use serde_json::{json, Value};
use std::sync::Arc;

use oms_domain::order::status::targets;
use oms_domain::order::OrderStatus::{self, *};
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, order_in, place, place_draft, stock, to, ORDERS};

on_both_adapters!(
    the_full_transition_table,
    twenty_concurrent_transitions_on_one_order_one_wins,
    cancel_with_restock_returns_the_units_exactly_once,
    a_refused_transition_restocks_nothing,
    leaving_draft_places_the_order_or_refuses_it_whole,
    timestamps_and_on_hold_resume,
    customers_and_other_companies_cannot_change_orders,
);

async fn the_full_transition_table(app: TestApp) {
    let d = demo(&app).await;
    for from in OrderStatus::ALL.iter().copied() {
        // on_hold is reached from pending, so it resumes to pending; a completed order
        // (reached through shipped, never delivered) rolls back to shipped, guarded
        // (`child_orders::a_completed_order_rolls_back_only_without_payments_or_completed_children`).
        let allowed = match from {
            Completed => vec![Shipped],
            _ => targets(from, (from == OnHold).then_some(Pending)),
        };
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
