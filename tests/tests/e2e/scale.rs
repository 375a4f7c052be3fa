//! What must not grow with an organization (issue 33): with 2,050 more members (`SCALE_MEMBERS`), previewing and
//! starting an import of a two-row file costs the same DynamoDB calls (its addresses are
//! checked by key, not against the member list), a search returns a full page of matches (or
//! says it searched everything) in the same reads, and an admin who joined after all of them
//! still hears of team changes (admins have their own index). The large organization runs in
//! process only, its 2,050 memberships written directly in storage; the search's semantics run
//! on both engines.

use e2e::{Engine, TestApp, User};
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::access::{Manage, Scope};
use switchboard::config::Config;
use switchboard::domain::{OrgId, Role, UserId};

/// Members added (`SCALE_MEMBERS` to run it larger, e.g. at 50,000, outside CI).
fn grown_by() -> usize {
    std::env::var("SCALE_MEMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2_050).max(2_050)
}

dynoxide_only!(members_are_found_by_any_word_of_their_name_or_address);

/// The members a search finds, following every cursor: (names, pages, the most calls a page
/// took).
async fn search_all(app: &TestApp, admin: &User, q: &str, limit: usize) -> (Vec<String>, usize, u64) {
    let (mut names, mut pages, mut cursor, mut most) = (Vec::new(), 0, None::<String>, 0);
    loop {
        let after = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let r = app.get(&format!("/v1/orgs/{}/members?q={q}&limit={limit}{after}", admin.org), &admin.access).await;
        most = most.max(r.calls());
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let page = r.body["members"].as_array().unwrap().clone();
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(page.len(), limit, "a page with a cursor after it is full");
                cursor = Some(c.to_owned());
            }
            None => cursor = None,
        }
        names.extend(page.iter().map(|m| m["name"].as_str().unwrap_or_default().to_owned()));
        if cursor.is_none() {
            return (names, pages, most);
        }
    }
}

