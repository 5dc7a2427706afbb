//! Child orders (SPEC §10): returns and invoices made from a sale's lines, payments, and
//! the guarded rollback of a completed sale; every write changes the child and its parent
//! in one transaction. On both adapters.

use futures_util::future::join_all;
use serde_json::{json, Value};

use oms_domain::order::OrderStatus::*;
use oms_tests::{on_both_adapters, Reply, TestApp};

use crate::support::{dec, demo, to, Demo, ORDERS};

on_both_adapters!(
    a_return_takes_lines_back_and_can_restock_them_in_its_transaction,
    an_invoice_carries_payments_and_the_parent_sums_them,
    a_parent_line_is_on_at_most_one_live_child_of_each_kind,
    racing_children_never_share_a_line,
    a_completed_order_rolls_back_only_without_payments_or_completed_children,
    child_orders_are_in_no_list_search_or_count,
    bad_child_requests_change_nothing,
);

/// A two-line sale (3 x WIDGET-001 with tax, 2 x BOLT-M8) for the demo customer, walked
/// to `delivered`; returns (id, the order).
async fn delivered_sale(app: &TestApp, d: &Demo) -> (String, Value) {
    let body = json!({"customer_id": d.t.acme, "items": [
        {"sku": "WIDGET-001", "quantity": 3, "tax_amount": "1.00"},
        {"sku": "BOLT-M8", "quantity": 2}
    ]});
    let r = app.call("POST", ORDERS, &d.owner, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    for s in [Confirmed, Processing, Shipped, Delivered] {
        let r = to(app, &d.owner, &id, s).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    (id.clone(), order(app, d, &id).await)
}

async fn order(app: &TestApp, d: &Demo, id: &str) -> Value {
    let r = app.call("GET", &format!("{ORDERS}/{id}"), &d.owner, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].clone()
}

async fn child(app: &TestApp, d: &Demo, parent: &str, body: Value) -> Reply {
    app.call("POST", &format!("{ORDERS}/{parent}/children"), &d.owner, Some(body))
        .await
}

async fn pay(app: &TestApp, token: &str, invoice: &str, body: Value) -> Reply {
    app.call("POST", &format!("{ORDERS}/{invoice}/payments"), token, Some(body))
        .await
}

async fn stock(app: &TestApp, d: &Demo, sku: &str) -> u32 {
    crate::support::stock(app, d, sku).await
}

async fn a_return_takes_lines_back_and_can_restock_them_in_its_transaction(app: TestApp) {
    let d = demo(&app).await;
    let (id, sale) = delivered_sale(&app, &d).await;
    let widgets = stock(&app, &d, "WIDGET-001").await;
    let r = child(
        &app,
        &d,
        &id,
        json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 2}], "restock": true, "notes": "two arrived damaged"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let ret = r.body["data"].clone();
    let ret_id = ret["id"].as_str().expect("id").to_owned();
    assert_eq!(
        (ret["kind"].clone(), ret["status"].clone()),
        (json!("return"), json!("pending"))
    );
    assert_eq!(ret["parent_id"], sale["id"]);
    assert_eq!(ret["restocked"], true);
    let line = &ret["items"][0];
    assert_eq!(
        (line["parent_line_no"].clone(), line["quantity"].clone()),
        (json!(1), json!(2))
    );
    // Two of three: two thirds of the line's tax (0.67, rounded half to even).
    let unit = dec(&sale["items"][0]["unit_price"]);
    assert_eq!(dec(&line["tax_amount"]), "0.67".parse().expect("decimal"));
    assert_eq!(
        dec(&ret["total_amount"]),
        unit * rust_decimal::Decimal::from(2) + dec(&line["tax_amount"])
    );
    assert_eq!(
        stock(&app, &d, "WIDGET-001").await,
        widgets + 2,
        "restocked with the return"
    );
    let parent = order(&app, &d, &id).await;
    assert_eq!(
        parent["children"],
        json!([{"id": ret_id, "order_number": ret["order_number"], "kind": "return", "status": "pending", "lines": [1]}])
    );

    // Completing it is recorded on the parent too; voiding it takes the units out again.
    assert_eq!(to(&app, &d.owner, &ret_id, Completed).await.status, 200);
    assert_eq!(order(&app, &d, &id).await["children"][0]["status"], "completed");
    let r = to(&app, &d.owner, &ret_id, Cancelled).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["restocked"], false);
    assert_eq!(
        stock(&app, &d, "WIDGET-001").await,
        widgets,
        "voided: the units out again"
    );
    assert_eq!(order(&app, &d, &id).await["children"][0]["status"], "cancelled");
    // A child has its own small lifecycle.
    let r = to(&app, &d.owner, &ret_id, Pending).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "invalid_transition"), "{}", r.body);
    // Without restock nothing moves.
    let r = child(
        &app,
        &d,
        &id,
        json!({"kind": "return", "lines": [{"line_no": 2, "quantity": 2}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["restocked"], false);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, widgets);
}

async fn an_invoice_carries_payments_and_the_parent_sums_them(app: TestApp) {
    let d = demo(&app).await;
    let (id, sale) = delivered_sale(&app, &d).await;
    // By default an invoice bills every line, whole.
    let r = child(&app, &d, &id, json!({"kind": "invoice"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let inv = r.body["data"].clone();
    let inv_id = inv["id"].as_str().expect("id").to_owned();
    assert_eq!(inv["total_amount"], sale["total_amount"]);
    assert_eq!(inv["items"].as_array().map(Vec::len), Some(2));
    let total = dec(&inv["total_amount"]);
    let part = (total / rust_decimal::Decimal::from(4)).round_dp(2);

    let r = pay(
        &app,
        &d.finance,
        &inv_id,
        json!({"amount": part.to_string(), "method": "bank_transfer", "reference": "TRX-1"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (dec(&r.body["data"]["paid_amount"]), r.body["data"]["is_paid"].clone()),
        (part, json!(false))
    );
    assert_eq!(dec(&order(&app, &d, &id).await["paid_amount"]), part);
    // More than is owed: refused, nothing recorded.
    let r = pay(&app, &d.finance, &inv_id, json!({"amount": total.to_string()})).await;
    assert_eq!((r.status.as_u16(), r.fields()), (422, vec!["amount"]), "{}", r.body);
    let rest = total - part;
    let r = pay(&app, &d.owner, &inv_id, json!({"amount": rest.to_string()})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let paid = r.body["data"].clone();
    assert_eq!(
        (paid["is_paid"].clone(), paid["financial_status"].clone()),
        (json!(true), json!("paid"))
    );
    assert_eq!(paid["payments"].as_array().map(Vec::len), Some(2));
    assert_eq!(dec(&order(&app, &d, &id).await["paid_amount"]), total);
    // A paid invoice is not voided; a refund first.
    let r = to(&app, &d.owner, &inv_id, Cancelled).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "invoice_paid"), "{}", r.body);
    let r = pay(
        &app,
        &d.finance,
        &inv_id,
        json!({"kind": "refund", "amount": (total + rust_decimal::Decimal::ONE).to_string()}),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.fields()),
        (422, vec!["amount"]),
        "more than was paid: {}",
        r.body
    );
    let r = pay(
        &app,
        &d.finance,
        &inv_id,
        json!({"kind": "refund", "amount": total.to_string()}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (
            r.body["data"]["is_paid"].clone(),
            r.body["data"]["financial_status"].clone()
        ),
        (json!(false), json!("refunded"))
    );
    assert_eq!(
        dec(&order(&app, &d, &id).await["paid_amount"]),
        rust_decimal::Decimal::ZERO
    );
    assert_eq!(to(&app, &d.owner, &inv_id, Cancelled).await.status, 200);

    // Payments go on open invoices only, by those who may record them.
    let r = pay(&app, &d.owner, &id, json!({"amount": "1.00"})).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "not_an_open_invoice"),
        "{}",
        r.body
    );
    let r = pay(&app, &d.owner, &inv_id, json!({"amount": "1.00"})).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "not_an_open_invoice"),
        "{}",
        r.body
    );
    let r = pay(&app, &d.staff, &inv_id, json!({"amount": "1.00"})).await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "permission_error"), "{}", r.body);
    let r = pay(&app, &d.buyer, &inv_id, json!({"amount": "1.00"})).await;
    assert_eq!(r.status, 403, "{}", r.body);
}

