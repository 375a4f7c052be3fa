//! Notifications over HTTP and the queues: events from the messaging service (the internal
//! route and, on moto, the events queue), the feed and its unread count, preferences,
//! immediate emails with one-click unsubscribe, this service's own events, and the
//! suppression list fed by SES bounces and complaints.

use e2e::{Engine, TestApp, User};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::access::{Manage, Scope};
use switchboard::domain::Role;

both_engines!(events_fill_the_feed_once_each, bounces_and_complaints_stop_email);
dynoxide_only!(immediate_emails_carry_one_click_unsubscribe, this_services_events_reach_the_right_people);

/// The messaging service posts an event to the internal route.
pub async fn post_event(app: &TestApp, event: Value) -> e2e::Reply {
    let resp = app
        .http
        .post(format!("{}/internal/v1/notification-events", app.base))
        .header("x-switchboard-service-token", &app.service_token)
        .json(&event)
        .send()
        .await
        .expect("request");
    TestApp::reply(resp).await
}

pub fn message_event(org: &str, users: &[&str], key: &str, conversation: &str, content: &str) -> Value {
    json!({
        "organization_id": org, "type": "new_message", "recipients": {"user_ids": users},
        "idempotency_key": key, "occurred_at": "2026-12-01T09:00:00Z",
        "conversation_id": conversation, "conversation_name": format!("Conversation {conversation}"),
        "subject": "+31 20 123 4567", "content": content, "link": format!("/conversations/{conversation}")
    })
}

/// An owner and one agent member of the owner's organization.
pub async fn team(app: &TestApp, tag: &str) -> (User, User) {
    let owner = app.signup(&format!("{tag}-owner"), "web").await;
    let agent = app.signup(&format!("{tag}-agent"), "web").await;
    app.add_member(&agent.id, &owner.org, &[Role::Agent], Scope::Subtree, Manage::All).await;
    (owner, agent)
}

