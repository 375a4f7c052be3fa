//! The Lambda entry point every function shares. One binary serves every account operation:
//! which one it is comes from the function's `Handler` (Lambda passes it as `_HANDLER`), so SAM
//! builds the code once while each function keeps its own routes, role and settings.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::unreachable))]
#![recursion_limit = "256"]

mod workers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use switchboard::api::extract::{ClientAddr, IamCaller, InvocationId};
use switchboard::api::{self, Function};
use switchboard::config::{LambdaEnv, Need, ProcessEnv};
use switchboard::service::Ctx;

/// The queue and schedule workers, in one table: the variant, its handler name, what it needs
/// from its environment beyond what every function has, and what it runs.
macro_rules! workers {
    ($($(#[$doc:meta])* $variant:ident $name:literal [$($need:ident),*] => $run:path,)*) => {
        /// A function that is not behind the HTTP API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Worker {
            $($(#[$doc])* $variant,)*
        }

        impl Worker {
            pub const ALL: [Worker; [$($name),*].len()] = [$(Worker::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Worker::$variant => $name,)*
                }
            }

            /// The variables it needs beyond [`switchboard::config::EVERY_FUNCTION_NEEDS`].
            pub fn needs(self) -> &'static [Need] {
                match self {
                    $(Worker::$variant => &[$(Need::$need),*],)*
                }
            }

            async fn run(self, ctx: Arc<Ctx>) -> Result<(), lambda_runtime::Error> {
                match self {
                    $(Worker::$variant => $run(ctx).await,)*
                }
            }
        }
    };
}

workers! {
    /// Sends the emails of the email queue.
    MailWorker "mail-worker" [UploadsBucket, SesConfigurationSet] => workers::mail,
    /// Runs import jobs from the import queue.
    ImportWorker "import-worker" [UploadsBucket, ImportQueue] => workers::imports,
    /// Records notification events from the events queue.
    NotificationsWorker "notifications-worker" [] => workers::events,
    /// The digest run, on an EventBridge schedule.
    Digests "digests" [] => workers::digests,
    /// SES bounces and complaints, through SNS.
    SesFeedback "ses-feedback" [] => workers::ses_feedback,
    /// Data exports from the export queue.
    ExportWorker "export-worker" [UploadsBucket] => workers::exports,
    /// The purge of closed organizations, on an EventBridge schedule.
    OrgPurge "org-purge" [UploadsBucket] => workers::purge,
}

/// What a function runs: the HTTP routes of one operation, or a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Api(Function),
    Worker(Worker),
}

impl Handler {
    /// Every handler: the API functions, then the workers.
    pub fn all() -> impl Iterator<Item = Handler> {
        Function::ALL.into_iter().map(Handler::Api).chain(Worker::ALL.into_iter().map(Handler::Worker))
    }

    pub fn parse(name: &str) -> Option<Handler> {
        Handler::all().find(|h| h.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Handler::Api(f) => f.name(),
            Handler::Worker(w) => w.name(),
        }
    }

    /// The variables it needs beyond [`switchboard::config::EVERY_FUNCTION_NEEDS`].
    pub fn needs(self) -> &'static [Need] {
        match self {
            Handler::Api(f) => f.needs(),
            Handler::Worker(w) => w.needs(),
        }
    }

    /// The SAM logical id, e.g. `MailWorkerFunction`.
    pub fn resource_id(self) -> String {
        api::resource_id(self.name())
    }

    /// `SWITCHBOARD_HANDLER` (for running the binary by hand), else Lambda's `_HANDLER`.
    pub fn from_env() -> Result<Handler, String> {
        let name = std::env::var("SWITCHBOARD_HANDLER")
            .or_else(|_| std::env::var("_HANDLER"))
            .map_err(|_| "neither SWITCHBOARD_HANDLER nor _HANDLER is set".to_owned())?;
        Handler::parse(&name).ok_or_else(|| {
            let known: Vec<_> = Handler::all().map(Handler::name).collect();
            format!("unknown handler {name:?}; expected one of {}", known.join(", "))
        })
    }

    /// Whether requests of this handler read or write the table (the JWKS never does).
    fn uses_table(self) -> bool {
        self != Handler::Api(Function::Jwks)
    }
}

/// The longest a cold start waits for its first DynamoDB connection; past it the first request
/// connects instead, as it would without the warm-up.
const WARM_UP_BUDGET: Duration = Duration::from_secs(2);

/// Open (and TLS-handshake) the DynamoDB connection the first request will reuse, while Lambda
/// is still in its init phase rather than on a caller's time.
async fn warm_up(ctx: &Ctx) {
    let started = Instant::now();
    match tokio::time::timeout(WARM_UP_BUDGET, ctx.store.warm_up()).await {
        Ok(Ok(())) => {
            tracing::debug!(warm_up_ms = started.elapsed().as_secs_f64() * 1000.0, "dynamodb connection ready")
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "dynamodb warm-up failed; the first request will connect"),
        Err(_) => tracing::warn!("dynamodb warm-up timed out; the first request will connect"),
    }
}

pub async fn run(handler: Handler) -> Result<(), lambda_runtime::Error> {
    let started = Instant::now();
    switchboard::telemetry::init_function(handler.name());
    let logging = started.elapsed();
    let env = LambdaEnv::from_vars(&ProcessEnv, handler.needs())?;
    let warm = env.warm_up && handler.uses_table();
    let ctx = Arc::new(Ctx::for_lambda(env)?);
    let context = started.elapsed();
    if warm {
        warm_up(&ctx).await;
    }
    let warmed = started.elapsed();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    // Where a cold start's time goes, once per execution environment.
    let log_init = |ready: Duration| {
        tracing::info!(
            function = handler.name(),
            logging_ms = ms(logging),
            context_ms = ms(context - logging),
            warm_up_ms = ms(warmed - context),
            routes_ms = ms(ready - warmed),
            "initialized"
        )
    };
    match handler {
        Handler::Api(function) => {
            let router = api::router(ctx, &[function]);
            log_init(started.elapsed());
            serve(router).await
        }
        Handler::Worker(worker) => {
            log_init(started.elapsed());
            worker.run(ctx).await
        }
    }
}

async fn serve(router: axum::Router) -> Result<(), lambda_runtime::Error> {
    let app = tower::ServiceBuilder::new()
        .map_request(|mut req: Request| {
            // API Gateway's view of the caller, used to throttle login failures per address.
            let addr = match req.request_context_ref() {
                Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
                _ => None,
            };
            if let Some(a) = addr {
                req.extensions_mut().insert(ClientAddr(a));
            }
            // The IAM principal API Gateway verified, on routes whose authorizer is AWS_IAM.
            let iam = match req.request_context_ref() {
                Some(RequestContext::ApiGatewayV2(c)) => {
                    c.authorizer.as_ref().and_then(|a| a.iam.as_ref()).and_then(|i| i.user_arn.clone())
                }
                _ => None,
            };
            if let Some(arn) = iam {
                req.extensions_mut().insert(IamCaller(arn));
            }
            let id = req.lambda_context_ref().map(|c| c.request_id.clone());
            if let Some(id) = id {
                req.extensions_mut().insert(InvocationId(id));
            }
            req
        })
        .service(router);
    lambda_http::run(app).await
}
