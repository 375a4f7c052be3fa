//! End-to-end tests over HTTP. A test in `both_engines!` runs twice, against an in-process
//! dynoxide and against moto's server (started by scripts/test.sh); those are the tests whose
//! outcome depends on the engine: transactions and conditions under concurrency, faults,
//! paging and indexes, TTL, and the AWS services only moto stands in for (S3, SQS, SES, SNS).
//! A flow or validation test, whose outcome is decided by what the store answers and not by
//! how the engine gets there, is in `dynoxide_only!` and runs once.

/// Generate `<test>::dynoxide` and `<test>::moto` for async fns taking an `Engine`.
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn dynoxide() {
                    super::$name(e2e::Engine::Dynoxide).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn moto() {
                    super::$name(e2e::Engine::Moto).await
                }
            }
        )*
    };
}

/// Generate `<test>::dynoxide` alone, for a flow whose outcome does not depend on the engine
/// (the name keeps its suffix, so filters such as `--skip ::moto` read the same).
macro_rules! dynoxide_only {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn dynoxide() {
                    super::$name(e2e::Engine::Dynoxide).await
                }
            }
        )*
    };
}

mod alarm;
mod auth;
mod closed;
mod deploy;
mod digests;
mod edges;
mod email_change;
mod email_settings;
mod errors;
mod everyday;
mod faults;
mod grants;
mod hot_keys;
mod idempotency;
mod imports;
mod inboxes;
mod infra;
mod kills;
mod landing;
mod library;
mod lifecycle;
mod local_server;
mod mail;
mod matrix;
mod matrix_cross;
mod members;
mod merge;
mod merge_job;
mod notifications;
mod oauth;
mod orgs;
mod outbox;
mod profile;
mod reminders;
mod round_trips;
mod scale;
mod session_faults;
mod settings;
mod sso;
mod standing;
mod storage;
mod takeover;
mod tokens;
mod tree_model;
mod two_factor;
