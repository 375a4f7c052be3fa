//! Where the mobile app's alarm (panic) messages are forwarded: an organization's alarm
//! service, validated per type. The messaging service does the forwarding; this service only
//! keeps the configuration and hands it out on a service-only route.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::DomainName;
use crate::error::{Error, Result};

/// The alarm service types a configuration may name. Adding one is a variant here, its
/// parser below and a line in `docs/errors.md`.
pub const ALARM_TYPES: &[&str] = &["ascom", "none"];

pub const ALARM_SUBJECT_MAX: usize = 64;
pub const CALL_ID_MAX: usize = 32;

/// An organization's alarm service, or an explicit "none here" that stops an ancestor's from
/// applying to this organization and its subtree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlarmService {
    /// An Ascom alarm system (e.g. Myco handsets through Unite): alarm messages go to
    /// `host:port` with the subject and call id given.
    Ascom(AscomTarget),
    /// No alarm service here, even where an ancestor has one.
    None,
}

/// An Ascom receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AscomTarget {
    /// A DNS name or an IP address (private addresses allowed: receivers usually sit on the
    /// customer's own network, reached over a VPN).
    #[schema(example = "alarms.hospital.example")]
    host: String,
    #[schema(minimum = 1, maximum = 65535)]
    port: u16,
    /// The subject line the receiver shows.
    #[schema(max_length = 64)]
    subject: String,
    /// The call id the receiver routes on: letters, digits and `-`.
    #[schema(max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$")]
    call_id: String,
}

impl AscomTarget {
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn subject(&self) -> &str {
        &self.subject
    }
    pub fn call_id(&self) -> &str {
        &self.call_id
    }
}

/// The untyped fields of a request; which of them are required depends on the type.
#[derive(Debug, Default)]
pub struct AlarmFields {
    pub kind: String,
    pub host: Option<String>,
    pub port: Option<i64>,
    pub subject: Option<String>,
    pub call_id: Option<String>,
}

impl AlarmService {
    pub fn parse(f: AlarmFields) -> Result<AlarmService> {
        match f.kind.trim() {
            "ascom" => Ok(AlarmService::Ascom(AscomTarget {
                host: parse_host(required(f.host, "host")?.as_str())?,
                port: parse_port(f.port)?,
                subject: parse_subject(required(f.subject, "subject")?.as_str())?,
                call_id: parse_call_id(required(f.call_id, "call_id")?.as_str())?,
            })),
            "none" => match (&f.host, f.port, &f.subject, &f.call_id) {
                (None, None, None, None) => Ok(AlarmService::None),
                _ => Err(Error::validation("alarm_field_not_allowed", "type", "type none takes no other field")),
            },
            _ => Err(Error::validation(
                "unknown_alarm_type",
                "type",
                format!("must be one of {}", ALARM_TYPES.join(", ")),
            )),
        }
    }

    /// The receiver alarms go to, if any.
    pub fn target(&self) -> Option<&AscomTarget> {
        match self {
            AlarmService::Ascom(t) => Some(t),
            AlarmService::None => None,
        }
    }
}

fn required(v: Option<String>, field: &str) -> Result<String> {
    v.ok_or_else(|| Error::validation("alarm_field_required", field, "is required for this alarm service type"))
}

/// A name or address the messaging service may connect to. Addresses that can only mean the
/// messaging service's own host or cloud internals (loopback, link-local such as the instance
/// metadata service, unspecified, multicast) are refused: the host is an admin's input that
/// our servers will connect to.
fn parse_host(raw: &str) -> Result<String> {
    let bad = |why: &str| Error::validation("invalid_alarm_host", "host", why);
    let raw = raw.trim();
    let literal = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(raw);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        let internal = match ip {
            IpAddr::V4(v4) => {
                v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()
            }
            IpAddr::V6(v6) => {
                v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
                    || v6.to_ipv4_mapped().is_some()
            }
        };
        if internal {
            return Err(bad(
                "loopback, link-local, unspecified and multicast addresses are not reachable alarm receivers",
            ));
        }
        return Ok(ip.to_string());
    }
    let name = DomainName::parse(raw, "host")
        .map_err(|_| bad("must be a DNS name such as alarms.example.com or an IP address"))?;
    if name.as_str() == "localhost" || name.as_str().ends_with(".localhost") {
        return Err(bad("localhost is not a reachable alarm receiver"));
    }
    Ok(name.as_str().to_owned())
}

fn parse_port(port: Option<i64>) -> Result<u16> {
    let port = port
        .ok_or_else(|| Error::validation("alarm_field_required", "port", "is required for this alarm service type"))?;
    u16::try_from(port)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| Error::validation("invalid_port", "port", "must be from 1 to 65535"))
}

fn parse_subject(raw: &str) -> Result<String> {
    super::settings::parse_text(raw, "subject", ALARM_SUBJECT_MAX, false, "invalid_alarm_subject")
}

fn parse_call_id(raw: &str) -> Result<String> {
    let id = raw.trim();
    if id.is_empty() || id.len() > CALL_ID_MAX || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(Error::validation("invalid_call_id", "call_id", "must be 1 to 32 letters, digits or -"));
    }
    Ok(id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ascom(host: &str, port: i64) -> AlarmFields {
        AlarmFields {
            kind: "ascom".into(),
            host: Some(host.into()),
            port: Some(port),
            subject: Some("Alarm".into()),
            call_id: Some("1234".into()),
        }
    }

    fn code(r: Result<AlarmService>) -> &'static str {
        match r {
            Err(Error::Validation { code, .. }) => code,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn ascom_hosts() {
        for ok in ["10.1.2.3", "alarms.hospital.example", "[2001:db8::1]", "192.168.0.10"] {
            assert!(AlarmService::parse(ascom(ok, 5000)).is_ok(), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "localhost",
            "a b",
            "http://x.example",
        ] {
            assert_eq!(code(AlarmService::parse(ascom(bad, 5000))), "invalid_alarm_host", "{bad}");
        }
    }

    #[test]
    fn ports_and_fields() {
        assert_eq!(code(AlarmService::parse(ascom("10.0.0.1", 0))), "invalid_port");
        assert_eq!(code(AlarmService::parse(ascom("10.0.0.1", 65536))), "invalid_port");
        assert!(AlarmService::parse(ascom("10.0.0.1", 65535)).is_ok());
        let mut f = ascom("10.0.0.1", 1);
        f.call_id = Some("12 34".into());
        assert_eq!(code(AlarmService::parse(f)), "invalid_call_id");
        let mut f = ascom("10.0.0.1", 1);
        f.subject = None;
        assert_eq!(code(AlarmService::parse(f)), "alarm_field_required");
        let f = AlarmFields { kind: "espa".into(), ..AlarmFields::default() };
        assert_eq!(code(AlarmService::parse(f)), "unknown_alarm_type");
        let f = AlarmFields { kind: "none".into(), port: Some(1), ..AlarmFields::default() };
        assert_eq!(code(AlarmService::parse(f)), "alarm_field_not_allowed");
        let f = AlarmFields { kind: "none".into(), ..AlarmFields::default() };
        assert_eq!(AlarmService::parse(f).unwrap(), AlarmService::None);
    }
}
