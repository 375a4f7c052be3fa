//! XLS (BIFF8 in a compound file), through calamine. The format caps a sheet at 65,536 rows
//! and 256 columns, which bounds what calamine holds; our row and column limits apply on top.
//! calamine is third-party code reading hostile input: a panic in it becomes an error.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Data, Reader, Xls, XlsError};

use super::{Cell, Row, file_error};
use crate::error::{Error, Result};

fn xls_error(e: XlsError) -> Error {
    match e {
        XlsError::Password => file_error("password_protected", "the workbook is protected with a password"),
        e => file_error("unreadable_file", format!("damaged or truncated XLS file: {e}")),
    }
}

fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(file_error("unreadable_file", "the XLS file could not be read")))
}

fn open(bytes: &[u8]) -> Result<Xls<Cursor<&[u8]>>> {
    let mut book = Xls::new(Cursor::new(bytes)).map_err(xls_error)?;
    if matches!(book.vba_project(), Ok(Some(_))) {
        return Err(file_error("macro_workbook", "workbooks with macros are not imported: save it without them"));
    }
    Ok(book)
}

pub fn sheets(bytes: &[u8]) -> Result<Vec<String>> {
    guarded(|| Ok(open(bytes)?.sheet_names()))
}

fn text(d: &Data) -> Cell {
    let s = match d {
        Data::Empty | Data::Error(_) => return Cell::Empty,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Data::DateTime(d) => d.as_f64().to_string(),
    };
    super::cell_text(s)
}

pub fn rows(bytes: &[u8], sheet: &str, f: &mut dyn FnMut(Row) -> Result<bool>) -> Result<()> {
    let (range, formulas) = guarded(|| {
        let mut book = open(bytes)?;
        let range = book.worksheet_range(sheet).map_err(xls_error)?;
        let formulas = book.worksheet_formula(sheet).map_err(xls_error)?;
        Ok((range, formulas))
    })?;
    let Some((top, left)) = range.start() else { return Ok(()) };
    for (i, cells) in range.rows().enumerate() {
        let number = top + i as u32 + 1;
        let mut row = Row { number, cells: vec![Cell::Empty; left as usize] };
        for (j, d) in cells.iter().enumerate() {
            let (r, c) = (top + i as u32, left + j as u32);
            let is_formula = formulas.get_value((r, c)).is_some_and(|s| !s.is_empty());
            row.cells.push(if is_formula { Cell::Formula } else { text(d) });
        }
        if !f(row)? {
            return Ok(());
        }
    }
    Ok(())
}
