//! XLSX, read straight from the zip: the directory is checked before anything is
//! decompressed, entries stream through a byte counter, and the sheet's XML is parsed event by
//! event so a row at a time is held.

use std::io::{BufRead, BufReader, Cursor, Read};

use quick_xml::events::{BytesStart, Event};
use zip::ZipArchive;

use super::limits::{MAX_COLUMNS, MAX_RATIO, MAX_ROWS, MAX_UNCOMPRESSED_BYTES, MAX_ZIP_ENTRIES};
use super::{Cell, Row, cell_text, column_index, file_error};
use crate::error::{Error, Result};

type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

fn zip_error(e: zip::result::ZipError) -> Error {
    match e {
        zip::result::ZipError::UnsupportedArchive(m) if m.contains("assword") => {
            file_error("password_protected", "the workbook is protected with a password: save it without one")
        }
        e => file_error("unreadable_file", format!("damaged or truncated XLSX file: {e}")),
    }
}

/// Open the zip and check its directory: entry count, declared sizes and ratios, encryption,
/// macros, and that it is a workbook at all.
fn open(bytes: &[u8]) -> Result<Archive<'_>> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(file_error("zip_limits", format!("more than {MAX_ZIP_ENTRIES} entries in the workbook")));
    }
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(zip_error)?;
        if entry.encrypted() {
            return Err(file_error("password_protected", "the workbook is protected with a password"));
        }
        let name = entry.name().map_err(zip_error)?.to_ascii_lowercase();
        if name.ends_with("vbaproject.bin") {
            return Err(file_error(
                "macro_workbook",
                "workbooks with macros are not imported: save it as a plain .xlsx",
            ));
        }
        total = total.saturating_add(entry.size());
        let ratio = entry.size() / entry.compressed_size().max(1);
        if entry.size() > 1024 * 1024 && ratio > MAX_RATIO {
            return Err(file_error("zip_limits", format!("an entry expands {ratio}-fold: refused as a zip bomb")));
        }
    }
    if total > MAX_UNCOMPRESSED_BYTES {
        return Err(file_error(
            "zip_limits",
            format!("the workbook expands to more than {MAX_UNCOMPRESSED_BYTES} bytes"),
        ));
    }
    if archive.index_for_name("xl/workbook.xml").is_none() {
        return Err(file_error("unsupported_format", "a zip file, but not an Excel workbook"));
    }
    Ok(archive)
}

/// Reads an entry, failing once it yields more than its declared size (or the global limit).
struct Counted<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left =
            self.left.checked_sub(n as u64).ok_or_else(|| std::io::Error::other("entry larger than declared"))?;
        Ok(n)
    }
}

fn with_entry<T>(
    archive: &mut Archive<'_>,
    name: &str,
    f: impl FnOnce(&mut dyn BufRead) -> Result<T>,
) -> Result<Option<T>> {
    let Some(i) = archive.index_for_name(name) else { return Ok(None) };
    let entry = archive.by_index(i).map_err(zip_error)?;
    let left = entry.size().min(MAX_UNCOMPRESSED_BYTES);
    let mut reader = BufReader::new(Counted { inner: entry, left });
    f(&mut reader).map(Some)
}

fn xml_error(e: impl std::fmt::Display) -> Error {
    file_error("unreadable_file", format!("damaged XLSX content: {e}"))
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == name).map(|a| a.value.into_owned())
}

/// Text of an entity or character reference.
fn reference(r: &quick_xml::events::BytesRef<'_>) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    match &**r {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => "",
    }
    .to_owned()
}

