//! Organizations, sub-account trees, switching, suspension, renaming and the activity feed.

use e2e::{Engine, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard::access::{Manage, Scope};
use switchboard::domain::Role;

both_engines!(renames_use_optimistic_versions, concurrent_sub_account_creation_keeps_the_tree_whole);
dynoxide_only!(
    many_orgs_one_login_and_nested_sub_accounts,
    switching_is_per_client_and_login_reopens_the_last_one,
    suspended_sub_accounts_cannot_be_entered,
    activity_is_visible_up_the_tree_only,
    removed_membership_takes_effect_on_the_next_request,
);

fn ids(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().or(o["organization"]["id"].as_str()).unwrap().to_owned())
        .collect()
}

async fn many_orgs_one_login_and_nested_sub_accounts(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ann = app.signup("ann", "web").await;
    let r = app.post_auth("/v1/orgs", &ann.access, json!({"name": "Second Co"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!((r.body["plan"].as_str(), r.body["depth"].as_u64()), (Some("trial"), Some(0)));
    let second = r.body["id"].as_str().unwrap().to_owned();

    // Main group → sub group → location, and on down to the depth cap.
    let mut chain = vec![ann.org.clone()];
    for level in 1..=7 {
        let id = app.sub_account(&ann.access, chain.last().unwrap(), &format!("Level {level}")).await;
        chain.push(id);
    }
    let r =
        app.post_auth(&format!("/v1/orgs/{}/sub-accounts", chain[7]), &ann.access, json!({"name": "Too deep"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "depth_exceeded"));
    for bad in [json!({"name": ""}), json!({"name": "x".repeat(121)}), json!({"title": "x"})] {
        let r = app.post_auth(&format!("/v1/orgs/{}/sub-accounts", ann.org), &ann.access, bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    }
    let sibling = app.sub_account(&ann.access, &ann.org, "Sibling").await;

    let mine = app.get("/v1/me/organizations", &ann.access).await;
    assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
    let listed = ids(&mine.body, "organizations");
    assert_eq!(listed.len(), 10, "two top organizations, 7 levels and a sibling: {listed:?}");
    for id in chain.iter().chain([&second, &sibling]) {
        assert!(listed.contains(id), "{id} listed");
    }
    let top =
        &mine.body["organizations"].as_array().unwrap().iter().find(|o| o["organization"]["id"] == ann.org).unwrap();
    assert_eq!(top["roles"], json!(["owner", "admin"]));
    let deep =
        &mine.body["organizations"].as_array().unwrap().iter().find(|o| o["organization"]["id"] == chain[3]).unwrap();
    assert_eq!(
        (deep["roles"].clone(), deep["inherited"].as_bool()),
        (json!(["owner", "admin"]), Some(false)),
        "owner of what they created"
    );

    let children = app.get(&format!("/v1/orgs/{}/children", ann.org), &ann.access).await;
    assert_eq!(ids(&children.body, "organizations"), vec![chain[1].clone(), sibling.clone()]);
    let sub = app.get(&format!("/v1/orgs/{}/subtree?limit=3", chain[4]), &ann.access).await;
    let mut all = ids(&sub.body, "organizations");
    let next = sub.body["next_cursor"].as_str().unwrap().to_owned();
    let more = app.get(&format!("/v1/orgs/{}/subtree?limit=3&cursor={next}", chain[4]), &ann.access).await;
    all.extend(ids(&more.body, "organizations"));
    assert_eq!(all, chain[4..].to_vec(), "tree order, paginated");

    // Paging through my organizations two at a time yields the same set.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/me/organizations?limit=2&cursor={c}"),
            None => "/v1/me/organizations?limit=2".into(),
        };
        let r = app.get(&path, &ann.access).await;
        assert!(r.body["organizations"].as_array().unwrap().len() <= 2);
        paged.extend(ids(&r.body, "organizations"));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let (mut a, mut b) = (paged.clone(), listed.clone());
    a.sort();
    b.sort();
    assert_eq!(a, b, "pages cover every organization once");

    // Someone else's organization, and a made-up one, look the same: forbidden.
    let bob = app.signup("bob", "web").await;
    for target in [bob.org.clone(), "org_01ARZ3NDEKTSV4RRFFQ69G5FAV".into()] {
        let r = app.get(&format!("/v1/orgs/{target}"), &ann.access).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
        let r = app.post_auth(&format!("/v1/orgs/{target}/sub-accounts"), &ann.access, json!({"name": "x"})).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    let r = app.get("/v1/orgs/not-an-id", &ann.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_id"));

    // Naming another owner: only a member of the parent qualifies.
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/sub-accounts", ann.org),
            &ann.access,
            json!({"name": "Bob's", "owner_id": bob.id}),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "not_a_member"));
    app.add_member(&bob.id, &ann.org, &[Role::Agent], Scope::OrgOnly, Manage::All).await;
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/sub-accounts", ann.org),
            &ann.access,
            json!({"name": "Bob's", "owner_id": bob.id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let bobs = r.body["id"].as_str().unwrap();
    let d = app.get(&format!("/v1/orgs/{bobs}"), &bob.access).await;
    assert_eq!(d.body["roles"], json!(["owner", "admin"]));
    assert_eq!(d.body["parent_name"], "ann Inc");
}

async fn switching_is_per_client_and_login_reopens_the_last_one(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ann = app.signup("switch", "web").await;
    let r = app.post_auth("/v1/orgs", &ann.access, json!({"name": "Other"})).await;
    let other = r.body["id"].as_str().unwrap().to_owned();
    let mobile = app.login(&ann.email, &ann.password, "mobile").await;
    let mobile_token = mobile["access_token"].as_str().unwrap();
    assert_eq!(mobile["organization_id"], ann.org);

    let r = app.post_auth("/v1/auth/switch", &ann.access, json!({"organization_id": other})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["organization_id"], other);
    let web_token = r.body["access_token"].as_str().unwrap().to_owned();
    let claims = app.ctx.keys.verify(&web_token, app.clock_now()).unwrap();
    assert_eq!(claims.org.unwrap().as_str(), other);
    assert_eq!(app.get("/v1/me", &web_token).await.body["active_organization"], other);
    assert_eq!(app.get("/v1/me", mobile_token).await.body["active_organization"], ann.org, "mobile unaffected");

    // New logins reopen the organization each client type used last.
    assert_eq!(app.login(&ann.email, &ann.password, "web").await["organization_id"], other);
    assert_eq!(app.login(&ann.email, &ann.password, "mobile").await["organization_id"], ann.org);
    // A refresh keeps the session's organization.
    let fresh = app.login(&ann.email, &ann.password, "web").await;
    let r = app.post("/v1/auth/refresh", json!({"refresh_token": fresh["refresh_token"]})).await;
    assert_eq!(r.body["organization_id"], other);

    // Switching somewhere the user cannot enter changes nothing.
    let bob = app.signup("bob", "web").await;
    let r = app.post_auth("/v1/auth/switch", &web_token, json!({"organization_id": bob.org})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(app.get("/v1/me", &web_token).await.body["active_organization"], other);
    let r = app.post_auth("/v1/auth/switch", &web_token, json!({"organization_id": "nope"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn suspended_sub_accounts_cannot_be_entered(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("parent", "web").await;
    let child = app.sub_account(&owner.access, &owner.org, "Branch").await;
    let manager = app.signup("manager", "web").await;
    app.add_member(&manager.id, &child, &[Role::Admin], Scope::Subtree, Manage::All).await;

    // The branch's own admin cannot suspend it; the parent's admin can.
    let r = app.post_auth(&format!("/v1/orgs/{child}/suspend"), &manager.access, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post_auth(&format!("/v1/orgs/{}/suspend", owner.org), &owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a top organization is not suspended this way");
    let r = app.post_auth(&format!("/v1/orgs/{child}/suspend"), &owner.access, json!({})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("suspended")));

    let r = app.post_auth("/v1/auth/switch", &manager.access, json!({"organization_id": child})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "org_suspended"));
    let r = app.post_auth(&format!("/v1/orgs/{child}/sub-accounts"), &owner.access, json!({"name": "x"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "org_suspended"));
    let tree = app.get(&format!("/v1/orgs/{}/subtree", owner.org), &owner.access).await;
    let listed = tree.body["organizations"].as_array().unwrap().iter().find(|o| o["id"] == child).cloned().unwrap();
    assert_eq!(listed["status"], "suspended", "parents still see it");

    let r = app.post_auth(&format!("/v1/orgs/{child}/reactivate"), &owner.access, json!({})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("active")));
    let r = app.post_auth("/v1/auth/switch", &manager.access, json!({"organization_id": child})).await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn renames_use_optimistic_versions(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ann = app.signup("rename", "web").await;
    let d = app.get(&format!("/v1/orgs/{}", ann.org), &ann.access).await;
    let v = d.body["organization"]["version"].as_u64().unwrap();
    let path = format!("/v1/orgs/{}", ann.org);
    let r = app.call(Method::PATCH, &path, Some(&ann.access), Some(json!({"name": "New Name", "version": v}))).await;
    assert_eq!(
        (r.status, r.body["name"].as_str(), r.body["version"].as_u64()),
        (StatusCode::OK, Some("New Name"), Some(v + 1))
    );
    let stale =
        app.call(Method::PATCH, &path, Some(&ann.access), Some(json!({"name": "Lost Update", "version": v}))).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::CONFLICT, "conflict"));
    let d = app.get(&path, &ann.access).await;
    assert_eq!(d.body["organization"]["name"], "New Name");
}

async fn activity_is_visible_up_the_tree_only(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("feed", "web").await;
    let region = app.sub_account(&owner.access, &owner.org, "Region").await;
    let store = app.sub_account(&owner.access, &region, "Store").await;
    let other_region = app.sub_account(&owner.access, &owner.org, "Other region").await;
    let manager = app.signup("regional", "web").await;
    app.add_member(&manager.id, &region, &[Role::Admin], Scope::Subtree, Manage::All).await;
    let v =
        app.get(&format!("/v1/orgs/{store}"), &manager.access).await.body["organization"]["version"].as_u64().unwrap();
    let r = app
        .call(
            Method::PATCH,
            &format!("/v1/orgs/{store}"),
            Some(&manager.access),
            Some(json!({"name": "Store 1", "version": v})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let feed = app.get(&format!("/v1/orgs/{}/activity", owner.org), &owner.access).await;
    assert_eq!(feed.status, StatusCode::OK);
    let entries = feed.body["activity"].as_array().unwrap();
    let actions: Vec<(&str, &str)> =
        entries.iter().map(|a| (a["action"].as_str().unwrap(), a["org_id"].as_str().unwrap())).collect();
    assert_eq!(
        actions,
        vec![
            ("organization.renamed", store.as_str()),
            ("subaccount.created", other_region.as_str()),
            ("subaccount.created", store.as_str()),
            ("subaccount.created", region.as_str()),
            ("organization.created", owner.org.as_str()),
        ],
        "parent sees its own and all descendants' activity, newest first"
    );
    let renamed = &entries[0];
    assert_eq!(renamed["actor_id"], manager.id);

    let regional = app.get(&format!("/v1/orgs/{region}/activity"), &manager.access).await;
    let orgs: Vec<&str> =
        regional.body["activity"].as_array().unwrap().iter().map(|a| a["org_id"].as_str().unwrap()).collect();
    assert_eq!(orgs, vec![store.as_str(), store.as_str(), region.as_str()], "nothing of the parent or the sibling");
    let own = app.get(&format!("/v1/orgs/{region}/activity?own_only=true"), &manager.access).await;
    assert_eq!(own.body["activity"].as_array().unwrap().len(), 1);
    for forbidden in [&owner.org, &other_region] {
        let r = app.get(&format!("/v1/orgs/{forbidden}/activity"), &manager.access).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    // Paging through the parent's feed.
    let first = app.get(&format!("/v1/orgs/{}/activity?limit=2", owner.org), &owner.access).await;
    let c = first.body["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("/v1/orgs/{}/activity?limit=2&cursor={c}", owner.org), &owner.access).await;
    assert_eq!(second.body["activity"][0]["org_id"], store);
}

async fn removed_membership_takes_effect_on_the_next_request(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("revoke", "web").await;
    let member = app.signup("member", "web").await;
    app.add_member(&member.id, &owner.org, &[Role::Admin], Scope::Subtree, Manage::All).await;
    let path = format!("/v1/orgs/{}/activity", owner.org);
    assert_eq!(app.get(&path, &member.access).await.status, StatusCode::OK);
    app.add_member(&member.id, &owner.org, &[Role::Viewer], Scope::Subtree, Manage::All).await;
    assert_eq!(app.get(&path, &member.access).await.status, StatusCode::FORBIDDEN, "role change applies at once");
    let (u, o) = (
        switchboard::domain::UserId::parse(&member.id, "u").unwrap(),
        switchboard::domain::OrgId::parse(&owner.org, "o").unwrap(),
    );
    let key = std::collections::HashMap::from([
        ("pk".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(switchboard::store::MembershipRecord::pk(&u))),
        ("sk".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(switchboard::store::MembershipRecord::sk(&o))),
    ]);
    app.ctx.store.batch_write(Vec::new(), vec![key]).await.unwrap();
    let r = app.get(&format!("/v1/orgs/{}", owner.org), &member.access).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "membership removal applies at once");
}

async fn concurrent_sub_account_creation_keeps_the_tree_whole(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("concurrent", "web").await;
    let n = 20;
    let path = format!("/v1/orgs/{}/sub-accounts", owner.org);
    let creations = (0..n).map(|i| app.post_auth(&path, &owner.access, json!({"name": format!("Child {i}")})));
    let results = futures::future::join_all(creations).await;
    assert!(
        results.iter().all(|r| r.status == StatusCode::CREATED),
        "{:?}",
        results.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let children = app.get(&format!("/v1/orgs/{}/children?limit=200", owner.org), &owner.access).await;
    let kids = children.body["organizations"].as_array().unwrap();
    assert_eq!(kids.len(), n);
    assert!(kids.iter().all(|k| k["parent_id"] == owner.org && k["depth"] == 1));
    let feed = app.get(&format!("/v1/orgs/{}/activity?limit=200", owner.org), &owner.access).await;
    assert_eq!(feed.body["activity"].as_array().unwrap().len(), n + 1, "one entry per creation, and the registration");
}
