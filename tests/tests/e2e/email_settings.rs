//! Email settings, templates and theme through HTTP: types switched off (and not sent) and
//! locked down the tree, templates refused with line and column, saved per language, used
//! for real emails (read back as MIME from the outbox and from moto's SES), inherited by
//! sub-accounts and reset; the header logo checked, stored (S3 on moto, disk locally) and
//! shown inline; the theme's presets, contrast check, preview, inheritance and revalidation.

use e2e::{Engine, ReceivedEmail, TestApp, User, unique_email};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard::access::{Manage, Scope};
use switchboard::domain::Role;

both_engines!(logo_is_checked_stored_and_shown_in_every_email);
dynoxide_only!(
    email_types_are_switched_off_locked_and_honoured,
    templates_are_checked_saved_used_inherited_and_reset,
    theme_presets_contrast_preview_and_inheritance,
);

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/logos/{name}", env!("CARGO_MANIFEST_DIR"))).expect("logo fixture")
}

async fn settings_etag(app: &TestApp, user: &User, org: &str) -> String {
    let r = app.get(&format!("/v1/orgs/{org}/email-settings"), &user.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["etag"].as_str().expect("etag").to_owned()
}

/// Invite `email` to `org` and wait for the invitation email.
async fn invitation_email(app: &TestApp, user: &User, org: &str, email: &str) -> ReceivedEmail {
    let body = json!({"invitations": [{"email": email, "roles": ["agent"]}]});
    let r = app.post_auth(&format!("/v1/orgs/{org}/invitations"), &user.access, body).await;
    assert_eq!(r.body["invited"], 1, "{:?}", r.body);
    let mails = app.wait_emails_to(email, 1).await;
    assert_eq!(mails.len(), 1, "one invitation email to {email}");
    mails.into_iter().next().unwrap_or_else(|| unreachable!())
}

fn type_view<'a>(doc: &'a Value, key: &str) -> &'a Value {
    doc["types"].as_array().and_then(|t| t.iter().find(|v| v["type"] == key)).expect("type in the catalogue")
}