/// Sheet names in workbook order, with the path of each sheet's XML.
fn sheet_paths(archive: &mut Archive<'_>) -> Result<Vec<(String, String)>> {
    let mut targets = std::collections::HashMap::new();
    with_entry(archive, "xl/_rels/workbook.xml.rels", |r| {
        let mut xml = quick_xml::Reader::from_reader(r);
        let mut buf = Vec::new();
        loop {
            match xml.read_event_into(&mut buf).map_err(xml_error)? {
                Event::Empty(e) | Event::Start(e) if e.local_name().as_ref() == "Relationship" => {
                    if let (Some(id), Some(target)) = (attr(&e, "Id"), attr(&e, "Target")) {
                        targets.insert(id, target);
                    }
                }
                Event::Eof => return Ok(()),
                _ => {}
            }
            buf.clear();
        }
    })?;
    let mut sheets = Vec::new();
    with_entry(archive, "xl/workbook.xml", |r| {
        let mut xml = quick_xml::Reader::from_reader(r);
        let mut buf = Vec::new();
        loop {
            match xml.read_event_into(&mut buf).map_err(xml_error)? {
                Event::Empty(e) | Event::Start(e) if e.local_name().as_ref() == "sheet" => {
                    let (Some(name), Some(id)) = (attr(&e, "name"), attr(&e, "id")) else { continue };
                    if let Some(t) = targets.get(&id) {
                        let path = match t.strip_prefix('/') {
                            Some(abs) => abs.to_owned(),
                            None => format!("xl/{t}"),
                        };
                        sheets.push((name, path));
                    }
                }
                Event::Eof => return Ok(()),
                _ => {}
            }
            buf.clear();
        }
    })?;
    Ok(sheets)
}

pub fn sheets(bytes: &[u8]) -> Result<Vec<String>> {
    let mut archive = open(bytes)?;
    Ok(sheet_paths(&mut archive)?.into_iter().map(|(n, _)| n).collect())
}

fn shared_strings(archive: &mut Archive<'_>) -> Result<Vec<String>> {
    Ok(with_entry(archive, "xl/sharedStrings.xml", |r| {
        let mut xml = quick_xml::Reader::from_reader(r);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        let (mut current, mut in_t, mut in_phonetic) = (String::new(), false, false);
        loop {
            match xml.read_event_into(&mut buf).map_err(xml_error)? {
                Event::Start(e) => match e.local_name().as_ref() {
                    "si" => current.clear(),
                    "t" => in_t = true,
                    "rPh" => in_phonetic = true,
                    _ => {}
                },
                Event::Empty(e) if e.local_name().as_ref() == "si" => out.push(String::new()),
                Event::End(e) => match e.local_name().as_ref() {
                    "si" => out.push(std::mem::take(&mut current)),
                    "t" => in_t = false,
                    "rPh" => in_phonetic = false,
                    _ => {}
                },
                Event::Text(t) if in_t && !in_phonetic => current.push_str(&t.xml10_content()),
                Event::CData(t) if in_t && !in_phonetic => current.push_str(&t.xml10_content()),
                Event::GeneralRef(r) if in_t && !in_phonetic => current.push_str(&reference(&r)),
                Event::Eof => return Ok(out),
                _ => {}
            }
            buf.clear();
        }
    })?
    .unwrap_or_default())
}

/// `A1:E20` → (last row, last column index) of the declared used range.
fn declared_extent(dimension: &str) -> Option<(u64, usize)> {
    let last = dimension.rsplit(':').next()?;
    let col = column_index(last.as_bytes())?;
    let row: u64 = last.trim_start_matches(|c: char| c.is_ascii_alphabetic()).parse().ok()?;
    Some((row, col))
}

/// The value of a finished `<c>` element.
fn cell_value(kind: Option<&str>, formula: bool, value: String, strings: &[String]) -> Result<Cell> {
    if formula {
        return Ok(Cell::Formula);
    }
    Ok(match kind {
        Some("s") => {
            let i: usize = value.trim().parse().map_err(|_| xml_error("bad shared string index"))?;
            cell_text(strings.get(i).cloned().ok_or_else(|| xml_error("shared string index out of range"))?)
        }
        Some("b") => cell_text(if value.trim() == "1" { "TRUE".into() } else { "FALSE".into() }),
        Some("e") => Cell::Empty,
        Some("inlineStr") | Some("str") => cell_text(value),
        _ => cell_text(number_text(value)),
    })
}

/// Whole numbers as digits (a phone number typed into a number cell), others as written.
fn number_text(raw: String) -> String {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        _ => raw,
    }
}