async fn a_parent_line_is_on_at_most_one_live_child_of_each_kind(app: TestApp) {
    let d = demo(&app).await;
    let (id, _) = delivered_sale(&app, &d).await;
    let one = json!({"kind": "invoice", "lines": [{"line_no": 1, "quantity": 3}]});
    let r = child(&app, &d, &id, one.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let first = r.body["data"]["id"].as_str().expect("id").to_owned();
    let r = child(&app, &d, &id, one.clone()).await;
    assert_eq!(
        (r.status.as_u16(), r.fields()),
        (422, vec!["lines[0].line_no"]),
        "{}",
        r.body
    );
    // The other kind may use it; the rest of the lines may still be invoiced.
    let r = child(
        &app,
        &d,
        &id,
        json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 1}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = child(&app, &d, &id, json!({"kind": "invoice"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let lines: Vec<Value> = r.body["data"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| l["parent_line_no"].clone())
        .collect();
    assert_eq!(lines, vec![json!(2)], "only the line not invoiced yet");
    let r = child(&app, &d, &id, json!({"kind": "invoice"})).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "lines_in_use"), "{}", r.body);
    // A voided invoice frees its lines.
    let r = to(&app, &d.owner, &first, Cancelled).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(child(&app, &d, &id, one).await.status, 201);
}

async fn racing_children_never_share_a_line(app: TestApp) {
    let d = demo(&app).await;
    let (id, _) = delivered_sale(&app, &d).await;
    let body = json!({"kind": "return", "lines": [{"line_no": 2, "quantity": 1}], "restock": true});
    let bolts = stock(&app, &d, "BOLT-M8").await;
    let replies = join_all((0..8).map(|_| child(&app, &d, &id, body.clone()))).await;
    let made = replies.iter().filter(|r| r.status == 201).count();
    for r in replies.iter().filter(|r| r.status != 201) {
        assert!(
            (r.status == 422 && r.fields() == vec!["lines[0].line_no"]) || r.code() == "contention",
            "{}",
            r.body
        );
    }
    assert_eq!(made, 1, "one return holds the line");
    assert_eq!(order(&app, &d, &id).await["children"].as_array().map(Vec::len), Some(1));
    assert_eq!(stock(&app, &d, "BOLT-M8").await, bolts + 1, "restocked once");
}

async fn a_completed_order_rolls_back_only_without_payments_or_completed_children(app: TestApp) {
    let d = demo(&app).await;
    let (id, _) = delivered_sale(&app, &d).await;
    let inv = child(&app, &d, &id, json!({"kind": "invoice"})).await.body["data"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(pay(&app, &d.finance, &inv, json!({"amount": "1.00"})).await.status, 201);
    assert_eq!(to(&app, &d.owner, &id, Completed).await.status, 200);
    // Completed goes back only to where it came from (delivered), and not while paid.
    let r = to(&app, &d.owner, &id, Processing).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "invalid_transition"), "{}", r.body);
    assert!(r.message().contains("delivered"), "{}", r.body);
    let r = to(&app, &d.owner, &id, Delivered).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "rollback_blocked"), "{}", r.body);
    assert!(r.message().contains("payments"), "{}", r.body);
    assert_eq!(
        pay(&app, &d.finance, &inv, json!({"kind": "refund", "amount": "1.00"}))
            .await
            .status,
        201
    );
    // A completed return blocks it too, until voided.
    let ret = child(
        &app,
        &d,
        &id,
        json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 1}]}),
    )
    .await
    .body["data"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(to(&app, &d.owner, &ret, Completed).await.status, 200);
    let r = to(&app, &d.owner, &id, Delivered).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "rollback_blocked"), "{}", r.body);
    assert!(r.message().contains("completed child orders"), "{}", r.body);
    assert_eq!(to(&app, &d.owner, &ret, Cancelled).await.status, 200);
    let before = order(&app, &d, &id).await;
    let r = to(&app, &d.owner, &id, Delivered).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["delivered_at"], before["delivered_at"], "the dates stay");

    // A payment racing the rollback: either the payment lands and the rollback is refused,
    // or the rollback lands first; never both.
    assert_eq!(to(&app, &d.owner, &id, Completed).await.status, 200);
    let (paid, rolled) = futures_util::join!(
        pay(&app, &d.finance, &inv, json!({"amount": "2.00"})),
        to(&app, &d.owner, &id, Delivered)
    );
    assert_eq!(paid.status, 201, "{}", paid.body);
    let parent = order(&app, &d, &id).await;
    match rolled.status.as_u16() {
        200 => assert_eq!(parent["status"], "delivered"),
        409 => assert_eq!(
            (rolled.code(), parent["status"].clone()),
            ("rollback_blocked", json!("completed"))
        ),
        s => panic!("{s}: {}", rolled.body),
    }
    assert_eq!(dec(&parent["paid_amount"]), "2.00".parse().expect("decimal"));
}

