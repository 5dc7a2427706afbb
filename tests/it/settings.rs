//! The company's settings through the API (issue 13, part 1), on both adapters: who may
//! read and change them, partial changes with `null` to clear, every bad field named with
//! nothing changed, concurrent changes kept, the audit trail, and the rules they drive.

use futures_util::future::join_all;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oms_adapters::mail::MemoryMailer;
use oms_domain::notify::EmailKind;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, stock, Demo, ORDERS};

on_both_adapters!(
    settings_are_read_by_staff_and_finance_and_changed_by_the_owner_only,
    a_change_is_partial_versioned_and_audited,
    bad_settings_are_refused_naming_each_field_and_change_nothing,
    concurrent_changes_to_different_fields_are_all_kept,
    the_settings_drive_the_rules,
    emails_carry_the_sender_name_and_reply_to,
    a_currency_change_must_fit_the_amounts_the_settings_keep,
    a_change_derived_from_older_settings_is_not_written,
);

const SETTINGS: &str = "/api/v1/settings";

async fn read(app: &TestApp, d: &Demo) -> Value {
    let r = app.call("GET", SETTINGS, &d.owner, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].clone()
}

async fn patch(app: &TestApp, d: &Demo, body: Value) -> Value {
    let r = app.call("PATCH", SETTINGS, &d.owner, Some(body.clone())).await;
    assert_eq!(r.status, 200, "{body}: {}", r.body);
    r.body["data"].clone()
}

async fn settings_are_read_by_staff_and_finance_and_changed_by_the_owner_only(app: TestApp) {
    let d = demo(&app).await;
    let admin = app.token(d.t.company.as_str(), "ADMIN", None);
    for token in [&d.owner, &admin, &d.staff, &d.finance] {
        let r = app.call("GET", SETTINGS, token, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["data"]["name"], "Demo Distributors");
        assert_eq!(r.body["data"]["monthly_order_limit"], 500);
    }
    for token in [&d.buyer, &d.integration] {
        let r = app.call("GET", SETTINGS, token, None).await;
        assert_eq!((r.status.as_u16(), r.code()), (403, "permission_error"));
    }
    let before = read(&app, &d).await;
    for token in [&admin, &d.staff, &d.finance, &d.buyer, &d.integration] {
        let r = app
            .call("PATCH", SETTINGS, token, Some(json!({"monthly_order_limit": 1})))
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(r.body["error"]["details"]["permission"], "settings:write");
    }
    assert_eq!(read(&app, &d).await, before);
    // Another company's settings are its own: a fresh company reads the defaults.
    let other = app.token("zulu", "OWNER", None);
    let r = app.call("GET", SETTINGS, &other, None).await;
    assert_eq!(r.body["data"]["monthly_order_limit"], Value::Null);
    assert_eq!(r.body["data"]["version"], 0);
}

