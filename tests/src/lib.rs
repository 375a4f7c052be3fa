//! Test harness: the whole API served on loopback over a real DynamoDB engine — an in-process
//! dynoxide (fresh in-memory database per test) or a moto server (fresh table per test) — with
//! email read back from where it really went (the outbox folder, or moto's SES endpoint).

pub mod dns_server;
pub mod fault_proxy;
pub mod lambda_gateway;
pub mod lambda_host;
pub mod test_clock;

pub use test_clock::{TEST_EPOCH, TestClock};

use std::path::PathBuf;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use switchboard::access::{Manage, Scope};
use switchboard::auth::jwt::KeysConfig;
use switchboard::clock::{Clock, OsRandom, Random};
use switchboard::config::Config;
use switchboard::domain::{OrgId, Role, UserId};
use switchboard::files::FileStore;
use switchboard::mail::queue::{EmailQueue, Received, SqsQueue};
use switchboard::mail::{Mailer, OutboxMailer, SesMailer};
use switchboard::service::Ctx;
use switchboard::store::{MembershipRecord, Store};

use fault_proxy::FaultProxy;

pub const SENDER: &str = "Switchboard <no-reply@switchboard.test>";
const SENDER_ADDRESS: &str = "no-reply@switchboard.test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Dynoxide,
    Moto,
}

/// The moto server the test script started. Missing → fail loudly with how to get one.
pub fn moto_endpoint() -> String {
    match std::env::var("MOTO_ENDPOINT") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "MOTO_ENDPOINT is not set, so the moto half of the suite cannot run. Run `scripts/test.sh` \
             (it installs moto[server] into .venv and starts it), or install it with \
             `pip install 'moto[server]'`, start `moto_server -H 127.0.0.1 -p 5000` and set \
             MOTO_ENDPOINT=http://127.0.0.1:5000."
        ),
    }
}

pub struct TestApp {
    pub engine: Engine,
    pub base: String,
    pub http: reqwest::Client,
    pub ctx: Arc<Ctx>,
    pub clock: TestClock,
    outbox: Option<PathBuf>,
    moto: Option<String>,
    /// The SQS queue on moto; drained by [`TestApp::run_mail_worker`] as the Lambda worker would.
    sqs: Option<Arc<SqsQueue>>,
    /// The events queue on moto, drained by [`TestApp::run_event_worker`].
    events: Option<Arc<SqsQueue>>,
    dynoxide: Option<local::Engine>,
    /// The signing keys, for running a function binary against the same data.
    pub keys: KeysConfig,
    /// The DNS server the API looks TXT records up on.
    pub dns: dns_server::DnsServer,
    /// The token the messaging service presents to the internal routes.
    pub service_token: String,
    faults: Option<FaultProxy>,
    /// Where text messages go on dynoxide (moto's SNS keeps them otherwise).
    sms_outbox: Option<PathBuf>,
}

/// A signed-up user with an access token (for the client it logged in on).
#[derive(Debug, Clone)]
pub struct User {
    pub email: String,
    pub password: String,
    pub id: String,
    /// The organization created at registration.
    pub org: String,
    pub access: String,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// The DynamoDB calls the request made, from its `Server-Timing` (what the request itself
    /// made, whatever the mail worker or another test does meanwhile).
    pub fn calls(&self) -> u64 {
        let timing = self.headers.get("server-timing").and_then(|v| v.to_str().ok()).expect("Server-Timing");
        timing
            .split(',')
            .filter_map(|m| m.trim().strip_prefix("dynamodb;"))
            .flat_map(|params| params.split(';'))
            .find_map(|p| p.trim().strip_prefix("calls="))
            .and_then(|n| n.parse().ok())
            .expect("dynamodb;calls=N")
    }
}

#[derive(Debug, Clone)]
pub struct ReceivedEmail {
    pub to: String,
    pub subject: String,
    /// The text and HTML parts, one after the other.
    pub body: String,
    pub text: String,
    pub html: String,
    /// `Content-Language`.
    pub language: Option<String>,
    /// The inline image the HTML shows (`src="cid:…"`): its content type and bytes.
    pub logo: Option<(String, Vec<u8>)>,
    /// `List-Unsubscribe` and `List-Unsubscribe-Post`, as sent.
    pub list_unsubscribe: Option<String>,
    pub list_unsubscribe_post: Option<String>,
}

