//! A contact in a contact group: a name, an E.164 number (the contact's key in its group) and
//! an optional address. Contacts are personal data; who may read them is decided in `access`.

use serde::{Deserialize, Serialize};

use super::{Email, Phone};
use crate::error::{Error, Result};

const NAME_MAX: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    name: String,
    phone: Phone,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<Email>,
}

impl Contact {
    /// `field` prefixes the fields named in errors (e.g. `contacts[3]`).
    pub fn parse(name: &str, phone: &str, email: Option<&str>, field: &str) -> Result<Self> {
        let at = |f: &str| if field.is_empty() { f.to_owned() } else { format!("{field}.{f}") };
        let clean = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if clean.is_empty() || clean.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
            return Err(Error::validation(
                "invalid_contact_name",
                at("name"),
                format!("is a name of 1 to {NAME_MAX} characters"),
            ));
        }
        let phone = Phone::parse(phone, &at("phone"))?;
        let email = email.filter(|e| !e.trim().is_empty()).map(|e| Email::parse(e, &at("email"))).transpose()?;
        Ok(Contact { name: clean, phone, email })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn phone(&self) -> &Phone {
        &self.phone
    }

    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_the_failing_field() {
        let c = Contact::parse("  Ann  Smith ", "+64 21 123 4567", Some(""), "").unwrap();
        assert_eq!((c.name(), c.phone().as_str(), c.email()), ("Ann Smith", "+64211234567", None));
        let e = Contact::parse("Ann", "021 123", None, "contacts[2]").unwrap_err();
        assert!(
            matches!(&e, crate::Error::Validation { code: "invalid_phone", field, .. } if field == "contacts[2].phone")
        );
        assert!(Contact::parse("", "+64211234567", None, "").is_err());
        assert!(Contact::parse("Ann", "+64211234567", Some("not an address"), "").is_err());
    }
}
