//! Reading the files people import users from: CSV (any of `,` `;` tab, UTF-8 with or without
//! BOM, UTF-16, Windows-1252), XLSX (streamed from the zip, never expanded whole) and XLS
//! (BIFF, through calamine). The format is recognized from the content, never the name.
//!
//! Every limit here is checked before the work it guards: the zip directory before anything is
//! decompressed, a sheet's declared dimension before its rows, and the byte count of every
//! decompressed entry while it streams (declared sizes can lie). Readers are synchronous and
//! meant for a blocking thread; they call back once per row so nothing holds a whole sheet.

mod csv_source;
mod detect;
pub mod mapping;
pub mod rows;
mod xls;
mod xlsx;

pub use detect::{Encoding, Format};
pub use mapping::{Field, Mapping, Suggestion, suggest};

use crate::error::{Error, Result};

/// Limits, documented in `docs/imports.md`.
pub mod limits {
    /// Largest file accepted (through a presigned upload).
    pub const MAX_FILE_BYTES: u64 = 20 * 1024 * 1024;
    /// Largest file accepted in the body of an API request: Lambda's 6 MB invocation payload
    /// holds the request base64-encoded, so 4 MiB is what fits with headers to spare.
    pub const MAX_DIRECT_BYTES: usize = 4 * 1024 * 1024;
    /// Data rows (rows from the start row on) in one import.
    pub const MAX_DATA_ROWS: usize = 100_000;
    /// Rows read in all, including titles above the start row.
    pub const MAX_ROWS: usize = MAX_DATA_ROWS + 1_000;
    pub const MAX_COLUMNS: usize = 50;
    /// Characters in one cell; longer cells fail their row.
    pub const MAX_CELL_CHARS: usize = 1_024;
    /// XLSX: entries in the zip directory.
    pub const MAX_ZIP_ENTRIES: usize = 512;
    /// XLSX: total declared uncompressed size of all entries.
    pub const MAX_UNCOMPRESSED_BYTES: u64 = 256 * 1024 * 1024;
    /// XLSX: largest compression ratio of an entry bigger than 1 MiB (real sheets are 5-20×).
    pub const MAX_RATIO: u64 = 200;
}

/// One cell as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A formula: never evaluated nor trusted; a mapped formula cell fails its row.
    Formula,
}

impl Cell {
    pub fn text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) if !s.trim().is_empty() => Some(s),
            _ => None,
        }
    }
}

/// One row: its number as the spreadsheet shows it (1-based), and its cells from column A.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub number: u32,
    pub cells: Vec<Cell>,
}

impl Row {
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| c.text().is_none() && *c != Cell::Formula)
    }
}

/// What was recognized about a file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct FileInfo {
    pub format: Format,
    /// CSV only.
    pub encoding: Option<Encoding>,
    /// CSV only: `,`, `;` or `\t`.
    pub delimiter: Option<String>,
    pub sheets: Vec<String>,
}

/// An opened file: recognized and checked, ready to stream rows.
pub struct Workbook<'a> {
    bytes: &'a [u8],
    info: FileInfo,
}

pub(crate) fn file_error(code: &'static str, message: impl std::fmt::Display) -> Error {
    Error::validation(code, "file", message)
}

impl<'a> Workbook<'a> {
    /// Recognize the format from the content and check the container's limits.
    pub fn open(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() as u64 > limits::MAX_FILE_BYTES {
            return Err(file_error("file_too_large", format!("files are at most {} bytes", limits::MAX_FILE_BYTES)));
        }
        let info = match detect::format(bytes)? {
            Format::Xlsx => {
                FileInfo { format: Format::Xlsx, encoding: None, delimiter: None, sheets: xlsx::sheets(bytes)? }
            }
            Format::Xls => {
                FileInfo { format: Format::Xls, encoding: None, delimiter: None, sheets: xls::sheets(bytes)? }
            }
            Format::Csv => {
                let (encoding, delimiter) = csv_source::sniff(bytes)?;
                FileInfo {
                    format: Format::Csv,
                    encoding: Some(encoding),
                    delimiter: Some(delimiter.to_string()),
                    sheets: vec!["CSV".into()],
                }
            }
        };
        Ok(Workbook { bytes, info })
    }

    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// Call `f` with each row of `sheet` (the first when `None`) in order, blank rows
    /// included, until it returns `false`. Fails on the first limit crossed.
    pub fn for_each_row(&self, sheet: Option<&str>, mut f: impl FnMut(Row) -> bool) -> Result<()> {
        let name = match sheet {
            Some(s) if self.info.sheets.iter().any(|n| n == s) => s,
            Some(_) => return Err(Error::validation("unknown_sheet", "sheet", "no sheet of that name in the file")),
            None => self
                .info
                .sheets
                .first()
                .map(String::as_str)
                .ok_or_else(|| file_error("no_sheets", "the file has no sheets"))?,
        };
        let mut count = 0usize;
        let mut guarded = |row: Row| -> Result<bool> {
            count += 1;
            if count > limits::MAX_ROWS {
                return Err(file_error("too_many_rows", format!("at most {} data rows", limits::MAX_DATA_ROWS)));
            }
            if row.cells.len() > limits::MAX_COLUMNS
                && row.cells[limits::MAX_COLUMNS..].iter().any(|c| *c != Cell::Empty)
            {
                return Err(file_error("too_many_columns", format!("at most {} columns", limits::MAX_COLUMNS)));
            }
            Ok(f(row))
        };
        match self.info.format {
            Format::Csv => csv_source::rows(self.bytes, &mut guarded),
            Format::Xlsx => xlsx::rows(self.bytes, name, &mut guarded),
            Format::Xls => xls::rows(self.bytes, name, &mut guarded),
        }
    }
}

/// Column letters as spreadsheets show them: 0 → A, 25 → Z, 26 → AA.
pub fn column_name(mut index: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

/// The 0-based column of a reference such as `AB12` (letters only are read).
pub(crate) fn column_index(reference: &[u8]) -> Option<usize> {
    let mut n: usize = 0;
    let mut any = false;
    for &b in reference {
        if !b.is_ascii_alphabetic() {
            break;
        }
        any = true;
        n = n.checked_mul(26)?.checked_add((b.to_ascii_uppercase() - b'A') as usize + 1)?;
        if n > 16_384 {
            return None;
        }
    }
    any.then(|| n - 1)
}

pub(crate) fn cell_text(s: String) -> Cell {
    if s.is_empty() { Cell::Empty } else { Cell::Text(s) }
}

#[cfg(test)]
mod tests;
