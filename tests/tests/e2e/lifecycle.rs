//! The end of an organization's life through HTTP: closing cascades to the subtree and can
//! be undone within 30 days; after that the purge leaves no item of it in the table and no
//! object in the bucket, and frees its guarded names. Exports by job, and erasing a person.

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::{Engine, TestApp, unique_email};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::access::{Manage, Scope};
use switchboard::clock::Clock;
use switchboard::domain::{OrgId, Role};

both_engines!(purge_after_thirty_days_leaves_nothing_of_the_organization, export_is_a_job_with_progress_and_a_download);
dynoxide_only!(closing_cascades_and_restoring_brings_everything_back, a_person_erases_their_login);

fn token_from(link: &str) -> String {
    link.split("token=").nth(1).unwrap().to_owned()
}

async fn invite(app: &TestApp, token: &str, org: &str, email: &str) -> String {
    let r = app
        .post_auth(
            &format!("/v1/orgs/{org}/invitations"),
            token,
            json!({"invitations": [{"email": email, "roles": ["agent"]}]}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let mails = app.wait_emails_to(email, 1).await;
    token_from(&mails.last().expect("invitation email").link("/accept-invitation?token=").expect("accept link"))
}

async fn accept_new(app: &TestApp, token: &str) -> e2e::Reply {
    app.post(
        "/v1/invitations/accept",
        json!({"token": token, "first_name": "Nina", "last_name": "Brown", "password": "a brand new passphrase"}),
    )
    .await
}

/// Close an organization at the version it is at now.
async fn close(app: &TestApp, token: &str, org: &str) -> e2e::Reply {
    let version = app.ctx.store.get_org(&OrgId::parse(org, "o").unwrap()).await.unwrap().unwrap().version;
    app.post_auth(&format!("/v1/orgs/{org}/close"), token, json!({"version": version})).await
}

/// A fresh access token (after the test's clock moved past the old one's expiry).
async fn relogin(app: &TestApp, u: &e2e::User) -> String {
    let r = app.login(&u.email, &u.password, "web").await;
    r["access_token"].as_str().unwrap_or_else(|| panic!("login: {r:?}")).to_owned()
}

async fn seats_used(app: &TestApp, org: &str) -> u32 {
    app.ctx.store.get_seats(&OrgId::parse(org, "o").unwrap()).await.unwrap().used
}

/// Every string anywhere in a DynamoDB value.
fn strings(v: &AttributeValue, out: &mut Vec<String>) {
    match v {
        AttributeValue::S(s) => out.push(s.clone()),
        AttributeValue::L(l) => l.iter().for_each(|x| strings(x, out)),
        AttributeValue::M(m) => m.values().for_each(|x| strings(x, out)),
        AttributeValue::Ss(ss) => out.extend(ss.iter().cloned()),
        _ => {}
    }
}

/// The kinds of item (the key prefixes before `#` of pk and sk) that carry no entity type.
async fn untyped_kinds(app: &TestApp) -> std::collections::BTreeSet<(String, String)> {
    let kind = |item: &switchboard::store::Item, k: &str| {
        let v = item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        v.split('#').next().unwrap_or_default().to_owned()
    };
    let items = app.all_items().await;
    let untyped = items.iter().filter(|i| switchboard::store::entity_of(i).is_none());
    untyped.map(|i| (kind(i, "pk"), kind(i, "sk"))).collect()
}

/// Items (pk, sk) that mention any of `needles` in a key or value, except items whose TTL
/// has passed by the test's clock (DynamoDB deletes those itself). A scan: tests only.
async fn items_mentioning(app: &TestApp, needles: &[&str]) -> Vec<(String, String)> {
    let now = app.clock_now();
    let mut found = Vec::new();
    for item in app.all_items().await {
        if let Some(AttributeValue::N(ttl)) = item.get("ttl")
            && ttl.parse::<i64>().is_ok_and(|t| t < now)
        {
            continue;
        }
        let mut all = Vec::new();
        item.values().for_each(|v| strings(v, &mut all));
        if all.iter().any(|s| needles.iter().any(|n| s.contains(n))) {
            let key = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            found.push((key("pk"), key("sk")));
        }
    }
    found
}

async fn closing_cascades_and_restoring_brings_everything_back(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("closing", "web").await;
    let l1 = app.sub_account(&owner.access, &owner.org, "Region").await;
    let l2 = app.sub_account(&owner.access, &l1, "Branch").await;
    let agent = app.signup("closeagent", "web").await;
    app.add_member(&agent.id, &l2, &[Role::Agent], Scope::Subtree, Manage::All).await;
    let invitee = unique_email("closeinvitee");
    let inv_token = invite(&app, &owner.access, &l2, &invitee).await;
    let restricted = app.signup("restricted", "web").await;
    app.add_member(&restricted.id, &owner.org, &[Role::Admin], Scope::Subtree, Manage::None).await;
    assert_eq!(app.get(&format!("/v1/orgs/{l2}"), &agent.access).await.status, StatusCode::OK);

    // Only who may change the sub-account closes it; nobody closes from below.
    for who in [&agent, &restricted] {
        let r = close(&app, &who.access, &l1).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    }
    let r = close(&app, &owner.access, &l1).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("closed")), "{:?}", r.body);
    let purge_after: chrono::DateTime<chrono::Utc> = r.body["purge_after"].as_str().unwrap().parse().unwrap();
    assert_eq!((purge_after - app.clock.now()).num_days(), 30);
    let r = close(&app, &owner.access, &l1).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "org_closed"), "closing twice: {:?}", r.body);

    // The cascade: the sub-account's people are out on their next request, below too.
    let r = app.get(&format!("/v1/orgs/{l2}"), &agent.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "org_closed"), "{:?}", r.body);
    let r = accept_new(&app, &inv_token).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_token"), "invitations die: {:?}", r.body);
    // Admins above still see it, and nothing but see it.
    let r = app.get(&format!("/v1/orgs/{l2}"), &owner.access).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(Method::PATCH, &format!("/v1/orgs/{l2}"), Some(&owner.access), Some(json!({"name": "New", "version": 1})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app.post_auth(&format!("/v1/orgs/{l2}/contact-groups"), &owner.access, json!({"name": "x"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The billing system and other services hear of it (in the closing transaction).
    let billing = app.ctx.store.partition_items(&format!("ORG#{l1}"), 100, None).await.unwrap().items;
    assert!(
        billing
            .iter()
            .any(|i| i.get("kind").and_then(|v| v.as_s().ok()).map(String::as_str) == Some("organization.closed"))
    );
    assert_eq!(app.count_items("OUTBOX#").await, 1);

    // Restored as it was: the same people get in again, the invitation works again.
    let r = app.post_auth(&format!("/v1/orgs/{l1}/restore"), &restricted.access, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app.post_auth(&format!("/v1/orgs/{l1}/restore"), &owner.access, json!({})).await;
    assert_eq!(
        (r.status, r.body["status"].as_str(), &r.body["purge_after"]),
        (StatusCode::OK, Some("active"), &Value::Null),
        "{:?}",
        r.body
    );
    assert_eq!(app.get(&format!("/v1/orgs/{l2}"), &agent.access).await.status, StatusCode::OK);
    let r = accept_new(&app, &inv_token).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = app.post_auth(&format!("/v1/orgs/{l1}/restore"), &owner.access, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "not_closed"));

    // A suspended sub-account comes back suspended.
    let r = app.post_auth(&format!("/v1/orgs/{l2}/suspend"), &owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    close(&app, &owner.access, &l2).await;
    let r = app.post_auth(&format!("/v1/orgs/{l2}/restore"), &owner.access, json!({})).await;
    assert_eq!(r.body["status"], "suspended", "{:?}", r.body);

    // The owner closes the top-level organization, and can still restore it; an admin cannot close it.
    let admin = app.signup("topadmin", "web").await;
    app.add_member(&admin.id, &owner.org, &[Role::Admin], Scope::Subtree, Manage::All).await;
    let r = close(&app, &admin.access, &owner.org).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let stale = app.post_auth(&format!("/v1/orgs/{}/close", owner.org), &owner.access, json!({"version": 0})).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::CONFLICT, "conflict"), "closing what one has not seen");
    let r = close(&app, &owner.access, &owner.org).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.get(&format!("/v1/orgs/{}", owner.org), &owner.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "org_closed"));
    let r = app.post_auth(&format!("/v1/orgs/{}/restore", owner.org), &admin.access, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "org_closed"));
    let r = app.post_auth(&format!("/v1/orgs/{}/restore", owner.org), &owner.access, json!({})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("active")), "{:?}", r.body);

    // After 30 days it is too late.
    let r = close(&app, &owner.access, &l1).await;
    assert_eq!(r.status, StatusCode::OK);
    app.clock.advance(chrono::Duration::days(30) + chrono::Duration::seconds(1));
    let access = relogin(&app, &owner).await;
    let r = app.post_auth(&format!("/v1/orgs/{l1}/restore"), &access, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::GONE, "restore_window_passed"), "{:?}", r.body);
}

