//! Registration, email verification, login, refresh, logout and /me.

use e2e::{Engine, TestApp, unique_email};
use reqwest::{Method, StatusCode};
use serde_json::json;

both_engines!(concurrent_registrations_yield_one_user);
dynoxide_only!(
    register_verify_and_me,
    a_lost_verification_email_can_be_sent_again,
    a_taken_address_gets_the_same_answer_and_its_owner_an_email,
    login_failures_are_indistinguishable,
    refresh_rotates_and_replay_ends_the_session,
    logout_and_logout_everywhere_take_effect_on_next_request,
    repeated_failures_are_throttled_per_address,
    distributed_guessing_is_limited_account_wide,
    answers_with_secrets_are_never_cached,
    password_hash_is_upgraded_on_login,
);

async fn register_verify_and_me(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (email, password, reg) = app.register("Reg").await;
    assert_eq!(reg, json!({"email": email, "next": "check_email"}));

    let mails = app.wait_emails_to(&email, 1).await;
    assert_eq!(mails.len(), 1, "one verification email");
    assert!(mails[0].subject.contains("Reg Inc"), "subject: {}", mails[0].subject);
    let link = mails[0].link("/verify-email?token=").expect("link in email");
    let token = link.split("token=").nth(1).expect("token").to_owned();

    assert_eq!(app.post("/v1/auth/verify-email", json!({"token": token})).await.status, StatusCode::NO_CONTENT);
    let again = app.post("/v1/auth/verify-email", json!({"token": token})).await;
    assert_eq!((again.status, again.code()), (StatusCode::BAD_REQUEST, "invalid_token"));

    let tokens = app.login(&email, &password, "web").await;
    let access = tokens["access_token"].as_str().unwrap();
    let me = app.get("/v1/me", access).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["email_verified"], true);
    assert_eq!(me.body["active_organization"], tokens["organization_id"]);
    let orgs = me.body["organizations"].as_array().unwrap();
    assert_eq!(orgs[0]["plan"], "trial");
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0]["name"], "Reg Inc");
    assert_eq!(orgs[0]["roles"], json!(["owner", "admin"]));
    assert_eq!(tokens["roles"], json!(["owner", "admin"]));
}

