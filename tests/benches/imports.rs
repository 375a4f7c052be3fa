//! Import benchmark: `cargo bench -p e2e --bench imports` (ROWS=100000 by default).
//!
//! Prints, for a CSV and an XLSX file of ROWS people:
//! - parse + validate rows per second (the readers alone, one thread);
//! - end-to-end import time on the local server (file-backed dynoxide, uploads on disk, the
//!   in-process worker), from the presigned upload to the job being done;
//! - DynamoDB items written per imported row (and so write units: transactional writes cost 2
//!   WCU per item under 1 KB) and round trips per row;
//! - the process's peak resident memory (VmHWM) after each phase.
//!
//! Rows have no password, so each becomes an invitation (the common case); `PASSWORD_ROWS`
//! (1000) more with passwords measure argon2id hashing on this machine.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard::config::Config;
use switchboard::import::rows::validate;
use switchboard::import::{Mapping, Workbook, suggest};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<f64>().ok()))
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

fn csv_file(rows: usize, tag: &str, password: bool) -> Vec<u8> {
    let mut out = String::from("E-mail;Voornaam;Achternaam;Telefoon;Wachtwoord\n");
    for i in 0..rows {
        let pw = if password { format!("Bench-wachtwoord-{i}") } else { String::new() };
        out.push_str(&format!("{tag}-{i}@example.com;Persoon{i};Achternaam {i};+31 6 {:08};{pw}\n", i));
    }
    out.into_bytes()
}

