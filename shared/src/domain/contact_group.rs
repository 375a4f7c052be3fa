//! A contact group's name, and the naming convention an organization may set for them
//! (e.g. business unit / territory / workgroup), so shared groups read the same everywhere.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};

const NAME_MAX: usize = 120;
const SEGMENTS_MAX: usize = 5;
const LABEL_MAX: usize = 40;

/// The parts every contact group name has, in order, written `part / part / part`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupNaming {
    /// What each part of a name stands for, e.g. `["Business unit", "Territory", "Workgroup"]`.
    #[schema(min_items = 1, max_items = 5)]
    segments: Vec<String>,
}

impl GroupNaming {
    pub fn parse(raw: &[String], field: &str) -> Result<Self> {
        if raw.is_empty() || raw.len() > SEGMENTS_MAX {
            return Err(Error::validation("invalid_group_naming", field, format!("names 1 to {SEGMENTS_MAX} parts")));
        }
        let mut segments = Vec::with_capacity(raw.len());
        for (i, label) in raw.iter().enumerate() {
            let label = collapse(label);
            if label.is_empty() || label.chars().count() > LABEL_MAX || label.contains('/') {
                return Err(Error::validation(
                    "invalid_group_naming",
                    format!("{field}[{i}]"),
                    format!("is a label of 1 to {LABEL_MAX} characters without '/'"),
                ));
            }
            segments.push(label);
        }
        Ok(GroupNaming { segments })
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }
}

/// A contact group's name: one line, white space collapsed, and when the organization has a
/// naming convention, exactly its parts, each non-empty, joined by ` / `.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(raw: &str, field: &str, naming: Option<&GroupNaming>) -> Result<Self> {
        let name = collapse(raw);
        if name.is_empty() || name.chars().count() > NAME_MAX || raw.chars().any(char::is_control) {
            return Err(Error::validation(
                "invalid_group_name",
                field,
                format!("is a name of 1 to {NAME_MAX} characters on one line"),
            ));
        }
        let Some(naming) = naming else { return Ok(GroupName(name)) };
        let parts: Vec<&str> = name.split('/').map(str::trim).collect();
        if parts.len() != naming.segments.len() || parts.iter().any(|p| p.is_empty()) {
            return Err(Error::validation(
                "group_name_convention",
                field,
                format!("must follow this organization's convention: {}", naming.segments.join(" / ")),
            ));
        }
        // The stored form spaces the separators, so the limit applies to it, not the input.
        let stored = parts.join(" / ");
        if stored.chars().count() > NAME_MAX {
            return Err(Error::validation(
                "invalid_group_name",
                field,
                format!("is a name of 1 to {NAME_MAX} characters (written `part / part`)"),
            ));
        }
        Ok(GroupName(stored))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn collapse(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_convention_when_there_is_one() {
        let naming =
            GroupNaming::parse(&["Business unit".into(), "Territory".into(), "Workgroup".into()], "n").unwrap();
        let n = GroupName::parse(" Sales/Auckland /  Night  shift ", "name", Some(&naming)).unwrap();
        assert_eq!(n.as_str(), "Sales / Auckland / Night shift");
        for bad in ["Sales / Auckland", "Sales // Night", "a / b / c / d"] {
            let e = GroupName::parse(bad, "name", Some(&naming)).unwrap_err();
            assert_eq!(e.code(), "group_name_convention", "{bad}");
        }
        assert_eq!(GroupName::parse("Anything at all", "name", None).unwrap().as_str(), "Anything at all");
        assert!(GroupName::parse("  ", "name", None).is_err());
        assert!(GroupName::parse("a\u{7}b", "name", None).is_err());
        assert!(GroupNaming::parse(&[], "n").is_err());
        assert!(GroupNaming::parse(&["a/b".into()], "n").is_err());
        // Found by fuzzing: spacing the separators must not take a name past the limit.
        let two = GroupNaming::parse(&["a".into(), "b".into()], "n").unwrap();
        let long = format!("{}/{}", "x".repeat(59), "y".repeat(59));
        assert_eq!(long.chars().count(), 119);
        assert!(GroupName::parse(&long, "name", Some(&two)).is_err());
    }
}