impl ReceivedEmail {
    /// The first URL in the body that contains `needle`.
    pub fn link(&self, needle: &str) -> Option<String> {
        let text = self.body.replace("&amp;", "&");
        text.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>')
            .find(|w| w.starts_with("http") && w.contains(needle))
            .map(str::to_owned)
    }
}

/// A message as a mail client reads it: the first recipient, the decoded subject, and the
/// decoded text and HTML parts (for finding links). `None` for bytes that are not a message.
pub fn parse_email(bytes: &[u8]) -> Option<ReceivedEmail> {
    use mail_parser::MimeHeaders;
    let m = mail_parser::MessageParser::default().parse(bytes)?;
    let to = m.to()?.first()?.address()?.to_owned();
    let text = m.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
    let html = m.body_html(0).map(|t| t.into_owned()).unwrap_or_default();
    // The image the HTML's `src="cid:…"` names, as a client finds it.
    let shown = html.split("src=\"cid:").nth(1).and_then(|r| r.split('"').next()).map(str::to_owned);
    let logo = m.attachments().find(|a| a.content_id().is_some() && a.content_id() == shown.as_deref()).map(|a| {
        let ct = a.content_type().map(|c| format!("{}/{}", c.c_type, c.c_subtype.as_deref().unwrap_or_default()));
        (ct.unwrap_or_default(), a.contents().to_vec())
    });
    let language = m.header_raw("Content-Language").map(|l| l.trim().to_owned());
    let header = |name: &str| m.header_raw(name).map(|v| v.trim().to_owned());
    Some(ReceivedEmail {
        to,
        subject: m.subject().unwrap_or_default().to_owned(),
        body: format!("{text}\n{html}"),
        text,
        html,
        language,
        logo,
        list_unsubscribe: header("List-Unsubscribe"),
        list_unsubscribe_post: header("List-Unsubscribe-Post"),
    })
}

/// Receive everything `q` holds, ten at a time, hand each batch to `work` as the Lambda
/// worker is handed it, and delete what `work` does not hand back (those are returned; they
/// stay in the queue until their visibility timeout ends).
async fn drain<F, Fut>(q: &SqsQueue, work: F) -> Vec<String>
where
    F: Fn(Vec<Received>) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let mut returned = Vec::new();
    loop {
        let out =
            q.client().receive_message().queue_url(q.url()).max_number_of_messages(10).send().await.expect("receive");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return returned;
        }
        let batch: Vec<Received> = messages
            .iter()
            .map(|m| Received {
                id: m.receipt_handle.clone().unwrap_or_default(),
                body: m.body.clone().unwrap_or_default(),
                receive_count: 1,
            })
            .collect();
        let retry = work(batch).await;
        for m in messages {
            let handle = m.receipt_handle.unwrap_or_default();
            if !retry.contains(&handle) {
                q.client().delete_message().queue_url(q.url()).receipt_handle(handle).send().await.expect("delete");
            }
        }
        returned.extend(retry);
    }
}

