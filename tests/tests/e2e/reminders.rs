//! The reminder to confirm a mobile number (issue 33): sent once, by the scheduled digest
//! run, a day after the login was made, only while no number is confirmed; whichever way
//! the login was made (registration, an admin, an invitation), and however often or late
//! the schedule runs.

use chrono::Duration;
use e2e::{Engine, TestApp};
use reqwest::StatusCode;
use serde_json::json;

both_engines!(a_new_login_is_reminded_once_to_confirm_its_mobile);

/// The reminder's subject (the shipped English template).
const SUBJECT: &str = "One more step: confirm your mobile number";

async fn a_new_login_is_reminded_once_to_confirm_its_mobile(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let made = app.ctx.now();
    // Registered, without a number.
    let owner = app.signup("remind", "web").await;
    // Made by an admin, with a number they confirm the same day.
    let domain = crate::takeover::verified_domain(&app, &owner, "remind").await;
    let phone = format!("+3162{:07}", ulid::Ulid::new().random() % 10_000_000);
    let confirmed = format!("conf@{domain}");
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/users", owner.org),
            &owner.access,
            json!({"first_name": "Con", "last_name": "Firmed", "email": confirmed, "mobile": phone}),
        )
        .await;
    assert_eq!(r.body["outcome"], "added", "{:?}", r.body);
    app.run_mail_worker().await;
    let link = app.wait_link(&confirmed, "/reset-password?token=").await.expect("set-password link");
    let token = link.split("token=").nth(1).unwrap();
    let r = app.post("/v1/auth/reset-password", json!({"token": token, "password": "a confirmed passphrase"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let access =
        app.login(&confirmed, "a confirmed passphrase", "web").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.post_auth("/v1/me/mobile/verification", &access, json!({})).await.status, StatusCode::ACCEPTED);
    let code: String = app.sms_to(&phone).await[0].chars().filter(char::is_ascii_digit).take(6).collect();
    assert_eq!(
        app.post_auth("/v1/me/mobile/verify", &access, json!({"code": code})).await.status,
        StatusCode::NO_CONTENT
    );
    // Made by accepting an invitation, with no number.
    let invited = e2e::unique_email("remind-inv");
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/invitations", owner.org),
            &owner.access,
            json!({"invitations": [{"email": invited, "roles": ["agent"]}]}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let link = app.wait_link(&invited, "/accept-invitation?token=").await.expect("invitation");
    let r = app
        .post(
            "/v1/invitations/accept",
            json!({"token": link.split("token=").nth(1).unwrap(), "first_name": "In", "last_name": "Vited",
                   "password": "an invited passphrase"}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let reminders = |to: &str| {
        let to = to.to_owned();
        let app = &app;
        async move { app.emails_to(&to).await.iter().filter(|m| m.subject == SUBJECT).count() }
    };

    // A minute short of a day after the first login was made: nobody yet.
    let last = app.ctx.now();
    let r = app.run_digests_at(made + Duration::days(1) - Duration::minutes(1)).await;
    assert_eq!(r.mobile_reminders.sent + r.mobile_reminders.dropped, 0, "{r:?}");
    // A day after (the schedule may run late): each login without a confirmed number, once.
    let r = app.run_digests_at(last + Duration::days(1) + Duration::hours(3)).await;
    assert_eq!((r.mobile_reminders.sent, r.mobile_reminders.dropped), (2, 1), "{r:?}");
    for (who, expected) in [(&owner.email, 1), (&invited, 1), (&confirmed, 0)] {
        assert_eq!(reminders(who).await, expected, "{who}");
    }
    let mail = app.emails_to(&owner.email).await;
    let mail = mail.iter().find(|m| m.subject == SUBJECT).expect("the reminder");
    let public = &app.ctx.config.public_url;
    assert!(mail.link("/profile").unwrap().starts_with(public.as_str()), "links lead to the service");
    // Later runs, and a run with a clock far ahead: nothing twice.
    let r = app.run_digests_at(last + Duration::days(40)).await;
    assert_eq!(r.mobile_reminders, Default::default(), "{r:?}");
    for (who, expected) in [(&owner.email, 1), (&invited, 1), (&confirmed, 0)] {
        assert_eq!(reminders(who).await, expected, "{who}");
    }
}
