use crate::error::{Error, Result};

macro_rules! id_type {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[doc = concat!("Identifier of a ", $what, ": `", $prefix, "` followed by a ULID.")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(into = "String", try_from = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(ulid: ulid::Ulid) -> Self {
                $name(format!("{}{}", $prefix, ulid))
            }

            pub fn parse(raw: &str, field: &str) -> Result<Self> {
                match raw.strip_prefix($prefix) {
                    Some(rest) if ulid::Ulid::from_string(rest).is_ok() => Ok($name(raw.to_owned())),
                    _ => Err(Error::validation("invalid_id", field, concat!("is not a ", $what, " id"))),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> {
                Self::parse(&s, "id")
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        // In the OpenAPI document an id is a string of its prefix and a ULID, one schema per
        // kind, so a client sees which id a field takes.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "[0-9A-HJKMNP-TV-Z]{26}$")))
                    .description(Some(concat!("Identifier of a ", $what, ": `", $prefix, "` followed by a ULID.")))
                    .examples([concat!($prefix, "01JF3Q8Z6X2V7M4N9K5T1R0W8Y")])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(UserId, "usr_", "user");
id_type!(OrgId, "org_", "organization");
id_type!(SessionId, "ses_", "session");
id_type!(InboxId, "inb_", "inbox");
id_type!(GroupId, "grp_", "contact group");
id_type!(TemplateId, "tpl_", "message template");
id_type!(ExportId, "exp_", "data export");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_foreign_prefixes() {
        let id = OrgId::new(ulid::Ulid::from_parts(1, 2));
        assert_eq!(OrgId::parse(id.as_str(), "org").unwrap(), id);
        assert!(UserId::parse(id.as_str(), "user").is_err());
        assert!(OrgId::parse("org_notaulid", "org").is_err());
    }
}