async fn child_orders_are_in_no_list_search_or_count(app: TestApp) {
    let d = demo(&app).await;
    let (id, sale) = delivered_sale(&app, &d).await;
    let before = app.call("GET", &format!("{ORDERS}?per_page=100"), &d.owner, None).await;
    let r = child(&app, &d, &id, json!({"kind": "invoice"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let inv = r.body["data"].clone();
    app.relay().await;
    let after = app.call("GET", &format!("{ORDERS}?per_page=100"), &d.owner, None).await;
    let ids = |r: &Reply| -> Vec<Value> {
        r.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|o| o["id"].clone())
            .collect()
    };
    assert_eq!(ids(&after), ids(&before), "the same orders listed");
    let number = inv["order_number"].as_str().expect("number");
    let found = app
        .call("GET", &format!("{ORDERS}/search?q={number}"), &d.owner, None)
        .await;
    assert_eq!(found.body["data"], json!([]), "{}", found.body);
    // Read by id, and from its parent.
    assert_eq!(
        order(&app, &d, inv["id"].as_str().expect("id")).await["kind"],
        "invoice"
    );
    assert_eq!(order(&app, &d, &id).await["children"][0]["id"], inv["id"]);
    assert_eq!(sale["kind"], "sale");
}

async fn bad_child_requests_change_nothing(app: TestApp) {
    let d = demo(&app).await;
    let (id, _) = delivered_sale(&app, &d).await;
    let parent_before = order(&app, &d, &id).await;
    let counts = app.counts(&d.t.company).await;
    for (body, field) in [
        (json!({"kind": "quote"}), "kind"),
        (json!({"kind": "return", "lines": null}), "lines"),
        (json!({"kind": "invoice", "restock": true}), "restock"),
        (json!({"kind": "return", "lines": []}), "lines"),
        (
            json!({"kind": "return", "lines": [{"line_no": 9, "quantity": 1}]}),
            "lines[0].line_no",
        ),
        (
            json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 4}]}),
            "lines[0].quantity",
        ),
        (
            json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 0}]}),
            "lines[0].quantity",
        ),
        (
            json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 1}, {"line_no": 1, "quantity": 1}]}),
            "lines[1].line_no",
        ),
        (
            json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 1e300}]}),
            "quantity",
        ),
        (
            json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 1}], "extra": 1}),
            "extra",
        ),
    ] {
        let r = child(&app, &d, &id, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert!(
            r.fields().iter().any(|f| f.contains(field)) || r.message().contains(field),
            "{body}: {}",
            r.body
        );
    }
    // A pending order has nothing to return; a child has no children; others may not.
    let pending = crate::support::place(&app, &d).await;
    let r = child(
        &app,
        &d,
        &pending,
        json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 1}]}),
    )
    .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "child_not_allowed"), "{}", r.body);
    let r = app
        .call(
            "POST",
            &format!("{ORDERS}/{id}/children"),
            &d.buyer,
            Some(json!({"kind": "invoice"})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app
        .call(
            "POST",
            &format!("{ORDERS}/{id}/children"),
            &d.staff,
            Some(json!({"kind": "return", "lines": [{"line_no": 1, "quantity": 1}], "restock": true})),
        )
        .await;
    assert_eq!(r.status, 201, "staff have stock:adjust: {}", r.body);
    let r = app
        .call(
            "POST",
            &format!("{ORDERS}/{id}/children"),
            &d.finance,
            Some(json!({"kind": "invoice"})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let rival = app.token("rival-co", "OWNER", None);
    let r = app
        .call(
            "POST",
            &format!("{ORDERS}/{id}/children"),
            &rival,
            Some(json!({"kind": "invoice"})),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let ret = r.body["data"]["id"].as_str().map(str::to_owned);
    assert!(ret.is_none());
    // Only the staff return and the pending order were written.
    let after = app.counts(&d.t.company).await;
    assert_eq!(after.orders - counts.orders, 2);
    let parent_after = order(&app, &d, &id).await;
    assert_eq!(parent_after["children"].as_array().map(Vec::len), Some(1));
    assert_eq!(parent_after["items"], parent_before["items"]);
}
