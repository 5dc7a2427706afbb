//! Order updates through the API (SPEC §5.5): per-status field rules, drafts, If-Match,
//! and updates racing status changes; on both adapters.

use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;

use oms_domain::order::OrderStatus::*;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, order_in, place, place_draft, stock, to, ORDERS};

on_both_adapters!(
    updates_follow_the_rules_of_each_status,
    if_match_guards_updates_and_transitions,
    concurrent_updates_and_status_changes_lose_neither,
    index_keys_follow_concurrent_due_date_and_status_changes,
    a_draft_changes_its_lines_until_it_is_placed,
);

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

/// A due-date update and a status change race: both move index keys (the due-date and
/// attention keys, the status key). Whichever order they commit in, the keys stored with
/// the order match the order as stored, because a change whose keys were moved under it
/// is redone from a fresh read.
async fn index_keys_follow_concurrent_due_date_and_status_changes(app: TestApp) {
    let d = demo(&app).await;
    let app = Arc::new(app);
    for round in 0..8 {
        let id = place(&app, &d).await;
        let (a, b) = (app.clone(), app.clone());
        let (t1, t2, id1, id2) = (d.owner.clone(), d.staff.clone(), id.clone(), id.clone());
        let target = if round % 2 == 0 { OnHold } else { Confirmed };
        let status = tokio::spawn(async move { to(&a, &t1, &id1, target).await });
        let update = tokio::spawn(async move {
            b.call(
                "PATCH",
                &format!("{ORDERS}/{id2}"),
                &t2,
                Some(json!({"due_date": format!("2099-01-{:02}", round + 1)})),
            )
            .await
        });
        let (s, u) = (status.await.expect("task"), update.await.expect("task"));
        assert_eq!(s.status, 200, "{}", s.body);
        assert!(
            u.status == 200 || u.code() == "version_conflict",
            "{}: {}",
            u.status,
            u.body
        );
        let o = app.call("GET", &format!("{ORDERS}/{id}"), &d.owner, None).await;
        assert_eq!(o.body["data"]["status"], target.as_str());
        if u.status == 200 {
            assert_eq!(o.body["data"]["due_date"], format!("2099-01-{:02}", round + 1));
        }
        app.assert_index_keys_match(&d.t.company, &id).await;
    }
}