/// A minimal XLSX with inline strings (what many exporters write).
fn xlsx_file(rows: usize, tag: &str) -> Vec<u8> {
    let mut sheet = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    let cell = |c: &str, r: usize, v: &str| format!(r#"<c r="{c}{r}" t="inlineStr"><is><t>{v}</t></is></c>"#);
    sheet.push_str(&format!(
        "<row r=\"1\">{}{}{}{}</row>",
        cell("A", 1, "E-mail"),
        cell("B", 1, "Vorname"),
        cell("C", 1, "Nachname"),
        cell("D", 1, "Telefon")
    ));
    for i in 0..rows {
        let r = i + 2;
        sheet.push_str(&format!(
            "<row r=\"{r}\">{}{}{}{}</row>",
            cell("A", r, &format!("{tag}-{i}@example.com")),
            cell("B", r, &format!("Person{i}")),
            cell("C", r, &format!("Nachname {i}")),
            cell("D", r, &format!("+49 30 {:07}", i))
        ));
    }
    sheet.push_str("</sheetData></worksheet>");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let files = [
        ("[Content_Types].xml", r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_owned()),
        ("_rels/.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_owned()),
        ("xl/workbook.xml", r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="People" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_owned()),
        ("xl/_rels/workbook.xml.rels", r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_owned()),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    for (name, body) in files {
        zip.start_file(name, opts).expect("zip entry");
        zip.write_all(body.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

/// Rows per second through detection, reading, the mapping suggester and validation.
fn parse_rate(bytes: &[u8]) -> (usize, f64) {
    let start = Instant::now();
    let book = Workbook::open(bytes).expect("open");
    let mut head = Vec::new();
    book.for_each_row(None, |r| {
        head.push(r);
        head.len() < 20
    })
    .expect("head");
    let (s, first) = suggest(&head);
    let mapping = Mapping(s.iter().filter_map(|c| Some((c.field?, c.index))).collect());
    let (mut n, mut valid) = (0usize, 0usize);
    book.for_each_row(None, |r| {
        if r.number >= first {
            n += 1;
            valid += usize::from(validate(&r, &mapping, None).is_ok());
        }
        true
    })
    .expect("rows");
    assert_eq!(valid, n, "every generated row is valid");
    (n, n as f64 / start.elapsed().as_secs_f64())
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    org: String,
    email: String,
}

impl Api {
    /// A fresh access token (they last 10 minutes; a 100,000-row import can take longer).
    /// Log in again (access tokens last 10 minutes); returns the organization it opened.
    async fn login(&mut self) -> String {
        let login = self
            .http
            .post(format!("{}/v1/auth/login", self.base))
            .json(&json!({"login": self.email, "password": "benchmark passphrase", "client": "api"}))
            .send()
            .await
            .expect("login");
        let pair = login.json::<Value>().await.expect("json");
        self.token = pair["access_token"].as_str().expect("token").to_owned();
        pair["organization_id"].as_str().unwrap_or_default().to_owned()
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }
}

/// Upload (presigned), import, wait; returns (seconds, rows imported).
async fn import(api: &Api, bytes: Vec<u8>, mapping: Value) -> (f64, u64) {
    let start = Instant::now();
    let u = api
        .call(
            reqwest::Method::POST,
            &format!("/v1/orgs/{}/imports/uploads", api.org),
            Some(json!({"size": bytes.len()})),
        )
        .await;
    let url = u["upload"]["url"].as_str().expect("url");
    let put = api.http.put(url).body(bytes).send().await.expect("put");
    assert!(put.status().is_success());
    let job = api
        .call(
            reqwest::Method::POST,
            &format!("/v1/orgs/{}/imports", api.org),
            Some(json!({"upload_id": u["upload_id"], "mapping": mapping, "start_row": 2})),
        )
        .await;
    let id = job["job_id"].as_str().expect("job").to_owned();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let j = api.call(reqwest::Method::GET, &format!("/v1/orgs/{}/imports/{id}", api.org), None).await;
        if j["status"] == "done" {
            let c = &j["counts"];
            let imported = c["created"].as_u64().unwrap_or(0) + c["invited"].as_u64().unwrap_or(0);
            return (start.elapsed().as_secs_f64(), imported);
        }
        assert_ne!(j["status"], "failed", "{j}");
    }
}

async fn table_items(ctx: &switchboard::service::Ctx) -> u64 {
    let mut n = 0u64;
    let mut start = None;
    loop {
        let out = ctx
            .store
            .client()
            .scan()
            .table_name(ctx.store.table_name())
            .select(aws_sdk_dynamodb::types::Select::Count)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        n += out.count() as u64;
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return n,
        }
    }
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::var("ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let password_rows: usize = std::env::var("PASSWORD_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let csv = csv_file(rows, "csv", false);
    let xlsx = xlsx_file(rows, "xlsx");
    println!("files: CSV {} bytes, XLSX {} bytes, {rows} rows each", csv.len(), xlsx.len());
    for (name, bytes) in [("CSV", &csv), ("XLSX", &xlsx)] {
        let (n, rate) = parse_rate(bytes);
        println!("parse + validate {name}: {n} rows at {rate:.0} rows/s; peak RSS so far {:.0} MiB", peak_rss_mib());
    }

    let dir = local::DataDir(std::env::temp_dir().join(format!("switchboard-bench-{}", ulid::Ulid::new())));
    let config = Config { included_seats: (2 * rows + password_rows + 10) as u32, ..Config::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = Config { api_url: base.clone(), ..config };
    let local = local::open(&dir, config, 0).await.expect("open local");
    let ctx = local.ctx.clone();
    tokio::spawn(local::serve(listener, local::app(ctx.clone())));
    let http = reqwest::Client::new();
    let email = format!("bench-{}@example.com", ulid::Ulid::new().to_string().to_lowercase());
    http.post(format!("{base}/v1/auth/register"))
        .json(&json!({"email": email, "password": "benchmark passphrase", "first_name": "B", "last_name": "M", "organization_name": "Bench"}))
        .send()
        .await
        .expect("register");
    let mut api = Api { http, base, token: String::new(), org: String::new(), email };
    // The registration answer names no organization: the login opens the new one.
    api.org = api.login().await;

    let csv_mapping = json!({"email": "A", "first_name": "B", "last_name": "C", "phone": "D"});
    // FORMATS=csv,xlsx (both by default) chooses the end-to-end runs.
    let formats = std::env::var("FORMATS").unwrap_or_else(|_| "csv,xlsx".into()).to_lowercase();
    for (name, bytes) in [("CSV", csv), ("XLSX", xlsx)] {
        if !formats.split(',').any(|f| f.eq_ignore_ascii_case(name)) {
            continue;
        }
        api.login().await;
        let (items0, calls0) = (table_items(&ctx).await, ctx.store.calls());
        let (secs, imported) = import(&api, bytes, csv_mapping.clone()).await;
        let items = table_items(&ctx).await - items0;
        let calls = ctx.store.calls() - calls0;
        println!(
            "import {name} end to end: {imported} rows in {secs:.1} s = {:.0} rows/s; {:.2} items written per row \
             (= {:.1} WCU/row transactional), {:.2} DynamoDB round trips per row; peak RSS {:.0} MiB",
            imported as f64 / secs,
            items as f64 / imported as f64,
            2.0 * items as f64 / imported as f64,
            calls as f64 / imported as f64,
            peak_rss_mib()
        );
    }
    if password_rows > 0 {
        api.login().await;
        let bytes = csv_file(password_rows, "pw", true);
        let mapping = json!({"email": "A", "first_name": "B", "last_name": "C", "phone": "D", "password": "E"});
        let (secs, imported) = import(&api, bytes, mapping).await;
        println!(
            "import with passwords: {imported} logins in {secs:.1} s = {:.0} rows/s (argon2id, 4 at a time)",
            imported as f64 / secs
        );
    }
}
