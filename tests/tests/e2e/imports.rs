//! Importing users from files through HTTP: upload (direct and presigned), preview, an
//! asynchronous job, its report; seats, usernames under a login domain, re-runs, and a worker
//! killed midway.

use std::time::Duration;

use e2e::{Engine, TestApp, User, unique_email};
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard::config::Config;
use switchboard::domain::OrgId;
use switchboard::service::members::imports::{RunOutcome, run_job};

fn seats(n: u32) -> Config {
    Config { included_seats: n, ..Config::default() }
}

pub(crate) async fn upload(app: &TestApp, admin: &User, bytes: Vec<u8>) -> String {
    let r = app
        .http
        .post(format!("{}/v1/orgs/{}/imports/files", app.base, admin.org))
        .bearer_auth(&admin.access)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let r = TestApp::reply(r).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["upload_id"].as_str().unwrap().to_owned()
}

pub(crate) async fn wait_done(app: &TestApp, admin: &User, job: &str) -> Value {
    for _ in 0..600 {
        let r = app.get(&format!("/v1/orgs/{}/imports/{job}", admin.org), &admin.access).await;
        if r.body["status"] == "done" || r.body["status"] == "failed" {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("import {job} did not finish");
}

async fn report(app: &TestApp, admin: &User, job: &str) -> String {
    let r = app
        .http
        .get(format!("{}/v1/orgs/{}/imports/{job}/report.csv", app.base, admin.org))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    r.text().await.unwrap()
}

both_engines!(
    import_end_to_end,
    an_import_short_of_seats_is_refused_whole,
    a_worker_killed_midway_is_resumed_without_duplicates,
    presigned_uploads_and_files_from_real_writers,
);
dynoxide_only!(login_domains_are_unique_and_renamable);

async fn import_end_to_end(engine: Engine) {
    let app = TestApp::spawn_with(engine, seats(20)).await;
    let admin = app.signup("importer", "web").await;
    let existing = app.signup("existing", "web").await;
    let org = app.get(&format!("/v1/orgs/{}", admin.org), &admin.access).await.body["organization"].clone();
    let domain = format!("acme{}", &ulid::Ulid::new().to_string().to_lowercase()[20..]);
    let r = app
        .call(
            reqwest::Method::PUT,
            &format!("/v1/orgs/{}/login-domain", admin.org),
            Some(&admin.access),
            Some(json!({"login_domain": domain, "version": org["version"]})),
        )
        .await;
    assert_eq!((r.status, r.body["login_domain"].as_str()), (StatusCode::OK, Some(domain.as_str())), "{:?}", r.body);

    // A password from the file makes a login only on a verified company domain; every other
    // address, and every existing login, is invited.
    let company = crate::takeover::verified_domain(&app, &admin, "importco").await;
    let (fresh, invitee) = (format!("fresh@{company}"), unique_email("invitee"));
    let evil = format!("+evil@{company}");
    let csv = format!(
        "Team list;;;;;\n\
         E-mail;Voornaam;Achternaam;Telefoon;Wachtwoord;Gebruikersnaam\n\
         {fresh};Fresh;Person;+31 6 1234 5678;Sterk-wachtwoord-42;\n\
         {invitee};Ivy;Invitee;;;\n\
         {existing_email};Exi;Sting;;;\n\
         {admin_email};Ad;Min;;;\n\
         {fresh};Fresh;Again;;;\n\
         not-an-email;Bad;Row;;;\n\
         ;Jan;Username;;Ander-wachtwoord-42;JDoe\n\
         ;No;Password;;;nopass\n\
         {evil};=HYPERLINK(\"http://x\");-Evil;;Nog-een-wachtwoord-7;\n",
        existing_email = existing.email,
        admin_email = admin.email,
    );
    let upload_id = upload(&app, &admin, csv.into_bytes()).await;

    // Preview: format, delimiter, suggested mapping from the Dutch headers, seat need.
    let p = app
        .post_auth(&format!("/v1/orgs/{}/imports/uploads/{upload_id}/preview", admin.org), &admin.access, json!({}))
        .await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    assert_eq!((p.body["file"]["format"].as_str(), p.body["file"]["delimiter"].as_str()), (Some("csv"), Some(";")));
    assert_eq!(p.body["start_row"], 3);
    assert_eq!(
        p.body["mapping"],
        json!({"email": "A", "first_name": "B", "last_name": "C", "phone": "D", "password": "E", "username": "F"})
    );
    assert_eq!(p.body["columns"][1]["header"], "Voornaam");
    assert_eq!((p.body["data_rows"].as_u64(), p.body["invalid_rows"].as_u64()), (Some(9), Some(2)));
    // fresh, invitee, existing, jdoe, evil (the admin owns the organization; fresh repeats).
    assert_eq!(p.body["seats_needed"], 5);

    let mapping = p.body["mapping"].clone();
    let start = json!({"upload_id": upload_id, "mapping": mapping, "start_row": 3});
    let r = app.post_auth(&format!("/v1/orgs/{}/imports", admin.org), &admin.access, start.clone()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let job = r.body["job_id"].as_str().unwrap().to_owned();
    let done = wait_done(&app, &admin, &job).await;
    assert_eq!(done["status"], "done", "{done:?}");
    let csv = report(&app, &admin, &job).await;
    assert_eq!(
        done["counts"],
        json!({"created": 3, "invited": 2, "added": 0, "skipped": 2, "failed": 2}),
        "{done:?} {csv}"
    );
    assert_eq!((done["total"].as_u64(), done["done"].as_u64()), (Some(9), Some(9)));

    // The report: one line per row, with reasons; cells that would be formulas are defused.
    let csv = report(&app, &admin, &job).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "row,outcome,login,code,field,reason");
    assert_eq!(lines.len(), 10, "{csv}");
    assert!(lines.iter().any(|l| l.starts_with("6,skipped,") && l.contains("already_member")), "{csv}");
    assert!(lines.iter().any(|l| l.starts_with("7,skipped,") && l.contains("duplicate_in_file")), "{csv}");
    assert!(lines.iter().any(|l| l.starts_with("8,failed,") && l.contains("invalid_email")), "{csv}");
    assert!(lines.iter().any(|l| l.starts_with("10,failed,") && l.contains("password_required")), "{csv}");

    // The people: a login with the file's password, a username login, an invitation email,
    // the existing login invited (never a member without a word); the formula-looking name
    // is stored as text.
    let r =
        app.post("/v1/auth/login", json!({"login": fresh, "password": "Sterk-wachtwoord-42", "client": "web"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["organization_id"], admin.org);
    let login = format!("{domain}\\jdoe");
    let r = app
        .post("/v1/auth/login", json!({"login": login, "password": "Ander-wachtwoord-42", "client": "mobile"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let me = app.get("/v1/me", r.body["access_token"].as_str().unwrap()).await;
    assert_eq!((me.body["user"]["email"].clone(), me.body["user"]["first_name"].clone()), (Value::Null, json!("Jan")));
    // Shown as typed at sign-in, not as kept (under the organization's id).
    assert_eq!(me.body["user"]["username"].as_str(), Some(login.as_str()), "{:?}", me.body);
    let wrong = format!("other{domain}\\jdoe");
    let r =
        app.post("/v1/auth/login", json!({"login": wrong, "password": "Ander-wachtwoord-42", "client": "web"})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    app.run_mail_worker().await;
    let mail = app.wait_emails_to(&invitee, 1).await;
    assert!(mail[0].link("/accept-invitation?token=").is_some());
    assert!(app.wait_link(&existing.email, "/accept-invitation?token=").await.is_some(), "the existing login is asked");
    let members = app.get(&format!("/v1/orgs/{}/members?limit=200", admin.org), &admin.access).await;
    let names: Vec<&str> =
        members.body["members"].as_array().unwrap().iter().filter_map(|m| m["name"].as_str()).collect();
    assert!(names.iter().any(|n| n.starts_with("=HYPERLINK")), "{names:?}");
    // In the report, the address starting with `+` is written as text.
    assert!(csv.lines().any(|l| l.starts_with("11,created,'+evil@")), "{csv}");
    let figures = app.get(&format!("/v1/orgs/{}/seats", admin.org), &admin.access).await.body;
    assert_eq!((figures["reserved"].as_u64(), figures["free"].as_u64()), (Some(0), Some(15)), "{figures:?}");

    // The same file again changes nothing: everyone is a member or invited now.
    let r = app.post_auth(&format!("/v1/orgs/{}/imports", admin.org), &admin.access, start).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let again = wait_done(&app, &admin, r.body["job_id"].as_str().unwrap()).await;
    assert_eq!(
        again["counts"],
        json!({"created": 0, "invited": 0, "added": 0, "skipped": 7, "failed": 2}),
        "{again:?}"
    );
    let after = app.get(&format!("/v1/orgs/{}/seats", admin.org), &admin.access).await.body;
    assert_eq!(after, figures);
}

async fn an_import_short_of_seats_is_refused_whole(engine: Engine) {
    let app = TestApp::spawn_with(engine, seats(2)).await;
    let admin = app.signup("short", "web").await;
    let csv: String = std::iter::once("email,first name\n".to_owned())
        .chain((0..5).map(|i| format!("{},P{i}\n", unique_email("s"))))
        .collect();
    let upload_id = upload(&app, &admin, csv.into_bytes()).await;
    let start = json!({"upload_id": upload_id, "mapping": {"email": "A", "first_name": "B"}, "start_row": 2});
    let r = app.post_auth(&format!("/v1/orgs/{}/imports", admin.org), &admin.access, start).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "no_free_seats"), "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("buy 3"), "{:?}", r.body);
    let figures = app.get(&format!("/v1/orgs/{}/seats", admin.org), &admin.access).await.body;
    assert_eq!((figures["free"].as_u64(), figures["reserved"].as_u64()), (Some(2), Some(0)));
    assert_eq!(app.count_items("IMPORTROW#").await, 0);
    let r = app.get(&format!("/v1/orgs/{}/invitations", admin.org), &admin.access).await;
    assert_eq!(r.body["invitations"].as_array().unwrap().len(), 0);
}

async fn a_worker_killed_midway_is_resumed_without_duplicates(engine: Engine) {
    let app = TestApp::spawn_holding_imports(engine, seats(400)).await;
    let admin = app.signup("resume", "web").await;
    let rows = 260;
    let csv: String = std::iter::once("E-Mail-Adresse,Vorname\n".to_owned())
        .chain((0..rows).map(|i| format!("{},Person {i}\n", unique_email("r"))))
        .collect();
    let upload_id = upload(&app, &admin, csv.into_bytes()).await;
    let start = json!({"upload_id": upload_id, "mapping": {"email": "A", "first_name": "B"}, "start_row": 2});
    let r = app.post_auth(&format!("/v1/orgs/{}/imports", admin.org), &admin.access, start).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let job = r.body["job_id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["seats_reserved"], rows);
    let org = OrgId::parse(&admin.org, "org").unwrap();

    // A worker that is killed after its first checkpoint, in the middle of its second chunk.
    let (ctx, org2, job2) = (app.ctx.clone(), org.clone(), job.clone());
    let worker = tokio::spawn(async move { run_job(&ctx, &org2, &job2, None).await });
    loop {
        let j = app.ctx.store.get_import_job(&org, &job).await.unwrap().unwrap();
        if j.next_row > 2 && app.count_items(&format!("IMPORTROW#{job}")).await > 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    worker.abort();
    let _ = worker.await;
    let midway = app.get(&format!("/v1/orgs/{}/imports/{job}", admin.org), &admin.access).await.body;
    assert_eq!(midway["status"], "running");
    assert!(midway["done"].as_u64().unwrap() < rows, "{midway:?}");

    // Another worker waits while the dead one's lease lasts, then takes over.
    assert_eq!(run_job(&app.ctx, &org, &job, None).await.unwrap(), RunOutcome::NotMine);
    app.clock.advance(chrono::Duration::seconds(301));
    assert_eq!(run_job(&app.ctx, &org, &job, None).await.unwrap(), RunOutcome::Finished);
    let done = wait_done(&app, &admin, &job).await;
    assert_eq!(done["counts"]["invited"], rows, "{done:?}");
    assert_eq!(done["done"], rows);
    assert_eq!(app.count_items(&format!("IMPORTROW#{job}")).await, rows as usize);
    let mut cursor: Option<String> = None;
    let mut invited = std::collections::HashSet::new();
    loop {
        let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = app.get(&format!("/v1/orgs/{}/invitations?limit=200{q}", admin.org), &admin.access).await.body;
        for i in page["invitations"].as_array().unwrap() {
            assert!(invited.insert(i["email"].as_str().unwrap().to_owned()), "invited twice");
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(invited.len(), rows as usize);
    let figures = app.get(&format!("/v1/orgs/{}/seats", admin.org), &admin.access).await.body;
    assert_eq!((figures["pending"].as_u64(), figures["reserved"].as_u64()), (Some(rows), Some(0)), "{figures:?}");
}

async fn presigned_uploads_and_files_from_real_writers(engine: Engine) {
    let app = TestApp::spawn_with(engine, seats(20)).await;
    let admin = app.signup("presign", "web").await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/import/");
    for (name, format) in [
        ("people-openpyxl.xlsx", "xlsx"),
        ("people-libreoffice.xlsx", "xlsx"),
        ("people-libreoffice.xls", "xls"),
        ("people-semicolon-1252.csv", "csv"),
        ("people-tab-utf16.csv", "csv"),
    ] {
        let bytes = std::fs::read(format!("{fixtures}{name}")).unwrap();
        let r = app
            .post_auth(&format!("/v1/orgs/{}/imports/uploads", admin.org), &admin.access, json!({"size": bytes.len()}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let id = r.body["upload_id"].as_str().unwrap().to_owned();
        let url = r.body["upload"]["url"].as_str().unwrap().to_owned();
        // Before the PUT there is nothing to preview.
        let preview = format!("/v1/orgs/{}/imports/uploads/{id}/preview", admin.org);
        assert_eq!(app.post_auth(&preview, &admin.access, json!({})).await.code(), "upload_incomplete");
        let put = app.http.put(&url).body(bytes).send().await.unwrap();
        assert!(put.status().is_success(), "{name}: {} {}", put.status(), put.text().await.unwrap_or_default());
        let p = app.post_auth(&preview, &admin.access, json!({})).await;
        assert_eq!(p.status, StatusCode::OK, "{name}: {:?}", p.body);
        assert_eq!(p.body["file"]["format"], format, "{name}");
        assert_eq!(p.body["start_row"], 4, "{name}");
        assert_eq!(p.body["mapping"]["email"], "A", "{name}");
        assert_eq!(p.body["mapping"]["password"], "E", "{name}");
    }
    // Hostile files get a clear error through the API too.
    for (name, code) in [("hostile-bomb.xlsx", "zip_limits"), ("hostile-password.xlsx", "password_protected")] {
        let id = upload(&app, &admin, std::fs::read(format!("{fixtures}{name}")).unwrap()).await;
        let p = app
            .post_auth(&format!("/v1/orgs/{}/imports/uploads/{id}/preview", admin.org), &admin.access, json!({}))
            .await;
        assert_eq!((p.status, p.code()), (StatusCode::UNPROCESSABLE_ENTITY, code), "{name}");
    }
    // Nothing over the direct limit in a request body, and no presigned upload over 20 MiB.
    let r = app
        .post_auth(&format!("/v1/orgs/{}/imports/uploads", admin.org), &admin.access, json!({"size": 21 * 1024 * 1024}))
        .await;
    assert_eq!(r.code(), "file_too_large");
    // A member who may not manage members may not import.
    let viewer = app.signup("viewer", "web").await;
    app.add_member(
        &viewer.id,
        &admin.org,
        &[switchboard::domain::Role::Viewer],
        switchboard::access::Scope::Subtree,
        switchboard::access::Manage::All,
    )
    .await;
    let r =
        app.post_auth(&format!("/v1/orgs/{}/imports/uploads", admin.org), &viewer.access, json!({"size": 10})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn login_domains_are_unique_and_renamable(engine: Engine) {
    let app = TestApp::spawn_with(engine, seats(5)).await;
    let (a, b) = (app.signup("doma", "web").await, app.signup("domb", "web").await);
    let set_in = |org: &str, user: &User, domain: Value, version: Value| {
        let path = format!("/v1/orgs/{org}/login-domain");
        let token = user.access.clone();
        let app = &app;
        async move {
            app.call(
                reqwest::Method::PUT,
                &path,
                Some(&token),
                Some(json!({"login_domain": domain, "version": version})),
            )
            .await
        }
    };
    let set = |user: &User, domain: Value, version: Value| set_in(&user.org, user, domain, version);
    let name = format!("dom{}", &ulid::Ulid::new().to_string().to_lowercase()[18..]);
    let r = set(&a, json!(name.to_uppercase()), json!(1)).await;
    assert_eq!((r.status, r.body["login_domain"].as_str()), (StatusCode::OK, Some(name.as_str())), "{:?}", r.body);
    // Taken by another organization; a stale version; not a domain.
    assert_eq!(set(&b, json!(name), json!(1)).await.code(), "login_domain_taken");
    assert_eq!(set(&a, json!("other"), json!(1)).await.code(), "conflict");
    let r = set(&a, json!("-bad-"), json!(2)).await;
    assert_eq!(
        (r.status, r.code(), r.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_login_domain", Some("login_domain"))
    );
    // A viewer may not change it.
    let viewer = app.signup("domviewer", "web").await;
    app.add_member(
        &viewer.id,
        &a.org,
        &[switchboard::domain::Role::Viewer],
        switchboard::access::Scope::Subtree,
        switchboard::access::Manage::All,
    )
    .await;
    let r = set_in(&a.org, &viewer, json!("mine"), json!(2)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

    // A username login made under the domain keeps working when the domain is renamed, and
    // the old name is free for others.
    let csv = "username,first name,password\nkim,Kim,Kims-eigen-wachtwoord-1\n".to_owned();
    let upload_id = upload(&app, &a, csv.into_bytes()).await;
    let start = json!({"upload_id": upload_id, "mapping": {"username": "A", "first_name": "B", "password": "C"}, "start_row": 2});
    let r = app.post_auth(&format!("/v1/orgs/{}/imports", a.org), &a.access, start).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let done = wait_done(&app, &a, r.body["job_id"].as_str().unwrap()).await;
    assert_eq!(done["counts"]["created"], 1, "{done:?}");
    let renamed = format!("{name}x");
    assert_eq!(set(&a, json!(renamed), json!(2)).await.status, StatusCode::OK);
    let login = |domain: &str| json!({"login": format!("{domain}\\kim"), "password": "Kims-eigen-wachtwoord-1", "client": "web"});
    assert_eq!(app.post("/v1/auth/login", login(&renamed)).await.status, StatusCode::OK);
    assert_eq!(app.post("/v1/auth/login", login(&name)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(set(&b, json!(name), json!(1)).await.status, StatusCode::OK);
}

/// The AWS path: the job travels through SQS to the worker (as `import-worker` runs it); a run
/// that nears its deadline stops at a checkpoint and sends the job on.
#[tokio::test]
async fn jobs_travel_through_sqs_and_long_runs_are_sent_on() {
    use switchboard::service::members::imports::{ImportQueue, JobMessage};
    let sdk = local::local_sdk_config(&e2e::moto_endpoint()).await;
    let sqs = switchboard::aws::sqs(&sdk);
    let name = format!("imports-{}", ulid::Ulid::new().to_string().to_lowercase());
    let url = sqs.get().create_queue().queue_name(name).send().await.expect("queue").queue_url.expect("url");
    let queue = ImportQueue::Sqs { client: sqs.clone(), url: url.clone() };
    let app = TestApp::spawn_full(Engine::Moto, seats(200), queue).await;
    let admin = app.signup("sqs", "web").await;
    let rows = 150;
    let csv: String = std::iter::once("email,first name\n".to_owned())
        .chain((0..rows).map(|i| format!("{},Q{i}\n", unique_email("q"))))
        .collect();
    let upload_id = upload(&app, &admin, csv.into_bytes()).await;
    let start = json!({"upload_id": upload_id, "mapping": {"email": "A", "first_name": "B"}, "start_row": 2});
    let r = app.post_auth(&format!("/v1/orgs/{}/imports", admin.org), &admin.access, start).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let receive = || async {
        let out = sqs.get().receive_message().queue_url(&url).wait_time_seconds(1).send().await.expect("receive");
        let m = out.messages.unwrap_or_default().into_iter().next().expect("a job message");
        sqs.get()
            .delete_message()
            .queue_url(&url)
            .receipt_handle(m.receipt_handle.unwrap_or_default())
            .send()
            .await
            .unwrap();
        serde_json::from_str::<JobMessage>(&m.body.unwrap_or_default()).expect("job message")
    };
    // A worker with 30 s left stops after its first chunk and sends the job on.
    let msg = receive().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    assert_eq!(run_job(&app.ctx, &msg.org_id, &msg.job_id, Some(deadline)).await.unwrap(), RunOutcome::Paused);
    let part = app.get(&format!("/v1/orgs/{}/imports/{}", admin.org, msg.job_id), &admin.access).await.body;
    assert_eq!(part["done"], 100, "{part:?}");
    app.ctx.imports.enqueue(&app.ctx, msg).await.unwrap();
    let msg = receive().await;
    assert_eq!(run_job(&app.ctx, &msg.org_id, &msg.job_id, None).await.unwrap(), RunOutcome::Finished);
    let done = wait_done(&app, &admin, &msg.job_id).await;
    assert_eq!((done["counts"]["invited"].as_u64(), done["done"].as_u64()), (Some(rows), Some(rows)), "{done:?}");
}
