//! XLS (BIFF8 in a compound file), through calamine. calamine sizes its buffers from what the
//! file declares (the DIMENSIONS record, and the farthest cell), and an allocation failure
//! aborts the process rather than panicking; so the records are walked here first and a file
//! declaring or holding cells beyond our row and column limits is refused before calamine sees
//! it. calamine is third-party code reading hostile input: a panic in it becomes an error.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Data, Reader, Xls, XlsError};

use super::limits::{MAX_COLUMNS, MAX_ROWS};
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

/// BIFF records holding one cell, with its row and column in their first four bytes.
const CELL_RECORDS: [u16; 7] = [
    0x0006, // FORMULA
    0x00D6, // RSTRING
    0x00FD, // LABELSST
    0x0203, // NUMBER
    0x0204, // LABEL
    0x0205, // BOOLERR
    0x027E, // RK
];
const MULRK: u16 = 0x00BD;
const DIMENSIONS: u16 = 0x0200;

fn u16_at(d: &[u8], i: usize) -> u32 {
    d.get(i..i + 2).map(|b| u32::from(u16::from_le_bytes([b[0], b[1]]))).unwrap_or(0)
}

fn u32_at(d: &[u8], i: usize) -> u32 {
    d.get(i..i + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0)
}

/// Walk every record of the workbook stream and check declared extents and cell positions.
fn precheck(bytes: &[u8]) -> Result<()> {
    let unreadable = |e: std::io::Error| file_error("unreadable_file", format!("damaged or truncated XLS file: {e}"));
    let mut cf = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(unreadable)?;
    let name = ["/Workbook", "/Book"].into_iter().find(|n| cf.is_stream(n));
    let Some(name) = name else { return Err(file_error("unreadable_file", "no workbook stream in the XLS file")) };
    let mut stream = cf.open_stream(name).map_err(unreadable)?;
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut stream, super::limits::MAX_FILE_BYTES), &mut buf)
        .map_err(unreadable)?;
    let too_large = || file_error("sheet_too_large", format!("at most {MAX_ROWS} rows and {MAX_COLUMNS} columns"));
    let (max_row, max_col) = (MAX_ROWS as u32, MAX_COLUMNS as u32);
    let mut i = 0usize;
    while i + 4 <= buf.len() {
        let kind = u16_at(&buf, i) as u16;
        let len = u16_at(&buf, i + 2) as usize;
        let data = &buf[i + 4..(i + 4 + len).min(buf.len())];
        if kind == DIMENSIONS {
            // BIFF8: first row, last row + 1 (u32 each), first col, last col + 1; BIFF5: u16s.
            let (rows, cols) = if data.len() >= 12 {
                (u32_at(data, 4).saturating_sub(u32_at(data, 0)), u16_at(data, 10).saturating_sub(u16_at(data, 8)))
            } else {
                (u16_at(data, 2).saturating_sub(u16_at(data, 0)), u16_at(data, 6).saturating_sub(u16_at(data, 4)))
            };
            if rows > max_row || cols > 256 {
                return Err(too_large());
            }
        } else if CELL_RECORDS.contains(&kind) && data.len() >= 4 {
            if u16_at(data, 0) >= max_row || u16_at(data, 2) >= max_col {
                return Err(too_large());
            }
        } else if kind == MULRK && data.len() >= 6 && u16_at(data, data.len() - 2) >= max_col {
            return Err(too_large());
        }
        i += 4 + len;
    }
    Ok(())
}

fn open(bytes: &[u8]) -> Result<Xls<Cursor<&[u8]>>> {
    precheck(bytes)?;
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
