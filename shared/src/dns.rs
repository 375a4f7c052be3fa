//! TXT lookups for proving control of a domain. Production uses the system's resolver (in
//! Lambda, the VPC or AWS resolver from /etc/resolv.conf); tests and local runs name a DNS
//! server (`SWITCHBOARD_DNS_SERVERS=127.0.0.1:5353`). Every check builds a fresh resolver, so
//! no answer is served from a cache: a record just published (or removed) is seen as it is.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use crate::error::{Error, Result};

/// Where TXT records are looked up.
#[derive(Debug, Clone, Default)]
pub enum Dns {
    /// The system's resolver configuration.
    #[default]
    System,
    /// These servers (UDP, then TCP for truncated answers).
    Servers(Vec<SocketAddr>),
}

/// Longest a check waits for an answer.
const TIMEOUT: Duration = Duration::from_secs(5);

impl Dns {
    /// `SWITCHBOARD_DNS_SERVERS`: comma-separated `ip:port`; unset: the system resolver.
    pub fn from_vars(vars: &dyn crate::config::Vars) -> std::result::Result<Dns, crate::config::ConfigError> {
        let Some(v) = vars.get("SWITCHBOARD_DNS_SERVERS") else { return Ok(Dns::System) };
        let servers = v.split(',').map(|s| s.trim().parse::<SocketAddr>()).collect::<std::result::Result<Vec<_>, _>>();
        servers.map(Dns::Servers).map_err(|e| {
            crate::config::ConfigError::new(
                "SWITCHBOARD_DNS_SERVERS",
                format!("must be ip:port, comma-separated ({e}): {v:?}"),
            )
        })
    }

    fn resolver(&self) -> Result<TokioResolver> {
        let unavailable = |e: &dyn std::fmt::Display| Error::DnsUnavailable(e.to_string());
        let mut builder = match self {
            Dns::System => TokioResolver::builder_tokio().map_err(|e| unavailable(&e))?,
            Dns::Servers(addrs) => {
                let servers = addrs
                    .iter()
                    .map(|a| {
                        let conn = |mut c: ConnectionConfig| {
                            c.port = a.port();
                            c
                        };
                        NameServerConfig::new(
                            a.ip(),
                            true,
                            vec![conn(ConnectionConfig::udp()), conn(ConnectionConfig::tcp())],
                        )
                    })
                    .collect();
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, Vec::new(), servers),
                    TokioRuntimeProvider::default(),
                )
            }
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.cache_size = 0;
        opts.timeout = TIMEOUT;
        opts.attempts = 2;
        builder.build().map_err(|e| unavailable(&e))
    }

    /// The TXT records at `name`, each record's strings joined (a long value is published as
    /// several strings of at most 255 bytes). No records, or no such name: empty.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>> {
        let resolver = self.resolver()?;
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match tokio::time::timeout(TIMEOUT * 2, resolver.txt_lookup(fqdn)).await {
            Err(_) => Err(Error::DnsUnavailable("no answer in time".into())),
            Ok(Err(e)) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Ok(Err(e)) => Err(Error::DnsUnavailable(e.to_string())),
            Ok(Ok(lookup)) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => {
                        Some(txt.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect::<String>())
                    }
                    _ => None,
                })
                .collect()),
        }
    }
}
