//! Which column holds which field: suggested from header texts in English, Dutch and German
//! (and, without a header, from what the values look like), then confirmed by the admin.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Row, column_name};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Email,
    FirstName,
    LastName,
    Phone,
    Password,
    /// Only for organizations with a login domain: people log in as `domain\username`.
    Username,
}

/// Header texts per field, compared after `normalize`.
const SYNONYMS: &[(Field, &[&str])] = &[
    (
        Field::Email,
        &[
            "email",
            "emailaddress",
            "mail",
            "mailaddress",
            "emailadres",
            "mailadres",
            "emailadresse",
            "mailadresse",
            "correo",
            "courriel",
            "workemail",
            "businessemail",
        ],
    ),
    (Field::FirstName, &["firstname", "givenname", "forename", "first", "voornaam", "roepnaam", "vorname", "rufname"]),
    (
        Field::LastName,
        &[
            "lastname",
            "surname",
            "familyname",
            "last",
            "achternaam",
            "familienaam",
            "nachname",
            "familienname",
            "zuname",
        ],
    ),
    (
        Field::Phone,
        &[
            "phone",
            "phonenumber",
            "telephone",
            "telephonenumber",
            "mobile",
            "mobilephone",
            "mobilenumber",
            "cell",
            "cellphone",
            "telefoon",
            "telefoonnummer",
            "mobiel",
            "mobielnummer",
            "gsm",
            "telefon",
            "telefonnummer",
            "handy",
            "handynummer",
            "mobilnummer",
            "mobiltelefon",
        ],
    ),
    (Field::Password, &["password", "pass", "pwd", "wachtwoord", "passwort", "kennwort"]),
    (
        Field::Username,
        &[
            "username",
            "user",
            "login",
            "loginname",
            "gebruikersnaam",
            "gebruiker",
            "benutzername",
            "benutzer",
            "anmeldename",
        ],
    ),
];

/// Lower case, letters and digits only, common accents folded: "E-mail adres" → "emailadres".
pub fn normalize(header: &str) -> String {
    header
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ä' | 'á' | 'à' | 'â' => 'a',
            'ë' | 'é' | 'è' | 'ê' => 'e',
            'ï' | 'í' | 'ì' | 'î' => 'i',
            'ö' | 'ó' | 'ò' | 'ô' => 'o',
            'ü' | 'ú' | 'ù' | 'û' => 'u',
            'ß' => 's',
            c => c,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

fn field_of_header(header: &str) -> Option<Field> {
    let n = normalize(header);
    if n.is_empty() {
        return None;
    }
    SYNONYMS.iter().find(|(_, names)| names.contains(&n.as_str())).map(|(f, _)| *f)
}

/// What the preview proposes for one column.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    /// `A`, `B`, …
    pub column: String,
    pub index: usize,
    /// The header text that matched, when the suggestion comes from a header.
    pub header: Option<String>,
    pub field: Option<Field>,
    /// A sample value from the first data row.
    pub sample: Option<String>,
}

/// The mapping suggested for the first rows of a sheet, and the row data starts on (1-based).
pub fn suggest(rows: &[Row]) -> (Vec<Suggestion>, u32) {
    // The header row: the first of the first ten rows whose texts name at least one field.
    let header =
        rows.iter().take(10).find(|r| r.cells.iter().filter_map(|c| c.text()).any(|t| field_of_header(t).is_some()));
    let width = rows.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    let start = header
        .map(|h| h.number + 1)
        .unwrap_or_else(|| rows.iter().find(|r| !r.is_blank()).map(|r| r.number).unwrap_or(1));
    let first_data = rows.iter().find(|r| r.number >= start && !r.is_blank());
    let mut taken: BTreeMap<Field, usize> = BTreeMap::new();
    let mut out: Vec<Suggestion> = (0..width)
        .map(|i| {
            let header_text = header.and_then(|h| h.cells.get(i)).and_then(|c| c.text()).map(|t| t.trim().to_owned());
            let mut field = header_text.as_deref().and_then(field_of_header);
            if let Some(f) = field {
                // One column per field: the first wins.
                if let std::collections::btree_map::Entry::Vacant(slot) = taken.entry(f) {
                    slot.insert(i);
                } else {
                    field = None;
                }
            }
            Suggestion {
                column: column_name(i),
                index: i,
                header: header_text.filter(|_| field.is_some()),
                field,
                sample: first_data.and_then(|r| r.cells.get(i)).and_then(|c| c.text()).map(str::to_owned),
            }
        })
        .collect();
    // No header named the email column: the first column whose values look like addresses.
    if !taken.contains_key(&Field::Email) {
        let looks_like_email = |i: usize| {
            let values: Vec<&str> =
                rows.iter().filter(|r| r.number >= start).filter_map(|r| r.cells.get(i)?.text()).take(20).collect();
            !values.is_empty()
                && values.iter().filter(|v| v.contains('@') && v.contains('.')).count() * 2 > values.len()
        };
        if let Some(s) = out.iter_mut().find(|s| s.field.is_none() && looks_like_email(s.index)) {
            s.field = Some(Field::Email);
        }
    }
    (out, start)
}

/// The confirmed mapping: field → column index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Mapping(pub BTreeMap<Field, usize>);

impl Mapping {
    /// From `{"email": "A", "first_name": "B"}` (column letters) as the API receives it.
    pub fn parse(raw: &BTreeMap<Field, String>, login_domain: bool) -> Result<Self> {
        let mut out = BTreeMap::new();
        let mut used = BTreeMap::new();
        for (field, col) in raw {
            let index = super::column_index(col.trim().as_bytes())
                .filter(|i| *i < super::limits::MAX_COLUMNS && col.trim().bytes().all(|b| b.is_ascii_alphabetic()))
                .ok_or_else(|| {
                    Error::validation("invalid_mapping", "mapping", format!("{col:?} is not a column such as A or AB"))
                })?;
            if let Some(other) = used.insert(index, *field) {
                return Err(Error::validation(
                    "invalid_mapping",
                    "mapping",
                    format!("column {col} is mapped to both {other:?} and {field:?}"),
                ));
            }
            out.insert(*field, index);
        }
        if out.contains_key(&Field::Username) && !login_domain {
            return Err(Error::validation(
                "invalid_mapping",
                "mapping",
                "usernames need a login domain (organization settings)",
            ));
        }
        if !out.contains_key(&Field::FirstName) {
            return Err(Error::validation("invalid_mapping", "mapping", "the first name column is required"));
        }
        if !(out.contains_key(&Field::Email) || login_domain && out.contains_key(&Field::Username)) {
            return Err(Error::validation(
                "invalid_mapping",
                "mapping",
                if login_domain { "map the email or the username column" } else { "the email column is required" },
            ));
        }
        Ok(Mapping(out))
    }

    pub fn get(&self, f: Field) -> Option<usize> {
        self.0.get(&f).copied()
    }
}