/// The messages of an outbox folder (emails or text messages), oldest first: their names are
/// the ULIDs they were recorded under. One still being written (a hidden `.part` file) is not
/// one yet.
pub fn files_in(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// A plain English email to `to`: no logo, no unsubscribe link.
pub fn plain_email(to: &str, subject: &str, text: &str) -> switchboard::mail::OutgoingEmail {
    switchboard::mail::OutgoingEmail {
        to: switchboard::domain::Email::parse(to, "to").expect("an address"),
        subject: subject.into(),
        text: text.into(),
        html: format!("<p>{text}</p>"),
        language: switchboard::domain::Language::En,
        logo: None,
        unsubscribe: None,
    }
}

pub fn unique_email(tag: &str) -> String {
    format!("{}-{}@example.com", tag.to_lowercase(), ulid::Ulid::new().to_string().to_lowercase())
}

/// The pacing rates tests run at: a local engine has no partition limit to stay under, and a
/// test that waited at production rates would spend its time asleep. `hot_keys`, which
/// measures what production pacing does, keeps the configured rates
/// ([`TestApp::spawn_faulty_paced`]).
pub const UNPACED: u32 = 100_000;

fn unpaced(mut config: Config) -> Config {
    config.import_rows_per_second = UNPACED;
    config.invitations_per_second = UNPACED;
    // Each answer says how many DynamoDB calls it made ([`Reply::calls`]).
    config.server_timing = true;
    config
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> TestApp {
        Self::spawn_with(engine, Config::default()).await
    }

    pub async fn spawn_with(engine: Engine, config: Config) -> TestApp {
        Self::spawn_full(engine, config, switchboard::service::members::imports::ImportQueue::InProcess).await
    }

    /// With import jobs held until the test runs them (`ImportQueue::Held`).
    pub async fn spawn_holding_imports(engine: Engine, config: Config) -> TestApp {
        Self::spawn_full(engine, config, switchboard::service::members::imports::ImportQueue::Held).await
    }

    /// With import jobs sent to `imports` (e.g. an SQS queue on moto).
    pub async fn spawn_full(
        engine: Engine,
        config: Config,
        imports: switchboard::service::members::imports::ImportQueue,
    ) -> TestApp {
        Self::spawn_inner(engine, unpaced(config), imports, false).await
    }

    /// With every AWS call (DynamoDB; on moto SES and SQS too) through a [`FaultProxy`] the
    /// test programs (`app.faults()`).
    pub async fn spawn_faulty(engine: Engine) -> TestApp {
        let imports = switchboard::service::members::imports::ImportQueue::InProcess;
        Self::spawn_inner(engine, unpaced(Config::default()), imports, true).await
    }

    /// [`TestApp::spawn_faulty`] at the production pacing rates.
    pub async fn spawn_faulty_paced(engine: Engine) -> TestApp {
        let imports = switchboard::service::members::imports::ImportQueue::InProcess;
        Self::spawn_inner(engine, Config::default(), imports, true).await
    }

    /// The fault proxy of an app from [`TestApp::spawn_faulty`].
    pub fn faults(&self) -> &FaultProxy {
        self.faults.as_ref().expect("spawned without a fault proxy: use TestApp::spawn_faulty")
    }

    async fn spawn_inner(
        engine: Engine,
        mut config: Config,
        imports: switchboard::service::members::imports::ImportQueue,
        faulty: bool,
    ) -> TestApp {
        if std::env::var_os("TEST_LOG").is_some() {
            switchboard::telemetry::init();
        }
        let random: Arc<dyn Random> = Arc::new(OsRandom);
        let clock = TestClock::new();
        config.table = format!("sb-test-{}", ulid::Ulid::new().to_string().to_lowercase());
        config.sender = SENDER.into();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        config.api_url = base.clone();
        let files;
        let faults;
        let (store, mailer, outbox, moto, dynoxide, sqs): (Store, Arc<dyn Mailer>, _, _, _, Option<Arc<SqsQueue>>) =
            match engine {
                Engine::Dynoxide => {
                    let db = dynoxide::Database::memory().expect("in-memory dynoxide");
                    let eng = local::serve_dynoxide(db, 0).await.expect("serve dynoxide");
                    let (sdk, proxy) = sdk_for(&eng.endpoint, faulty).await;
                    faults = proxy;
                    let dir = std::env::temp_dir().join(format!("switchboard-outbox-{}", ulid::Ulid::new()));
                    let mailer = Arc::new(OutboxMailer::new(dir.clone(), SENDER));
                    files = FileStore::Disk { dir: dir.with_extension("uploads") };
                    (Store::new(&sdk, &config.table, None), mailer, Some(dir), None, Some(eng), None)
                }
                Engine::Moto => {
                    let url = moto_endpoint();
                    let (sdk, proxy) = sdk_for(&url, faulty).await;
                    faults = proxy;
                    let ses = aws_sdk_ses::Client::new(&sdk);
                    ses.verify_email_identity().email_address(SENDER_ADDRESS).send().await.unwrap_or_else(|e| {
                        panic!("moto at {url} did not answer ({e:?}); is moto_server running? See scripts/test.sh")
                    });
                    let mailer = Arc::new(SesMailer::new(&sdk, None, SENDER));
                    let sqs = aws_sdk_sqs::Client::new(&sdk);
                    let queue_url = sqs
                        .create_queue()
                        .queue_name(config.table.clone())
                        .send()
                        .await
                        .expect("create SQS queue on moto")
                        .queue_url
                        .expect("queue url");
                    let queue = Arc::new(SqsQueue::new(&sdk, &queue_url));
                    // Uploads go to S3 on moto, through real presigned URLs.
                    let s3 = FileStore::s3(&sdk, &config.table, Some(&url));
                    if let FileStore::S3 { client, bucket } = &s3 {
                        client.get().create_bucket().bucket(bucket).send().await.expect("create S3 bucket on moto");
                    }
                    files = s3;
                    (Store::new(&sdk, &config.table, None), mailer, None, Some(url), None, Some(queue))
                }
            };
        store.create_table_if_missing().await.expect("create table");
        let keys = KeysConfig::generate(random.as_ref()).expect("keys");
        let clock_dyn: Arc<dyn Clock> = Arc::new(clock.clone());
        let queue: Option<Arc<dyn EmailQueue>> = sqs.clone().map(|q| q as Arc<dyn EmailQueue>);
        let mail = switchboard::service::Mail { mailer, queue, files };
        let mut ctx = Ctx::new(config, store, mail, &keys, clock_dyn, random).expect("ctx");
        ctx.imports = imports;
        let mut events = None;
        if let Some(q) = &sqs {
            ctx.email_requests = switchboard::service::notify::email_requests::RequestQueue::Sqs {
                client: q.lazy_client(),
                url: q.url().to_owned(),
            };
            let url = q
                .client()
                .create_queue()
                .queue_name(format!("{}-events", ctx.config.table))
                .send()
                .await
                .expect("create the events queue on moto")
                .queue_url
                .expect("queue url");
            let eq = Arc::new(SqsQueue::with_client(q.lazy_client(), &url));
            ctx.events = switchboard::service::notify::notifications::EventQueue::Sqs { client: eq.lazy_client(), url };
            events = Some(eq);
        }
        let dns = dns_server::DnsServer::start().await;
        ctx.dns = switchboard::dns::Dns::Servers(vec![dns.addr]);
        let sms_outbox = match &moto {
            Some(url) => {
                let sdk = local::local_sdk_config(url).await;
                ctx.sms = switchboard::sms::SmsSender::sns(&sdk);
                None
            }
            None => {
                let dir = std::env::temp_dir().join(format!("switchboard-sms-{}", ulid::Ulid::new()));
                ctx.sms = switchboard::sms::SmsSender::Outbox { dir: dir.clone() };
                Some(dir)
            }
        };
        let service_token = ulid::Ulid::new().to_string();
        ctx.config.service_token = Some(service_token.clone());
        let ctx = Arc::new(ctx);
        let app = local::app(ctx.clone());
        tokio::spawn(local::serve(listener, app));
        TestApp {
            engine,
            base,
            http: reqwest::Client::new(),
            ctx,
            clock,
            outbox,
            moto,
            sqs,
            events,
            dynoxide,
            keys,
            dns,
            service_token,
            sms_outbox,
            faults,
        }
    }

    /// The email queue's and the events queue's URLs on moto (for function binaries run
    /// against the same engine).
    pub fn queue_urls(&self) -> (Option<String>, Option<String>) {
        (self.sqs.as_ref().map(|q| q.url().to_owned()), self.events.as_ref().map(|q| q.url().to_owned()))
    }

    /// Where the table lives (dynoxide's or moto's HTTP endpoint).
    pub fn dynamodb_endpoint(&self) -> Option<String> {
        self.dynoxide.as_ref().map(|e| e.endpoint.clone()).or_else(|| self.moto.clone())
    }

    /// A client that shows redirects instead of following them (browser flows).
    pub fn no_redirects(&self) -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
    }

    pub fn clock_now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        Self::reply(resp).await
    }

    pub async fn reply(resp: reqwest::Response) -> Reply {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, headers, body }
    }

    /// A request with `If-Match` (when given) and a JSON body (when given).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        etag: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(e) = etag {
            req = req.header("If-Match", e);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::reply(req.send().await.expect("request")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, None, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// Register a user with an organization; returns (email, password, response body).
    pub async fn register(&self, tag: &str) -> (String, String, Value) {
        let email = unique_email(tag);
        let password = "correct horse battery staple".to_owned();
        let r = self
            .post(
                "/v1/auth/register",
                serde_json::json!({"email": email, "password": password, "first_name": "Ann", "last_name": "Smith",
                                   "organization_name": format!("{tag} Inc")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "register: {:?}", r.body);
        (email, password, r.body)
    }

    pub async fn login(&self, email: &str, password: &str, client: &str) -> Value {
        let r = self
            .post("/v1/auth/login", serde_json::json!({"email": email, "password": password, "client": client}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "login: {:?}", r.body);
        r.body
    }

    /// Register and log in on `client`: the returned user owns one organization. (The
    /// registration answer names neither, so that it cannot tell a new address from a taken one.)
    pub async fn signup(&self, tag: &str, client: &str) -> User {
        let (email, password, _) = self.register(tag).await;
        let tokens = self.login(&email, &password, client).await;
        let access = tokens["access_token"].as_str().unwrap_or_default().to_owned();
        let me = self.get("/v1/me", &access).await;
        User {
            email,
            password,
            id: me.body["user"]["id"].as_str().unwrap_or_default().to_owned(),
            org: tokens["organization_id"].as_str().unwrap_or_default().to_owned(),
            access,
        }
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// Give `user` a membership in `org` directly in storage (invitations come later).
    pub async fn add_member(&self, user: &str, org: &str, roles: &[Role], scope: Scope, manage: Manage) {
        let org = OrgId::parse(org, "org").expect("org id");
        let record = self.ctx.store.get_org(&org).await.expect("get org").expect("org exists");
        let m = MembershipRecord {
            user_id: UserId::parse(user, "user").expect("user id"),
            org_id: org,
            org_ancestors: record.ancestors,
            roles: roles.to_vec(),
            scope,
            manage,
            joined_at: chrono::Utc::now(),
            status: Default::default(),
            member_email: None,
            member_name: None,
            member_login: None,
            shared: false,
            sessions_before: None,
        };
        self.ctx.store.put_membership(&m).await.expect("put membership");
    }

    /// Create a sub-account under `parent` as `token`'s user; returns its id.
    pub async fn sub_account(&self, token: &str, parent: &str, name: &str) -> String {
        let r =
            self.post_auth(&format!("/v1/orgs/{parent}/sub-accounts"), token, serde_json::json!({"name": name})).await;
        assert_eq!(r.status, StatusCode::CREATED, "create sub-account: {:?}", r.body);
        r.body["id"].as_str().unwrap_or_default().to_owned()
    }

    /// Deliver what is queued: on moto, receive from SQS and run the worker's batch code
    /// (deleting what it delivered); locally the in-process worker is already running.
    pub async fn run_mail_worker(&self) {
        self.run_event_worker().await;
        let Some(q) = &self.sqs else { return };
        // On a task of its own, as in Lambda: under the test's future, a debug build of the
        // worker's send path outgrows the test thread's stack.
        drain(q, |batch| {
            let ctx = self.ctx.clone();
            async move {
                let work =
                    async move { switchboard::service::notify::email_requests::process_batch(&ctx, batch).await };
                tokio::spawn(switchboard::aws::as_function("mail-worker", work)).await.expect("mail worker task")
            }
        })
        .await;
    }

    /// Deliver and wait until no email request is being decided and no recorded email waits
    /// to be sent: the worker's last write for an email takes it out of the outbox's due
    /// index, and until then (on the embedded default, where the worker runs beside the test)
    /// its calls would land on a count a test is taking. After it, an email that was not sent
    /// will not be (the positive signal tests wait for instead of a pause).
    pub async fn mail_settled(&self) {
        let far = self.ctx.now() + chrono::Duration::days(3650);
        for _ in 0..500 {
            if let switchboard::service::notify::email_requests::RequestQueue::InProcess(requests) =
                &self.ctx.email_requests
            {
                requests.idle().await;
            }
            // On moto they wait in SQS for the worker the test drives.
            self.run_mail_worker().await;
            let mut waiting = 0;
            for shard in 0..switchboard::store::MAIL_SHARDS {
                waiting += self.ctx.store.unsent_mail(shard, far, 1, None).await.expect("outbox").0.len();
            }
            if waiting == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("recorded emails still wait to be sent after 5 s");
    }

    /// Inject `rule` once the emails already recorded have gone out: on the embedded default
    /// the mail worker runs beside the test, and its transactions would otherwise take a
    /// fault meant for the request under test (and let that request through).
    pub async fn inject_fault(&self, rule: fault_proxy::Rule) {
        self.mail_settled().await;
        self.faults().inject(rule);
    }

    /// Relay the recorded emails that waited over a minute, as the embedded default's relay
    /// does every 30 seconds (in AWS the digest schedule), and deliver them; returns how many
    /// were relayed.
    pub async fn relay_emails(&self) -> usize {
        let n = switchboard::aws::as_function("digests", switchboard::service::notify::outbox::relay(&self.ctx))
            .await
            .expect("relay recorded emails");
        self.run_mail_worker().await;
        n
    }

    /// Record what the events queue holds, as the notifications worker does (moto; the
    /// embedded default records events in the request that raised them).
    pub async fn run_event_worker(&self) {
        let Some(q) = &self.events else { return };
        let retry = drain(q, |batch| {
            switchboard::aws::as_function(
                "notifications-worker",
                switchboard::service::notify::notifications::process_events(&self.ctx, batch),
            )
        })
        .await;
        assert!(retry.is_empty(), "events returned to the queue: {retry:?}");
    }

    /// Log in on the web with a given `User-Agent`; the status.
    pub async fn login_with_agent(&self, email: &str, password: &str, agent: &str) -> StatusCode {
        let r = self
            .http
            .post(format!("{}/v1/auth/login", self.base))
            .header("user-agent", agent)
            .json(&serde_json::json!({"email": email, "password": password, "client": "web"}))
            .send()
            .await
            .expect("login");
        r.status()
    }

    /// Hand an SNS event to the SES feedback function as Lambda would; addresses suppressed.
    pub async fn ses_feedback(&self, event: Value) -> usize {
        switchboard::aws::as_function(
            "ses-feedback",
            switchboard::service::notify::suppression::on_sns(&self.ctx, &event),
        )
        .await
        .expect("ses feedback")
    }

    /// Invoke the scheduled digest function as EventBridge would at `at` (the clock stands
    /// there), then deliver what it queued.
    pub async fn run_digests_at(
        &self,
        at: chrono::DateTime<chrono::Utc>,
    ) -> switchboard::service::notify::digests::RunReport {
        self.clock.set(at);
        let event = serde_json::json!({
            "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "region": "eu-west-1", "resources": ["arn:aws:events:eu-west-1:123456789012:rule/digests"], "detail": {}
        });
        let report = switchboard::aws::as_function(
            "digests",
            switchboard::service::notify::digests::on_schedule(&self.ctx, &event),
        )
        .await
        .expect("digest run");
        self.run_mail_worker().await;
        report
    }

    /// Wait (at most ~5 s) for the newest email to `to` with a link containing `needle`; the
    /// link. (Other emails, such as a new sign-in's, may arrive between.)
    pub async fn wait_link(&self, to: &str, needle: &str) -> Option<String> {
        for _ in 0..100 {
            self.run_mail_worker().await;
            if let Some(l) = self.emails_to(to).await.iter().rev().find_map(|m| m.link(needle)) {
                return Some(l);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }

    /// Wait (at most ~5 s) until `n` emails to `to` have arrived, running the worker first.
    pub async fn wait_emails_to(&self, to: &str, n: usize) -> Vec<ReceivedEmail> {
        self.run_mail_worker().await;
        for _ in 0..100 {
            let got = self.emails_to(to).await;
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.emails_to(to).await
    }

    /// Every email the app sent to `to`, oldest first, read back from where it really went
    /// (the outbox's `.eml` files, or the raw messages moto's SES received) and parsed as MIME.
    pub async fn emails_to(&self, to: &str) -> Vec<ReceivedEmail> {
        let mut raw: Vec<Vec<u8>> = Vec::new();
        if let Some(dir) = &self.outbox {
            raw.extend(files_in(dir).iter().map(|p| std::fs::read(p).expect("read eml")));
        }
        if let Some(url) = &self.moto {
            // scripts/moto_server_serial.py serves SES's received raw messages alone.
            let data: Value = self
                .http
                .get(format!("{url}/_switchboard/ses-raw-messages"))
                // Only the messages that name the address (parsed and matched exactly below).
                .query(&[("to", to)])
                .send()
                .await
                .expect("moto SES messages (start moto with scripts/moto_server_serial.py)")
                .json()
                .await
                .expect("moto json");
            for m in data.as_array().cloned().unwrap_or_default() {
                raw.push(m["raw_data"].as_str().unwrap_or_default().as_bytes().to_vec());
            }
        }
        raw.iter().filter_map(|bytes| parse_email(bytes)).filter(|m| m.to == to).collect()
    }

    /// The text messages sent to `phone`, oldest first: from the outbox folder, or from
    /// moto's SNS (through scripts/moto_server_serial.py).
    pub async fn sms_to(&self, phone: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(dir) = &self.sms_outbox {
            for p in files_in(dir) {
                let text = std::fs::read_to_string(&p).expect("read sms");
                if let Some((to, body)) = text.split_once('\n')
                    && to == phone
                {
                    out.push(body.to_owned());
                }
            }
        }
        if let Some(url) = &self.moto {
            let data: Value = self
                .http
                .get(format!("{url}/_switchboard/sns-sms-messages"))
                .send()
                .await
                .expect("moto SNS messages (start moto with scripts/moto_server_serial.py)")
                .json()
                .await
                .expect("moto json");
            for m in data.as_array().cloned().unwrap_or_default() {
                if m["phone_number"] == phone {
                    out.push(m["message"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
        out
    }

    /// Every item of the table, every page of a scan (test inspection only).
    pub async fn all_items(&self) -> Vec<switchboard::store::Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .ctx
                .store
                .client()
                .scan()
                .table_name(self.ctx.store.table_name())
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return items,
            }
        }
    }

    /// Count items in the table whose partition key starts with `prefix` (test inspection only).
    pub async fn count_items(&self, prefix: &str) -> usize {
        let pk = |i: &switchboard::store::Item| i.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        self.all_items().await.iter().filter(|i| pk(i).starts_with(prefix)).count()
    }
}

/// How long the SDK waits for one attempt through the fault proxy, as in production (see
/// `switchboard::aws`). A shorter wait made the suite flaky: moto, serial and loaded by the
/// whole suite, sometimes answered a transaction after it, and moto ignores the retry's
/// `ClientRequestToken`, so the retry met its own write. [`fault_proxy::Fault::Timeout`]
/// holds an answer for longer than this.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The SDK configuration for `endpoint`, through a fault proxy when `faulty`.
async fn sdk_for(endpoint: &str, faulty: bool) -> (aws_config::SdkConfig, Option<FaultProxy>) {
    if !faulty {
        return (local::local_sdk_config(endpoint).await, None);
    }
    let proxy = FaultProxy::start(endpoint).await;
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(ATTEMPT_TIMEOUT * 4)
        .build();
    let sdk = local::local_sdk_config(&proxy.url).await.to_builder().timeout_config(timeouts).build();
    (sdk, Some(proxy))
}
