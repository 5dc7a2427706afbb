//! Property tests: generated request bodies (shapes right and wrong, amounts sane and
//! absurd, unknown fields, wrong types) thrown at order creation and order updates, for
//! every role that can reach them. Whatever comes in, the answer is a 2xx, or a 4xx in the
//! one error shape with a code: never a panic, never a 5xx, and every stored total stays
//! within the business maximum.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};

use oms_tests::{on_both_adapters, Reply, TestApp};

use crate::support::{demo, Demo, ORDERS};

on_both_adapters!(
    generated_order_bodies_never_crash_create,
    generated_update_bodies_never_crash_update,
);

/// Amounts: mostly ordinary, sometimes absurd.
fn amount() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => (0u32..100_000, 0u32..3).prop_map(|(v, scale)| json!(rust_decimal::Decimal::new(i64::from(v), scale).to_string())),
        2 => (0u32..1_000).prop_map(|v| json!(v)),
        2 => odd_number(),
    ]
}

/// Numbers and number-like strings, from ordinary to absurd.
fn odd_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u32..100_000, 0u32..3)
            .prop_map(|(v, scale)| json!(rust_decimal::Decimal::new(i64::from(v), scale).to_string())),
        (0i64..1_000_000).prop_map(|v| json!(v)),
        any::<i64>().prop_map(|v| json!(v)),
        any::<u64>().prop_map(|v| json!(v)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|v| json!(v)),
        Just(json!("79228162514264337593543950335")),
        Just(json!("-79228162514264337593543950335")),
        Just(json!("1000000000000")),
        Just(json!("1000000000000.01")),
        Just(json!("0.001")),
        Just(json!("1e40")),
        Just(json!("-0.00")),
        Just(json!("NaN")),
        Just(json!(1e300)),
        Just(json!(-1)),
        Just(json!(null)),
        "[a-z0-9 .,-]{0,12}".prop_map(|s| json!(s)),
    ]
}

/// Any JSON at all, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        amount(),
        ".{0,40}".prop_map(Value::String),
        Just(json!("x".repeat(5_000))),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const CREATE_FIELDS: &[&str] = &[
    "customer_id",
    "order_number",
    "origin_order_id",
    "status",
    "source",
    "priority",
    "order_date",
    "due_date",
    "currency",
    "billing_address",
    "shipping_info",
    "payment_terms",
    "sales_rep_id",
    "notes",
    "tags",
    "custom_fields",
    "quote_id",
    "opportunity_id",
    "shipping_amount",
    "discount_amount",
    "charges",
];
const UPDATE_FIELDS: &[&str] = &[
    "priority",
    "due_date",
    "shipping_info",
    "notes",
    "tags",
    "custom_fields",
    "order_date",
    "billing_address",
    "payment_terms",
    "sales_rep_id",
    "quote_id",
    "opportunity_id",
    "items",
    "shipping_amount",
    "discount_amount",
    "charges",
];

/// One order-level charge: well-formed most of the time, with absurd amounts and
/// percentages, wrong directions, unknown types and fields some of the time.
fn charge() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        Just("discount"),
        Just("promotion"),
        Just("tax"),
        Just("shipping"),
        Just("surcharge"),
        Just("additional_cost"),
        Just("other"),
        Just("price_adjustment"),
        Just("bribe"),
    ];
    (
        kind,
        prop::option::of(prop_oneof![
            Just(json!("add")),
            Just(json!("subtract")),
            Just(json!("sideways"))
        ]),
        prop_oneof![
            3 => amount().prop_map(|a| ("amount", a)),
            3 => odd_number().prop_map(|p| ("percentage", p)),
            1 => Just(("rate", json!("5"))),
        ],
        prop::option::of(prop_oneof![
            Just(json!("subtotal")),
            Just(json!("running_total")),
            Just(json!(7))
        ]),
        prop::option::of(prop_oneof![
            ".{0,20}".prop_map(Value::String),
            Just(json!("n".repeat(150)))
        ]),
    )
        .prop_map(|(kind, direction, (key, value), basis, name)| {
            let mut c = json!({"type": kind});
            c[key] = value;
            if let Some(d) = direction {
                c["direction"] = d;
            }
            if let Some(b) = basis {
                c["basis"] = b;
            }
            if let Some(n) = name {
                c["name"] = n;
            }
            c
        })
}