async fn a_change_is_partial_versioned_and_audited(app: TestApp) {
    let d = demo(&app).await;
    let before = read(&app, &d).await;
    let after = patch(
        &app,
        &d,
        json!({"monthly_order_limit": 800, "storefront": {"tax_rate": "8.25"}}),
    )
    .await;
    assert_eq!(after["monthly_order_limit"], 800);
    assert_eq!(after["storefront"]["tax_rate"], "8.25");
    assert_eq!(
        after["storefront"]["shipping_amount"],
        before["storefront"]["shipping_amount"]
    );
    assert_eq!(after["restock_on_cancel"], before["restock_on_cancel"]);
    assert_eq!(after["version"], before["version"].as_u64().unwrap_or(0) + 1);
    assert_eq!(read(&app, &d).await, after, "stored as answered");
    // null clears what may be empty; an empty change changes nothing (no new version).
    let cleared = patch(
        &app,
        &d,
        json!({"monthly_order_limit": null, "discount_approval_threshold": "250.00", "email": {"reply_to": "sales@demo.example"}}),
    )
    .await;
    assert_eq!(cleared["monthly_order_limit"], Value::Null);
    assert_eq!(cleared["discount_approval_threshold"], "250.00");
    let same = patch(&app, &d, json!({})).await;
    assert_eq!(same["version"], cleared["version"]);
    let same = patch(&app, &d, json!({"restock_on_cancel": cleared["restock_on_cancel"]})).await;
    assert_eq!(same["version"], cleared["version"]);
    // Each change is one SettingsUpdated entry with before and after.
    let r = app
        .call("GET", "/api/v1/audit-log?entity=settings", &d.owner, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let entries = r.body["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().all(|e| e["action"] == "SettingsUpdated"));
    let newest = &entries[0];
    assert_eq!(newest["before"]["monthly_order_limit"], 800);
    assert_eq!(newest["after"]["monthly_order_limit"], Value::Null);
    assert_eq!(newest["actor_id"], "user-owner");
    let changed = newest["summary"]["changed"].as_array().cloned().unwrap_or_default();
    for field in ["monthly_order_limit", "discount_approval_threshold", "email"] {
        assert!(changed.contains(&json!(field)), "{changed:?}");
    }
}

async fn bad_settings_are_refused_naming_each_field_and_change_nothing(app: TestApp) {
    let d = demo(&app).await;
    let before = read(&app, &d).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"monthly_order_limit": 0}), "monthly_order_limit"),
        (json!({"monthly_order_limit": -5}), "monthly_order_limit"),
        (json!({"monthly_order_limit": 1.5}), "monthly_order_limit"),
        (json!({"monthly_order_limit": 99_999_999_999u64}), "monthly_order_limit"),
        (json!({"monthly_order_limit": "ten"}), "monthly_order_limit"),
        (json!({"low_stock_threshold": -1}), "low_stock_threshold"),
        (json!({"low_stock_threshold": 2_000_000_000u64}), "low_stock_threshold"),
        (json!({"high_value_threshold": "0"}), "high_value_threshold"),
        (json!({"high_value_threshold": "-10"}), "high_value_threshold"),
        (json!({"high_value_threshold": "10.001"}), "high_value_threshold"),
        (json!({"high_value_threshold": 1e300}), "high_value_threshold"),
        (
            json!({"high_value_threshold": "1000000000000.01"}),
            "high_value_threshold",
        ),
        (
            json!({"discount_approval_threshold": "abc"}),
            "discount_approval_threshold",
        ),
        (json!({"default_currency": "XYZ"}), "default_currency"),
        (json!({"name": "  "}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"restock_on_cancel": "yes"}), "restock_on_cancel"),
        (json!({"storefront": {"tax_rate": "101"}}), "storefront.tax_rate"),
        (json!({"storefront": {"tax_rate": "-1"}}), "storefront.tax_rate"),
        (json!({"storefront": {"tax_rate": "8.12345"}}), "storefront.tax_rate"),
        (
            json!({"storefront": {"shipping_amount": "-1"}}),
            "storefront.shipping_amount",
        ),
        (
            json!({"storefront": {"free_shipping_threshold": "0.001"}}),
            "storefront.free_shipping_threshold",
        ),
        (json!({"storefront": {"colour": "red"}}), "storefront.colour"),
        (
            json!({"email": {"sender_name": "Sales\r\nBcc: victim@example.com"}}),
            "email.sender_name",
        ),
        (json!({"email": {"sender_name": ""}}), "email.sender_name"),
        (json!({"email": {"reply_to": "not an address"}}), "email.reply_to"),
        (json!({"tax_id": "   "}), "tax_id"),
        (json!({"tax_id": "x".repeat(51)}), "tax_id"),
        (json!({"tax_id": "DE\n123"}), "tax_id"),
        (
            json!({"address": {"address1": "1 Way", "city": "X", "country": "XX"}}),
            "address",
        ),
        (
            json!({"address": {"street": "1 Way", "planet": "Mars"}}),
            "address.planet",
        ),
        (
            json!({"email": {"dashboard_url": "javascript:alert(1)"}}),
            "email.dashboard_url",
        ),
        (
            json!({"email": {"dashboard_url": "http://dashboard.example.com"}}),
            "email.dashboard_url",
        ),
        (
            json!({"email": {"dashboard_url": "https://x.example/a\"><script>"}}),
            "email.dashboard_url",
        ),
        (
            json!({"email": {"dashboard_url": "https://x.example/?next=evil"}}),
            "email.dashboard_url",
        ),
        (
            json!({"email": {"dashboard_url": format!("https://x.example/{}", "a".repeat(200))}}),
            "email.dashboard_url",
        ),
        (json!({"version": 99}), "version"),
        (json!({"email": [null, null]}), "email"),
        (json!({"storefront": ["8.25", "15.00", "0"]}), "storefront"),
        (json!({"colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let r = app.call("PATCH", SETTINGS, &d.owner, Some(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert_eq!(r.code(), "validation_error");
        let fields: Vec<&str> = r.body["error"]["details"]["fields"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&field), "{body} names {fields:?}, not {field}");
    }
    // Several bad fields at once: all named, and the good one in the same body not applied.
    let r = app
        .call(
            "PATCH",
            SETTINGS,
            &d.owner,
            Some(json!({"monthly_order_limit": 0, "storefront": {"tax_rate": "500"}, "restock_on_cancel": true})),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["error"]["details"]["fields"].as_array().map(Vec::len), Some(2));
    assert_eq!(read(&app, &d).await, before, "nothing changed");
    for body in [&b"{"[..], b"[]", b"null", b"\"x\""] {
        let headers = vec![
            ("authorization".to_owned(), format!("Bearer {}", d.owner)),
            ("content-type".to_owned(), "application/json".to_owned()),
        ];
        let r = app.raw("PATCH", SETTINGS, headers, body.to_vec()).await;
        assert!(
            r.status == 400 || r.status == 422,
            "{}: {}",
            String::from_utf8_lossy(body),
            r.status
        );
    }
    assert_eq!(read(&app, &d).await, before, "nothing changed");
}

