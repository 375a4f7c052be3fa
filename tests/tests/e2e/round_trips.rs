//! DynamoDB round trips per operation do not grow with the depth of the tree. Run with
//! `--nocapture` to see the table (the closing notes quote it).

use e2e::{Engine, TestApp};
use serde_json::json;
use switchboard::access::{Manage, Scope};
use switchboard::domain::Role;

both_engines!(
    round_trips_stay_constant_as_trees_deepen,
    settings_cost_the_same_at_one_and_eight_levels,
    me_and_bulk_invitations_at_their_bound
);

/// `GET /v1/me` reads session and profile in one batch; a bulk invitation reads its
/// addresses' logins and memberships in two batches per 100, then one transaction each.
async fn me_and_bulk_invitations_at_their_bound(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("bound", "web").await;
    let r =
        app.post("/v1/auth/login", json!({"email": owner.email, "password": owner.password, "client": "web"})).await;
    assert_eq!(r.status, reqwest::StatusCode::OK);
    let login = r.calls();
    let r = app
        .post("/v1/auth/login", json!({"email": owner.email, "password": "not the password", "client": "web"}))
        .await;
    assert_eq!(r.status, reqwest::StatusCode::UNAUTHORIZED);
    let wrong = r.calls();
    println!("{engine:?}: login {login} | wrong password {wrong}");
    let r = app.get("/v1/me", &owner.access).await;
    assert_eq!(r.status, reqwest::StatusCode::OK);
    let me = r.calls();
    // From a device the login was not seen on: the device is written with the session, and
    // one query tells whether it is the login's first.
    let r = app
        .http
        .post(format!("{}/v1/auth/login", app.base))
        .header("User-Agent", "a new phone")
        .json(&json!({"email": owner.email, "password": owner.password, "client": "mobile"}))
        .send()
        .await
        .expect("login");
    let r = TestApp::reply(r).await;
    assert_eq!(r.status, reqwest::StatusCode::OK);
    let new_device = r.calls();
    println!("{engine:?}: login from a new device {new_device} (with its new sign-in notification)");
    app.post_auth(&format!("/v1/orgs/{}/seats/purchase", owner.org), &owner.access, json!({"count": 200})).await;
    let one = |n: usize| -> Vec<serde_json::Value> {
        (0..n).map(|i| json!({"email": e2e::unique_email(&format!("b{n}-{i}")), "roles": ["agent"]})).collect()
    };
    let path = format!("/v1/orgs/{}/invitations", owner.org);
    let r = app.post_auth(&path, &owner.access, json!({"invitations": one(1)})).await;
    assert_eq!(r.body["invited"], 1, "{:?}", r.body);
    let invite_one = r.calls();
    // Some of the hundred have logins, so the membership batch read is exercised too.
    let mut hundred = one(97);
    for tag in ["bl1", "bl2", "bl3"] {
        hundred.push(json!({"email": app.signup(tag, "web").await.email, "roles": ["agent"]}));
    }
    let r = app.post_auth(&path, &owner.access, json!({"invitations": hundred})).await;
    assert_eq!(r.body["invited"], 100, "{:?}", r.body);
    let invite_hundred = r.calls();
    println!("{engine:?}: GET /v1/me {me} | invite 1: {invite_one} | invite 100: {invite_hundred}");
    assert_eq!(me, 3, "session and profile in one batch, memberships, their organizations");
    assert_eq!(invite_hundred - invite_one, 99 + 1, "one transaction per further address, one more batch read");
    // The sign-up's sign-in recorded where it landed, so the organization is read directly
    // (no membership query), and nothing is recorded again.
    assert_eq!((login, wrong), (5, 6), "login: see docs/data-model.md");
}

async fn round_trips_stay_constant_as_trees_deepen(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let mut rows = Vec::new();
    for depth in [1usize, 3, 6] {
        let owner = app.signup(&format!("depth{depth}"), "web").await;
        let mut chain = vec![owner.org.clone()];
        for level in 1..=depth {
            let id = app.sub_account(&owner.access, chain.last().unwrap(), &format!("L{level}")).await;
            chain.push(id);
        }
        let leaf = chain.last().unwrap().clone();
        // A member of the deepest sub-account only, as the seeds' location users are.
        let local = app.signup(&format!("local{depth}"), "web").await;
        app.add_member(&local.id, &leaf, &[Role::Agent], Scope::Subtree, Manage::All).await;

        let r = app.get("/v1/me/organizations", &owner.access).await;
        assert_eq!(r.body["organizations"].as_array().unwrap().len(), depth + 1);
        let list_owner = r.calls();
        let r = app.get("/v1/me/organizations", &local.access).await;
        assert_eq!(
            r.body["organizations"].as_array().unwrap().iter().filter(|o| o["organization"]["id"] == leaf).count(),
            1
        );
        let list_leaf_member = r.calls();
        let r = app.post_auth("/v1/auth/switch", &owner.access, json!({"organization_id": leaf})).await;
        assert!(r.status.is_success());
        let switch = r.calls();
        let r = app.get(&format!("/v1/orgs/{}/activity", owner.org), &owner.access).await;
        assert_eq!(r.body["activity"].as_array().unwrap().len(), depth + 1);
        let feed = r.calls();
        let r = app.get(&format!("/v1/orgs/{leaf}"), &owner.access).await;
        assert!(r.status.is_success());
        let get_leaf = r.calls();
        rows.push((depth, list_owner, list_leaf_member, switch, feed, get_leaf));
    }
    println!("{engine:?}: depth | my orgs (top owner) | my orgs (leaf member) | switch | parent's feed | GET leaf org");
    for r in &rows {
        println!("{engine:?}: {:>5} | {:>19} | {:>21} | {:>6} | {:>13} | {:>12}", r.0, r.1, r.2, r.3, r.4, r.5);
    }
    let first = rows[0];
    for r in &rows[1..] {
        assert_eq!(
            (r.1, r.2, r.3, r.4, r.5),
            (first.1, first.2, first.3, first.4, first.5),
            "round trips grew with depth"
        );
    }
}

