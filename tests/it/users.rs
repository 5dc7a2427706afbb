//! The company's users through the API (issue 13, part 2), on both adapters: who may
//! manage them, unique e-mail addresses, the rules about OWNER (an ADMIN cannot make or
//! change one; the company always keeps an active one, even when two owners remove each
//! other at the same moment), and deactivated users receiving no e-mail.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oms_adapters::mail::MemoryMailer;
use oms_domain::notify::EmailKind;
use oms_tests::{on_both_adapters, TestApp};

use crate::support::{demo, items, Demo, ORDERS};

on_both_adapters!(
    users_are_managed_by_owner_and_admin_only,
    a_user_is_created_listed_changed_and_audited,
    bad_user_bodies_are_refused_naming_each_field,
    an_admin_cannot_make_or_change_an_owner,
    the_company_keeps_an_active_owner_even_under_a_race,
    deactivated_users_receive_no_email_and_new_ones_do,
    a_change_relying_on_an_owner_who_left_meanwhile_is_not_written,
);

const USERS: &str = "/api/v1/users";

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["id"].as_str().map(str::to_owned))
        .collect()
}

async fn create(app: &TestApp, d: &Demo, body: Value) -> Value {
    let r = app.call("POST", USERS, &d.owner, Some(body.clone())).await;
    assert_eq!(r.status, 201, "{body}: {}", r.body);
    r.body["data"].clone()
}

async fn users_are_managed_by_owner_and_admin_only(app: TestApp) {
    let d = demo(&app).await;
    let admin = app.token(d.t.company.as_str(), "ADMIN", None);
    for token in [&d.owner, &admin] {
        let r = app.call("GET", USERS, token, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let mut got = ids(&r.body);
        got.sort();
        assert_eq!(got, ["user-admin", "user-finance", "user-owner", "user-staff"]);
    }
    let before = app.counts(&d.t.company).await;
    for token in [&d.staff, &d.finance, &d.buyer, &d.integration] {
        for (method, path, body) in [
            ("GET", USERS.to_owned(), None),
            (
                "POST",
                USERS.to_owned(),
                Some(json!({"name": "X", "email": "x@demo.example", "role": "STAFF"})),
            ),
            ("GET", format!("{USERS}/user-staff"), None),
            ("PATCH", format!("{USERS}/user-staff"), Some(json!({"name": "Y"}))),
            ("DELETE", format!("{USERS}/user-staff"), None),
        ] {
            let r = app.call(method, &path, token, body).await;
            assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
            assert_eq!(r.body["error"]["details"]["permission"], "users:manage");
        }
    }
    // Another company's users are not found, and its list is its own.
    let other = app.token("zulu", "OWNER", None);
    for (method, body) in [("GET", None), ("PATCH", Some(json!({"name": "Z"}))), ("DELETE", None)] {
        let r = app.call(method, &format!("{USERS}/user-staff"), &other, body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "not_found"),
            "{method}: {}",
            r.body
        );
    }
    let r = app.call("GET", USERS, &other, None).await;
    assert_eq!(ids(&r.body), Vec::<String>::new());
    assert_eq!(app.counts(&d.t.company).await, before);
}

