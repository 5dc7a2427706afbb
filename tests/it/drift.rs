//! The route table, the SAM template, the OpenAPI document, the function crates and the
//! sample events describe the same API; these tests fail the moment one of them drifts.

use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

use oms_adapters::dynamo::INDEXES;
use oms_api::routes::ROUTES;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    let text = std::fs::read_to_string(repo().join("infra/template.yaml")).expect("infra/template.yaml");
    serde_yaml::from_str(&text).expect("template is YAML")
}

fn pascal(snake: &str) -> String {
    snake.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect()
}

#[test]
fn every_route_is_a_function_in_the_template_and_nothing_else_is() {
    let t = template();
    let resources = t["Resources"].as_mapping().expect("Resources");
    let mut declared = BTreeSet::new();
    for (name, res) in resources {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        for (_, ev) in res["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if ev["Type"].as_str() == Some("HttpApi") {
                let method = ev["Properties"]["Method"].as_str().unwrap_or_default().to_uppercase();
                let path = ev["Properties"]["Path"].as_str().unwrap_or_default().to_owned();
                declared.insert((method, path, name.as_str().unwrap_or_default().to_owned()));
            }
        }
    }
    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                format!("{}Function", pascal(r.function)),
            )
        })
        .collect();
    assert_eq!(declared, expected);
    for r in ROUTES {
        let f = &resources[&Value::from(format!("{}Function", pascal(r.function)))];
        assert_eq!(
            f["Metadata"]["BuildProperties"]["Binary"].as_str(),
            Some(r.function),
            "{} builds its own binary",
            r.function
        );
        assert!(
            repo().join("functions").join(r.function).join("src/main.rs").exists(),
            "functions/{}",
            r.function
        );
    }
}

#[test]
fn the_table_in_the_template_has_the_indexes_the_adapter_queries() {
    let t = template();
    let table = &t["Resources"]["Table"]["Properties"];
    let declared: BTreeSet<(String, String, String)> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("GSIs")
        .iter()
        .map(|g| {
            let key = |kind: &str| {
                g["KeySchema"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .find(|k| k["KeyType"].as_str() == Some(kind))
                    .and_then(|k| k["AttributeName"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            (
                g["IndexName"].as_str().unwrap_or_default().to_owned(),
                key("HASH"),
                key("RANGE"),
            )
        })
        .collect();
    let expected: BTreeSet<_> = INDEXES
        .iter()
        .map(|(n, p, s)| (n.to_string(), p.to_string(), s.to_string()))
        .collect();
    assert_eq!(declared, expected);
}

#[test]
fn the_openapi_document_lists_exactly_the_routes() {
    let doc = serde_json::to_value(oms_api::openapi::document()).expect("json");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1"
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, expected);
}

#[test]
fn every_function_has_a_sample_event_for_one_of_its_routes() {
    for r in ROUTES {
        let path = repo().join("events").join(format!("{}.json", r.function));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {}", path.display()));
        let ev: serde_json::Value = serde_json::from_str(&text).expect("event is JSON");
        let routes: Vec<String> = ROUTES
            .iter()
            .filter(|x| x.function == r.function)
            .map(|x| format!("{} {}", x.method, x.path))
            .collect();
        assert!(
            routes.iter().any(|k| ev["routeKey"] == *k),
            "{}: routeKey {} not in {routes:?}",
            path.display(),
            ev["routeKey"]
        );
        assert_eq!(ev["version"], "2.0");
    }
}

#[test]
fn every_function_crate_is_in_the_template_with_a_sample_event() {
    let t = template();
    let resources = t["Resources"].as_mapping().expect("Resources");
    let mut in_template = BTreeSet::new();
    for (name, res) in resources {
        if res["Type"].as_str() == Some("AWS::Serverless::Function") {
            let binary = res["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert_eq!(
                name.as_str().map(str::to_owned),
                Some(format!("{}Function", pascal(&binary))),
                "logical id follows the crate name"
            );
            in_template.insert(binary);
        }
    }
    let crates: BTreeSet<String> = std::fs::read_dir(repo().join("functions"))
        .expect("functions/")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        in_template, crates,
        "functions/ and infra/template.yaml list the same functions"
    );
    for f in &crates {
        let path = repo().join("events").join(format!("{f}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {}", path.display()));
        serde_json::from_str::<serde_json::Value>(&text).expect("event is JSON");
    }
}

#[test]
fn every_worker_queue_has_a_dead_letter_queue_and_reports_batch_failures() {
    let t = template();
    let resources = t["Resources"].as_mapping().expect("Resources");
    for w in oms_domain::usecases::notifications::Worker::ALL {
        let f = &resources[&Value::from(format!("{}WorkerFunction", pascal(w.as_str())))];
        let ev = &f["Properties"]["Events"]["Queue"]["Properties"];
        assert_eq!(
            ev["FunctionResponseTypes"][0].as_str(),
            Some("ReportBatchItemFailures"),
            "{w:?}"
        );
        let q = &resources[&Value::from(format!("{}WorkerQueue", pascal(w.as_str())))];
        assert!(
            q["Properties"]["RedrivePolicy"]["maxReceiveCount"]
                .as_u64()
                .is_some_and(|n| n >= 3),
            "{w:?} retries then dead-letters"
        );
    }
}

/// A product as the API returns it has exactly the document's `Product` properties (its
/// JSON is hand-written: `available` is added to the stored fields).
#[tokio::test]
async fn a_product_response_has_exactly_the_documented_properties() {
    let app = oms_tests::TestApp::memory().await;
    let d = crate::support::demo(&app).await;
    let r = app
        .call(
            "GET",
            &format!("/api/v1/products/{}", d.id("WIDGET-001")),
            &d.owner,
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let have: BTreeSet<String> = r.body["data"].as_object().expect("product").keys().cloned().collect();
    let doc = serde_json::to_value(oms_api::openapi::document()).expect("json");
    let schema = &doc["components"]["schemas"]["Product"];
    let documented: BTreeSet<String> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect();
    assert_eq!(have, documented);
    let required: BTreeSet<String> = schema["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert!(
        required.contains("available") && required.contains("stock"),
        "{required:?}"
    );
}