/// Effective settings ride in the access check's reads: the settings document and the policy
/// cost the same for a top-level organization and for one eight levels deep (with a lock and a
/// value set at the top). Also prints a company search's round trips.
async fn settings_cost_the_same_at_one_and_eight_levels(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("deep", "web").await;
    let mut chain = vec![owner.org.clone()];
    for level in 1..=7 {
        let id = app.sub_account(&owner.access, chain.last().unwrap(), &format!("L{level}")).await;
        chain.push(id);
    }
    let tag = app.get(&format!("/v1/orgs/{}/settings", owner.org), &owner.access).await.body["etag"].clone();
    let r = app
        .http
        .patch(format!("{}/v1/orgs/{}/settings", app.base, owner.org))
        .bearer_auth(&owner.access)
        .header("If-Match", tag.as_str().unwrap())
        .json(&json!({"like_messages": false, "disclaimer": "Recorded.", "join_mode": "request", "locks": ["like_messages"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let mut rows = Vec::new();
    for (levels, org) in [(1, &chain[0]), (8, &chain[7])] {
        let r = app.get(&format!("/v1/orgs/{org}/settings"), &owner.access).await;
        assert_eq!(r.body["effective"]["like_messages"], false);
        let settings = r.calls();
        let r = app.get(&format!("/v1/orgs/{org}/policy"), &owner.access).await;
        assert_eq!(r.body["disclaimer"], "Recorded.");
        let policy = r.calls();
        rows.push((levels, settings, policy));
    }
    println!("{engine:?}: levels | GET settings | GET policy   (round trips, auth included)");
    for r in &rows {
        println!("{engine:?}: {:>6} | {:>12} | {:>10}", r.0, r.1, r.2);
    }
    assert_eq!((rows[0].1, rows[0].2), (rows[1].1, rows[1].2), "settings reads grew with depth");

    // Email settings, the theme, a template found at the top and an invitation email built
    // from it: the same at one level and at eight.
    let body = json!({"subject": "Join {{ org_name }}", "title": "Hi", "body": "{{ inviter }}: [Join]({{ link }})"});
    let r = app
        .http
        .put(format!("{}/v1/orgs/{}/email-templates/invitation?language=en", app.base, owner.org))
        .bearer_auth(&owner.access)
        .header("If-Match", "\"t0\"")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let mut rows = Vec::new();
    for (levels, org) in [(1, &chain[0]), (8, &chain[7])] {
        let r = app.get(&format!("/v1/orgs/{org}/email-settings"), &owner.access).await;
        assert!(r.status.is_success());
        let email_settings = r.calls();
        let r = app.get(&format!("/v1/orgs/{org}/theme"), &owner.access).await;
        assert!(r.status.is_success());
        let theme = r.calls();
        let r = app.get(&format!("/v1/orgs/{org}/email-templates/invitation?language=en"), &owner.access).await;
        assert_eq!(r.body["subject"], "Join {{ org_name }}", "{:?}", r.body);
        let template = r.calls();
        let invitee = e2e::unique_email("deep-invitee");
        let invite = json!({"invitations": [{"email": invitee, "roles": ["viewer"]}]});
        let r = app.post_auth(&format!("/v1/orgs/{org}/invitations"), &owner.access, invite).await;
        assert_eq!(r.body["invited"], 1, "{:?}", r.body);
        let invitation = r.calls();
        rows.push((levels, email_settings, theme, template, invitation));
    }
    println!("{engine:?}: levels | GET email-settings | GET theme | GET template | invite one (email built)");
    for r in &rows {
        println!("{engine:?}: {:>6} | {:>18} | {:>9} | {:>12} | {:>10}", r.0, r.1, r.2, r.3, r.4);
    }
    assert_eq!((rows[0].1, rows[0].2, rows[0].3), (rows[1].1, rows[1].2, rows[1].3), "grew with depth");
    assert_eq!(rows[0].4, rows[1].4, "an invitation's email grew with depth");

    let person = crate::settings::verified_person(&app, &e2e::unique_email("searcher")).await;
    let r = app.get("/v1/directory/organizations?name=deep%20inc", &person.access).await;
    assert_eq!(r.body["organizations"][0]["organization_id"], owner.org.as_str(), "{:?}", r.body);
    println!("{engine:?}: company search by name: {} round trips (auth included)", r.calls());
}
