//! Inboxes: members, the four assignment lists, invitations into inboxes, and visibility.

use e2e::{Engine, TestApp, unique_email};
use reqwest::{Method, StatusCode};
use serde_json::json;

dynoxide_only!(inboxes_members_and_assignment_lists, invitations_into_inboxes_and_reassignment);

async fn inboxes_members_and_assignment_lists(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("phones", "web").await;
    let base = format!("/v1/orgs/{}/inboxes", owner.org);
    let r = app.post_auth(&base, &owner.access, json!({"name": "Support", "phone": "0612345678"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"));
    let r = app.post_auth(&base, &owner.access, json!({"name": "Support", "phone": "+31 6 1234 5678"})).await;
    assert_eq!((r.status, r.body["phone"].as_str()), (StatusCode::CREATED, Some("+31612345678")));
    let inbox = r.body["inbox_id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&base, &owner.access).await.body["inboxes"].as_array().unwrap().len(), 1);

    // Admins see an inbox's activity only once they are its members.
    let feed = format!("{base}/{inbox}/activity");
    assert_eq!(app.get(&feed, &owner.access).await.status, StatusCode::FORBIDDEN);
    let r = app.post_auth(&format!("{base}/{inbox}/members"), &owner.access, json!({"user_id": owner.id})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        (r.body["conversation_assignment"].as_bool(), r.body["ring_group"].as_bool(), r.body["ivr"].as_bool()),
        (Some(true), Some(true), Some(false))
    );
    let f = app.get(&feed, &owner.access).await;
    assert_eq!(f.status, StatusCode::OK);
    assert_eq!(f.body["activity"][0]["action"], "inbox.member_added");

    // Removal is refused, naming the lists, while they are on any of them.
    let member = format!("{base}/{inbox}/members/{}", owner.id);
    let r = app.call(Method::DELETE, &member, Some(&owner.access), None).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "still_assigned"));
    assert_eq!(r.body["assigned_in"], json!(["conversation_assignment", "ring_group"]));
    let assignments = format!("{member}/assignments");
    let set = |a: serde_json::Value| app.call(Method::PUT, &assignments, Some(&owner.access), Some(a));
    set(json!({"conversation_assignment": false, "ring_group": false, "ivr": true, "call_distribution": false})).await;
    let r = app.call(Method::DELETE, &member, Some(&owner.access), None).await;
    assert_eq!(r.body["assigned_in"], json!(["ivr"]));
    let r =
        set(json!({"conversation_assignment": false, "ring_group": false, "ivr": false, "call_distribution": false}))
            .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.call(Method::DELETE, &member, Some(&owner.access), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // Still a member of the organization.
    let members = app.get(&format!("/v1/orgs/{}/members", owner.org), &owner.access).await;
    assert!(members.body["members"].as_array().unwrap().iter().any(|m| m["user_id"] == owner.id));
    assert_eq!(app.get(&feed, &owner.access).await.status, StatusCode::FORBIDDEN, "no longer an inbox member");

    // Someone who is not a member of the organization cannot be added; nor to another tenant's inbox.
    let stranger = app.signup("stranger", "web").await;
    let r = app.post_auth(&format!("{base}/{inbox}/members"), &owner.access, json!({"user_id": stranger.id})).await;
    assert_eq!(r.code(), "not_a_member");
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/inboxes/{inbox}/members", stranger.org),
            &stranger.access,
            json!({"user_id": stranger.id}),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"), "inbox ids are per organization");
}

async fn invitations_into_inboxes_and_reassignment(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("lines", "web").await;
    let base = format!("/v1/orgs/{}/inboxes", owner.org);
    let inbox =
        app.post_auth(&base, &owner.access, json!({"name": "Sales", "phone": "+14155550100"})).await.body["inbox_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let other = app.signup("other", "web").await;
    let foreign =
        app.post_auth(&format!("/v1/orgs/{}/inboxes", other.org), &other.access, json!({"name": "Theirs"})).await.body
            ["inbox_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let (joiner, newcomer) = (unique_email("joiner"), unique_email("newcomer"));
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/invitations", owner.org),
            &owner.access,
            json!({"invitations": [
                {"email": joiner, "roles": ["agent"], "inbox": {"existing": inbox}},
                {"email": newcomer, "roles": ["agent"], "inbox": {"new": {"name": "Newcomer's line"}}},
                {"email": unique_email("x"), "roles": ["agent"], "inbox": {"existing": foreign}},
            ]}),
        )
        .await;
    let codes: Vec<_> = r.body["results"].as_array().unwrap().iter().map(|x| x["code"].as_str()).collect();
    assert_eq!(codes, vec![None, None, Some("unknown_inbox")]);

    let accept = |to: String| {
        let app = &app;
        async move {
            let mails = app.wait_emails_to(&to, 1).await;
            let token = mails[0].link("/accept-invitation?token=").unwrap().split("token=").nth(1).unwrap().to_owned();
            app.post(
                "/v1/invitations/accept",
                json!({"token": token, "first_name": "In", "last_name": "Box", "password": "inbox passphrase"}),
            )
            .await
        }
    };
    let j = accept(joiner.clone()).await;
    assert_eq!(
        (j.status, j.body["inbox_id"].as_str(), j.body["inbox_needs_phone"].as_bool()),
        (StatusCode::CREATED, Some(inbox.as_str()), Some(false))
    );
    let n = accept(newcomer.clone()).await;
    assert_eq!(n.body["inbox_needs_phone"], true);
    let new_inbox = n.body["inbox_id"].as_str().unwrap().to_owned();
    let newbie = app.login(&newcomer, "inbox passphrase", "web").await;
    let token = newbie["access_token"].as_str().unwrap();
    // The invitee picks the number of their new inbox.
    let r = app
        .call(Method::PUT, &format!("{base}/{new_inbox}/phone"), Some(token), Some(json!({"phone": "+442071838750"})))
        .await;
    assert_eq!((r.status, r.body["phone"].as_str()), (StatusCode::OK, Some("+442071838750")));
    let joiner_token = app.login(&joiner, "inbox passphrase", "web").await["access_token"].as_str().unwrap().to_owned();
    let r = app
        .call(
            Method::PUT,
            &format!("{base}/{new_inbox}/phone"),
            Some(&joiner_token),
            Some(json!({"phone": "+442071838751"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "an agent cannot renumber someone else's inbox");
    assert_eq!(
        app.get(&format!("{base}/{inbox}/activity"), &joiner_token).await.status,
        StatusCode::OK,
        "the joiner is an inbox member"
    );

    // Deleting the newcomer moves their inbox to the heir in the same step.
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/orgs/{}/members/{}", owner.org, n.body["user_id"].as_str().unwrap()),
            Some(&owner.access),
            Some(json!({"reassign_to": owner.id, "seat": "keep"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let list = app.get(&base, &owner.access).await;
    let moved = list.body["inboxes"].as_array().unwrap().iter().find(|i| i["inbox_id"] == new_inbox).unwrap().clone();
    assert_eq!(moved["owner_id"], owner.id);
}
