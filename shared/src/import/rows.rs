//! One data row turned into a person to import, or the reason it cannot be.

use super::limits::MAX_CELL_CHARS;
use super::mapping::{Field, Mapping};
use super::{Cell, Row};
use crate::domain::{Email, LoginDomain, LoginName, Password, PersonName, Phone, Username};

/// A valid row.
#[derive(Clone)]
pub struct ImportRow {
    pub number: u32,
    pub login: LoginName,
    pub email: Option<Email>,
    pub first_name: PersonName,
    pub last_name: String,
    pub phone: Option<Phone>,
    pub password: Option<Password>,
}

/// Why a row is not imported: a stable code and the field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFailure {
    pub code: String,
    pub field: Option<Field>,
    pub message: String,
}

fn fail(field: Field, code: &str, message: impl Into<String>) -> RowFailure {
    RowFailure { code: code.to_owned(), field: Some(field), message: message.into() }
}

fn value(row: &Row, mapping: &Mapping, field: Field) -> Result<Option<String>, RowFailure> {
    let Some(i) = mapping.get(field) else { return Ok(None) };
    match row.cells.get(i) {
        Some(Cell::Formula) => Err(fail(field, "formula_cell", "holds a formula; import values only")),
        Some(Cell::Text(t)) if t.chars().count() > MAX_CELL_CHARS => {
            Err(fail(field, "value_too_long", format!("longer than {MAX_CELL_CHARS} characters")))
        }
        Some(Cell::Text(t)) if !t.trim().is_empty() => Ok(Some(t.clone())),
        _ => Ok(None),
    }
}

/// Validate and normalize one row. `domain` is the organization's login domain, if any.
pub fn validate(row: &Row, mapping: &Mapping, domain: Option<&LoginDomain>) -> Result<ImportRow, RowFailure> {
    let email = value(row, mapping, Field::Email)?
        .map(|e| Email::parse(&e, "email").map_err(|e| fail(Field::Email, e.code(), e.to_string())))
        .transpose()?;
    let username = match domain {
        Some(_) => value(row, mapping, Field::Username)?
            .map(|u| Username::parse(&u, "username").map_err(|e| fail(Field::Username, e.code(), e.to_string())))
            .transpose()?,
        None => None,
    };
    let login = match (&username, domain, &email) {
        (Some(u), Some(d), _) => LoginName::Username { domain: d.clone(), username: u.clone() },
        (_, _, Some(e)) => LoginName::Email(e.clone()),
        _ => {
            let field =
                if domain.is_some() && mapping.get(Field::Username).is_some() { Field::Username } else { Field::Email };
            return Err(fail(field, "missing_value", "an email address (or a username) is required"));
        }
    };
    let first = value(row, mapping, Field::FirstName)?.unwrap_or_default();
    let first_name =
        PersonName::parse(&first, "first_name").map_err(|e| fail(Field::FirstName, e.code(), e.to_string()))?;
    let last_name = match value(row, mapping, Field::LastName)? {
        Some(l) => PersonName::parse(&l, "last_name")
            .map_err(|e| fail(Field::LastName, e.code(), e.to_string()))?
            .as_str()
            .to_owned(),
        None => String::new(),
    };
    let phone = value(row, mapping, Field::Phone)?
        .map(|p| Phone::parse(&p, "phone").map_err(|e| fail(Field::Phone, e.code(), e.to_string())))
        .transpose()?;
    // Passwords are taken as typed: spaces may be part of them.
    let password = match mapping.get(Field::Password).and_then(|i| row.cells.get(i)) {
        Some(Cell::Formula) => {
            return Err(fail(Field::Password, "formula_cell", "holds a formula; import values only"));
        }
        Some(Cell::Text(p)) if !p.is_empty() => {
            Some(Password::parse_new(p, "password").map_err(|e| fail(Field::Password, e.code(), e.to_string()))?)
        }
        _ => None,
    };
    if email.is_none() && password.is_none() {
        // Nobody to email an invitation to: the file has to give the password.
        return Err(fail(Field::Password, "password_required", "a person without an email address needs a password"));
    }
    Ok(ImportRow { number: row.number, login, email, first_name, last_name, phone, password })
}

/// A value written into a CSV report cell, defused against formula injection: text starting
/// with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'`, which spreadsheets show
/// as text instead of evaluating.
pub fn report_safe(v: &str) -> String {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_owned() }
}