async fn concurrent_changes_to_different_fields_are_all_kept(app: TestApp) {
    let d = demo(&app).await;
    let before = read(&app, &d).await;
    let changes = [
        json!({"low_stock_threshold": 7}),
        json!({"restock_on_cancel": true}),
        json!({"dashboard_orders_decrement_stock": true}),
        json!({"monthly_order_limit": 900}),
        json!({"storefront": {"tax_rate": "7.5"}}),
        json!({"storefront": {"shipping_amount": "12.00"}}),
        json!({"email": {"sender_name": "Demo Sales"}}),
        json!({"discount_approval_threshold": "100.00"}),
    ];
    let replies = join_all(
        changes
            .iter()
            .map(|c| app.call("PATCH", SETTINGS, &d.owner, Some(c.clone()))),
    )
    .await;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let after = read(&app, &d).await;
    assert_eq!(after["low_stock_threshold"], 7);
    assert_eq!(after["restock_on_cancel"], true);
    assert_eq!(after["dashboard_orders_decrement_stock"], true);
    assert_eq!(after["monthly_order_limit"], 900);
    assert_eq!(after["storefront"]["tax_rate"], "7.5");
    assert_eq!(after["storefront"]["shipping_amount"], "12.00");
    assert_eq!(after["email"]["sender_name"], "Demo Sales");
    assert_eq!(after["discount_approval_threshold"], "100.00");
    assert_eq!(
        after["version"],
        before["version"].as_u64().unwrap_or(0) + changes.len() as u64,
        "one version per change, none lost"
    );
    let r = app
        .call("GET", "/api/v1/audit-log?entity=settings&per_page=100", &d.owner, None)
        .await;
    assert_eq!(r.body["data"].as_array().map(Vec::len), Some(changes.len()));
}