pub fn rows(bytes: &[u8], sheet: &str, f: &mut dyn FnMut(Row) -> Result<bool>) -> Result<()> {
    let mut archive = open(bytes)?;
    let path = sheet_paths(&mut archive)?
        .into_iter()
        .find(|(n, _)| n == sheet)
        .map(|(_, p)| p)
        .ok_or_else(|| Error::validation("unknown_sheet", "sheet", "no sheet of that name in the file"))?;
    let strings = shared_strings(&mut archive)?;
    with_entry(&mut archive, &path, |r| stream_sheet(r, &strings, f))?
        .ok_or_else(|| file_error("unreadable_file", "the workbook names a sheet it does not contain"))
}

#[derive(Default)]
struct CellState {
    column: usize,
    kind: Option<String>,
    formula: bool,
    value: String,
    capture: bool,
}

fn stream_sheet(r: &mut dyn BufRead, strings: &[String], f: &mut dyn FnMut(Row) -> Result<bool>) -> Result<()> {
    let mut xml = quick_xml::Reader::from_reader(r);
    let mut buf = Vec::new();
    let mut row: Option<Row> = None;
    let mut last_row: u32 = 0;
    let mut cell: Option<CellState> = None;
    let mut next_col = 0usize;
    loop {
        let event = xml.read_event_into(&mut buf).map_err(xml_error)?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                match e.local_name().as_ref() {
                    "dimension" => {
                        if let Some((rows, cols)) = attr(e, "ref").as_deref().and_then(declared_extent)
                            && (rows > MAX_ROWS as u64 || cols >= MAX_COLUMNS)
                        {
                            return Err(file_error(
                                "sheet_too_large",
                                format!(
                                    "the sheet declares {rows} rows and {} columns; at most {MAX_ROWS} rows and {MAX_COLUMNS} columns",
                                    cols + 1
                                ),
                            ));
                        }
                    }
                    "row" => {
                        let number = attr(e, "r").and_then(|v| v.parse().ok()).unwrap_or(last_row + 1);
                        if number <= last_row {
                            return Err(xml_error("rows out of order"));
                        }
                        last_row = number;
                        next_col = 0;
                        let r = Row { number, cells: Vec::new() };
                        if empty {
                            if !f(r)? {
                                return Ok(());
                            }
                        } else {
                            row = Some(r);
                        }
                    }
                    "c" => {
                        let column = attr(e, "r").and_then(|r| column_index(r.as_bytes())).unwrap_or(next_col);
                        next_col = column + 1;
                        let state = CellState { column, kind: attr(e, "t"), ..CellState::default() };
                        if empty {
                            place(&mut row, state.column, Cell::Empty)?;
                        } else {
                            cell = Some(state);
                        }
                    }
                    "f" => {
                        if let Some(c) = cell.as_mut() {
                            c.formula = true;
                        }
                    }
                    "v" | "t" if !empty => {
                        if let Some(c) = cell.as_mut() {
                            c.capture = true;
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                if let Some(c) = cell.as_mut().filter(|c| c.capture) {
                    c.value.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(c) = cell.as_mut().filter(|c| c.capture) {
                    c.value.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(c) = cell.as_mut().filter(|c| c.capture) {
                    c.value.push_str(&reference(&r));
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "v" | "t" => {
                    if let Some(c) = cell.as_mut() {
                        c.capture = false;
                    }
                }
                "c" => {
                    if let Some(c) = cell.take() {
                        let value = cell_value(c.kind.as_deref(), c.formula, c.value, strings)?;
                        place(&mut row, c.column, value)?;
                    }
                }
                "row" => {
                    if let Some(r) = row.take()
                        && !f(r)?
                    {
                        return Ok(());
                    }
                }
                _ => {}
            },
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}

/// Put a cell into its column, refusing content beyond the column limit without allocating
/// up to it.
fn place(row: &mut Option<Row>, column: usize, value: Cell) -> Result<()> {
    let Some(row) = row.as_mut() else { return Ok(()) };
    if column >= MAX_COLUMNS {
        if value == Cell::Empty {
            return Ok(());
        }
        return Err(file_error("too_many_columns", format!("at most {MAX_COLUMNS} columns")));
    }
    if row.cells.len() <= column {
        row.cells.resize(column + 1, Cell::Empty);
    }
    row.cells[column] = value;
    Ok(())
}
