//! The SAM template and the code agree: the table's shape, and every route each function
//! serves (as registered with the router) is declared for that function, and vice versa.

use std::collections::BTreeSet;

use serde_yaml::Value;
use switchboard::api::{Function, openapi};
use switchboard::store::table::{INDEXES, PRIMARY, TTL_ATTRIBUTE};

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).expect("read template")).expect("parse template")
}

fn key_schema(v: &Value) -> (String, String) {
    let find = |t: &str| {
        v.as_sequence()
            .unwrap()
            .iter()
            .find(|k| k["KeyType"].as_str() == Some(t))
            .and_then(|k| k["AttributeName"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    (find("HASH"), find("RANGE"))
}

#[test]
fn table_in_template_matches_the_code() {
    let t = template();
    let table = &t["Resources"]["Table"]["Properties"];
    assert_eq!(key_schema(&table["KeySchema"]), (PRIMARY.hash.to_owned(), PRIMARY.range.to_owned()));
    let gsis: Vec<(String, String, String)> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|g| {
            let (h, r) = key_schema(&g["KeySchema"]);
            assert_eq!(g["Projection"]["ProjectionType"].as_str(), Some("ALL"));
            (g["IndexName"].as_str().unwrap().to_owned(), h, r)
        })
        .collect();
    let declared: Vec<(String, String, String)> =
        INDEXES.iter().map(|i| (i.name.to_owned(), i.key.hash.to_owned(), i.key.range.to_owned())).collect();
    assert_eq!(gsis, declared);
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(TTL_ATTRIBUTE));
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(table["DeletionProtectionEnabled"].as_bool(), Some(true));
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
}

fn routes_of(f: Function) -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(openapi(&[f])).unwrap();
    let mut out = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn every_route_is_declared_for_its_function_and_nothing_else_is() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let mut functions_in_template = BTreeSet::new();
    for (id, r) in resources {
        if r["Type"].as_str() == Some("AWS::Serverless::Function") {
            functions_in_template.insert(id.as_str().unwrap().to_owned());
        }
    }
    let mut expected: BTreeSet<String> = Function::ALL.iter().map(|f| f.resource_id()).collect();
    // Not behind the HTTP API: the SQS workers for emails, imports and notification events,
    // the scheduled digests and the SNS subscriber for SES feedback.
    for f in [
        "MailWorkerFunction",
        "ImportWorkerFunction",
        "NotificationsWorkerFunction",
        "DigestsFunction",
        "SesFeedbackFunction",
        "ExportWorkerFunction",
        "OrgPurgeFunction",
    ] {
        expected.insert(f.into());
    }
    assert_eq!(functions_in_template, expected);
    assert_eq!(
        t["Resources"]["DigestsFunction"]["Properties"]["Events"]["Schedule"]["Type"].as_str(),
        Some("ScheduleV2")
    );
    assert_eq!(
        t["Resources"]["OrgPurgeFunction"]["Properties"]["Events"]["Schedule"]["Type"].as_str(),
        Some("ScheduleV2")
    );
    let feedback = &t["Resources"]["SesFeedbackFunction"]["Properties"]["Events"]["Feedback"];
    assert_eq!(feedback["Type"].as_str(), Some("SNS"));

    // The build and handlers are checked in `deploy`; here, what each function serves.
    for (worker, handler, queue) in [
        ("MailWorkerFunction", "mail-worker", "EmailQueue"),
        ("ImportWorkerFunction", "import-worker", "ImportQueue"),
        ("NotificationsWorkerFunction", "notifications-worker", "EventsQueue"),
        ("ExportWorkerFunction", "export-worker", "ExportQueue"),
    ] {
        let w = &t["Resources"][worker];
        assert_eq!(w["Properties"]["Handler"].as_str(), Some(handler));
        assert_eq!(w["Properties"]["Events"]["Queue"]["Type"].as_str(), Some("SQS"));
        assert!(
            !t["Resources"][queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].is_null(),
            "{queue} has a dead-letter queue"
        );
    }
    for f in Function::ALL {
        let r = &t["Resources"][f.resource_id().as_str()];
        assert_eq!(r["Properties"]["Handler"].as_str(), Some(f.name()), "{f:?}");
        let declared: BTreeSet<(String, String)> = r["Properties"]["Events"]
            .as_mapping()
            .map(|m| {
                m.values()
                    .filter(|e| e["Type"].as_str() == Some("HttpApi"))
                    .map(|e| {
                        (
                            e["Properties"]["Method"].as_str().unwrap().to_uppercase(),
                            e["Properties"]["Path"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let served = routes_of(f);
        assert!(!served.is_empty(), "{f:?} serves no route");
        assert_eq!(declared, served, "routes of {f:?}");
    }
    let g = &t["Globals"]["Function"];
    assert_eq!(t["Parameters"]["Architecture"]["Default"].as_str(), Some("arm64"));
    assert_eq!(g["Runtime"].as_str(), Some("provided.al2023"));
}

#[test]
fn published_openapi_document_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let current = openapi(&Function::ALL).to_pretty_json().unwrap() + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &current).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == current,
        "docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p e2e --test e2e published_openapi` and commit it"
    );
    let doc: serde_json::Value = serde_json::from_str(&current).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
}

/// utoipa keeps one schema per name: two types of one name in different functions would
/// leave the merged document describing one of them for both (an import preview and an
/// email preview once did). Each function's own document must agree with every other's.
#[test]
fn schema_names_mean_one_thing_across_functions() {
    let mut seen: std::collections::BTreeMap<String, (Function, serde_json::Value)> = Default::default();
    let mut clashes = Vec::new();
    for f in Function::ALL {
        let doc = serde_json::to_value(openapi(&[f])).expect("document");
        for (name, schema) in doc["components"]["schemas"].as_object().cloned().unwrap_or_default() {
            match seen.get(&name) {
                Some((other, s)) if *s != schema => clashes.push(format!("{name}: {} and {}", other.name(), f.name())),
                Some(_) => {}
                None => {
                    seen.insert(name, (f, schema));
                }
            }
        }
    }
    assert!(clashes.is_empty(), "one schema name, two types: {clashes:?}");
    assert!(seen.len() > 100, "{} schemas", seen.len());
}

/// Every function's environment in the template holds what its handler refuses to start
/// without (`Handler::needs`, and what every function needs), and no queue or bucket the
/// handler does not declare: a function given a queue it does not know would still refuse
/// to use it, so the two lists must agree.
#[test]
fn each_function_is_given_the_variables_its_handler_needs() {
    use switchboard::config::{EVERY_FUNCTION_NEEDS, Need};
    let t = template();
    let globals: BTreeSet<String> = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_mapping()
        .expect("global variables")
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    for name in EVERY_FUNCTION_NEEDS {
        assert!(globals.contains(name), "{name} is in the template's Globals");
    }
    for handler in functions::Handler::all() {
        let id = handler.resource_id();
        let vars: BTreeSet<String> = t["Resources"][id.as_str()]["Properties"]["Environment"]["Variables"]
            .as_mapping()
            .map(|m| m.keys().map(|k| k.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let mut given: Vec<Need> = Need::ALL.into_iter().filter(|n| vars.contains(n.variable())).collect();
        let mut needs = handler.needs().to_vec();
        given.sort_by_key(|n| n.variable());
        needs.sort_by_key(|n| n.variable());
        assert_eq!(given, needs, "{id}: the variables the template gives and the handler needs");
    }
}
