use crate::error::{Error, Result};

/// The kind of client a session belongs to; each keeps its own active organization.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    Web,
    Mobile,
    Desktop,
    Api,
}

impl ClientType {
    pub const ALL: [ClientType; 4] = [ClientType::Web, ClientType::Mobile, ClientType::Desktop, ClientType::Api];

    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == raw)
            .ok_or_else(|| Error::validation("invalid_client_type", field, "must be one of web, mobile, desktop, api"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Web => "web",
            ClientType::Mobile => "mobile",
            ClientType::Desktop => "desktop",
            ClientType::Api => "api",
        }
    }
}