async fn email_types_are_switched_off_locked_and_honoured(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("mailprefs", "web").await;
    let sub = app.sub_account(&owner.access, &owner.org, "Branch").await;
    let path = format!("/v1/orgs/{}/email-settings", owner.org);

    let doc = app.get(&path, &owner.access).await.body;
    assert_eq!(doc["types"].as_array().map(Vec::len), Some(switchboard::domain::EmailType::ALL.len()), "{doc:?}");
    let welcome = type_view(&doc, "welcome");
    assert_eq!((welcome["can_switch_off"].as_bool(), welcome["enabled"].as_bool()), (Some(false), Some(true)));
    assert!(welcome["variables"].as_array().is_some_and(|v| v.iter().any(|x| x["name"] == "link")));
    assert_eq!(type_view(&doc, "new_messages")["interval"], "immediate", "all on, at once, by default");
    let tag = doc["etag"].as_str().unwrap().to_owned();

    let off = json!({"types": {"registration_attempt": {"enabled": false}}, "locks": ["registration_attempt"]});
    let r = app.send(Method::PATCH, &path, &owner.access, None, Some(off.clone())).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED);
    let r = app
        .send(Method::PATCH, &path, &owner.access, Some(&tag), Some(json!({"types": {"welcome": {"enabled": false}}})))
        .await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "email_type_required", Some("types.welcome.enabled"))
    );
    let r = app
        .send(
            Method::PATCH,
            &path,
            &owner.access,
            Some(&tag),
            Some(json!({"types": {"password_reset": {"interval": "daily"}}})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "email_type_immediate"));
    let r =
        app.send(Method::PATCH, &path, &owner.access, Some(&tag), Some(json!({"types": {"no_such_type": null}}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "unknown_email_type"));
    let r = app
        .send(
            Method::PATCH,
            &path,
            &owner.access,
            Some(&tag),
            Some(json!({"types": {"new_messages": {"interval": "weekly"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            type_view(&r.body, "new_messages")["interval"].as_str(),
            type_view(&r.body, "new_messages")["enabled"].as_bool()
        ),
        (Some("weekly"), Some(true))
    );
    let tag = r.body["etag"].as_str().unwrap().to_owned();
    let r = app.send(Method::PATCH, &path, &owner.access, Some(&tag), Some(off)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let tag = r.body["etag"].as_str().unwrap().to_owned();

    // The sub-account inherits the choice and cannot change what the parent locked.
    let sub_path = format!("/v1/orgs/{sub}/email-settings");
    let sub_doc = app.get(&sub_path, &owner.access).await.body;
    let attempt = type_view(&sub_doc, "registration_attempt");
    assert_eq!((attempt["enabled"].as_bool(), attempt["locked_by"].as_str()), (Some(false), Some(owner.org.as_str())));
    assert_eq!(type_view(&sub_doc, "new_messages")["inherited_from"], owner.org.as_str());
    let sub_tag = sub_doc["etag"].as_str().unwrap().to_owned();
    let on = json!({"types": {"registration_attempt": {"enabled": true}}});
    let r = app.send(Method::PATCH, &sub_path, &owner.access, Some(&sub_tag), Some(on)).await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::FORBIDDEN, "setting_locked", Some("registration_attempt"))
    );

    // Switched off, it is not sent: someone registering with the owner's address gets the
    // usual answer, and the owner no email. Switched back on, the next attempt is told.
    let again = |tag: &str| json!({"email": owner.email, "password": "another long passphrase", "first_name": "X", "last_name": "Y", "organization_name": tag});
    assert_eq!(app.post("/v1/auth/register", again("First")).await.status, StatusCode::ACCEPTED);
    app.run_mail_worker().await;
    let r = app
        .send(Method::PATCH, &path, &owner.access, Some(&tag), Some(json!({"types": {"registration_attempt": null}})))
        .await;
    assert_eq!(type_view(&r.body, "registration_attempt")["enabled"], true, "{:?}", r.body);
    assert_eq!(app.post("/v1/auth/register", again("Second")).await.status, StatusCode::ACCEPTED);
    let mails = app.wait_emails_to(&owner.email, 2).await;
    let attempts: Vec<_> = mails.iter().filter(|m| m.subject.contains("tried to create")).collect();
    assert_eq!(
        attempts.len(),
        1,
        "only the attempt made while the type was on: {:?}",
        mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
}

async fn templates_are_checked_saved_used_inherited_and_reset(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("templates", "web").await;
    let sub = app.sub_account(&owner.access, &owner.org, "Filiaal").await;
    let path = format!("/v1/orgs/{}/email-templates/invitation", owner.org);

    let r = app.get(&path, &owner.access).await;
    assert_eq!(
        (r.status, r.body["language"].as_str(), r.body["source"].as_str()),
        (StatusCode::OK, Some("en"), Some("default")),
        "{:?}",
        r.body
    );
    assert_eq!(r.headers.get("etag").and_then(|v| v.to_str().ok()), Some("\"t0\""));
    assert!(r.body["variables"].as_array().is_some_and(|v| v.iter().any(|x| x["name"] == "inviter")));
    let nl = format!("{path}?language=nl");
    let put =
        |subject: &str, body: &str| json!({"subject": subject, "title": "Welkom bij {{ org_name }}", "body": body});

    // Refused with where: a syntax error, an undeclared variable, endless work.
    let r =
        app.send(Method::PUT, &nl, &owner.access, Some("\"t0\""), Some(put("Hoi", "Regel een\nRegel {{ link"))).await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str(), r.body["line"].as_u64()),
        (StatusCode::UNPROCESSABLE_ENTITY, "template_syntax", Some("body"), Some(2)),
        "{:?}",
        r.body
    );
    assert!(r.body["column"].as_u64().is_some_and(|c| c > 1));
    let r = app.send(Method::PUT, &nl, &owner.access, Some("\"t0\""), Some(put("Hoi {{ config }}", "x"))).await;
    assert_eq!(
        (r.code(), r.body["field"].as_str(), r.body["line"].as_u64(), r.body["column"].as_u64()),
        ("template_unknown_variable", Some("subject"), Some(1), Some(8)),
        "{:?}",
        r.body
    );
    let spin = "{% for a in range(10000) %}{% for b in range(10000) %}.{% endfor %}{% endfor %}";
    assert_eq!(
        app.send(Method::PUT, &nl, &owner.access, Some("\"t0\""), Some(put("Hoi", spin))).await.code(),
        "template_render_failed"
    );
    assert_eq!(
        app.send(Method::PUT, &nl, &owner.access, None, Some(put("Hoi", "x"))).await.status,
        StatusCode::PRECONDITION_REQUIRED
    );

    let body = "Hallo,\n\n<b>{{ inviter }}</b> vraagt je om {{ org_name }} te versterken.\n\n[Doe mee]({{ link }})";
    let r =
        app.send(Method::PUT, &nl, &owner.access, Some("\"t0\""), Some(put("{{ inviter }} wil je erbij", body))).await;
    assert_eq!(
        (r.status, r.body["source"].as_str(), r.body["etag"].as_str()),
        (StatusCode::OK, Some("own"), Some("\"t1\"")),
        "{:?}",
        r.body
    );
    assert_eq!(
        app.send(Method::PUT, &nl, &owner.access, Some("\"t0\""), Some(put("x", "y"))).await.status,
        StatusCode::PRECONDITION_FAILED
    );
    assert_eq!(app.get(&path, &owner.access).await.body["source"], "default", "English is untouched");

    // A preview renders with sample values and sends nothing.
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/email-templates/invitation/preview?language=nl", owner.org),
            &owner.access,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["subject"], "Jane Doe wil je erbij");
    let html = r.body["html"].as_str().unwrap();
    assert!(
        html.contains("&lt;b&gt;Jane Doe&lt;/b&gt;") && html.contains(">Doe mee</a>"),
        "literal markup is text: {html}"
    );
    let draft = json!({"body": "Hi {{ first_name }}: {{ org_name }}"});
    let r = app
        .post_auth(
            &format!("/v1/orgs/{}/email-templates/invitation/preview?language=nl", owner.org),
            &owner.access,
            draft,
        )
        .await;
    assert!(r.body["text"].as_str().is_some_and(|t| t.contains("Hi Anna: templates Inc")), "{:?}", r.body);

    // Real emails: in the organization's language (Dutch now), with its template; a name
    // with markup in it arrives escaped in HTML and as written in text.
    let tag = app.get(&format!("/v1/orgs/{}/settings", owner.org), &owner.access).await.body["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .send(
            Method::PATCH,
            &format!("/v1/orgs/{}/settings", owner.org),
            &owner.access,
            Some(&tag),
            Some(json!({"default_language": "nl"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .send(Method::PATCH, "/v1/me", &owner.access, None, Some(json!({"first_name": "<script>alert(1)</script>"})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let invitee = unique_email("nl-invitee");
    let mail = invitation_email(&app, &owner, &owner.org, &invitee).await;
    assert_eq!(mail.language.as_deref(), Some("nl"));
    assert!(mail.subject.ends_with("wil je erbij"), "{}", mail.subject);
    assert!(
        mail.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !mail.html.contains("<script>"),
        "{}",
        mail.html
    );
    assert!(mail.text.contains("<b><script>alert(1)</script> Smith</b>"), "{}", mail.text);
    assert!(mail.link("accept-invitation").is_some());
    // The preview shows the link the email carries: the same page, only the token differs.
    let preview = app
        .post_auth(
            &format!("/v1/orgs/{}/email-templates/invitation/preview?language=nl", owner.org),
            &owner.access,
            json!({}),
        )
        .await;
    let page = |text: &str| {
        text.split_whitespace()
            .find(|w| w.contains("token="))
            .and_then(|w| w.split("?token=").next())
            .map(str::to_owned)
    };
    let real = page(&mail.text).expect("the email's link");
    assert_eq!(page(preview.body["text"].as_str().unwrap()), Some(real.clone()), "{real}");

    // A sub-account inherits the parent's template.
    let sub_doc = app.get(&format!("/v1/orgs/{sub}/email-templates/invitation?language=nl"), &owner.access).await.body;
    assert_eq!(
        (sub_doc["source"].as_str(), sub_doc["inherited_from"].as_str()),
        (Some("inherited"), Some(owner.org.as_str()))
    );
    let from_sub = invitation_email(&app, &owner, &sub, &unique_email("sub-invitee")).await;
    assert!(from_sub.subject.ends_with("wil je erbij"), "{}", from_sub.subject);

    // Reset to default: the shipped Dutch text again.
    let r = app.send(Method::DELETE, &nl, &owner.access, Some("\"t1\""), None).await;
    assert_eq!(
        (r.status, r.body["source"].as_str(), r.body["etag"].as_str()),
        (StatusCode::OK, Some("default"), Some("\"t2\"")),
        "{:?}",
        r.body
    );
    let after = invitation_email(&app, &owner, &owner.org, &unique_email("reset-invitee")).await;
    assert!(after.subject.contains("nodigt je uit voor"), "{}", after.subject);
    let r = app.get(&format!("/v1/orgs/{}/email-templates/no_such_type", owner.org), &owner.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn logo_is_checked_stored_and_shown_in_every_email(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("logo", "web").await;
    let sub = app.sub_account(&owner.access, &owner.org, "Dept").await;
    let path = format!("/v1/orgs/{}/email-settings/logo", owner.org);
    let upload = |bytes: Vec<u8>, ct: &'static str, etag: Option<String>| {
        let mut req = app
            .http
            .put(format!("{}{path}", app.base))
            .bearer_auth(&owner.access)
            .header("Content-Type", ct)
            .body(bytes);
        if let Some(e) = etag {
            req = req.header("If-Match", e);
        }
        async move { TestApp::reply(req.send().await.expect("upload")).await }
    };
    let tag = settings_etag(&app, &owner, &owner.org).await;
    for (file, ct, code) in [
        ("script.svg", "image/svg+xml", "unsupported_image"),
        ("truncated.png", "image/png", "invalid_image"),
        ("wide.png", "image/png", "logo_too_large"),
        ("acme.jpg", "image/png", "image_type_mismatch"),
    ] {
        let r = upload(fixture(file), ct, Some(tag.clone())).await;
        assert_eq!(
            (r.status, r.code(), r.body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, code, Some("logo")),
            "{file}: {:?}",
            r.body
        );
    }
    assert_eq!(upload(fixture("acme.png"), "image/png", None).await.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(app.get(&path, &owner.access).await.status, StatusCode::NOT_FOUND, "nothing was stored");

    let r = upload(fixture("acme.png"), "image/png", Some(tag)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (r.body["logo"]["width"].as_u64(), r.body["logo"]["content_type"].as_str()),
        (Some(240), Some("image/png"))
    );
    let stored = app.http.get(format!("{}{path}", app.base)).bearer_auth(&owner.access).send().await.expect("get logo");
    assert_eq!(stored.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("image/png"));
    assert_eq!(
        stored.bytes().await.expect("bytes").to_vec(),
        fixture("acme.png"),
        "stored and read back byte for byte"
    );

    let mail = invitation_email(&app, &owner, &owner.org, &unique_email("logo-invitee")).await;
    assert_eq!(mail.logo, Some(("image/png".to_owned(), fixture("acme.png"))), "the logo travels inline");
    assert!(mail.html.contains("src=\"cid:logo.") && mail.logo.is_some(), "a unique Content-ID the HTML names");
    let from_sub = invitation_email(&app, &owner, &sub, &unique_email("sub-logo")).await;
    assert!(from_sub.logo.is_some(), "a sub-account's emails show the inherited logo");
    // A preview shows the logo too, as a data URI (no token needed to display it).
    let preview = app
        .post_auth(&format!("/v1/orgs/{}/email-templates/welcome/preview", owner.org), &owner.access, json!({}))
        .await;
    let png = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(fixture("acme.png"))
    };
    assert!(
        preview.body["html"].as_str().is_some_and(|h| h.contains(&format!("src=\"data:image/png;base64,{png}\""))),
        "{:?}",
        preview.body
    );

    // A JPEG replaces it; removing it falls back to the default header (the name, no image).
    let tag = settings_etag(&app, &owner, &owner.org).await;
    let r = upload(fixture("acme.jpg"), "image/jpeg", Some(tag)).await;
    assert_eq!(
        (r.status, r.body["logo"]["content_type"].as_str()),
        (StatusCode::OK, Some("image/jpeg")),
        "{:?}",
        r.body
    );
    let tag = r.body["etag"].as_str().unwrap().to_owned();
    let r = app.send(Method::DELETE, &path, &owner.access, Some(&tag), None).await;
    assert_eq!((r.status, r.body["logo"].is_null()), (StatusCode::OK, true), "{:?}", r.body);
    let plain = invitation_email(&app, &owner, &owner.org, &unique_email("plain")).await;
    assert!(plain.logo.is_none() && plain.html.contains("logo Inc"), "{}", plain.html);
}

async fn theme_presets_contrast_preview_and_inheritance(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.signup("theme", "web").await;
    let sub = app.sub_account(&owner.access, &owner.org, "Shop").await;
    let path = format!("/v1/orgs/{}/theme", owner.org);

    let presets = app.get("/v1/theme-presets", &owner.access).await;
    assert_eq!(presets.body.as_array().map(Vec::len), Some(3), "{:?}", presets.body);
    let r = app.get(&path, &owner.access).await;
    assert_eq!((r.status, r.body["source"].as_str()), (StatusCode::OK, Some("default")));
    assert_eq!(r.body["css_variables"]["--sb-button-bg"], "#1F5FBF");
    assert_eq!(r.body["low_contrast"], json!([]));
    let cached = r.headers.get("etag").and_then(|v| v.to_str().ok()).unwrap().to_owned();
    let again = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(&owner.access)
        .header("If-None-Match", &cached)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let tag = r.body["settings_etag"].as_str().unwrap().to_owned();

    let pale = |bg: &str| json!({"background": bg, "hover": bg, "select": bg, "text": "#C8C8C8"});
    let solid = json!({"background": "#224488", "hover": "#1B3A70", "select": "#132C58"});
    let low = json!({"theme": {"header": pale("#FFFFFF"), "sidebar": solid, "menu_item": solid, "button": solid, "link": solid}});
    let r = app.post_auth(&format!("{path}/preview"), &owner.access, low.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["low_contrast"], json!(["header.background", "header.hover", "header.select"]));
    assert!(
        r.body["contrast"].as_array().is_some_and(|c| c.iter().any(|p| p["ratio"].as_f64().is_some_and(|x| x < 2.0)))
    );
    assert_eq!(app.get(&path, &owner.access).await.body["source"], "default", "a preview saves nothing");

    let r = app.send(Method::PUT, &path, &owner.access, Some(&tag), Some(json!({"theme": {"header": {"background": "red", "hover": "#000000", "select": "#000000"}, "sidebar": solid, "menu_item": solid, "button": solid, "link": solid}}))).await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_color", Some("theme.header.background"))
    );
    let r = app.send(Method::PUT, &path, &owner.access, Some(&tag), Some(low.clone())).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "low_contrast"), "{:?}", r.body);
    let mut accepted = low;
    accepted["accept_low_contrast"] = json!(true);
    let r = app.send(Method::PUT, &path, &owner.access, Some(&tag), Some(accepted)).await;
    assert_eq!((r.status, r.body["source"].as_str()), (StatusCode::OK, Some("own")), "{:?}", r.body);
    let tag = r.body["settings_etag"].as_str().unwrap().to_owned();
    let r = app.send(Method::PUT, &path, &owner.access, Some(&tag), Some(json!({"preset": "evergreen"}))).await;
    assert_eq!(
        (r.status, r.body["theme"]["button"]["background"].as_str()),
        (StatusCode::OK, Some("#1E6B47")),
        "{:?}",
        r.body
    );
    let tag = r.body["settings_etag"].as_str().unwrap().to_owned();

    // Every member reads it, sub-accounts inherit it; the old ETag no longer matches.
    let viewer = app.signup("theme-viewer", "web").await;
    app.add_member(&viewer.id, &sub, &[Role::Viewer], Scope::Subtree, Manage::All).await;
    let r = app
        .http
        .get(format!("{}/v1/orgs/{sub}/theme", app.base))
        .bearer_auth(&viewer.access)
        .header("If-None-Match", &cached)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert_eq!((doc["source"].as_str(), doc["inherited_from"].as_str()), (Some("inherited"), Some(owner.org.as_str())));
    assert_eq!(doc["css_variables"]["--sb-header-bg"], "#1E4D3A");
    let sub_tag = doc["settings_etag"].as_str().unwrap().to_owned();
    assert_eq!(
        app.send(
            Method::PUT,
            &format!("/v1/orgs/{sub}/theme"),
            &viewer.access,
            Some(&sub_tag),
            Some(json!({"preset": "ember"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // Emails wear it: the call to action in the theme's button color.
    let mail = invitation_email(&app, &owner, &owner.org, &unique_email("themed")).await;
    assert!(mail.html.contains("background:#1E6B47"), "{}", mail.html);

    let r = app.send(Method::DELETE, &path, &owner.access, Some(&tag), None).await;
    assert_eq!((r.status, r.body["source"].as_str()), (StatusCode::OK, Some("default")), "{:?}", r.body);
}