async fn the_settings_drive_the_rules(app: TestApp) {
    let d = demo(&app).await;
    // Dashboard orders take stock only when the setting is on.
    let widgets = stock(&app, &d, "WIDGET-001").await;
    let phone = json!({"source": "phone", "items": [{"sku": "WIDGET-001", "quantity": 1}]});
    assert_eq!(
        app.call("POST", ORDERS, &d.staff, Some(phone.clone())).await.status,
        201
    );
    assert_eq!(stock(&app, &d, "WIDGET-001").await, widgets);
    patch(&app, &d, json!({"dashboard_orders_decrement_stock": true})).await;
    assert_eq!(app.call("POST", ORDERS, &d.staff, Some(phone)).await.status, 201);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, widgets - 1);
    // The storefront's tax and shipping.
    patch(
        &app,
        &d,
        json!({"storefront": {"tax_rate": "10", "shipping_amount": "15.00", "free_shipping_threshold": "0"}}),
    )
    .await;
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["tax_amount"], "9.00", "10 % of Acme's 89.99, rounded");
    assert_eq!(r.body["data"]["shipping_amount"], "15.00");
    // The monthly cap: lowered to what this month already used, the next order is refused.
    patch(&app, &d, json!({"monthly_order_limit": 1})).await;
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (409, "monthly_limit_reached"));
    patch(&app, &d, json!({"monthly_order_limit": null})).await;
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // Restock on cancel.
    patch(&app, &d, json!({"restock_on_cancel": true})).await;
    let id = r.body["data"]["id"].as_str().expect("id").to_owned();
    let before = stock(&app, &d, "WIDGET-001").await;
    let r = app
        .call(
            "POST",
            &format!("{ORDERS}/{id}/status"),
            &d.owner,
            Some(json!({"status": "cancelled", "cancellation_reason": "test"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(stock(&app, &d, "WIDGET-001").await, before + 1);
}

async fn emails_carry_the_sender_name_and_reply_to(app: TestApp) {
    let d = demo(&app).await;
    patch(
        &app,
        &d,
        json!({"email": {"sender_name": "Demo Distributors Sales", "reply_to": "sales@demo.example"}}),
    )
    .await;
    let mailer = MemoryMailer::default();
    let _w = oms_api::workers::spawn(app.app().deps.clone(), Arc::new(mailer.clone()));
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(r.status, 201);
    let until = Instant::now() + Duration::from_secs(10);
    while mailer.sent().iter().all(|e| e.kind != EmailKind::Receipt) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let sent = mailer.sent();
    let receipt = sent.iter().find(|e| e.kind == EmailKind::Receipt).expect("a receipt");
    assert_eq!(receipt.sender_name.as_deref(), Some("Demo Distributors Sales"));
    assert_eq!(receipt.reply_to.as_deref(), Some("sales@demo.example"));
    // As MIME: the name on the deployment's address, and the Reply-To header.
    let raw =
        String::from_utf8(oms_adapters::mail::mime(receipt, "orders@demo.example", "<1@demo.example>").expect("mime"))
            .expect("utf-8");
    assert!(
        raw.contains("From: \"Demo Distributors Sales\" <orders@demo.example>"),
        "{raw}"
    );
    assert!(raw.contains("Reply-To: sales@demo.example"), "{raw}");
    // Cleared: the company's name, and no Reply-To.
    patch(&app, &d, json!({"email": {"sender_name": null, "reply_to": null}})).await;
    let s = app.store().get_settings(&d.t.company).await.expect("settings");
    let plain = receipt.clone().from_company(&s);
    let raw =
        String::from_utf8(oms_adapters::mail::mime(&plain, "orders@demo.example", "<2@demo.example>").expect("mime"))
            .expect("utf-8");
    assert!(
        raw.contains("From: \"Demo Distributors\" <orders@demo.example>"),
        "{raw}"
    );
    assert!(!raw.contains("Reply-To"), "{raw}");
}

async fn a_currency_change_must_fit_the_amounts_the_settings_keep(app: TestApp) {
    let d = demo(&app).await;
    patch(
        &app,
        &d,
        json!({"storefront": {"shipping_amount": "12.50"}, "high_value_threshold": "5000"}),
    )
    .await;
    let before = read(&app, &d).await;
    // 12.50 cannot be kept in yen: refused, naming the field, nothing changed.
    let r = app
        .call("PATCH", SETTINGS, &d.owner, Some(json!({"default_currency": "JPY"})))
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "validation_error"), "{}", r.body);
    let fields: Vec<&str> = r.body["error"]["details"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["storefront.shipping_amount"], "{}", r.body);
    assert_eq!(read(&app, &d).await, before);
    // Metals and units of account are not currencies anything is priced in.
    let r = app
        .call("PATCH", SETTINGS, &d.owner, Some(json!({"default_currency": "XAU"})))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // With a new amount in the same change, it goes through.
    let after = patch(
        &app,
        &d,
        json!({"default_currency": "jpy", "storefront": {"shipping_amount": "1200"}}),
    )
    .await;
    assert_eq!(after["default_currency"], "JPY");
    assert_eq!(after["storefront"]["shipping_amount"], "1200");
}

/// The race window itself, on the store: a change derived from version N, written after
/// another change made version N+1, must be refused (the use case then re-applies it to
/// the new settings), so the other change is not erased.
async fn a_change_derived_from_older_settings_is_not_written(app: TestApp) {
    use oms_domain::audit::{AuditAction, AuditEntry, EntityKind};
    use oms_domain::auth::Actor;
    use oms_domain::ids::EventId;

    let d = demo(&app).await;
    let store = app.store();
    let before = store.get_settings(&d.t.company).await.expect("settings");
    let mut mine = before.clone();
    mine.restock_on_cancel = !before.restock_on_cancel;
    mine.version = before.version + 1;
    patch(&app, &d, json!({"monthly_order_limit": 321})).await;
    let actor = Actor::from_claims("user-owner", d.t.company.as_str(), "OWNER", None).expect("actor");
    let audit = AuditEntry::new(
        EventId::new(uuid::Uuid::new_v4()),
        chrono::Utc::now(),
        &actor,
        AuditAction::SettingsUpdated,
        EntityKind::Settings,
        d.t.company.as_str(),
        None,
        None,
        json!({}),
    );
    let written = store
        .update_settings(&d.t.company, &mine, &audit, None)
        .await
        .expect("write");
    assert!(!written, "a stale change must not be written");
    let now = read(&app, &d).await;
    assert_eq!(now["monthly_order_limit"], 321, "the other change stands");
    assert_eq!(now["restock_on_cancel"], before.restock_on_cancel);
}