async fn purge_after_thirty_days_leaves_nothing_of_the_organization(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("purge", "web").await;
    let root = owner.org.clone();
    let sub = app.sub_account(&owner.access, &root, "Night shift").await;
    let other = app.signup("survivor", "web").await;

    // Something of everything: members, an invitation, an inbox, groups with contacts and a
    // share, templates, a login domain, a verified company domain, an upload in the bucket,
    // an OAuth application, an SSO provider, activity and notifications.
    let agent = app.signup("purgeagent", "web").await;
    app.add_member(&agent.id, &sub, &[Role::Agent], Scope::Subtree, Manage::All).await;
    invite(&app, &owner.access, &root, &unique_email("pending")).await;
    let r = app
        .post_auth(
            &format!("/v1/orgs/{root}/inboxes"),
            &owner.access,
            json!({"name": "Support", "phone": "+31 6 1234 5678"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = app.post_auth(&format!("/v1/orgs/{root}/contact-groups"), &owner.access, json!({"name": "Everyone"})).await;
    let group = r.body["group_id"].as_str().unwrap().to_owned();
    let contacts: Vec<Value> =
        (0..30).map(|i| json!({"name": format!("C {i}"), "phone": format!("+6421{:07}", i)})).collect();
    let r = app
        .post_auth(
            &format!("/v1/orgs/{root}/contact-groups/{group}/contacts"),
            &owner.access,
            json!({"contacts": contacts}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/orgs/{root}/contact-groups/{group}/sharing"),
            Some(&owner.access),
            Some(json!({"mode": "all"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .post_auth(
            &format!("/v1/orgs/{sub}/message-templates"),
            &owner.access,
            json!({"name": "Hi", "language": "en", "body": "Hi {{name}}"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let login_domain = format!("purge{}", &ulid::Ulid::new().to_string().to_lowercase()[20..]);
    let org = app.get(&format!("/v1/orgs/{root}"), &owner.access).await.body["organization"].clone();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/orgs/{root}/login-domain"),
            Some(&owner.access),
            Some(json!({"login_domain": login_domain, "version": org["version"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let domain = format!("purge-{}.test", ulid::Ulid::new().to_string().to_lowercase());
    let r = app.post_auth(&format!("/v1/orgs/{root}/domains"), &owner.access, json!({"domain": domain})).await;
    let (record, value) = (
        r.body["verification"]["record_name"].as_str().unwrap().to_owned(),
        r.body["verification"]["value"].as_str().unwrap().to_owned(),
    );
    app.dns.add_txt(&record, &[&value]).await;
    let r = app.post_auth(&format!("/v1/orgs/{root}/domains/{domain}/verify"), &owner.access, json!({})).await;
    assert_eq!(r.body["verified"], true, "{:?}", r.body);
    let e2s = format!("sms-{}.test", ulid::Ulid::new().to_string().to_lowercase());
    let r = app.post_auth(&format!("/v1/orgs/{sub}/email-to-sms-domains"), &owner.access, json!({"domain": e2s})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let (record, value) = (
        r.body["verification"]["record_name"].as_str().unwrap().to_owned(),
        r.body["verification"]["value"].as_str().unwrap().to_owned(),
    );
    app.dns.add_txt(&record, &[&value]).await;
    let r = app.post_auth(&format!("/v1/orgs/{sub}/email-to-sms-domains/{e2s}/verify"), &owner.access, json!({})).await;
    assert_eq!(r.body["verified"], true, "{:?}", r.body);
    let bytes = b"email,first_name\nx@example.com,X\n".to_vec();
    let r =
        app.post_auth(&format!("/v1/orgs/{root}/imports/uploads"), &owner.access, json!({"size": bytes.len()})).await;
    let url = r.body["upload"]["url"].as_str().unwrap().to_owned();
    let put = app.http.put(&url).bearer_auth(&owner.access).body(bytes).send().await.unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let r = app
        .post_auth(
            &format!("/v1/orgs/{root}/applications"),
            &owner.access,
            json!({"name": "CRM", "redirect_uris": ["http://127.0.0.1:9/cb"], "resources": ["profile"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let metadata =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/src/saml/testdata/metadata-okta.xml"))
            .unwrap();
    let sso_name = format!("purge{}", &ulid::Ulid::new().to_string().to_lowercase()[22..]);
    let r = app.post_auth(&format!("/v1/orgs/{root}/sso-providers"), &owner.access, json!({"title": "Okta", "name": sso_name, "entity_id": "http://www.okta.com/exk1example", "metadata_xml": metadata})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert!(!app.ctx.files.keys().await.unwrap().is_empty(), "the upload is in the bucket");
    let before = items_mentioning(&app, &[&root, &sub]).await.len();
    // Every item of all that says what it is (issue 34): a reader of the table never guesses
    // an item's kind from its key.
    let untyped = untyped_kinds(&app).await;
    assert!(untyped.is_empty(), "items without an entity type (pk kind, sk kind): {untyped:?}");

    // Closed, and 30 days later purged by the scheduled run.
    let r = close(&app, &owner.access, &root).await;
    assert_eq!(r.status, StatusCode::OK);
    let run = |at| {
        let ctx = app.ctx.clone();
        async move {
            switchboard::aws::as_function(
                "org-purge",
                switchboard::service::orgs::lifecycle::purge_due(
                    &ctx,
                    at,
                    std::time::Instant::now() + std::time::Duration::from_secs(300),
                ),
            )
            .await
            .unwrap()
        }
    };
    let early = run(app.clock.now() + chrono::Duration::days(29)).await;
    assert_eq!((early.organizations, early.finished), (0, true), "nothing is due before the 30 days");
    // A run out of time stops before it starts anything, and the next one goes on.
    let stopped = switchboard::service::orgs::lifecycle::purge_due(
        &app.ctx,
        app.clock.now() + chrono::Duration::days(31),
        std::time::Instant::now(),
    )
    .await
    .unwrap();
    assert!(!stopped.finished);
    app.clock.advance(chrono::Duration::days(31));
    let report = run(app.clock.now()).await;
    assert_eq!((report.organizations, report.finished), (2, true), "{report:?}");
    assert!(report.deleted.items >= before, "{report:?} deleted, {before} items mentioned the organizations");

    let left = items_mentioning(&app, &[&root, &sub, &login_domain, &domain, &e2s, &group, &sso_name]).await;
    assert!(left.is_empty(), "items of the purged organization remain: {left:?}");
    assert_eq!(app.ctx.files.keys().await.unwrap(), Vec::<String>::new(), "the bucket still holds objects");
    assert_eq!(app.count_items(&format!("CGROUP#{group}")).await, 0);

    // Its guarded names are free again; people who were in it are still people.
    let other = e2e::User { access: relogin(&app, &other).await, ..other };
    let org = app.get(&format!("/v1/orgs/{}", other.org), &other.access).await.body["organization"].clone();
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/orgs/{}/login-domain", other.org),
            Some(&other.access),
            Some(json!({"login_domain": login_domain, "version": org["version"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for (kind, d) in [("domains", &domain), ("email-to-sms-domains", &e2s)] {
        let path = format!("/v1/orgs/{}/{kind}", other.org);
        let r = app.post_auth(&path, &other.access, json!({"domain": d})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let (record, value) = (
            r.body["verification"]["record_name"].as_str().unwrap().to_owned(),
            r.body["verification"]["value"].as_str().unwrap().to_owned(),
        );
        app.dns.add_txt(&record, &[&value]).await;
        let r = app.post_auth(&format!("{path}/{d}/verify"), &other.access, json!({})).await;
        assert_eq!(
            (r.status, &r.body["verified"]),
            (StatusCode::OK, &json!(true)),
            "{kind} {d} is free again: {:?}",
            r.body
        );
    }
    let r = app.post_auth(&format!("/v1/orgs/{}/sso-providers", other.org), &other.access, json!({"title": "Okta", "name": sso_name, "entity_id": "http://www.okta.com/exk1example", "metadata_xml": metadata})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let me = app.get("/v1/me", &relogin(&app, &agent).await).await;
    assert_eq!(me.status, StatusCode::OK);
    let owner_access = relogin(&app, &owner).await;
    assert_eq!(app.get(&format!("/v1/orgs/{root}"), &owner_access).await.status, StatusCode::FORBIDDEN);
    let again = run(app.clock.now()).await;
    assert_eq!((again.organizations, again.finished), (0, true));
}

async fn export_is_a_job_with_progress_and_a_download(engine: Engine) {
    // Parts of 1 KiB: the file goes out as a multipart upload of several parts (on disk, in
    // several writes), as a large export does in 8 MiB parts.
    let config = switchboard::config::Config { export_part_bytes: 1024, ..Default::default() };
    let app = TestApp::spawn_with(engine, config).await;
    let owner = app.signup("export", "web").await;
    let org = owner.org.clone();
    let r = app.post_auth(&format!("/v1/orgs/{org}/contact-groups"), &owner.access, json!({"name": "Everyone"})).await;
    let group = r.body["group_id"].as_str().unwrap().to_owned();
    let contacts: Vec<Value> =
        (0..25).map(|i| json!({"name": format!("C {i}"), "phone": format!("+6421{:07}", i)})).collect();
    app.post_auth(
        &format!("/v1/orgs/{org}/contact-groups/{group}/contacts"),
        &owner.access,
        json!({"contacts": contacts}),
    )
    .await;
    invite(&app, &owner.access, &org, &unique_email("exportee")).await;
    let agent = app.signup("exportagent", "web").await;
    app.add_member(&agent.id, &org, &[Role::Agent], Scope::Subtree, Manage::All).await;
    let r = app.post_auth(&format!("/v1/orgs/{org}/exports"), &agent.access, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "agents do not export the organization");

    let r = app.post_auth(&format!("/v1/orgs/{org}/exports"), &owner.access, json!({})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::ACCEPTED, Some("queued")), "{:?}", r.body);
    let id = r.body["export_id"].as_str().unwrap().to_owned();
    let mut job = Value::Null;
    for _ in 0..200 {
        job = app.get(&format!("/v1/orgs/{org}/exports/{id}"), &owner.access).await.body;
        if job["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(job["status"], "done", "{job:?}");
    assert_eq!(job["sections_done"], job["sections_total"]);
    assert_eq!(job["sections_total"], 5, "organization and its records, members, one group's contacts, activity");
    assert!(job["items"].as_u64().unwrap() > 25);
    let download = job["download_path"].as_str().unwrap().to_owned();
    let resp =
        app.no_redirects().get(format!("{}{download}", app.base)).bearer_auth(&owner.access).send().await.unwrap();
    let body = match engine {
        Engine::Dynoxide => {
            assert_eq!(resp.status(), StatusCode::OK);
            resp.text().await.unwrap()
        }
        Engine::Moto => {
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            let url = resp.headers()["location"].to_str().unwrap().to_owned();
            assert!(url.contains("X-Amz-Signature="), "a presigned URL: {url}");
            let file = reqwest::get(&url).await.unwrap();
            assert!(file.status().is_success(), "{}", file.status());
            file.text().await.unwrap()
        }
    };
    let doc: Value = serde_json::from_str(&body).expect("the export is JSON");
    assert_eq!(doc["organization"][0]["org_id"], org);
    assert_eq!(doc[format!("contacts:{group}")].as_array().unwrap().len(), 25);
    assert_eq!(doc["members"].as_array().unwrap().len(), 2);
    assert_eq!(doc["invite"].as_array().unwrap().len(), 1);
    assert!(!doc["activity"].as_array().unwrap().is_empty());
    for secret in ["token_hash", "\"pk\"", "gsi1pk", "entity_type", "sessions_before", "lease"] {
        assert!(!body.contains(secret), "the export carries {secret}");
    }
    // Each type's listed fields, and nothing of the types that are not the customer's data.
    let keys =
        |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<std::collections::BTreeSet<_>>();
    let has = |v: &serde_json::Value, fields: &[&str]| fields.iter().all(|f| keys(v).contains(*f));
    assert!(has(&doc["invite"][0], &["email", "roles", "invited_by", "expires_at"]), "{:?}", doc["invite"][0]);
    assert!(has(&doc["members"][0], &["user_id", "roles", "member_email"]), "{:?}", doc["members"][0]);
    assert!(has(&doc[format!("contacts:{group}")][0], &["name", "phone"]), "{:?}", doc[format!("contacts:{group}")][0]);
    assert!(has(&doc["cgroup"][0], &["group_id", "name", "contact_count"]), "{:?}", doc["cgroup"][0]);
    assert!(has(&doc["seats"][0], &["purchased", "free"]), "{:?}", doc["seats"][0]);
    for internal in ["export", "cleanup", "cgshares", "upload"] {
        assert!(doc.get(internal).is_none(), "the export lists {internal}");
    }
    let other = app.signup("exportother", "web").await;
    let r = app.get(&format!("/v1/orgs/{}/exports/{id}", other.org), &other.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "an export is found under its own organization only");
    app.clock.advance(chrono::Duration::days(8));
    let r = app.get(&format!("/v1/orgs/{org}/exports/{id}"), &relogin(&app, &owner).await).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "exports expire after 7 days");
}

async fn a_person_erases_their_login(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("erase", "web").await;
    let email = unique_email("erasee");
    let token = invite(&app, &owner.access, &owner.org, &email).await;
    let r = accept_new(&app, &token).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["user_id"].as_str().unwrap().to_owned();
    let login = app.login(&email, "a brand new passphrase", "web").await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    // Organizations the person left before, or never joined, name the address in their
    // activity too (invited, joined, left; invited, revoked).
    let left = app.signup("erase-left", "web").await;
    let invite_to = |admin: &e2e::User| {
        let (app, email, admin) = (&app, email.clone(), admin.clone());
        async move {
            let path = format!("/v1/orgs/{}/invitations", admin.org);
            let body = json!({"invitations": [{"email": email, "roles": ["agent"]}]});
            assert!(app.post_auth(&path, &admin.access, body).await.status.is_success());
        }
    };
    let before = app.emails_to(&email).await.len();
    invite_to(&left).await;
    let mails = app.wait_emails_to(&email, before + 1).await;
    let link = mails.iter().rev().find_map(|m| m.link("/accept-invitation?token=")).expect("second invitation");
    let r = app.post_auth("/v1/invitations/accept", &access, json!({"token": token_from(&link)})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let there = app.post_auth("/v1/auth/switch", &access, json!({"organization_id": left.org})).await;
    let there = there.body["access_token"].as_str().expect("switched").to_owned();
    let r = app.post_auth(&format!("/v1/orgs/{}/leave", left.org), &there, json!({})).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    // Leaving ended the session that worked there.
    let login = app.login(&email, "a brand new passphrase", "web").await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    let never = app.signup("erase-never", "web").await;
    invite_to(&never).await;
    let path = format!("/v1/orgs/{}/invitations/{email}", never.org);
    assert_eq!(app.call(Method::DELETE, &path, Some(&never.access), None).await.status, StatusCode::NO_CONTENT);
    for org in [&left, &never] {
        let feed = app.get(&format!("/v1/orgs/{}/activity", org.org), &org.access).await;
        assert!(feed.body.to_string().contains(email.as_str()), "the feed names the address before: {}", feed.body);
    }
    // A pending password reset token for the login.
    app.post("/v1/auth/forgot-password", json!({"email": email})).await;
    app.run_mail_worker().await;
    let used = seats_used(&app, &owner.org).await;

    let r = app.call(Method::DELETE, "/v1/me", Some(&owner.access), Some(json!({"password": owner.password}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "still_owner"), "{:?}", r.body);
    let r = app.call(Method::DELETE, "/v1/me", Some(&access), Some(json!({"password": "not the passphrase"}))).await;
    // A wrong password is a refused re-confirmation (422), never a dead session (401).
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "wrong_password", Some("password"))
    );
    let r =
        app.call(Method::DELETE, "/v1/me", Some(&access), Some(json!({"password": "a brand new passphrase"}))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);

    // Gone on the next request; nothing keeps the address; activity keeps a pseudonym.
    assert_eq!(app.get("/v1/me", &access).await.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post("/v1/auth/login", json!({"email": email, "password": "a brand new passphrase", "client": "web"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(seats_used(&app, &owner.org).await, used - 1, "the seat is free again");
    let by_address = items_mentioning(&app, &[&email]).await;
    assert!(by_address.is_empty(), "items still name the address: {by_address:?}");
    let by_id = items_mentioning(&app, &[&id]).await;
    assert!(
        by_id.iter().all(|(pk, _)| pk.starts_with("FEED#") || pk.starts_with("OUTBOX#")),
        "only activity and events keep the (now unlinked) id: {by_id:?}"
    );
    let feed = app.get(&format!("/v1/orgs/{}/activity", owner.org), &owner.access).await;
    let targets: Vec<&str> =
        feed.body["activity"].as_array().unwrap().iter().filter_map(|a| a["target"].as_str()).collect();
    assert!(targets.contains(&format!("erased:{id}").as_str()), "{targets:?}");
    for org in [&left, &never] {
        let feed = app.get(&format!("/v1/orgs/{}/activity", org.org), &org.access).await;
        assert!(!feed.body.to_string().contains(email.as_str()), "{}", feed.body);
        assert!(feed.body.to_string().contains(&format!("erased:{id}")), "{}", feed.body);
    }
    // The address can register again.
    let before = app.emails_to(&email).await.len();
    let r = app.post("/v1/auth/register", json!({"email": email, "password": "another fine passphrase", "first_name": "N", "last_name": "B", "organization_name": "Again"})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let mails = app.wait_emails_to(&email, before + 1).await;
    assert!(mails.last().unwrap().link("/verify-email?token=").is_some(), "a new login, not the taken-address notice");
}
