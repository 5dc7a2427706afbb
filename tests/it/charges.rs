//! Order-level charges (SPEC §10, issue 15 point 3): fixed or percentage, in order, with
//! banker's rounding; editable only in draft or pending, each edit audited, sent to the
//! outbox and recomputed in the same conditional write; the `discount_amount` and
//! `shipping_amount` fields read as charges. On both adapters.

use serde_json::{json, Value};
use std::sync::Arc;

use oms_domain::order::OrderStatus::*;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{dec, demo, items, place_draft, to, Demo, ORDERS};

on_both_adapters!(
    charges_apply_in_order_and_the_summary_follows,
    the_old_amount_fields_are_charges,
    charges_change_only_in_draft_or_pending_each_change_audited,
    who_may_set_which_charge,
    bad_charges_are_refused_and_change_nothing,
    percentages_follow_a_drafts_new_lines,
    concurrent_charge_edits_never_mix,
);

/// WIDGET-001 is 99.99, GADGET-002 149.99, BOLT-M8 12.50.
fn order_with(charges: Value) -> Value {
    let mut body = items(&[("WIDGET-001", 2), ("BOLT-M8", 1)]);
    body["charges"] = charges;
    body
}

fn amounts(o: &Value) -> Vec<String> {
    o["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .map(|c| c["amount"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// An owner's order of 2 × WIDGET-001 and 1 × BOLT-M8 (212.48, no charges): its id.
async fn place_212_48(app: &TestApp, d: &Demo) -> String {
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(items(&[("WIDGET-001", 2), ("BOLT-M8", 1)])),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"]["id"].as_str().expect("id").to_owned()
}

/// Every amount of an order adds up: total = Σ line totals ± every charge.
fn assert_adds_up(o: &Value) {
    let lines: rust_decimal::Decimal = o["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| dec(&l["line_total"]))
        .sum();
    let charges: rust_decimal::Decimal = o["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .map(|c| match c["direction"].as_str() {
            Some("subtract") => -dec(&c["amount"]),
            _ => dec(&c["amount"]),
        })
        .sum();
    assert_eq!(dec(&o["total_amount"]), lines + charges, "{o}");
}

async fn charges_apply_in_order_and_the_summary_follows(app: TestApp) {
    let d = demo(&app).await;
    // Subtotal 2 × 99.99 + 12.50 = 212.48.
    let body = order_with(json!([
        {"type": "promotion", "name": "Spring sale", "percentage": "12.5"},
        {"type": "shipping", "amount": "9.90"},
        {"type": "tax", "percentage": "7.25", "basis": "running_total"},
        {"type": "price_adjustment", "direction": "subtract", "amount": "0.41"},
        {"type": "surcharge", "name": "Card fee", "percentage": "1.5", "basis": "running_total"},
    ]));
    let r = app.call("POST", ORDERS, &d.owner, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body["data"];
    // 12.5 % of 212.48 = 26.56 (26.56 exactly); running 185.92 + 9.90 = 195.82; 7.25 % of it
    // = 14.19695 -> 14.20; running 210.02 - 0.41 = 209.61; 1.5 % = 3.14415 -> 3.14.
    assert_eq!(amounts(o), ["26.56", "9.90", "14.20", "0.41", "3.14"]);
    assert_eq!(o["charges"][0]["name"], "Spring sale");
    assert_eq!(o["charges"][0]["direction"], "subtract");
    assert_eq!(o["charges"][0]["percentage"], "12.5");
    assert_eq!(
        o["charges"][0]["basis"], "subtotal",
        "a percentage's basis defaults to the subtotal"
    );
    assert_eq!(
        o["charges"][1]["name"], "Shipping",
        "a charge without a name takes its type's"
    );
    assert_eq!(
        o["charges"][1].get("percentage"),
        None,
        "a fixed charge has no percentage"
    );
    assert_eq!(o["subtotal_amount"], "212.48");
    assert_eq!(o["discount_amount"], "26.56", "promotions count as discounts");
    assert_eq!(o["shipping_amount"], "9.90");
    assert_eq!(o["tax_amount"], "14.20");
    assert_eq!(o["total_amount"], "212.75");
    assert_adds_up(o);
    // What was stored is what was answered.
    let id = o["id"].as_str().expect("id");
    let read = app.call("GET", &format!("{ORDERS}/{id}"), &d.staff, None).await;
    assert_eq!(read.body["data"]["charges"], o["charges"]);
    assert_eq!(read.body["data"]["total_amount"], "212.75");
}

async fn the_old_amount_fields_are_charges(app: TestApp) {
    let d = demo(&app).await;
    let mut body = order_with(json!([{"type": "surcharge", "amount": "1.00"}]));
    body["shipping_amount"] = json!("10.00");
    body["discount_amount"] = json!("2.48");
    let r = app.call("POST", ORDERS, &d.owner, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let o = &r.body["data"];
    let kinds: Vec<&str> = o["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["shipping", "discount", "surcharge"],
        "shipping, then the discount, then the charges given"
    );
    assert_eq!(o["shipping_amount"], "10.00");
    assert_eq!(o["discount_amount"], "2.48");
    // subtotal + tax + shipping - discount, as before charges, plus the surcharge.
    assert_eq!(o["total_amount"], "221.00");
    assert_adds_up(o);
    // A storefront order's computed shipping is a charge like any other.
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.storefront.shipping_amount = "7.50".parse().expect("decimal");
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    let r = app.call("POST", ORDERS, &d.buyer, Some(items(&[("BOLT-M8", 1)]))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["charges"][0]["type"], "shipping");
    assert_eq!(r.body["data"]["shipping_amount"], "7.50");
    assert_eq!(r.body["data"]["total_amount"], "20.00");
}

async fn charges_change_only_in_draft_or_pending_each_change_audited(app: TestApp) {
    let d = demo(&app).await;
    let id = place_212_48(&app, &d).await;
    let path = format!("{ORDERS}/{id}");
    let before = app.counts(&d.t.company).await;
    let edit = json!({"charges": [{"type": "discount", "percentage": "10"}, {"type": "additional_cost", "name": "Pallet", "amount": "25"}]});
    let r = app.call("PUT", &path, &d.owner, Some(edit)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let o = &r.body["data"];
    assert_eq!(o["status"], "pending");
    assert_eq!(amounts(o), ["21.25", "25.00"]);
    // 212.48 - 21.25 (10 % = 21.248 -> 21.25) + 25.00
    assert_eq!(o["total_amount"], "216.23");
    assert_eq!(o["discount_amount"], "21.25");
    assert_eq!(o["version"], 2);
    assert_adds_up(o);
    let after = app.counts(&d.t.company).await;
    assert_eq!(after.order_audit, before.order_audit + 1, "one audit entry");
    assert_eq!(after.outbox, before.outbox + 1, "one outbox event");
    let log = app
        .call(
            "GET",
            &format!("/api/v1/audit-log?entity=order&entity_id={id}"),
            &d.finance,
            None,
        )
        .await;
    let entry = &log.body["data"][0];
    assert_eq!(entry["action"], "OrderUpdated");
    assert_eq!(entry["before"]["charges"], json!([]));
    assert_eq!(entry["after"]["charges"], o["charges"]);
    assert_eq!(entry["before"]["total_amount"], "212.48");
    assert_eq!(entry["after"]["total_amount"], "216.23");

    // Removing every charge: back to the lines' total.
    let r = app.call("PUT", &path, &d.staff, Some(json!({"charges": []}))).await;
    assert_eq!(r.status, 200, "a clerk may take a discount off: {}", r.body);
    assert_eq!(r.body["data"]["total_amount"], "212.48");

    // Past pending, charges are fixed (and so is everything they would recompute).
    assert_eq!(to(&app, &d.owner, &id, Confirmed).await.status, 200);
    let late = app
        .call(
            "PUT",
            &path,
            &d.owner,
            Some(json!({"charges": [{"type": "shipping", "amount": "5"}]})),
        )
        .await;
    assert_eq!(late.status, 422, "{}", late.body);
    assert_eq!(late.body["error"]["details"]["fields"][0]["field"], "charges");
    let now = app.call("GET", &path, &d.owner, None).await;
    assert_eq!(now.body["data"]["charges"], json!([]));
    assert_eq!(now.body["data"]["total_amount"], "212.48");

    // A pending order whose discounts now pass the approval threshold waits for approval.
    let mut s = app.store().get_settings(&d.t.company).await.expect("settings");
    s.discount_approval_threshold = Some("50".parse().expect("decimal"));
    app.store().put_settings(&d.t.company, &s).await.expect("settings");
    let r = app
        .call("POST", ORDERS, &d.owner, Some(items(&[("WIDGET-001", 2)])))
        .await;
    let path = format!("{ORDERS}/{}", r.body["data"]["id"].as_str().expect("id"));
    let small = app
        .call(
            "PUT",
            &path,
            &d.owner,
            Some(json!({"charges": [{"type": "discount", "amount": "50"}]})),
        )
        .await;
    assert_eq!(small.body["data"]["status"], "pending", "{}", small.body);
    let big = app
        .call(
            "PUT",
            &path,
            &d.owner,
            Some(json!({"charges": [{"type": "discount", "amount": "50"}, {"type": "promotion", "amount": "0.01"}]})),
        )
        .await;
    assert_eq!(big.body["data"]["status"], "pending_approval", "{}", big.body);
    let frozen = app.call("PUT", &path, &d.owner, Some(json!({"charges": []}))).await;
    assert_eq!(
        frozen.status, 422,
        "awaiting approval, the charges are what is being approved"
    );
}

async fn who_may_set_which_charge(app: TestApp) {
    let d = demo(&app).await;
    let before = app.counts(&d.t.company).await;
    // A storefront buyer sets no charges.
    let mut mine = items(&[("BOLT-M8", 1)]);
    mine["charges"] = json!([{"type": "discount", "amount": "1"}]);
    let r = app.call("POST", ORDERS, &d.buyer, Some(mine)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "charges");
    // A clerk without orders:price_override adds costs but takes nothing off.
    for off in [
        json!({"type": "discount", "amount": "1"}),
        json!({"type": "promotion", "percentage": "5"}),
        json!({"type": "other", "direction": "subtract", "amount": "1"}),
    ] {
        let r = app.call("POST", ORDERS, &d.staff, Some(order_with(json!([off])))).await;
        assert_eq!(r.status, 403, "{off}: {}", r.body);
    }
    assert_eq!(app.counts(&d.t.company).await, before, "no refused order was stored");
    let r = app
        .call(
            "POST",
            ORDERS,
            &d.staff,
            Some(order_with(json!([{"type": "surcharge", "amount": "3"}]))),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // An owner's percentage discount stays when a clerk resends the list with shipping
    // added (the terms did not change), ...
    let path = format!("{ORDERS}/{}", r.body["data"]["id"].as_str().expect("id"));
    let with_discount =
        json!({"charges": [{"type": "surcharge", "amount": "3"}, {"type": "discount", "percentage": "10"}]});
    assert_eq!(app.call("PUT", &path, &d.owner, Some(with_discount)).await.status, 200);
    let resent = json!({"charges": [{"type": "surcharge", "amount": "3"}, {"type": "discount", "name": "Agreed", "percentage": "10"}, {"type": "shipping", "amount": "8"}]});
    let r = app.call("PUT", &path, &d.staff, Some(resent)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let more = json!({"charges": [{"type": "surcharge", "amount": "3"}, {"type": "discount", "percentage": "15"}]});
    assert_eq!(
        app.call("PUT", &path, &d.staff, Some(more)).await.status,
        403,
        "a bigger discount"
    );
    // ... and may not add a discount to a pending order either.
    let r = app
        .call(
            "PUT",
            &path,
            &d.staff,
            Some(json!({"charges": [{"type": "surcharge", "amount": "3"}, {"type": "discount", "amount": "1"}]})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

async fn bad_charges_are_refused_and_change_nothing(app: TestApp) {
    let d = demo(&app).await;
    let r = app
        .call("POST", ORDERS, &d.owner, Some(items(&[("WIDGET-001", 1)])))
        .await;
    let path = format!("{ORDERS}/{}", r.body["data"]["id"].as_str().expect("id"));
    let before = app.counts(&d.t.company).await;
    let twenty_one: Vec<Value> = (0..21).map(|_| json!({"type": "surcharge", "amount": "1"})).collect();
    let doubling: Vec<Value> = (0..20)
        .map(|_| json!({"type": "surcharge", "percentage": "100", "basis": "running_total"}))
        .collect();
    let cases = [
        (
            json!([{"type": "discount", "amount": "1", "percentage": "1"}]),
            "charges[0].amount",
        ),
        (json!([{"type": "discount"}]), "charges[0].amount"),
        (
            json!([{"type": "tax", "percentage": "100.01"}]),
            "charges[0].percentage",
        ),
        (json!([{"type": "tax", "percentage": "-1"}]), "charges[0].percentage"),
        (
            json!([{"type": "tax", "percentage": "1.00001"}]),
            "charges[0].percentage",
        ),
        (json!([{"type": "shipping", "amount": "-5"}]), "charges[0].amount"),
        (json!([{"type": "shipping", "amount": "1e40"}]), "charges[0].amount"),
        (json!([{"type": "shipping", "amount": "1.001"}]), "charges[0].amount"),
        (
            json!([{"type": "shipping", "amount": "1", "basis": "subtotal"}]),
            "charges[0].basis",
        ),
        (
            json!([{"type": "discount", "direction": "add", "amount": "1"}]),
            "charges[0].direction",
        ),
        (json!([{"type": "other", "amount": "1"}]), "charges[0].direction"),
        (json!([{"type": "promotion", "amount": "212.49"}]), "charges"),
        (
            json!([{"type": "surcharge", "name": "x".repeat(101), "amount": "1"}]),
            "charges[0].name",
        ),
        (json!(twenty_one), "charges"),
    ];
    for (charges, field) in cases {
        for (method, target, token) in [("POST", ORDERS, &d.owner), ("PUT", path.as_str(), &d.owner)] {
            let body = match method {
                "POST" => order_with(charges.clone()),
                _ => json!({ "charges": charges.clone() }),
            };
            let r = app.call(method, target, token, Some(body)).await;
            assert_eq!(r.status, 422, "{method} {charges}: {}", r.body);
            assert!(
                r.fields().contains(&field) || r.message().contains(field),
                "{method} {charges}: names {field}: {}",
                r.body
            );
        }
    }
    // Absurd numbers: twenty 100 % surcharges on the running total of a 10^9 order double
    // it past the largest order amount: refused, not overflowed.
    let huge =
        json!({"items": [{"sku": "WIDGET-001", "quantity": 1000, "unit_price": "1000000"}], "charges": doubling});
    let r = app.call("POST", ORDERS, &d.owner, Some(huge)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.to_string().contains("largest order amount"), "{}", r.body);
    // Shapes serde refuses: an unknown type, an unknown field, a wrong type.
    for charges in [
        json!([{"type": "bribe", "amount": "1"}]),
        json!([{"type": "tax", "amount": "1", "rate": "2"}]),
        json!([{"type": "tax", "amount": true}]),
        json!({"type": "tax"}),
        json!(null),
    ] {
        let r = app
            .call("PUT", &path, &d.owner, Some(json!({ "charges": charges })))
            .await;
        assert_eq!(r.status, 422, "{charges}: {}", r.body);
    }
    // And a PUT that mixes the whole list with the old fields is ambiguous.
    let r = app
        .call(
            "PUT",
            &path,
            &d.owner,
            Some(json!({"charges": [], "shipping_amount": "1"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(app.counts(&d.t.company).await, before, "nothing was stored");
}

async fn percentages_follow_a_drafts_new_lines(app: TestApp) {
    let d = demo(&app).await;
    let id = place_draft(&app, &d, "WIDGET-001", 1).await;
    let path = format!("{ORDERS}/{id}");
    let r = app
        .call(
            "PUT",
            &path,
            &d.owner,
            Some(json!({"charges": [{"type": "surcharge", "percentage": "10"}, {"type": "discount", "amount": "5"}]})),
        )
        .await;
    // Acme's price for WIDGET-001 is 89.99: 10 % is 8.999 -> 9.00.
    assert_eq!(amounts(&r.body["data"]), ["9.00", "5.00"], "{}", r.body);
    let r = app
        .call(
            "PUT",
            &path,
            &d.owner,
            Some(json!({"items": [{"sku": "GADGET-002", "quantity": 2}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // 10 % of the new subtotal, rounded half-to-even; the fixed discount stays.
    let o = &r.body["data"];
    let ten_percent = (dec(&o["subtotal_amount"]) / rust_decimal::Decimal::TEN)
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven);
    assert_eq!(amounts(o), [ten_percent.to_string(), "5.00".to_owned()]);
    assert_ne!(o["subtotal_amount"], "89.99");
    assert_adds_up(o);
    // The old discount field replaces the discount charge in its place, and keeps the rest.
    let r = app
        .call("PUT", &path, &d.owner, Some(json!({"discount_amount": "7.00"})))
        .await;
    assert_eq!(amounts(&r.body["data"]), ["30.00", "7.00"], "{}", r.body);
    let r = app
        .call("PUT", &path, &d.owner, Some(json!({"discount_amount": "0"})))
        .await;
    assert_eq!(amounts(&r.body["data"]), ["30.00"], "{}", r.body);
    assert_adds_up(&r.body["data"]);
    // Placing the draft keeps what it showed.
    let shown = r.body["data"]["total_amount"].clone();
    assert_eq!(
        to(&app, &d.owner, &id, Pending).await.body["data"]["total_amount"],
        shown
    );
}

async fn concurrent_charge_edits_never_mix(app: TestApp) {
    let app = Arc::new(app);
    let d = Arc::new(demo(&app).await);
    let path = Arc::new(format!("{ORDERS}/{}", place_212_48(&app, &d).await));
    let before = app.counts(&d.t.company).await;
    let edits = (1..=8).map(|i| {
        let (app, d, path) = (app.clone(), d.clone(), path.clone());
        tokio::spawn(async move {
            let charges = json!([{"type": "surcharge", "amount": format!("{i}.00")}, {"type": "tax", "percentage": format!("{i}")}]);
            app.call("PUT", &path, &d.owner, Some(json!({ "charges": charges }))).await
        })
    });
    let replies: Vec<_> = futures_util::future::join_all(edits)
        .await
        .into_iter()
        .map(|r| r.expect("task"))
        .collect();
    let ok = replies.iter().filter(|r| r.status == 200).count();
    // Each edit is redone from a fresh read when another landed first; one that lost
    // every retry says so (503 contention, retry later), and did not land.
    assert!(
        replies.iter().all(|r| r.status == 200 || r.status == 503),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(ok >= 1);
    let o = app.call("GET", &path, &d.owner, None).await.body["data"].clone();
    // Both charges of the final state come from one edit, and the totals from them.
    let i = dec(&o["charges"][0]["amount"]);
    assert_eq!(dec(&o["charges"][1]["percentage"]), i, "{o}");
    assert_adds_up(&o);
    assert_eq!(o["version"], json!(1 + ok), "every edit applied in turn");
    let after = app.counts(&d.t.company).await;
    assert_eq!(after.order_audit, before.order_audit + ok);
}
