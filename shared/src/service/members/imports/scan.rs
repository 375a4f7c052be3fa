//! One pass over a file (on a blocking thread): what it is, its first rows, the mapping, and
//! how many rows are valid and would take a seat.

use std::collections::HashSet;

use crate::domain::{LoginDomain, LoginKey, LoginName, OrgId};
use crate::error::{Error, Result};
use crate::import::limits::MAX_DATA_ROWS;
use crate::import::rows::{ImportRow, validate};
use crate::import::{Cell, FileInfo, Mapping, Row, Suggestion, Workbook, suggest};
use crate::service::members::imports::{PreviewRequest, PreviewRow};

const FIRST_ROWS: usize = 20;

pub struct Scan {
    pub info: FileInfo,
    pub sheet: String,
    pub first_rows: Vec<PreviewRow>,
    pub suggestions: Vec<Suggestion>,
    pub start_row: u32,
    pub mapping: Mapping,
    pub data_rows: u32,
    pub valid_rows: u32,
    /// The distinct logins of the valid rows (at most `MAX_DATA_ROWS`): those not yet members
    /// or invited each take a seat.
    pub logins: HashSet<String>,
}

/// The login a row stands for, as memberships and credentials record it.
pub fn identity(row: &ImportRow, org: &OrgId) -> String {
    match &row.login {
        LoginName::Email(e) => e.as_str().to_owned(),
        LoginName::Username { username, .. } => {
            LoginKey::Username { org: org.clone(), username: username.clone() }.as_string()
        }
    }
}

impl Scan {
    pub fn run(bytes: &[u8], req: &PreviewRequest, domain: Option<&LoginDomain>, org: &OrgId) -> Result<Scan> {
        let book = Workbook::open(bytes)?;
        let sheet = match &req.sheet {
            Some(s) => s.clone(),
            None => book
                .info()
                .sheets
                .first()
                .cloned()
                .ok_or_else(|| Error::validation("no_sheets", "file", "the file has no sheets"))?,
        };
        let mut head: Vec<Row> = Vec::new();
        book.for_each_row(Some(&sheet), |r| {
            head.push(r);
            head.len() < FIRST_ROWS
        })?;
        let (suggestions, suggested_start) = suggest(&head);
        let mapping = match &req.mapping {
            Some(m) => Mapping::parse(m, domain.is_some())?,
            None => Mapping(suggestions.iter().filter_map(|s| Some((s.field?, s.index))).collect()),
        };
        let start_row = req.start_row.unwrap_or(suggested_start);
        let (mut data_rows, mut valid_rows) = (0u32, 0u32);
        let mut logins: HashSet<String> = HashSet::new();
        book.for_each_row(Some(&sheet), |r| {
            if r.number < start_row || r.is_blank() {
                return true;
            }
            data_rows += 1;
            if let Ok(row) = validate(&r, &mapping, domain) {
                valid_rows += 1;
                logins.insert(identity(&row, org));
            }
            true
        })?;
        if data_rows as usize > MAX_DATA_ROWS {
            return Err(Error::validation("too_many_rows", "file", format!("at most {MAX_DATA_ROWS} data rows")));
        }
        let first_rows = head
            .iter()
            .map(|r| PreviewRow {
                number: r.number,
                cells: r
                    .cells
                    .iter()
                    .map(|c| match c {
                        Cell::Text(t) => Some(t.clone()),
                        Cell::Formula => Some("(formula)".into()),
                        Cell::Empty => None,
                    })
                    .collect(),
            })
            .collect();
        Ok(Scan {
            info: book.info().clone(),
            sheet,
            first_rows,
            suggestions,
            start_row,
            mapping,
            data_rows,
            valid_rows,
            logins,
        })
    }
}
