use crate::error::{Error, Result};

/// A language Switchboard writes email and text in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Nl,
    De,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::En, Language::Nl, Language::De];

    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == raw.trim().to_lowercase())
            .ok_or_else(|| Error::validation("invalid_language", field, "must be one of en, nl, de"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Nl => "nl",
            Language::De => "de",
        }
    }
}