/// The emails to `to` that notifications sent (those carry an unsubscribe link; the
/// signup's verification email does not), waiting for at least `n`.
pub async fn notification_emails(app: &TestApp, to: &str, n: usize) -> Vec<e2e::ReceivedEmail> {
    for _ in 0..50 {
        let got: Vec<_> =
            app.wait_emails_to(to, 0).await.into_iter().filter(|m| m.list_unsubscribe.is_some()).collect();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.emails_to(to).await.into_iter().filter(|m| m.list_unsubscribe.is_some()).collect()
}

async fn unread(app: &TestApp, user: &User, org: &str) -> i64 {
    let r = app.get(&format!("/v1/orgs/{org}/notifications/unread-count"), &user.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["unread"].as_i64().expect("unread")
}

async fn events_fill_the_feed_once_each(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (owner, agent) = team(&app, "feed").await;
    let org = &owner.org;
    let stranger = app.signup("feed-stranger", "web").await;

    let ev = message_event(org, &[&agent.id, &stranger.id, &agent.id], "msg-1", "42", "Is my order on its way?");
    let r = post_event(&app, ev.clone()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(
        (r.body["recipients"].as_u64(), r.body["recorded"].as_u64()),
        (Some(1), Some(1)),
        "non-members dropped, one entry per person"
    );
    let again = post_event(&app, ev).await;
    assert_eq!((again.body["recorded"].as_u64(), again.body["duplicates"].as_u64()), (Some(0), Some(1)));
    assert_eq!(unread(&app, &agent, org).await, 1);
    assert_eq!(unread(&app, &stranger, &stranger.org).await, 0, "nothing reached the stranger's own organization");

    // No user token, or a wrong service token, gets nowhere.
    let r = app.post_auth("/internal/v1/notification-events", &agent.access, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let bad = json!({"organization_id": org, "type": "member_joined", "recipients": {"admins": true},
                     "idempotency_key": "x", "occurred_at": "2026-12-01T09:00:00Z"});
    let r = post_event(&app, bad).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "unknown_notification_type"), "{:?}", r.body);
    let r = post_event(
        &app,
        json!({"organization_id": org, "type": "mention", "recipients": {"user_ids": [agent.id], "admins": true},
                                    "idempotency_key": "y", "occurred_at": "2026-12-01T09:00:00Z"}),
    )
    .await;
    assert_eq!((r.status, r.body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("recipients")));

    // The messaging service's queue records the same way (SQS on moto).
    if engine == Engine::Moto {
        let body = message_event(org, &[&agent.id], "msg-2", "43", "Second");
        send_to_events_queue(&app, &body).await;
        send_to_events_queue(&app, &body).await;
        app.run_event_worker().await;
    } else {
        post_event(&app, message_event(org, &[&agent.id], "msg-2", "43", "Second")).await;
    }
    assert_eq!(unread(&app, &agent, org).await, 2, "a redelivered queue message records nothing twice");

    let page = app.get(&format!("/v1/orgs/{org}/notifications?limit=1"), &agent.access).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let items = page.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!((items[0]["type"].as_str(), items[0]["read"].as_bool()), (Some("new_message"), Some(false)));
    assert_eq!(items[0]["conversation_id"], "43", "newest first");
    assert!(items[0].get("content").is_none(), "the feed never shows message content");
    let cursor = page.body["next_cursor"].as_str().expect("a second page");
    let second = app.get(&format!("/v1/orgs/{org}/notifications?limit=1&cursor={cursor}"), &agent.access).await;
    let older = second.body["items"][0]["id"].as_str().expect("older id").to_owned();

    let r = app.post_auth(&format!("/v1/orgs/{org}/notifications/{older}/read"), &agent.access, json!({})).await;
    assert_eq!((r.status, r.body["unread"].as_i64()), (StatusCode::OK, Some(1)), "{:?}", r.body);
    let r = app.post_auth(&format!("/v1/orgs/{org}/notifications/{older}/read"), &agent.access, json!({})).await;
    assert_eq!(r.body["unread"].as_i64(), Some(1), "marking twice counts once");
    let r = app
        .post_auth(&format!("/v1/orgs/{org}/notifications/01JAAAAAAAAAAAAAAAAAAAAAAA/read"), &agent.access, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.post_auth(&format!("/v1/orgs/{org}/notifications/read-all"), &agent.access, json!({})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(unread(&app, &agent, org).await, 0);
    let page = app.get(&format!("/v1/orgs/{org}/notifications"), &agent.access).await;
    assert!(page.body["items"].as_array().expect("items").iter().all(|i| i["read"] == true));

    // The feed is the caller's: the owner's is empty, a stranger is refused.
    assert_eq!(unread(&app, &owner, org).await, 0);
    let r = app.get(&format!("/v1/orgs/{org}/notifications"), &stranger.access).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn send_to_events_queue(app: &TestApp, body: &Value) {
    let url = match &app.ctx.events {
        switchboard::service::notify::notifications::EventQueue::Sqs { url, .. } => url.clone(),
        switchboard::service::notify::notifications::EventQueue::InProcess => panic!("moto runs have an events queue"),
    };
    let sdk = local::local_sdk_config(&e2e::moto_endpoint()).await;
    aws_sdk_sqs::Client::new(&sdk)
        .send_message()
        .queue_url(url)
        .message_body(body.to_string())
        .send()
        .await
        .expect("send to the events queue");
}

async fn immediate_emails_carry_one_click_unsubscribe(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (owner, agent) = team(&app, "unsub").await;
    let org = &owner.org;
    post_event(&app, message_event(org, &[&agent.id], "u-1", "7", "Hello there")).await;
    let mails = notification_emails(&app, &agent.email, 1).await;
    assert_eq!(mails.len(), 1, "new messages go out at once by default");
    let mail = &mails[0];
    assert!(mail.subject.contains("Conversation 7"), "{}", mail.subject);
    assert!(!mail.text.contains("Hello there"), "an immediate email names the conversation, not the message");
    assert_eq!(mail.list_unsubscribe_post.as_deref(), Some("List-Unsubscribe=One-Click"));
    let header = mail.list_unsubscribe.clone().expect("List-Unsubscribe");
    let link = header.trim_start_matches('<').trim_end_matches('>').to_owned();
    assert!(link.starts_with(&format!("{}/v1/unsubscribe/", app.base)), "{link}");

    // A link scanner's GET changes nothing.
    let prefs = format!("/v1/orgs/{org}/notification-preferences");
    let seen = app.http.get(&link).send().await.expect("get");
    let seen = TestApp::reply(seen).await;
    assert_eq!((seen.status, seen.body["email_types"][0].as_str()), (StatusCode::OK, Some("new_messages")));
    let enabled = |doc: &Value, ty: &str| {
        doc["types"].as_array().and_then(|t| t.iter().find(|x| x["email_type"] == ty)).map(|x| x["enabled"].clone())
    };
    assert_eq!(enabled(&app.get(&prefs, &agent.access).await.body, "new_messages"), Some(json!(true)));
    // The mail client's one click: a form POST.
    let r = app
        .http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let doc = app.get(&prefs, &agent.access).await.body;
    assert_eq!(enabled(&doc, "new_messages"), Some(json!(false)), "{doc:?}");
    assert_eq!(enabled(&doc, "mentions"), Some(json!(true)), "only the type of the email");

    post_event(&app, message_event(org, &[&agent.id], "u-2", "8", "Again")).await;
    app.run_mail_worker().await;
    assert_eq!(notification_emails(&app, &agent.email, 0).await.len(), 1, "switched off: recorded, not emailed");
    assert_eq!(unread(&app, &agent, org).await, 2);

    // Back on through the preference page; a forged link is refused.
    let r = app
        .call(
            Method::PUT,
            &prefs,
            Some(&agent.access),
            Some(json!({"on": ["new_messages"], "digest_hour": 7, "digest_weekday": "friday"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["digest_hour"].as_u64(), r.body["digest_weekday"].as_str()), (Some(7), Some("friday")));
    assert_eq!(enabled(&r.body, "new_messages"), Some(json!(true)));
    let r = app.call(Method::PUT, &prefs, Some(&agent.access), Some(json!({"off": ["welcome"]}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "email_type_required"));
    let r = app.call(Method::PUT, &prefs, Some(&agent.access), Some(json!({"digest_hour": 24}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_digest_time"));
    let click = |url: String, body: &'static str| {
        app.http.post(url).header("content-type", "application/x-www-form-urlencoded").body(body).send()
    };
    let forged = click(format!("{}/v1/unsubscribe/{}", app.base, "A".repeat(43)), "List-Unsubscribe=One-Click").await;
    assert_eq!(forged.expect("post").status(), StatusCode::BAD_REQUEST);
    let r = click(link.clone(), "unsubscribe=yes").await.expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "only the RFC 8058 body acts");
    let r = app.http.post(&link).json(&json!({"List-Unsubscribe": "One-Click"})).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn this_services_events_reach_the_right_people(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (owner, agent) = team(&app, "internal").await;
    let org = &owner.org;
    // An admin of the organization hears of team changes; the one who acted does not.
    let admin = app.signup("internal-admin", "web").await;
    app.add_member(&admin.id, org, &[Role::Admin], Scope::Subtree, Manage::All).await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/v1/orgs/{org}/members/{}", agent.id),
            Some(&owner.access),
            Some(json!({"roles": ["viewer"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    app.run_event_worker().await;
    let feed = app.get(&format!("/v1/orgs/{org}/notifications"), &admin.access).await.body;
    assert_eq!(feed["items"][0]["type"], "role_changed", "{feed:?}");
    assert!(feed["items"][0]["subject"].as_str().is_some_and(|s| s.contains("viewer")), "{feed:?}");
    assert_eq!(unread(&app, &owner, org).await, 0, "not told of one's own change");

    // A sign-in from a new device is news to the person (and an email); the first is not.
    // The agent works in the organization last, so their sign-ins open (and are told) there.
    let r = app.post_auth("/v1/auth/switch", &agent.access, json!({"organization_id": org})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let first = app.login_with_agent(&agent.email, &agent.password, "Firefox/140").await;
    assert_eq!(first, StatusCode::OK);
    let before = notification_emails(&app, &agent.email, 0).await.len();
    let again = app.login_with_agent(&agent.email, &agent.password, "Firefox/140").await;
    assert_eq!(again, StatusCode::OK);
    app.run_event_worker().await;
    let signins = |feed: &Value| {
        feed["items"].as_array().map(|i| i.iter().filter(|x| x["type"] == "new_sign_in").count()).unwrap_or(0)
    };
    let feed = app.get(&format!("/v1/orgs/{org}/notifications"), &agent.access).await.body;
    let known = signins(&feed);
    app.login_with_agent(&agent.email, &agent.password, "Safari/19 (iPhone)").await;
    let mails = notification_emails(&app, &agent.email, before + 1).await;
    let feed = app.get(&format!("/v1/orgs/{org}/notifications"), &agent.access).await.body;
    assert_eq!(signins(&feed), known + 1, "{feed:?}");
    assert!(mails.iter().any(|m| m.list_unsubscribe.is_some() && m.text.contains("web")), "new sign-in email");
}

async fn bounces_and_complaints_stop_email(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (owner, agent) = team(&app, "bounce").await;
    let sns = |message: Value| {
        json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:ses-feedback:1",
            "Sns": {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-feedback",
                    "Subject": null, "Message": message.to_string(), "Timestamp": "2026-12-01T09:00:00.000Z",
                    "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "https://example.invalid/c.pem",
                    "UnsubscribeUrl": "https://example.invalid/u", "MessageAttributes": {}}}]})
    };
    // A soft bounce changes nothing.
    let soft = json!({"notificationType": "Bounce", "bounce": {"bounceType": "Transient", "bounceSubType": "MailboxFull",
                      "bouncedRecipients": [{"emailAddress": agent.email}]}, "mail": {}});
    assert_eq!(app.ses_feedback(sns(soft)).await, 0);
    post_event(&app, message_event(&owner.org, &[&agent.id], "b-1", "1", "x")).await;
    assert_eq!(notification_emails(&app, &agent.email, 1).await.len(), 1);

    let hard = json!({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                      "bouncedRecipients": [{"emailAddress": format!("Agent <{}>", agent.email)}]}, "mail": {}});
    assert_eq!(app.ses_feedback(sns(hard)).await, 1);
    post_event(&app, message_event(&owner.org, &[&agent.id], "b-2", "2", "y")).await;
    app.mail_settled().await;
    assert_eq!(notification_emails(&app, &agent.email, 0).await.len(), 1, "a hard bounce suppresses the address");

    let complaint = json!({"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": owner.email}],
                           "complaintFeedbackType": "abuse"}, "mail": {}});
    assert_eq!(app.ses_feedback(sns(complaint)).await, 1);
    let r = app.post("/v1/auth/forgot-password", json!({"email": owner.email})).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    app.mail_settled().await;
    let resets = app.emails_to(&owner.email).await.iter().filter(|m| m.text.contains("reset")).count();
    assert_eq!(resets, 0, "a complaint suppresses every later email, whatever its kind");
}