async fn a_lost_verification_email_can_be_sent_again(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (email, password, _) = app.register("Resend").await;
    assert_eq!(app.wait_emails_to(&email, 1).await.len(), 1);
    let tokens = app.login(&email, &password, "web").await;
    let access = tokens["access_token"].as_str().unwrap();
    let r = app.post_auth("/v1/auth/verify-email/resend", access, json!({})).await;
    assert!(r.status.is_success(), "resend: {:?}", r.body);
    let mails = app.wait_emails_to(&email, 2).await;
    assert_eq!(mails.len(), 2, "a second verification email");
    // The newer link verifies the address.
    let link = mails.iter().filter_map(|m| m.link("/verify-email?token=")).next_back().expect("link");
    let token = link.split("token=").nth(1).expect("token").to_owned();
    assert_eq!(app.post("/v1/auth/verify-email", json!({"token": token})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", access).await.body["user"]["email_verified"], true);
}

async fn a_taken_address_gets_the_same_answer_and_its_owner_an_email(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (email, _, first) = app.register("dup").await;
    app.wait_emails_to(&email, 1).await;
    let before = (app.count_items("USER#").await, app.count_items("ORG#").await, app.count_items("TOKEN#").await);
    let r = app
        .post(
            "/v1/auth/register",
            json!({"email": format!("  {}  ", email.to_uppercase()), "password": "another good passphrase",
                   "first_name": "Bob", "last_name": "B", "organization_name": "Other"}),
        )
        .await;
    assert_eq!((r.status, &r.body), (StatusCode::ACCEPTED, &first), "the same answer as for a new address");
    let after = (app.count_items("USER#").await, app.count_items("ORG#").await, app.count_items("TOKEN#").await);
    assert_eq!(before, after, "a refused registration leaves nothing behind");
    let mails = app.wait_emails_to(&email, 2).await;
    assert_eq!(mails.len(), 2, "the owner is told");
    assert!(mails[1].subject.contains("tried to create"), "{}", mails[1].subject);
    assert!(mails[1].link("/forgot-password").is_some() && mails[1].link("/login").is_some());
}

async fn concurrent_registrations_yield_one_user(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let email = unique_email("race");
    let variants = [email.clone(), email.to_uppercase(), format!(" {email}"), email.replacen('r', "R", 1)];
    let attempts = (0..12).map(|i| {
        let body = json!({"email": variants[i % variants.len()], "password": "race condition winner",
                          "first_name": "R", "last_name": "C", "organization_name": format!("Org {i}")});
        app.post("/v1/auth/register", body)
    });
    let results = futures::future::join_all(attempts).await;
    assert!(
        results.iter().all(|r| r.status == StatusCode::ACCEPTED),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(app.count_items("EMAIL#").await, 1);
    assert_eq!(app.count_items("ORG#").await, 2, "one organization and its seats");
    assert_eq!(app.count_items("FEED#").await, 1, "one activity entry");
}

async fn login_failures_are_indistinguishable(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (email, _, _) = app.register("enum").await;
    let wrong =
        app.post("/v1/auth/login", json!({"email": email, "password": "not the password", "client": "web"})).await;
    let unknown = app
        .post(
            "/v1/auth/login",
            json!({"email": unique_email("nobody"), "password": "not the password", "client": "web"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    assert_eq!(wrong.code(), "invalid_credentials");
}

async fn refresh_rotates_and_replay_ends_the_session(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (email, password, _) = app.register("refresh").await;
    let first = app.login(&email, &password, "mobile").await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    let second = app.post("/v1/auth/refresh", json!({"refresh_token": r1})).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    let r2 = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "rotated");
    assert_eq!(second.body["session_id"], first["session_id"]);
    let access2 = second.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/me", &access2).await.status, StatusCode::OK);

    // Replaying the used token is treated as theft: the whole session ends.
    let replay = app.post("/v1/auth/refresh", json!({"refresh_token": r1})).await;
    assert_eq!((replay.status, replay.code()), (StatusCode::UNAUTHORIZED, "invalid_refresh_token"));
    assert_eq!(app.post("/v1/auth/refresh", json!({"refresh_token": r2})).await.status, StatusCode::UNAUTHORIZED);
    let me = app.get("/v1/me", &access2).await;
    assert_eq!((me.status, me.code()), (StatusCode::UNAUTHORIZED, "session_ended"));

    // Garbage is refused the same way.
    for bad in ["", "x.y.z", "usr_.ses_.secret", &format!("{r2}x")] {
        let r = app.post("/v1/auth/refresh", json!({"refresh_token": bad})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{bad:?}");
    }

    // Past the absolute lifetime a refresh token no longer works.
    let fresh = app.login(&email, &password, "web").await;
    app.clock.advance(app.ctx.config.session_ttl + chrono::Duration::seconds(1));
    let late = app.post("/v1/auth/refresh", json!({"refresh_token": fresh["refresh_token"]})).await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
}

async fn logout_and_logout_everywhere_take_effect_on_next_request(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (email, password, _) = app.register("logout").await;
    let web = app.login(&email, &password, "web").await;
    let web_token = web["access_token"].as_str().unwrap();
    let r = app.call(Method::POST, "/v1/auth/logout", Some(web_token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", web_token).await.code(), "session_ended");
    let refresh = app.post("/v1/auth/refresh", json!({"refresh_token": web["refresh_token"]})).await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);

    let web = app.login(&email, &password, "web").await;
    let mobile = app.login(&email, &password, "mobile").await;
    let desktop = app.login(&email, &password, "desktop").await;
    let (w, m) = (web["access_token"].as_str().unwrap(), mobile["access_token"].as_str().unwrap());
    assert_eq!(app.get("/v1/me", m).await.status, StatusCode::OK);
    let r = app.call(Method::POST, "/v1/auth/logout-all", Some(w), None).await;
    assert_eq!((r.status, r.body["sessions_ended"].as_u64()), (StatusCode::OK, Some(3)));
    for t in [w, m, desktop["access_token"].as_str().unwrap()] {
        assert_eq!(app.get("/v1/me", t).await.code(), "session_ended");
    }
}

async fn repeated_failures_are_throttled_per_address(engine: Engine) {
    use switchboard::domain::{ClientType, LoginName, Password};
    use switchboard::service::{LoginInput, login};
    let app = TestApp::spawn(engine).await;
    let (email, password, _) = app.register("throttle").await;
    let attempt = |pw: &str, addr: &str| LoginInput {
        login: LoginName::parse(&email, "email").unwrap(),
        password: Password::parse_attempt(pw, "password").unwrap(),
        client: ClientType::Web,
        client_addr: addr.into(),
        user_agent: String::new(),
    };
    let limit = app.ctx.config.login_failure_limit;
    for _ in 0..limit {
        let e = login(&app.ctx, attempt("wrong guess!", "203.0.113.7")).await.unwrap_err();
        assert_eq!(e.code(), "invalid_credentials");
    }
    // Now even the right password is refused from that address, without being checked...
    let e = login(&app.ctx, attempt(&password, "203.0.113.7")).await.unwrap_err();
    assert!(matches!(e, switchboard::Error::TooManyAttempts { retry_after_secs } if retry_after_secs >= 1), "{e:?}");
    // ...but the real user elsewhere is not locked out.
    login(&app.ctx, attempt(&password, "198.51.100.20")).await.expect("other address logs in");
    // The block ends.
    app.clock.advance(chrono::Duration::minutes(1));
    login(&app.ctx, attempt(&password, "203.0.113.7")).await.expect("after the block");

    // Over HTTP the refusal is a 429 with Retry-After, for unknown addresses too.
    let ghost = unique_email("ghost");
    for _ in 0..limit {
        app.post("/v1/auth/login", json!({"email": ghost, "password": "whatever pw", "client": "web"})).await;
    }
    let r = app.post("/v1/auth/login", json!({"email": ghost, "password": "whatever pw", "client": "web"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(r.headers.get("retry-after").is_some());
}

async fn distributed_guessing_is_limited_account_wide(engine: Engine) {
    use switchboard::domain::{ClientType, LoginName, Password};
    use switchboard::service::{LoginInput, login};
    let app = TestApp::spawn(engine).await;
    let (email, password, _) = app.register("spread").await;
    let attempt = |pw: &str, n: u32| LoginInput {
        login: LoginName::parse(&email, "email").unwrap(),
        password: Password::parse_attempt(pw, "password").unwrap(),
        client: ClientType::Web,
        client_addr: format!("198.18.{}.{}", n / 250, n % 250 + 1),
        user_agent: String::new(),
    };
    // Ten guesses from ten addresses: no per-address block applies, and from the tenth on each
    // further failure delays the next attempt from anywhere.
    for n in 0..10 {
        assert_eq!(login(&app.ctx, attempt("wrong guess!", n)).await.unwrap_err().code(), "invalid_credentials");
    }
    let e = login(&app.ctx, attempt(&password, 1000)).await.unwrap_err();
    assert!(matches!(e, switchboard::Error::TooManyAttempts { retry_after_secs: 1 }), "{e:?}");
    // The delay passes; the owner's success clears the count.
    app.clock.advance(chrono::Duration::seconds(2));
    login(&app.ctx, attempt(&password, 1000)).await.expect("the owner after the delay");
    for n in 0..9 {
        login(&app.ctx, attempt("wrong again", 2000 + n)).await.unwrap_err();
    }
    login(&app.ctx, attempt(&password, 1001)).await.expect("nine failures after a success: no delay yet");

    // A patient guesser who waits out every delay gets 100 consecutive failures, then none.
    let mut failures = 0;
    let mut n = 3000;
    while failures < 100 {
        n += 1;
        match login(&app.ctx, attempt("patient guess", n)).await {
            Err(switchboard::Error::InvalidCredentials) => failures += 1,
            Err(switchboard::Error::TooManyAttempts { retry_after_secs }) => {
                app.clock.advance(chrono::Duration::seconds(retry_after_secs as i64));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    app.clock.advance(chrono::Duration::hours(6));
    let e = login(&app.ctx, attempt(&password, 9999)).await.unwrap_err();
    assert_eq!(e.code(), "too_many_attempts", "after 100 failures the password alone no longer opens it");
    // The real owner resets the password by email, which clears it.
    app.post("/v1/auth/forgot-password", json!({"email": email})).await;
    let mails = app.wait_emails_to(&email.to_lowercase(), 2).await;
    let link = mails.iter().rev().find_map(|m| m.link("/reset-password?token=")).expect("reset link");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let r = app.post("/v1/auth/reset-password", json!({"token": token, "password": "a brand new passphrase"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    login(&app.ctx, attempt("a brand new passphrase", 9999)).await.expect("the reset clears the account-wide block");
}

async fn password_hash_is_upgraded_on_login(engine: Engine) {
    use switchboard::auth::PasswordHasher;
    use switchboard::clock::OsRandom;
    use switchboard::domain::{Email, Password};
    let app = TestApp::spawn(engine).await;
    let (email, password, _) = app.register("rehash").await;
    let addr = Email::parse(&email, "email").unwrap();
    let addr = addr.as_str();
    let stored = || async { app.ctx.store.login_lookup(addr, &[]).await.unwrap().credential.unwrap().password_hash };
    let original = stored().await;
    assert!(original.contains("m=19456,t=2,p=1"));
    // A hash made with other parameters (as if the policy had changed since).
    let other = PasswordHasher::new(19_456, 3, 1).unwrap();
    let old_style = other.hash(&Password::parse_attempt(&password, "p").unwrap(), &OsRandom).await.unwrap();
    assert!(app.ctx.store.replace_password_hash(addr, &original, &old_style).await.unwrap());
    app.login(&email, &password, "web").await;
    let upgraded = stored().await;
    assert_ne!(upgraded, old_style);
    assert!(upgraded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{upgraded}");
    app.login(&email, &password, "web").await;
    assert_eq!(stored().await, upgraded, "no rehash when parameters are current");
}

async fn answers_with_secrets_are_never_cached(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let (email, password, _) = app.register("nostore").await;
    let login = app.post("/v1/auth/login", json!({"email": email, "password": password, "client": "web"})).await;
    let refresh = app.post("/v1/auth/refresh", json!({"refresh_token": login.body["refresh_token"]})).await;
    let access = refresh.body["access_token"].as_str().unwrap().to_owned();
    let enrol = app.post_auth("/v1/me/2fa", &access, json!({"password": password})).await;
    assert!(enrol.body["otpauth_uri"].is_string(), "{:?}", enrol.body);
    let failed =
        app.post("/v1/auth/login", json!({"email": email, "password": "not the password", "client": "web"})).await;
    for (what, r) in [("login", &login), ("refresh", &refresh), ("2fa enrolment", &enrol), ("an error", &failed)] {
        assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "{what}");
    }
    let jwks = app.http.get(format!("{}/.well-known/jwks.json", app.base)).send().await.unwrap();
    assert_eq!(jwks.headers()["cache-control"], "public, max-age=300", "public keys may be cached");
}
