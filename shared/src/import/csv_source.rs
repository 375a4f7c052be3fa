//! CSV: encoding and delimiter are detected, then records are read one at a time.

use super::detect::{self, Encoding};
use super::{Cell, Row, cell_text, file_error};
use crate::error::Result;

const DELIMITERS: [u8; 3] = [b',', b';', b'\t'];

pub fn sniff(bytes: &[u8]) -> Result<(Encoding, char)> {
    let encoding = detect::encoding(bytes)?;
    // The first lines are enough to see the delimiter.
    let head = detect::decode(&bytes[..bytes.len().min(64 * 1024)], encoding);
    Ok((encoding, delimiter(&head) as char))
}

/// The candidate that splits the first lines most consistently into more than one field.
fn delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(20).collect();
    let mut best = (b',', 0usize, 0usize);
    for d in DELIMITERS {
        let counts: Vec<usize> = lines.iter().map(|l| count_outside_quotes(l, d)).collect();
        let Some(mode) = mode(&counts) else { continue };
        if mode == 0 {
            continue;
        }
        let agreeing = counts.iter().filter(|c| **c == mode).count();
        if (agreeing, mode) > (best.1, best.2) {
            best = (d, agreeing, mode);
        }
    }
    best.0
}

fn count_outside_quotes(line: &str, d: u8) -> usize {
    let mut quoted = false;
    line.bytes()
        .filter(|b| {
            if *b == b'"' {
                quoted = !quoted;
            }
            !quoted && *b == d
        })
        .count()
}

fn mode(counts: &[usize]) -> Option<usize> {
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let mut best: Option<(usize, usize)> = None;
    for chunk in sorted.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(_, n)| chunk.len() > n) {
            best = Some((chunk[0], chunk.len()));
        }
    }
    best.map(|(v, _)| v)
}

pub fn rows(bytes: &[u8], f: &mut dyn FnMut(Row) -> Result<bool>) -> Result<()> {
    let (encoding, delimiter) = sniff(bytes)?;
    let text = detect::decode(bytes, encoding);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter as u8)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let bytes = text.as_bytes();
    loop {
        // The line the record starts on, as a spreadsheet opening the file numbers it: the
        // reader skips empty lines without counting them in its record positions.
        let at = reader.position();
        let skipped =
            bytes.get(at.byte() as usize..).unwrap_or_default().iter().take_while(|b| matches!(b, b'\r' | b'\n'));
        let number = (at.line() + skipped.filter(|b| **b == b'\n').count() as u64) as u32;
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => return Err(file_error("unreadable_file", format!("CSV line {number}: {e}"))),
        }
        let cells: Vec<Cell> = record.iter().map(|v| cell_text(v.to_owned())).collect();
        if !f(Row { number, cells })? {
            return Ok(());
        }
    }
}
