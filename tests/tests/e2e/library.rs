//! What a parent shares with its sub-accounts, through HTTP: contact groups shared with all
//! or chosen sub-accounts, read in place (changes flow down at once, revocation applies on
//! the next request), read-only below, personal data behind the contacts permission; and
//! message templates visible down the tree. Round trips do not grow with depth.

use e2e::{Engine, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::access::{Manage, Scope};
use switchboard::domain::{OrgId, Role};

dynoxide_only!(contact_groups_are_shared_down_the_tree, message_templates_are_inherited_down_the_tree);

/// A chain of sub-accounts beneath `root`, `levels` deep; returns root first.
async fn chain(app: &TestApp, token: &str, root: &str, levels: usize) -> Vec<String> {
    let mut chain = vec![root.to_owned()];
    for level in 1..=levels {
        let id = app.sub_account(token, chain.last().unwrap(), &format!("Level {level}")).await;
        chain.push(id);
    }
    chain
}

fn names(r: &e2e::Reply, key: &str) -> Vec<(String, String)> {
    r.body[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {:?}", r.body))
        .iter()
        .map(|g| (g["name"].as_str().unwrap().to_owned(), g["source"].as_str().unwrap().to_owned()))
        .collect()
}

async fn member(app: &TestApp, tag: &str, org: &str, role: Role) -> e2e::User {
    let u = app.signup(tag, "web").await;
    app.add_member(&u.id, org, &[role], Scope::Subtree, Manage::All).await;
    u
}

async fn contact_groups_are_shared_down_the_tree(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("groups", "web").await;
    let orgs = chain(&app, &owner.access, &owner.org, 7).await;
    let (root, l1, l3, l7) = (&orgs[0], &orgs[1], &orgs[3], &orgs[7]);
    let sibling = app.sub_account(&owner.access, root, "Afterhours").await;
    let groups = |org: &str| format!("/v1/orgs/{org}/contact-groups");

    // The root's naming convention applies to every group kept beneath it.
    let s = app.get(&format!("/v1/orgs/{root}/settings"), &owner.access).await;
    let etag = s.body["etag"].as_str().unwrap().to_owned();
    let naming = json!({"contact_group_naming": ["Business unit", "Territory", "Workgroup"]});
    let r =
        app.send(Method::PATCH, &format!("/v1/orgs/{root}/settings"), &owner.access, Some(&etag), Some(naming)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.send(Method::POST, &groups(root), &owner.access, None, Some(json!({"name": "Everyone"}))).await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "group_name_convention", Some("name"))
    );
    let create = |org: String, name: &'static str| {
        let app = &app;
        let token = owner.access.clone();
        async move {
            let r = app
                .send(
                    Method::POST,
                    &format!("/v1/orgs/{org}/contact-groups"),
                    &token,
                    None,
                    Some(json!({"name": name})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            (r.body["group_id"].as_str().unwrap().to_owned(), r.headers["etag"].to_str().unwrap().to_owned())
        }
    };
    let (all, all_tag) = create(root.clone(), "Care/Auckland/All staff").await;
    let (chosen, _) = create(root.clone(), "Care / Auckland / Night").await;
    let (private, _) = create(root.clone(), "Care / Auckland / Board").await;
    let (own7, _) = create(l7.clone(), "Care / Waikato / Ward 7").await;
    let r = app.get(&format!("{}/{all}", groups(root)), &owner.access).await;
    assert_eq!(r.body["name"], "Care / Auckland / All staff");

    // Contacts: all or nothing, a number once per group.
    let batch: Vec<Value> =
        (0..99).map(|i| json!({"name": format!("Person {i}"), "phone": format!("+6421{:07}", i)})).collect();
    let r = app
        .send(
            Method::POST,
            &format!("{}/{all}/contacts", groups(root)),
            &owner.access,
            None,
            Some(json!({"contacts": batch})),
        )
        .await;
    assert_eq!((r.status, r.body.as_array().map(Vec::len)), (StatusCode::CREATED, Some(99)), "{:?}", r.body);
    let more: Vec<Value> = (99..120).map(|i| json!({"name": format!("Person {i}"), "phone": format!("+6421{:07}", i), "email": format!("p{i}@example.com")})).collect();
    let r = app
        .send(
            Method::POST,
            &format!("{}/{all}/contacts", groups(root)),
            &owner.access,
            None,
            Some(json!({"contacts": more})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let again =
        json!({"contacts": [{"name": "New", "phone": "+64 21 000 0200"}, {"name": "Dup", "phone": "+6421 0000005"}]});
    let r = app.send(Method::POST, &format!("{}/{all}/contacts", groups(root)), &owner.access, None, Some(again)).await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::CONFLICT, "contact_exists", Some("contacts[1].phone")),
        "{:?}",
        r.body
    );
    let bad = json!({"contacts": [{"name": "Ann", "phone": "021 123"}]});
    let r = app.send(Method::POST, &format!("{}/{all}/contacts", groups(root)), &owner.access, None, Some(bad)).await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone", Some("contacts[0].phone"))
    );
    let r = app.get(&format!("{}/{all}", groups(root)), &owner.access).await;
    assert_eq!(r.body["contact_count"], 120, "the refused batches added nothing");

    // Share: one group with all beneath, one with a chosen sub-account (and what is below it).
    let share = |group: String, body: Value| {
        let app = &app;
        let token = owner.access.clone();
        let root = root.clone();
        async move {
            app.send(Method::PUT, &format!("/v1/orgs/{root}/contact-groups/{group}/sharing"), &token, None, Some(body))
                .await
        }
    };
    let r = share(all.clone(), json!({"mode": "all"})).await;
    assert_eq!((r.status, &r.body["shared_with"]), (StatusCode::OK, &json!({"mode": "all"})), "{:?}", r.body);
    let r = share(chosen.clone(), json!({"mode": "chosen", "org_ids": [l3]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = share(private.clone(), json!({"mode": "chosen", "org_ids": [owner.org.clone()]})).await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "not_a_sub_account", Some("org_ids[0]"))
    );
    let r = share(private.clone(), json!({"mode": "everyone"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_share"));

    // An agent of the deepest sub-account only, and one of the sibling.
    let agent7 = member(&app, "agent7", l7, Role::Agent).await;
    let agent_sib = member(&app, "agentsib", &sibling, Role::Agent).await;
    let r = app.get(&groups(l7), &agent7.access).await;
    assert_eq!(
        names(&r, "groups"),
        vec![
            ("Care / Auckland / All staff".to_owned(), "inherited".to_owned()),
            ("Care / Auckland / Night".to_owned(), "inherited".to_owned()),
            ("Care / Waikato / Ward 7".to_owned(), "own".to_owned()),
        ],
        "{:?}",
        r.body
    );
    assert_eq!(r.body["groups"][0]["owner_org_id"].as_str(), Some(root.as_str()));
    assert!(r.body["groups"][0]["shared_with"].is_null(), "a sub-account does not see whom the parent shares with");
    let r = app.get(&groups(&sibling), &agent_sib.access).await;
    assert_eq!(names(&r, "groups"), vec![("Care / Auckland / All staff".to_owned(), "inherited".to_owned())]);
    let r = app.get(&format!("{}/{private}", groups(l7)), &agent7.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "an unshared group is not found below");
    let r = app.get(&format!("{}/{private}/contacts", groups(l7)), &agent7.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Contacts are read in place, a page per query.
    let page1 = app.get(&format!("{}/{all}/contacts?limit=100", groups(l7)), &agent7.access).await;
    assert_eq!(page1.body["contacts"].as_array().unwrap().len(), 100, "{:?}", page1.body);
    let cursor = page1.body["next_cursor"].as_str().unwrap();
    let page2 = app.get(&format!("{}/{all}/contacts?limit=100&cursor={cursor}", groups(l7)), &agent7.access).await;
    assert_eq!(page2.body["contacts"].as_array().unwrap().len(), 20);
    assert_eq!(page2.body["contacts"][19]["email"], "p119@example.com");
    let r = app.get(&format!("{}/{all}/contacts?cursor={cursor}", groups(&sibling)), &agent_sib.access).await;
    assert_eq!(r.status, StatusCode::OK, "the same group read through another sub-account");

    // The parent's changes are seen below at once; the sub-account cannot change them.
    let r = app
        .send(
            Method::PATCH,
            &format!("{}/{all}", groups(root)),
            &owner.access,
            Some(&all_tag),
            Some(json!({"name": "Care / Auckland / Everyone"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .send(
            Method::PATCH,
            &format!("{}/{all}", groups(root)),
            &owner.access,
            Some(&all_tag),
            Some(json!({"name": "Care / Auckland / Stale"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = app
        .send(
            Method::POST,
            &format!("{}/{all}/contacts", groups(root)),
            &owner.access,
            None,
            Some(json!({"contacts": [{"name": "Late", "phone": "+6421 9999999"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let one = format!("{}/{all}/contacts/%2B64210000007", groups(root));
    let change = json!({"name": "Seven", "email": "seven@example.com"});
    let r = app.send(Method::PUT, &one, &owner.access, None, Some(change)).await;
    assert_eq!((r.status, r.body["email"].as_str()), (StatusCode::OK, Some("seven@example.com")), "{:?}", r.body);
    let eight = format!("{}/{all}/contacts/%2B64210000008", groups(root));
    let r = app.send(Method::DELETE, &eight, &owner.access, None, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.send(Method::DELETE, &eight, &owner.access, None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "deleting twice counts once");
    let r = app.get(&format!("{}/{all}", groups(l7)), &agent7.access).await;
    assert_eq!(
        (r.body["name"].as_str(), r.body["contact_count"].as_u64()),
        (Some("Care / Auckland / Everyone"), Some(120))
    );
    let tag = r.headers["etag"].to_str().unwrap().to_owned();
    for (method, path, body) in [
        (Method::PATCH, format!("{}/{all}", groups(l7)), Some(json!({"name": "Care / Waikato / Mine"}))),
        (Method::DELETE, format!("{}/{all}", groups(l7)), None),
        (
            Method::POST,
            format!("{}/{all}/contacts", groups(l7)),
            Some(json!({"contacts": [{"name": "X", "phone": "+6421 8888888"}]})),
        ),
        (Method::DELETE, format!("{}/{all}/contacts/%2B64210000001", groups(l7)), None),
    ] {
        let r = app.send(method.clone(), &path, &agent7.access, Some(&tag), body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, "inherited_read_only"),
            "{method} {path}: {:?}",
            r.body
        );
    }
    // Even an admin of the sub-account only reads it there.
    let admin7 = member(&app, "admin7", l7, Role::Admin).await;
    let r = app
        .send(
            Method::PUT,
            &format!("{}/{all}/sharing", groups(l7)),
            &admin7.access,
            None,
            Some(json!({"mode": "none"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "inherited_read_only"));

    // Personal data: a viewer sees the groups but not the contacts.
    let viewer = member(&app, "viewer7", l7, Role::Viewer).await;
    assert_eq!(app.get(&groups(l7), &viewer.access).await.status, StatusCode::OK);
    let r = app.get(&format!("{}/{all}/contacts", groups(l7)), &viewer.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));

    // Nobody shares further than they may change.
    let limited = app.signup("limited", "web").await;
    app.add_member(
        &limited.id,
        root,
        &[Role::Admin],
        Scope::Subtree,
        Manage::Only(vec![OrgId::parse(&sibling, "o").unwrap()]),
    )
    .await;
    let r = app
        .send(
            Method::PUT,
            &format!("{}/{private}/sharing", groups(root)),
            &limited.access,
            None,
            Some(json!({"mode": "all"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "grant_exceeds_rights"));
    let r = app
        .send(
            Method::PUT,
            &format!("{}/{private}/sharing", groups(root)),
            &limited.access,
            None,
            Some(json!({"mode": "chosen", "org_ids": [l1]})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "grant_exceeds_rights"));
    let r = app
        .send(
            Method::PUT,
            &format!("{}/{private}/sharing", groups(root)),
            &limited.access,
            None,
            Some(json!({"mode": "chosen", "org_ids": [sibling]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Revocation: on the next request the group is gone below.
    let r = share(chosen.clone(), json!({"mode": "chosen", "org_ids": [sibling]})).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.get(&format!("{}/{chosen}/contacts", groups(l7)), &agent7.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get(&groups(l7), &agent7.access).await;
    assert!(!names(&r, "groups").iter().any(|(n, _)| n.ends_with("Night")), "{:?}", r.body);
    let r = share(chosen.clone(), json!({"mode": "none"})).await;
    assert_eq!((r.status, &r.body["shared_with"]), (StatusCode::OK, &Value::Null));
    let r = app.get(&groups(&sibling), &agent_sib.access).await;
    assert!(!names(&r, "groups").iter().any(|(n, _)| n.ends_with("Night")));

    // "All" includes sub-accounts created after the share.
    let later = app.sub_account(&owner.access, l3, "Later").await;
    let r = app.get(&groups(&later), &owner.access).await;
    assert_eq!(r.body["groups"][0]["name"], "Care / Auckland / Everyone", "{:?}", r.body);

    // Paging across inherited and own groups gives each once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let r = app.get(&format!("{}?limit=1{q}", groups(l7)), &agent7.access).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        seen.extend(r.body["groups"].as_array().unwrap().iter().map(|g| g["group_id"].as_str().unwrap().to_owned()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, vec![all.clone(), own7.clone()]);
    let r = app
        .get(&format!("{}?cursor={}", groups(&sibling), cursor_of(&app, &agent7.access, l7).await), &agent_sib.access)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor"),
        "a cursor is only good for its own listing"
    );

    // Round trips of what a sub-account can use, at depth 1 and 7 (eight levels).
    let mut rows = Vec::new();
    for (depth, org) in [(1usize, l1), (7, l7)] {
        let r = app.get(&groups(org), &owner.access).await;
        assert_eq!(r.status, StatusCode::OK);
        let list = r.calls();
        let r = app.get(&format!("{}/{all}/contacts?limit=50", groups(org)), &owner.access).await;
        assert_eq!(r.body["contacts"].as_array().unwrap().len(), 50);
        let page = r.calls();
        rows.push((depth, list, page));
    }
    println!("{engine:?}: depth | usable groups | a page of a shared group's contacts");
    for (d, l, p) in &rows {
        println!("{engine:?}: {d:>5} | {l:>13} | {p:>10}");
    }
    assert_eq!((rows[0].1, rows[0].2), (rows[1].1, rows[1].2), "round trips do not grow with depth");
    // Session, organization, lineage, catalogs, shared groups, own groups.
    assert_eq!(rows[1].1, 6);
    // Session, organization, lineage, catalogs, one query.
    assert_eq!(rows[1].2, 5);

    // Deleting a group ends every share and removes its contacts.
    let r = app.get(&format!("{}/{all}", groups(root)), &owner.access).await;
    let tag = r.headers["etag"].to_str().unwrap().to_owned();
    let r = app.send(Method::DELETE, &format!("{}/{all}", groups(root)), &owner.access, Some(&tag), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(app.count_items(&format!("CGROUP#{all}")).await, 0);
    let r = app.get(&groups(l7), &agent7.access).await;
    assert_eq!(names(&r, "groups"), vec![("Care / Waikato / Ward 7".to_owned(), "own".to_owned())]);
}

async fn cursor_of(app: &TestApp, token: &str, org: &str) -> String {
    let r = app.get(&format!("/v1/orgs/{org}/contact-groups?limit=1"), token).await;
    r.body["next_cursor"].as_str().expect("a next page").to_owned()
}

async fn message_templates_are_inherited_down_the_tree(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("templates", "web").await;
    let orgs = chain(&app, &owner.access, &owner.org, 7).await;
    let (root, l1, l3, l7) = (&orgs[0], &orgs[1], &orgs[3], &orgs[7]);
    let path = |org: &str| format!("/v1/orgs/{org}/message-templates");
    let create = |org: String, name: &'static str| {
        let app = &app;
        let token = owner.access.clone();
        async move {
            let body = json!({"name": name, "language": "en", "body": format!("Hi {{{{first_name}}}}, {name} at {{{{time}}}}.")});
            let r =
                app.send(Method::POST, &format!("/v1/orgs/{org}/message-templates"), &token, None, Some(body)).await;
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            assert_eq!(r.body["placeholders"], json!(["first_name", "time"]));
            r.body["template_id"].as_str().unwrap().to_owned()
        }
    };
    let t_root = create(root.clone(), "Reminder").await;
    create(root.clone(), "Appointment").await;
    let t3 = create(l3.clone(), "Ward closure").await;
    create(l7.clone(), "Local notice").await;

    for (body, code, field) in [
        (json!({"name": "x", "language": "en", "body": "Hi {{first name}}"}), "invalid_placeholder", "body"),
        (json!({"name": "x", "language": "en", "body": "Hi {{name"}), "invalid_placeholder", "body"),
        (json!({"name": "x", "language": "english", "body": "Hi"}), "invalid_language", "language"),
        (json!({"name": " ", "language": "en", "body": "Hi"}), "invalid_template_name", "name"),
    ] {
        let r = app.send(Method::POST, &path(l7), &owner.access, None, Some(body)).await;
        assert_eq!(
            (r.status, r.code(), r.body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, code, Some(field))
        );
    }

    let agent = member(&app, "tplagent", l7, Role::Agent).await;
    let r = app.get(&path(l7), &agent.access).await;
    assert_eq!(
        names(&r, "templates"),
        vec![
            ("Local notice".to_owned(), "own".to_owned()),
            ("Ward closure".to_owned(), "inherited".to_owned()),
            ("Appointment".to_owned(), "inherited".to_owned()),
            ("Reminder".to_owned(), "inherited".to_owned()),
        ],
        "{:?}",
        r.body
    );
    assert_eq!(r.body["templates"][1]["owner_org_id"].as_str(), Some(l3.as_str()));
    let r = app.get(&path(l1), &owner.access).await;
    assert_eq!(names(&r, "templates").len(), 2, "a sibling branch's templates are not inherited: {:?}", r.body);

    // Read-only below; changes at the parent are seen below at once.
    let r = app.get(&format!("{}/{t_root}", path(l7)), &agent.access).await;
    let tag = r.headers["etag"].to_str().unwrap().to_owned();
    let change = json!({"name": "Reminder", "language": "nl-be", "body": "Beste {{first_name}}"});
    let r =
        app.send(Method::PUT, &format!("{}/{t_root}", path(l7)), &owner.access, Some(&tag), Some(change.clone())).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "inherited_read_only"));
    let r = app
        .send(Method::PUT, &format!("{}/{t_root}", path(root)), &owner.access, Some(&tag), Some(change.clone()))
        .await;
    assert_eq!((r.status, r.body["language"].as_str()), (StatusCode::OK, Some("nl-BE")), "{:?}", r.body);
    let r = app.send(Method::PUT, &format!("{}/{t_root}", path(root)), &owner.access, Some(&tag), Some(change)).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = app.get(&format!("{}/{t_root}", path(l7)), &agent.access).await;
    assert_eq!(r.body["body"], "Beste {{first_name}}");
    let r = app.get(&format!("{}/{t3}", path(l1)), &owner.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "a template below is not visible above or beside");
    let r = app
        .send(Method::POST, &path(l7), &agent.access, None, Some(json!({"name": "a", "language": "en", "body": "b"})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "agents use templates; admins keep them");

    let mut rows = Vec::new();
    for (depth, org) in [(1usize, l1), (7, l7)] {
        let r = app.get(&path(org), &owner.access).await;
        assert_eq!(r.status, StatusCode::OK);
        rows.push((depth, r.calls()));
    }
    println!("{engine:?}: depth | usable templates");
    for (d, n) in &rows {
        println!("{engine:?}: {d:>5} | {n:>16}");
    }
    // Session, organization, lineage, catalogs, one page of templates.
    assert_eq!((rows[0].1, rows[1].1), (5, 5));

    let r = app.get(&format!("{}/{t_root}", path(root)), &owner.access).await;
    let tag = r.headers["etag"].to_str().unwrap().to_owned();
    let r = app.send(Method::DELETE, &format!("{}/{t_root}", path(root)), &owner.access, Some(&tag), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get(&path(l7), &agent.access).await;
    assert_eq!(names(&r, "templates").len(), 3);
}
