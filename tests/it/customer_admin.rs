//! Customers through the API (issue 13, part 4), on both adapters: the paged list and its
//! prefix search (name and its words, contact, number, e-mail), updates that move what
//! the search finds, the paged price list and removing a negotiated price; other
//! companies' customers are not found, and roles are enforced.

use serde_json::{json, Value};

use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, Demo};

on_both_adapters!(
    customers_are_listed_by_number_and_found_by_prefix,
    an_update_is_partial_audited_and_moves_what_search_finds,
    bad_customer_changes_are_refused_and_change_nothing,
    the_price_list_is_paged_and_a_price_can_be_removed,
    other_companies_and_roles_are_kept_out,
    a_change_derived_from_an_older_customer_is_not_written,
);

const CUSTOMERS: &str = "/api/v1/customers";

fn names(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["company_name"].as_str().map(str::to_owned))
        .collect()
}

async fn found(app: &TestApp, d: &Demo, q: &str) -> Vec<String> {
    let r = app.call("GET", &format!("{CUSTOMERS}?q={q}"), &d.staff, None).await;
    assert_eq!(r.status, 200, "{q}: {}", r.body);
    names(&r.body)
}

async fn add(app: &TestApp, d: &Demo, name: &str, email: &str) -> Value {
    let r = app
        .call(
            "POST",
            CUSTOMERS,
            &d.staff,
            Some(json!({"company_name": name, "contact_name": "Pat Buyer", "email": email})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["data"].clone()
}

async fn customers_are_listed_by_number_and_found_by_prefix(app: TestApp) {
    let d = demo(&app).await;
    add(&app, &d, "Acme Rockets West", "west@rockets.example").await;
    add(&app, &d, "Initech", "bill@initech.example").await;
    // By number, a page at a time.
    let mut all = Vec::new();
    let mut next = Some(format!("{CUSTOMERS}?per_page=2"));
    while let Some(url) = next {
        let r = app.call("GET", &url, &d.staff, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["data"].as_array().map_or(0, Vec::len) <= 2);
        all.extend(
            r.body["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["customer_number"].as_str().map(str::to_owned)),
        );
        next = r.body["links"]["next"].as_str().map(str::to_owned);
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    assert_eq!(all.len(), 4, "{all:?}");
    // Prefixes of the name, a word of it, the number and the e-mail, any case.
    let mut acme = found(&app, &d, "ACME").await;
    acme.sort();
    assert_eq!(acme, ["Acme Corporation", "Acme Rockets West"]);
    assert_eq!(found(&app, &d, "rock").await, ["Acme Rockets West"]);
    assert_eq!(found(&app, &d, "acme%20ro").await, ["Acme Rockets West"]);
    assert_eq!(found(&app, &d, "bill%40").await, ["Initech"]);
    assert_eq!(found(&app, &d, &all[3].to_lowercase()).await.len(), 1);
    assert_eq!(found(&app, &d, "pat").await.len(), 2, "the contact's name");
    assert!(found(&app, &d, "zzz").await.is_empty());
    // A customer matching on several terms is listed once.
    let west = found(&app, &d, "west").await;
    assert_eq!(west, ["Acme Rockets West"]);
    for q in ["", "%20%20", &"x".repeat(101)] {
        let r = app.call("GET", &format!("{CUSTOMERS}?q={q}"), &d.staff, None).await;
        assert_eq!(r.status, 422, "{q:?}: {}", r.body);
    }
}

async fn an_update_is_partial_audited_and_moves_what_search_finds(app: TestApp) {
    let d = demo(&app).await;
    let id = d.t.acme;
    let path = format!("{CUSTOMERS}/{id}");
    let r = app
        .call(
            "PATCH",
            &path,
            &d.staff,
            Some(json!({"company_name": "Roadrunner Supply", "phone": null, "email": "orders@roadrunner.example"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.body["data"];
    assert_eq!(c["company_name"], "Roadrunner Supply");
    assert_eq!(c["phone"], Value::Null);
    assert_eq!(c["version"], 1);
    assert!(c["contact_name"].is_string(), "kept: {c}");
    assert!(
        found(&app, &d, "acme").await.is_empty(),
        "the old name is no longer found"
    );
    assert_eq!(found(&app, &d, "roadr").await, ["Roadrunner Supply"]);
    assert_eq!(found(&app, &d, "orders%40road").await, ["Roadrunner Supply"]);
    let r = app
        .call(
            "GET",
            &format!("/api/v1/audit-log?entity=customer&entity_id={id}"),
            &d.owner,
            None,
        )
        .await;
    let entry = &r.body["data"][0];
    assert_eq!(entry["action"], "CustomerUpdated", "{}", r.body);
    assert_eq!(entry["before"]["company_name"], "Acme Corporation");
    assert_eq!(entry["after"]["company_name"], "Roadrunner Supply");
    // The storefront buyer still orders as this customer.
    let r = app.call("GET", &path, &d.buyer, None).await;
    assert_eq!(r.body["data"]["company_name"], "Roadrunner Supply");
}

async fn bad_customer_changes_are_refused_and_change_nothing(app: TestApp) {
    let d = demo(&app).await;
    let path = format!("{CUSTOMERS}/{}", d.t.acme);
    let before = app.call("GET", &path, &d.staff, None).await.body;
    for (body, field) in [
        (json!({"company_name": ""}), "company_name"),
        (json!({"company_name": null}), "company_name"),
        (json!({"email": "nope"}), "email"),
        (json!({"phone": "1".repeat(41)}), "phone"),
        (json!({"billing_address": {"country": "XX"}}), "billing_address"),
        (json!({"shipping_address": [null]}), "shipping_address"),
        (json!({"customer_number": "CUST-99999"}), "customer_number"),
        (json!({"version": 7}), "version"),
    ] {
        let r = app.call("PATCH", &path, &d.staff, Some(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert!(
            r.body["error"].to_string().contains(field),
            "{body} should name {field}: {}",
            r.body
        );
    }
    assert_eq!(app.call("GET", &path, &d.staff, None).await.body, before);
}

async fn the_price_list_is_paged_and_a_price_can_be_removed(app: TestApp) {
    let d = demo(&app).await;
    let acme = d.t.acme;
    for sku in ["GADGET-002", "BOLT-M8"] {
        let r = app
            .call(
                "PUT",
                &format!("{CUSTOMERS}/{acme}/prices/{}", d.id(sku)),
                &d.owner,
                Some(json!({"price": "1.00"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let mut products = Vec::new();
    let mut next = Some(format!("{CUSTOMERS}/{acme}/prices?per_page=2"));
    while let Some(url) = next {
        let r = app.call("GET", &url, &d.buyer, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        products.extend(
            r.body["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o["product_id"].as_str().map(str::to_owned)),
        );
        next = r.body["links"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(products.len(), 3, "{products:?}");
    let widget = d.id("WIDGET-001");
    let price_path = format!("{CUSTOMERS}/{acme}/prices/{widget}");
    let r = app.call("DELETE", &price_path, &d.staff, None).await;
    assert_eq!(r.status, 403, "staff lack orders:price_override: {}", r.body);
    let r = app.call("DELETE", &price_path, &d.owner, None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = app.call("DELETE", &price_path, &d.owner, None).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"));
    // The buyer pays the catalog price again.
    let catalog = app
        .call("GET", &format!("/api/v1/products/{widget}"), &d.owner, None)
        .await
        .body["data"]["price"]
        .clone();
    let r = app
        .call(
            "POST",
            "/api/v1/sales/orders",
            &d.buyer,
            Some(json!({"items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["items"][0]["unit_price"], catalog);
    let r = app
        .call(
            "GET",
            &format!("/api/v1/audit-log?entity=customer&entity_id={acme}"),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(r.body["data"][0]["action"], "CustomerPriceDeleted", "{}", r.body);
}

async fn other_companies_and_roles_are_kept_out(app: TestApp) {
    let d = demo(&app).await;
    let other = app.token("zulu", "OWNER", None);
    let acme = d.t.acme;
    let widget = d.id("WIDGET-001");
    let r = app.call("GET", CUSTOMERS, &other, None).await;
    assert_eq!(names(&r.body), Vec::<String>::new());
    let r = app.call("GET", &format!("{CUSTOMERS}?q=acme"), &other, None).await;
    assert_eq!(names(&r.body), Vec::<String>::new());
    for (method, path, body) in [
        ("PATCH", format!("{CUSTOMERS}/{acme}"), Some(json!({"phone": "1"}))),
        ("GET", format!("{CUSTOMERS}/{acme}/prices"), None),
        ("DELETE", format!("{CUSTOMERS}/{acme}/prices/{widget}"), None),
    ] {
        let r = app.call(method, &path, &other, body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "not_found"),
            "{method} {path}: {}",
            r.body
        );
    }
    // A buyer reads its own price list, not another customer's, and lists no customers.
    let r = app
        .call("GET", &format!("{CUSTOMERS}/{}/prices", d.t.globex), &d.buyer, None)
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app.call("GET", CUSTOMERS, &d.buyer, None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app
        .call(
            "PATCH",
            &format!("{CUSTOMERS}/{acme}"),
            &d.finance,
            Some(json!({"phone": "1"})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["permission"], "customers:write");
}

/// The race window, on the store: a change derived from version N, written after another
/// change made N+1, is refused (`version_conflict`) and the other change stands.
async fn a_change_derived_from_an_older_customer_is_not_written(app: TestApp) {
    use oms_domain::audit::{AuditAction, AuditEntry, EntityKind};
    use oms_domain::auth::Actor;
    use oms_domain::ids::EventId;

    let d = demo(&app).await;
    let store = app.store();
    let before = store
        .get_customer(&d.t.company, d.t.acme)
        .await
        .expect("read")
        .expect("acme");
    let mut mine = before.clone();
    mine.company_name = "Mine".into();
    mine.version += 1;
    let r = app
        .call(
            "PATCH",
            &format!("{CUSTOMERS}/{}", d.t.acme),
            &d.staff,
            Some(json!({"company_name": "Theirs"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let actor = Actor::from_claims("user-staff", d.t.company.as_str(), "STAFF", None).expect("actor");
    let audit = AuditEntry::new(
        EventId::new(uuid::Uuid::new_v4()),
        chrono::Utc::now(),
        &actor,
        AuditAction::CustomerUpdated,
        EntityKind::Customer,
        d.t.acme,
        None,
        None,
        json!({}),
    );
    let err = store.update_customer(&before, &mine, &audit).await.expect_err("stale");
    assert!(err.to_string().contains("changed meanwhile"), "{err}");
    assert_eq!(found(&app, &d, "theirs").await, ["Theirs"]);
    assert!(found(&app, &d, "mine").await.is_empty());
}