async fn members_are_found_by_any_word_of_their_name_or_address(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("finder", "web").await;
    let anna = app.signup("finder-anna", "web").await;
    app.add_member(&anna.id, &owner.org, &[Role::Agent], Scope::Subtree, Manage::All).await;
    // A rename (which also copies the name onto the membership) makes the search entries.
    let r = app
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&anna.access),
            Some(json!({"first_name": "Anna-Lena", "last_name": "van Dijk"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Her address's local part is "finder-anna-<unique>": its words are terms too.
    let unique = anna.email.split('@').next().unwrap().rsplit('-').next().unwrap().to_owned();
    for q in ["anna", "ANNA-L", "dijk", "van", "anna-lena%20van", &unique, &anna.email.replace('@', "%40")] {
        let (names, ..) = search_all(&app, &owner, q, 10).await;
        assert_eq!(names, vec!["Anna-Lena van Dijk"], "{q}");
    }
    // Matching on several words (first name and address) is still one result.
    let (names, ..) = search_all(&app, &owner, "finder", 10).await;
    assert_eq!(names.len(), 2, "the owner and Anna, once each: {names:?}");
    for q in ["mith", "ijk", "lena"] {
        assert_eq!(search_all(&app, &owner, q, 10).await.0, Vec::<String>::new(), "{q}: words match from their start");
    }
    // Renamed again: found by the new name only.
    let r = app.call(Method::PATCH, "/v1/me", Some(&anna.access), Some(json!({"last_name": "Jansen"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(search_all(&app, &owner, "dijk", 10).await.0, Vec::<String>::new());
    assert_eq!(search_all(&app, &owner, "jansen", 10).await.0, vec!["Anna-Lena Jansen"]);
    // Removed: not found.
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/orgs/{}/members/{}", owner.org, anna.id),
            Some(&owner.access),
            Some(json!({"reassign_to": owner.id, "seat": "keep"})),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_eq!(search_all(&app, &owner, "jansen", 10).await.0, Vec::<String>::new());
}

/// DynamoDB calls of the request `r`, as it reports them.
async fn calls_of<F: std::future::Future<Output = e2e::Reply>>(r: F) -> (u64, Value) {
    let reply = r.await;
    assert!(reply.status.is_success(), "{:?}", reply.body);
    (reply.calls(), reply.body)
}

/// Preview and start an import of a member's address and a new one: (calls, calls, seats).
async fn import_two(app: &TestApp, admin: &User, member: &str) -> (u64, u64, Value) {
    let csv = format!("email,first_name\n{member},Known\n{},New\n", e2e::unique_email("scale-new"));
    let upload = crate::imports::upload(app, admin, csv.into_bytes()).await;
    let preview = format!("/v1/orgs/{}/imports/uploads/{upload}/preview", admin.org);
    let (previewed, body) = calls_of(app.post_auth(&preview, &admin.access, json!({}))).await;
    let start = json!({"upload_id": upload, "mapping": {"email": "A", "first_name": "B"}, "start_row": 2});
    let path = format!("/v1/orgs/{}/imports", admin.org);
    let (started, job) = calls_of(app.post_auth(&path, &admin.access, start)).await;
    assert_eq!((&body["seats_needed"], &job["seats_reserved"]), (&json!(1), &json!(1)), "{body:?} {job:?}");
    (previewed, started, body["seats_needed"].clone())
}

/// The calls of the everyday reads an admin makes: (path, calls) each.
async fn everyday(app: &TestApp, admin: &User, member: &User) -> Vec<(String, u64)> {
    let org = &admin.org;
    let mut out = Vec::new();
    for path in [
        format!("/v1/orgs/{org}/members?limit=50"),
        format!("/v1/orgs/{org}/members/{}", member.id),
        format!("/v1/orgs/{org}/seats"),
        format!("/v1/orgs/{org}/settings"),
        "/v1/me".to_owned(),
        format!("/v1/orgs/{org}/activity"),
        format!("/v1/orgs/{org}/invitations"),
    ] {
        let (calls, _) = calls_of(app.get(&path, &admin.access)).await;
        out.push((path.replace(org.as_str(), "{org}").replace(member.id.as_str(), "{user}"), calls));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costs_do_not_grow_with_the_organization() {
    let config = Config { included_seats: 10, ..Config::default() };
    let app = TestApp::spawn_holding_imports(Engine::Dynoxide, config).await;
    let (owner, agent) = crate::notifications::team(&app, "scale").await;
    let small = import_two(&app, &owner, &agent.email).await;
    let reads_small = everyday(&app, &owner, &agent).await;

    let org = OrgId::parse(&owner.org, "org").unwrap();
    let record = app.ctx.store.get_org(&org).await.unwrap().unwrap();
    // Everyone is "Person <n> Smith", and five of them "Zebedee": a search matching few
    // must not page through the rest, one matching all must page through them once each.
    let put = |i: usize| {
        let user = UserId::new(ulid::Ulid::new());
        let first = if i < 2_050 && i % 410 == 7 { "Zebedee" } else { "Person" };
        let email = switchboard::domain::Email::parse(&format!("p{i}.smith@scale.test"), "email").unwrap();
        let m =
            switchboard::store::MembershipRecord::new(&user, &record, vec![Role::Agent], Scope::Subtree, app.ctx.now())
                .described(&email, &format!("{first} {i} Smith"));
        let app = &app;
        async move { app.ctx.store.put_membership(&m).await.unwrap_or_else(|e| panic!("member {i}: {e}")) }
    };
    let grown = grown_by();
    futures::stream::iter(0..grown).map(put).buffer_unordered(32).collect::<Vec<()>>().await;
    let large = import_two(&app, &owner, &agent.email).await;
    println!("import of two rows, preview / start calls: {small:?} at 2 members, {large:?} at {}", grown + 2);
    assert_eq!(small, large, "the same calls at any number of members");
    let reads_large = everyday(&app, &owner, &agent).await;
    println!("everyday reads at 2 members: {reads_small:?}; at {}: {reads_large:?}", grown + 2);
    assert_eq!(reads_small, reads_large, "the same calls at any number of members");

    // A rare name: every match on one page that says it is the last, in a few reads.
    let path = format!("/v1/orgs/{}/members?q=zeb&limit=50", owner.org);
    let (calls, page) = calls_of(app.get(&path, &owner.access)).await;
    assert_eq!((page["members"].as_array().unwrap().len(), &page["next_cursor"]), (5, &Value::Null), "{page}");
    assert!(calls <= 6, "authentication, the entries, the memberships: {calls} calls");
    println!("a search with 5 matches among {} members: {calls} calls", grown + 2);
    // A name nearly everyone has, matched on two terms each ("person" and "person <n> smith"):
    // full pages, each member once.
    let (names, pages, most) = search_all(&app, &owner, "person", 100).await;
    println!("\"person\" ({} matches, two terms each): {pages} pages, at most {most} calls a page", names.len());
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    let persons = grown - 5;
    assert_eq!((names.len(), unique.len(), pages), (persons, persons, persons.div_ceil(100)));

    // An admin who joined after all of them, with an id after every agent's, is told.
    let late = app.signup("scale-late-admin", "web").await;
    app.add_member(&late.id, &owner.org, &[Role::Admin], Scope::Subtree, Manage::All).await;
    let path = format!("/v1/orgs/{}/members/{}", owner.org, agent.id);
    let r = app.call(Method::PATCH, &path, Some(&owner.access), Some(json!({"roles": ["viewer"]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    app.run_event_worker().await;
    let switched = app.post_auth("/v1/auth/switch", &late.access, json!({"organization_id": owner.org})).await;
    let token = switched.body["access_token"].as_str().expect("switched").to_owned();
    let feed = app.get(&format!("/v1/orgs/{}/notifications", owner.org), &token).await.body;
    assert_eq!(feed["items"][0]["type"], "role_changed", "{feed:?}");
}