async fn a_user_is_created_listed_changed_and_audited(app: TestApp) {
    let d = demo(&app).await;
    let u = create(
        &app,
        &d,
        json!({"id": "auth0|priya", "name": " Priya Patel ", "email": "Priya@Demo.example", "role": "FINANCE"}),
    )
    .await;
    assert_eq!(u["id"], "auth0|priya");
    assert_eq!(u["name"], "Priya Patel");
    assert_eq!(u["active"], true);
    // An address is one user's, compared case-insensitively; so is an id.
    for (body, code) in [
        (
            json!({"name": "Other", "email": "priya@demo.EXAMPLE", "role": "STAFF"}),
            "duplicate_email",
        ),
        (
            json!({"name": "Other", "email": "owner@demo.example", "role": "STAFF"}),
            "duplicate_email",
        ),
        (
            json!({"id": "auth0|priya", "name": "Other", "email": "p2@demo.example", "role": "STAFF"}),
            "duplicate_user",
        ),
    ] {
        let r = app.call("POST", USERS, &d.owner, Some(body)).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, code), "{}", r.body);
    }
    // Paged by role then id: two pages of two, then one.
    let mut seen = Vec::new();
    let mut next = Some(format!("{USERS}?per_page=2"));
    while let Some(url) = next {
        let r = app.call("GET", &url, &d.owner, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["data"].as_array().map_or(0, Vec::len) <= 2);
        seen.extend(ids(&r.body));
        next = r.body["links"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.contains(&"auth0|priya".to_owned()));
    // A change of address frees the old one.
    let path = format!("{USERS}/auth0%7Cpriya");
    let r = app
        .call(
            "PATCH",
            &path,
            &d.owner,
            Some(json!({"email": "priya.patel@demo.example", "role": "STAFF"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["version"], 1);
    assert_eq!(r.body["data"]["role"], "STAFF");
    create(
        &app,
        &d,
        json!({"name": "New Priya", "email": "priya@demo.example", "role": "STAFF"}),
    )
    .await;
    // Deactivated: out of the active list, in the inactive one; reactivated with PATCH.
    let r = app.call("DELETE", &path, &d.owner, None).await;
    assert_eq!(
        (r.status.as_u16(), &r.body["data"]["active"]),
        (200, &json!(false)),
        "{}",
        r.body
    );
    let active = app.call("GET", USERS, &d.owner, None).await;
    assert!(!ids(&active.body).contains(&"auth0|priya".to_owned()));
    let inactive = app.call("GET", &format!("{USERS}?active=false"), &d.owner, None).await;
    assert_eq!(ids(&inactive.body), ["auth0|priya"]);
    let r = app.call("PATCH", &path, &d.owner, Some(json!({"active": true}))).await;
    assert_eq!(r.body["data"]["active"], true, "{}", r.body);
    // Audited, with before and after.
    let r = app
        .call(
            "GET",
            "/api/v1/audit-log?entity=user&entity_id=auth0%7Cpriya",
            &d.owner,
            None,
        )
        .await;
    let actions: Vec<&str> = r.body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["UserUpdated", "UserDeactivated", "UserUpdated", "UserCreated"],
        "{}",
        r.body
    );
    let change = &r.body["data"][2];
    assert_eq!(change["before"]["email"], "Priya@Demo.example");
    assert_eq!(change["after"]["email"], "priya.patel@demo.example");
}

async fn bad_user_bodies_are_refused_naming_each_field(app: TestApp) {
    let d = demo(&app).await;
    let before = app.counts(&d.t.company).await;
    let cases = [
        (json!({"name": "", "email": "a@demo.example", "role": "STAFF"}), "name"),
        (
            json!({"name": "   ", "email": "a@demo.example", "role": "STAFF"}),
            "name",
        ),
        (
            json!({"name": "x".repeat(201), "email": "a@demo.example", "role": "STAFF"}),
            "name",
        ),
        (
            json!({"name": "A", "email": "not an address", "role": "STAFF"}),
            "email",
        ),
        (
            json!({"name": "A", "email": "a@demo.example", "role": "CUSTOMER"}),
            "role",
        ),
        (
            json!({"name": "A", "email": "a@demo.example", "role": "SUPERUSER"}),
            "role",
        ),
        (json!({"name": "A", "email": "a@demo.example"}), "role"),
        (
            json!({"name": "A", "email": "a@demo.example", "role": "STAFF", "active": false}),
            "active",
        ),
        (
            json!({"id": "has space", "name": "A", "email": "a@demo.example", "role": "STAFF"}),
            "id",
        ),
        (json!({"name": 5, "email": "a@demo.example", "role": "STAFF"}), "name"),
        (json!(["A", "a@demo.example", "STAFF"]), ""),
    ];
    for (body, field) in cases {
        let r = app.call("POST", USERS, &d.owner, Some(body.clone())).await;
        assert!(r.status == 400 || r.status == 422, "{body}: {}", r.body);
        if !field.is_empty() {
            let text = r.body["error"].to_string();
            assert!(text.contains(field), "{body} should name {field}: {}", r.body);
        }
    }
    for body in [
        json!({"email": "nope"}),
        json!({"role": "INTEGRATION"}),
        json!({"nick": "x"}),
        json!({"active": "no"}),
    ] {
        let r = app
            .call("PATCH", &format!("{USERS}/user-staff"), &d.owner, Some(body.clone()))
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
    }
    assert_eq!(app.counts(&d.t.company).await, before);
    let r = app.call("GET", &format!("{USERS}/user-staff"), &d.owner, None).await;
    assert_eq!(r.body["data"]["version"], 0, "{}", r.body);
}

async fn an_admin_cannot_make_or_change_an_owner(app: TestApp) {
    let d = demo(&app).await;
    let admin = app.token(d.t.company.as_str(), "ADMIN", None);
    let cases = [
        (
            "POST",
            USERS.to_owned(),
            Some(json!({"name": "Boss", "email": "boss@demo.example", "role": "OWNER"})),
        ),
        ("PATCH", format!("{USERS}/user-staff"), Some(json!({"role": "OWNER"}))),
        ("PATCH", format!("{USERS}/user-owner"), Some(json!({"name": "Demoted"}))),
        ("PATCH", format!("{USERS}/user-owner"), Some(json!({"role": "STAFF"}))),
        ("DELETE", format!("{USERS}/user-owner"), None),
    ];
    for (method, path, body) in cases {
        let r = app.call(method, &path, &admin, body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (403, "permission_error"),
            "{method} {path}: {}",
            r.body
        );
    }
    // An ADMIN manages everyone else.
    let r = app
        .call(
            "PATCH",
            &format!("{USERS}/user-staff"),
            &admin,
            Some(json!({"role": "FINANCE"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The OWNER makes an OWNER.
    let r = app
        .call(
            "PATCH",
            &format!("{USERS}/user-staff"),
            &d.owner,
            Some(json!({"role": "OWNER"})),
        )
        .await;
    assert_eq!(r.body["data"]["role"], "OWNER", "{}", r.body);
}

async fn the_company_keeps_an_active_owner_even_under_a_race(app: TestApp) {
    let d = demo(&app).await;
    let me = format!("{USERS}/user-owner");
    for body in [Some(json!({"role": "ADMIN"})), Some(json!({"active": false})), None] {
        let method = if body.is_some() { "PATCH" } else { "DELETE" };
        let r = app.call(method, &me, &d.owner, body).await;
        assert_eq!((r.status.as_u16(), r.code()), (409, "last_owner"), "{}", r.body);
    }
    // Two owners, each removing the other at the same moment: one wins, one stays.
    create(
        &app,
        &d,
        json!({"id": "owner-2", "name": "Second Owner", "email": "o2@demo.example", "role": "OWNER"}),
    )
    .await;
    let second = app.jwt.mint("owner-2", d.t.company.as_str(), "OWNER", None, 3600);
    let other = format!("{USERS}/owner-2");
    for round in 0..3 {
        let (a, b) = tokio::join!(
            app.call("DELETE", &other, &d.owner, None),
            app.call("PATCH", &me, &second, Some(json!({"role": "STAFF"}))),
        );
        let ok = [a.status.as_u16(), b.status.as_u16()];
        assert!(
            ok.contains(&200) && ok.contains(&409),
            "round {round}: {ok:?} {} {}",
            a.body,
            b.body
        );
        let owners: Vec<Value> = app.call("GET", USERS, &d.owner, None).await.body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|u| u["role"] == "OWNER" && u["active"] == true)
            .cloned()
            .collect();
        assert_eq!(owners.len(), 1, "round {round}: {owners:?}");
        // Put both back as owners for the next round (with the one who is still OWNER).
        let stayed = owners[0]["id"].as_str().unwrap_or_default().to_owned();
        let token = if stayed == "owner-2" { &second } else { &d.owner };
        let restore = if stayed == "owner-2" {
            app.call("PATCH", &me, token, Some(json!({"role": "OWNER"}))).await
        } else {
            app.call(
                "PATCH",
                &format!("{USERS}/owner-2"),
                token,
                Some(json!({"active": true})),
            )
            .await
        };
        assert_eq!(restore.status, 200, "{}", restore.body);
    }
}

async fn deactivated_users_receive_no_email_and_new_ones_do(app: TestApp) {
    let d = demo(&app).await;
    let r = app.call("DELETE", &format!("{USERS}/user-admin"), &d.owner, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    create(
        &app,
        &d,
        json!({"name": "Nia Ops", "email": "nia@demo.example", "role": "ADMIN"}),
    )
    .await;
    let mailer = MemoryMailer::default();
    let _w = oms_api::workers::spawn(app.app().deps.clone(), Arc::new(mailer.clone()));
    let r = app
        .call("POST", ORDERS, &d.buyer, Some(items(&[("WIDGET-001", 1)])))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let until = Instant::now() + Duration::from_secs(10);
    while mailer.sent().iter().all(|e| e.kind != EmailKind::StaffAlert) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let sent = mailer.sent();
    let alert = sent
        .iter()
        .find(|e| e.kind == EmailKind::StaffAlert)
        .expect("a staff alert");
    let mut to = alert.to.clone();
    to.sort();
    assert_eq!(to, ["nia@demo.example", "owner@demo.example"]);
}

/// The race window itself, on the store: owner A's demotion was derived while owner B was
/// still an OWNER, but B was deactivated before A's write. The write names B as the owner
/// who stays, so it must be refused (`OwnerGone`) and A stays OWNER. Without the check
/// (the `ConditionCheck` on DynamoDB, the check under the lock in memory) both owners
/// would be gone.
async fn a_change_relying_on_an_owner_who_left_meanwhile_is_not_written(app: TestApp) {
    use oms_domain::audit::{AuditAction, AuditEntry, EntityKind};
    use oms_domain::auth::{Actor, Role};
    use oms_domain::ids::{EventId, UserId};
    use oms_domain::ports::UserWrite;

    let d = demo(&app).await;
    create(
        &app,
        &d,
        json!({"id": "owner-2", "name": "Second Owner", "email": "o2@demo.example", "role": "OWNER"}),
    )
    .await;
    let store = app.store();
    let c = &d.t.company;
    let (a, b) = (
        UserId::parse("user-owner").expect("id"),
        UserId::parse("owner-2").expect("id"),
    );
    let actor = Actor::from_claims("user-owner", c.as_str(), "OWNER", None).expect("actor");
    let audit = |u: &oms_domain::notify::User| {
        AuditEntry::new(
            EventId::new(uuid::Uuid::new_v4()),
            chrono::Utc::now(),
            &actor,
            AuditAction::UserUpdated,
            EntityKind::User,
            u.id.as_str(),
            None,
            None,
            json!({}),
        )
    };
    // A's demotion, derived now (B is an active OWNER).
    let a_before = store.get_user(c, &a).await.expect("read").expect("a");
    let mut a_after = a_before.clone();
    a_after.role = Role::Staff;
    a_after.version += 1;
    // Meanwhile B is deactivated, relying on A.
    let b_before = store.get_user(c, &b).await.expect("read").expect("b");
    let mut b_after = b_before.clone();
    b_after.active = false;
    b_after.version += 1;
    let w = store.update_user(&b_before, &b_after, &audit(&b_after), Some(&a)).await;
    assert_eq!(w.expect("write"), UserWrite::Written);
    // A's write, relying on B, who is gone: refused, A stays OWNER.
    let w = store.update_user(&a_before, &a_after, &audit(&a_after), Some(&b)).await;
    assert_eq!(w.expect("write"), UserWrite::OwnerGone);
    let a_now = store.get_user(c, &a).await.expect("read").expect("a");
    assert_eq!((a_now.role, a_now.active), (Role::Owner, true));
}