/// A value shaped for `field` most of the time, anything some of the time.
fn value_for(field: &'static str, d: &Demo) -> BoxedStrategy<Value> {
    let acme = json!(d.t.acme);
    let typed: BoxedStrategy<Value> = match field {
        "shipping_amount" | "discount_amount" => amount().boxed(),
        "notes" | "quote_id" | "opportunity_id" | "order_number" => prop_oneof![
            4 => "[A-Za-z0-9 -]{1,20}".prop_map(Value::String),
            1 => Just(json!("z".repeat(3_000))),
        ]
        .boxed(),
        "customer_id" => prop_oneof![Just(acme), Just(json!(uuid::Uuid::new_v4()))].boxed(),
        "status" => prop_oneof![Just(json!("pending")), Just(json!("draft")), Just(json!("shipped"))].boxed(),
        "source" => prop_oneof![Just(json!("phone")), Just(json!("api")), Just(json!("nope"))].boxed(),
        "priority" => prop_oneof![Just(json!("urgent")), Just(json!("low"))].boxed(),
        "order_date" | "due_date" => prop_oneof![
            Just(json!("2999-12-31")),
            Just(json!("2020-01-01")),
            Just(json!("2999-12-31")),
            Just(json!("0000-01-01")),
            Just(json!("2026-02-30")),
            (2000i32..2100, 1u32..13, 1u32..29).prop_map(|(y, m, d)| json!(format!("{y:04}-{m:02}-{d:02}"))),
        ]
        .boxed(),
        "tags" => prop::collection::vec(".{0,80}", 0..60).prop_map(|t| json!(t)).boxed(),
        "shipping_info" | "billing_address" => prop::collection::btree_map(
            prop_oneof![
                Just("address1".to_owned()),
                Just("city".to_owned()),
                Just("country".to_owned()),
                Just("method".to_owned()),
                Just("instructions".to_owned()),
                "[a-z]{1,8}",
            ],
            prop_oneof![
                ".{0,30}".prop_map(Value::String),
                Just(json!("y".repeat(3_000))),
                Just(json!("US"))
            ],
            0..5,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
        .boxed(),
        "items" => items(d).boxed(),
        "charges" => prop::collection::vec(charge(), 0..24).prop_map(|c| json!(c)).boxed(),
        _ => prop_oneof![".{0,40}".prop_map(Value::String), Just(json!("z".repeat(3_000)))].boxed(),
    };
    prop_oneof![8 => typed, 1 => any_json()].boxed()
}

fn item(d: &Demo) -> impl Strategy<Value = Value> {
    let ids: Vec<Value> = d.t.products.iter().map(|(_, id)| json!(id)).collect();
    let skus: Vec<Value> = d.t.products.iter().map(|(sku, _)| json!(sku)).collect();
    let product = prop_oneof![
        prop::sample::select(ids).prop_map(|v| ("product_id", v)),
        prop::sample::select(skus).prop_map(|v| ("sku", v)),
    ];
    let product = prop_oneof![10 => product, 1 => any_json().prop_map(|v| ("sku", v))];
    let extra = prop::collection::btree_map(
        prop_oneof![
            Just("unit_price".to_owned()),
            Just("tax_amount".to_owned()),
            Just("discount_amount".to_owned()),
            Just("shipping_amount".to_owned()),
            Just("notes".to_owned()),
            "[a-z_]{1,10}",
        ],
        amount(),
        0..3,
    );
    let extra = prop_oneof![3 => Just(Default::default()), 1 => extra];
    let quantity = prop_oneof![8 => (1u32..5).prop_map(|q| json!(q)), 1 => odd_number()];
    (product, quantity, extra).prop_map(|((k, v), q, extra)| {
        let mut m: Map<String, Value> = extra.into_iter().collect();
        m.insert(k.to_owned(), v);
        m.insert("quantity".into(), q);
        Value::Object(m)
    })
}

fn items(d: &Demo) -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => prop::collection::vec(item(d), 1..4).prop_map(Value::Array),
        1 => prop::collection::vec(item(d), 0..300).prop_map(Value::Array),
        1 => any_json(),
    ]
}

