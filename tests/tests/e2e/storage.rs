//! The storage layer against both engines: conditions, transactions, queries, batches.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::{Engine, TestApp};
use switchboard::store::table::{GSI1, INDEXES, PRIMARY, TTL_ATTRIBUTE};
use switchboard::store::{Cursor, QueryDir};

both_engines!(
    conditional_put_refuses_existing_items,
    queries_page_in_both_directions_and_reject_foreign_cursors,
    index_queries_find_inverse_items,
    batch_writes_beyond_25_items,
    created_table_has_the_declared_shape,
);

type Item = HashMap<String, AttributeValue>;

fn item(pk: &str, sk: &str, extra: &[(&str, &str)]) -> Item {
    let mut i = HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.into())),
        ("sk".to_owned(), AttributeValue::S(sk.into())),
    ]);
    for (k, v) in extra {
        i.insert((*k).into(), AttributeValue::S((*v).into()));
    }
    i
}

fn sk_of(i: &Item) -> String {
    i["sk"].as_s().unwrap().clone()
}

async fn conditional_put_refuses_existing_items(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let store = &app.ctx.store;
    assert!(store.put_new(item("T#1", "A", &[("v", "first")])).await.unwrap());
    assert!(!store.put_new(item("T#1", "A", &[("v", "second")])).await.unwrap());
    let page = store.query_prefix(None, "T#1", "A", QueryDir::Forward, 10, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0]["v"].as_s().unwrap(), "first", "the refused put changed nothing");
}

async fn queries_page_in_both_directions_and_reject_foreign_cursors(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let store = &app.ctx.store;
    let puts: Vec<Item> =
        (0..7).map(|i| item("P#1", &format!("X#{i:02}"), &[])).chain([item("P#1", "Y#00", &[])]).collect();
    store.batch_write(puts, Vec::new()).await.unwrap();

    for (dir, expected) in [
        (QueryDir::Forward, (0..7).map(|i| format!("X#{i:02}")).collect::<Vec<_>>()),
        (QueryDir::Backward, (0..7).rev().map(|i| format!("X#{i:02}")).collect()),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<Cursor> = None;
        let mut pages = 0;
        loop {
            let page = store.query_prefix(None, "P#1", "X#", dir, 3, cursor.as_ref()).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 3);
            seen.extend(page.items.iter().map(sk_of));
            match page.next {
                Some(c) => cursor = Some(Cursor::parse(c.as_str(), "cursor").unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{dir:?}");
        assert!(pages >= 3, "{dir:?} paged");
    }

    // A cursor issued for one partition is refused for another.
    let page = store.query_prefix(None, "P#1", "X#", QueryDir::Forward, 2, None).await.unwrap();
    let cursor = page.next.unwrap();
    let err = store.query_prefix(None, "P#2", "X#", QueryDir::Forward, 2, Some(&cursor)).await.unwrap_err();
    assert_eq!(err.code(), "invalid_cursor");
    assert_eq!(Cursor::parse("!!!", "cursor").unwrap_err().code(), "invalid_cursor");
}

async fn index_queries_find_inverse_items(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let store = &app.ctx.store;
    let members: Vec<Item> = (0..4)
        .map(|u| item(&format!("USER#u{u}"), "MEMBER#o1", &[("gsi1pk", "ORG#o1"), ("gsi1sk", &format!("MEMBER#u{u}"))]))
        .chain([item("USER#u9", "MEMBER#o2", &[("gsi1pk", "ORG#o2"), ("gsi1sk", "MEMBER#u9")])])
        .collect();
    store.batch_write(members, Vec::new()).await.unwrap();
    let page = store.query_prefix(Some(&GSI1), "ORG#o1", "MEMBER#", QueryDir::Forward, 10, None).await.unwrap();
    let users: Vec<String> = page.items.iter().map(|i| i["pk"].as_s().unwrap().clone()).collect();
    assert_eq!(users, vec!["USER#u0", "USER#u1", "USER#u2", "USER#u3"]);
}

async fn batch_writes_beyond_25_items(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let store = &app.ctx.store;
    let puts: Vec<Item> = (0..60).map(|i| item("B#1", &format!("I#{i:03}"), &[])).collect();
    store.batch_write(puts, Vec::new()).await.unwrap();
    assert_eq!(app.count_items("B#1").await, 60);
    let deletes: Vec<Item> = (0..40).map(|i| item("B#1", &format!("I#{i:03}"), &[])).collect();
    store.batch_write(Vec::new(), deletes).await.unwrap();
    assert_eq!(app.count_items("B#1").await, 20);
}

async fn created_table_has_the_declared_shape(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (primary, indexes, ttl) = app.ctx.store.describe_shape().await.unwrap();
    assert_eq!(primary, PRIMARY);
    let declared: Vec<(String, String, String)> =
        INDEXES.iter().map(|i| (i.name.to_owned(), i.key.hash.to_owned(), i.key.range.to_owned())).collect();
    assert_eq!(indexes, declared);
    assert_eq!(ttl.as_deref(), Some(TTL_ATTRIBUTE));
}
