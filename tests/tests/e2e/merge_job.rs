//! Merges too large for one transaction run as a job: both logins are locked while it runs,
//! a runner that dies midway leaves no visible half-state, and the person's next login
//! completes it.

use e2e::{Engine, TestApp, User};
use reqwest::StatusCode;
use serde_json::json;
use switchboard::auth::secret;
use switchboard::domain::{Email, OrgId, UserId};
use switchboard::service::identity::merge;

/// The old login owns its first organization and `extra` more: each moves four items
/// (membership out and in, ownership, activity), so 25 or more exceed one transaction.
async fn old_with_orgs(app: &TestApp, extra: usize) -> (User, Vec<String>) {
    let old = app.signup("bigold", "web").await;
    let mut orgs = vec![old.org.clone()];
    for i in 0..extra {
        let r = app.post_auth("/v1/orgs", &old.access, json!({"name": format!("Old {i}")})).await;
        orgs.push(r.body["id"].as_str().unwrap().to_owned());
    }
    (old, orgs)
}

async fn merge_token(app: &TestApp, old: &User, main: &User) -> String {
    let r =
        app.post_auth("/v1/me/email", &old.access, json!({"new_email": main.email, "password": old.password})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let link = app.wait_emails_to(&main.email, 2).await.iter().find_map(|m| m.link("/confirm-email?token=")).unwrap();
    link.split("token=").nth(1).unwrap().to_owned()
}

async fn owners(app: &TestApp, orgs: &[String]) -> Vec<String> {
    let ids: Vec<OrgId> = orgs.iter().map(|o| OrgId::parse(o, "o").unwrap()).collect();
    app.ctx.store.get_orgs(&ids).await.unwrap().into_iter().map(|o| o.owner_id.to_string()).collect()
}

both_engines!(large_merge_resumes_after_its_runner_dies);
dynoxide_only!(large_merge_through_http);

async fn large_merge_through_http(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let main = app.signup("bigmain", "web").await;
    let (old, orgs) = old_with_orgs(&app, 29).await;
    let token = merge_token(&app, &old, &main).await;
    let r = app.post_auth("/v1/me/email/confirm", &old.access, json!({"token": token})).await;
    println!("{engine:?}: merge of 30 memberships as a job: {} DynamoDB round trips", r.calls());
    assert_eq!((r.status, r.body["organizations"].as_u64()), (StatusCode::OK, Some(30)), "{:?}", r.body);
    let mine = app.get("/v1/me/organizations", &main.access).await;
    assert_eq!(mine.body["organizations"].as_array().unwrap().len(), 31);
    assert!(owners(&app, &orgs).await.iter().all(|o| *o == main.id));
    assert_eq!(app.get("/v1/me", &old.access).await.code(), "session_ended");
    let r = app.post("/v1/auth/login", json!({"email": old.email, "password": old.password, "client": "web"})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn large_merge_resumes_after_its_runner_dies(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let main = app.signup("bigmain", "web").await;
    let (old, orgs) = old_with_orgs(&app, 34).await;
    let old_mobile = app.login(&old.email, &old.password, "mobile").await["access_token"].as_str().unwrap().to_owned();
    let token = merge_token(&app, &old, &main).await;

    // The first runner starts the job, moves one transaction's worth, and dies.
    let ctx = &app.ctx;
    let (main_id, old_id) = (UserId::parse(&main.id, "u").unwrap(), UserId::parse(&old.id, "u").unwrap());
    let old_user = ctx.store.get_user(&old_id).await.unwrap().unwrap();
    let main_user = ctx.store.get_user(&main_id).await.unwrap().unwrap();
    let old_cred =
        ctx.store.login_lookup(Email::parse(&old.email, "e").unwrap().as_str(), &[]).await.unwrap().credential.unwrap();
    let hash = secret::hash(&token);
    let record = ctx.store.get_token(&hash).await.unwrap().unwrap();
    let proof = merge::Proof { old_credential: &old_cred, token_hash: &hash, token: &record };
    let plan = merge::plan(ctx, &old_user, &main_user, Some(&proof)).await.unwrap();
    assert!(!ctx.store.commit_merge(&plan).await.unwrap(), "does not fit one transaction");
    merge::begin_job(ctx, &plan).await.unwrap();
    assert!(!merge::run_job(ctx, &main_id, &old_id, 1).await.unwrap(), "one step of two");
    let moved = owners(&app, &orgs).await.iter().filter(|o| **o == main.id).count();
    assert!(moved > 0 && moved < orgs.len(), "half moved underneath: {moved}");

    // Nothing of the half-moved state shows: the main login waits, the old one has ended.
    for path in ["/v1/me/organizations".to_owned(), "/v1/me".to_owned(), format!("/v1/orgs/{}", orgs[0])] {
        let r = app.get(&path, &main.access).await;
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "merge_in_progress"), "{path}");
    }
    assert_eq!(app.get("/v1/me", &old_mobile).await.code(), "session_ended");
    let r = app.post("/v1/auth/login", json!({"email": old.email, "password": old.password, "client": "web"})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Logging in while the runner may still be at work waits; once its lease is over, the
    // person's next login completes the merge.
    let login = json!({"login": main.email, "password": main.password, "client": "web"});
    assert_eq!(app.post("/v1/auth/login", login.clone()).await.code(), "merge_in_progress");
    app.clock.advance(chrono::Duration::seconds(61));
    let r = app.post("/v1/auth/login", login).await;
    println!("{engine:?}: login resuming a merge job (35 memberships): {} DynamoDB round trips", r.calls());
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mine = app.get("/v1/me/organizations", &main.access).await;
    assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
    assert_eq!(mine.body["organizations"].as_array().unwrap().len(), 36);
    assert!(owners(&app, &orgs).await.iter().all(|o| *o == main.id));
    assert!(ctx.store.get_merge_lock(&main_id).await.unwrap().is_none());
    assert!(ctx.store.get_merge_lock(&old_id).await.unwrap().is_none());
    assert!(ctx.store.get_user(&main_id).await.unwrap().unwrap().merging_from.is_none());
    // Each organization records the merge once, though two runners worked on it.
    for org in [&orgs[0], &orgs[34]] {
        let feed = app.get(&format!("/v1/orgs/{org}/activity"), &main.access).await;
        let merged = feed.body["activity"].as_array().unwrap().iter().filter(|a| a["action"] == "login.merged").count();
        assert_eq!(merged, 1, "{org}");
    }
    let members = app.get(&format!("/v1/orgs/{}/members", orgs[0]), &main.access).await;
    assert_eq!(members.body["members"].as_array().unwrap().len(), 1, "only the main login");
}