fn body(fields: &'static [&'static str], d: &Demo, with_items: bool) -> impl Strategy<Value = Value> {
    let chosen = prop::sample::subsequence(fields.to_vec(), 0..=3);
    let d_items = items(d);
    let values: Vec<(&'static str, BoxedStrategy<Value>)> = fields.iter().map(|f| (*f, value_for(f, d))).collect();
    let pick = chosen.prop_flat_map(move |names| {
        let strategies: Vec<BoxedStrategy<(String, Value)>> = names
            .into_iter()
            .map(|n| {
                let s = values
                    .iter()
                    .find(|(f, _)| *f == n)
                    .map(|(_, s)| s.clone())
                    .unwrap_or_else(|| any_json().boxed());
                s.prop_map(move |v| (n.to_owned(), v)).boxed()
            })
            .collect();
        strategies
    });
    let unknown = prop::option::weighted(0.1, ("[a-z_]{1,10}", any_json()));
    prop_oneof![
        20 => (pick, d_items, unknown).prop_map(move |(pairs, items, unknown)| {
            let mut m: Map<String, Value> = pairs.into_iter().collect();
            if with_items {
                m.insert("items".into(), items);
            }
            if let Some((k, v)) = unknown {
                m.insert(k, v);
            }
            Value::Object(m)
        }),
        1 => any_json(),
    ]
}

/// A 2xx, or a 4xx in the error shape; totals of anything stored within the maximum.
fn check(r: &Reply, body: &Value) -> Result<(), TestCaseError> {
    let status = r.status.as_u16();
    prop_assert!(status < 500, "{status} for {body}: {}", r.body);
    if status >= 400 {
        prop_assert!(
            !r.code().is_empty() && !r.message().is_empty(),
            "no error shape: {}",
            r.body
        );
    } else {
        let total: rust_decimal::Decimal = r.body["data"]["total_amount"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(rust_decimal::Decimal::MAX);
        prop_assert!(total <= oms_domain::money::MAX_ORDER_TOTAL, "total {total} for {body}");
        // And it adds up: the lines' totals plus or minus every charge.
        let o = &r.body["data"];
        let dec = |v: &Value| {
            v.as_str()
                .and_then(|s| s.parse::<rust_decimal::Decimal>().ok())
                .unwrap_or_default()
        };
        let lines: rust_decimal::Decimal = o["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| dec(&l["line_total"]))
            .sum();
        let charges: rust_decimal::Decimal = o["charges"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                if c["direction"] == "subtract" {
                    -dec(&c["amount"])
                } else {
                    dec(&c["amount"])
                }
            })
            .sum();
        prop_assert_eq!(total, lines + charges, "total of {}", o);
    }
    Ok(())
}

/// Runs `cases` generated bodies through `call`, on the test's own runtime; returns how
/// many were answered 2xx (so a run can show it reached the success path too).
fn run<S, F, Fut>(cases: u32, strategy: S, call: F) -> usize
where
    S: Strategy<Value = Value>,
    F: Fn(Value) -> Fut,
    Fut: std::future::Future<Output = Reply>,
{
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let handle = tokio::runtime::Handle::current();
    let accepted = std::cell::Cell::new(0);
    tokio::task::block_in_place(|| {
        // A fixed seed: CI runs the same cases every time (a failure names its body).
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
            .run(&strategy, |body| {
                let r = handle.block_on(call(body.clone()));
                accepted.set(accepted.get() + usize::from(r.status.is_success()));
                check(&r, &body)
            })
            .unwrap_or_else(|e| panic!("{e}"));
    });
    accepted.get()
}

fn cases(app: &TestApp, memory: u32, dynamo: u32) -> u32 {
    if app.is_dynamo() {
        dynamo
    } else {
        memory
    }
}

async fn generated_order_bodies_never_crash_create(app: TestApp) {
    let d = demo(&app).await;
    let mut accepted = 0;
    for token in [&d.buyer, &d.staff, &d.owner, &d.integration] {
        accepted += run(cases(&app, 150, 25), body(CREATE_FIELDS, &d, true), |b| {
            app.call("POST", ORDERS, token, Some(b))
        });
    }
    eprintln!("generated create bodies: {accepted} placed");
    assert!(
        accepted > 0,
        "the generator never produced a valid order: it tests only refusals"
    );
    for path in [
        "/api/v1/sales/orders/high-value",
        "/api/v1/sales/orders?sort_by=total_amount",
    ] {
        let r = app.call("GET", path, &d.owner, None).await;
        assert_eq!(r.status, 200, "{path} after the run: {}", r.body);
    }
}

async fn generated_update_bodies_never_crash_update(app: TestApp) {
    let d = demo(&app).await;
    let draft = app
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(json!({"customer_id": d.t.acme, "status": "draft", "items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    let pending = app
        .call(
            "POST",
            ORDERS,
            &d.owner,
            Some(json!({"customer_id": d.t.acme, "items": [{"sku": "WIDGET-001", "quantity": 1}]})),
        )
        .await;
    for id in [&draft.body["data"]["id"], &pending.body["data"]["id"]] {
        let path = format!("{ORDERS}/{}", id.as_str().unwrap_or_default());
        let mut accepted = 0;
        for token in [&d.owner, &d.staff, &d.buyer] {
            accepted += run(cases(&app, 100, 15), body(UPDATE_FIELDS, &d, false), |b| {
                app.call("PATCH", &path, token, Some(b))
            });
        }
        eprintln!("generated update bodies: {accepted} applied to {path}");
        assert!(accepted > 0, "the generator never produced a valid update of {path}");
    }
}
