//! The command line of `local`: serve, make keys, or run one scheduled job as of a time.

use std::path::PathBuf;

use switchboard::config::Config;

use crate::{DataDir, Job, config_for_port};

/// What `local` was asked to do.
#[derive(Debug)]
pub enum Command {
    /// Serve the API (the default).
    Serve { port: u16, dynamo_port: u16, data: DataDir, config: Box<Config> },
    /// Print a new signing-key set.
    Keygen,
    /// `run <job> --at <time>` (or `digests --at <time>`): one run of a scheduled job.
    Run { job: Job, at: chrono::DateTime<chrono::Utc>, data: DataDir, config: Box<Config> },
}

/// Why the words did not make a command: shown with the usage.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let jobs: Vec<&str> = Job::ALL.iter().map(|j| j.name()).collect();
        write!(
            f,
            "{}\nusage: local [--port N] [--dynamodb-port N] [--data-dir DIR]\n       local keygen\n       \
             local run <{}> --at RFC3339 [--data-dir DIR] [--port N]",
            self.0,
            jobs.join("|")
        )
    }
}

impl Command {
    /// Read the arguments (without the program's name). The configuration comes from the
    /// environment, with the addresses of the server on `--port` unless it names its own.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, Usage> {
        let mut args = args.into_iter();
        let (mut port, mut dynamo_port, mut data) = (3000u16, 0u16, PathBuf::from(".local"));
        let (mut job, mut at, mut keygen) = (None, None, false);
        while let Some(a) = args.next() {
            let mut value = || args.next().ok_or_else(|| Usage(format!("{a} needs a value")));
            match a.as_str() {
                "keygen" => keygen = true,
                "--port" => port = value()?.parse().map_err(|_| Usage("--port takes a port number".into()))?,
                "--dynamodb-port" => {
                    dynamo_port = value()?.parse().map_err(|_| Usage("--dynamodb-port takes a port number".into()))?
                }
                "--data-dir" => data = value()?.into(),
                "run" => {
                    let name = value()?;
                    job = Some(Job::parse(&name).ok_or_else(|| Usage(format!("local run {name}: no such job")))?);
                }
                "digests" => job = Some(Job::Digests),
                "--at" => {
                    let raw = value()?;
                    let t = chrono::DateTime::parse_from_rfc3339(&raw).map_err(|e| {
                        Usage(format!("--at {raw}: {e} (an RFC 3339 time such as 2026-12-07T08:00:00+01:00)"))
                    })?;
                    at = Some(t.to_utc());
                }
                other => return Err(Usage(format!("unknown argument {other}"))),
            }
        }
        let data = DataDir(data);
        let config = Box::new(config_for_port(port).map_err(|e| Usage(e.to_string()))?);
        match (keygen, job, at) {
            (true, None, None) => Ok(Command::Keygen),
            (false, Some(job), Some(at)) => Ok(Command::Run { job, at, data, config }),
            (false, Some(job), None) => Err(Usage(format!("local run {} needs --at", job.name()))),
            (false, None, None) => Ok(Command::Serve { port, dynamo_port, data, config }),
            _ => Err(Usage("keygen, run and serving do not mix".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Command, Usage> {
        Command::parse(words.iter().map(|w| w.to_string()))
    }

    #[test]
    fn a_run_takes_the_servers_port_for_its_links() {
        let Ok(Command::Run { job, at, config, .. }) =
            parse(&["run", "purge", "--at", "2026-12-07T08:00:00+01:00", "--port", "3601"])
        else {
            panic!("a run")
        };
        assert_eq!((job, at.to_rfc3339()), (Job::Purge, "2026-12-07T07:00:00+00:00".to_owned()));
        if std::env::var_os("SWITCHBOARD_PUBLIC_URL").is_none() {
            assert_eq!(config.public_url, "http://127.0.0.1:3601");
        }
        assert!(matches!(
            parse(&["digests", "--at", "2026-12-07T08:00:00Z"]),
            Ok(Command::Run { job: Job::Digests, .. })
        ));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(parse(&["run", "sweep", "--at", "2026-12-07T08:00:00Z"]).is_err_and(|u| u.0.contains("no such job")));
        assert!(parse(&["run", "digests"]).is_err_and(|u| u.0.contains("needs --at")));
        assert!(parse(&["run", "digests", "--at", "tomorrow"]).is_err_and(|u| u.0.contains("RFC 3339")));
        assert!(parse(&["--port"]).is_err_and(|u| u.0.contains("needs a value")));
        assert!(matches!(parse(&[]), Ok(Command::Serve { port: 3000, .. })));
    }
}
