//! The audit log (SPEC §9): one entry per change, and the read endpoint; on both adapters.

use serde_json::json;
use std::collections::HashSet;

use oms_domain::order::OrderStatus::*;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, place, to, ORDERS};

on_both_adapters!(every_change_is_audited_exactly_once, the_audit_log_filters_and_pages,);

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
