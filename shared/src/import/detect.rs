//! Recognizing a file from its first bytes, and a text file's encoding.

use super::file_error;
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xls,
    Xlsx,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub enum Encoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    #[serde(rename = "utf-16le")]
    Utf16Le,
    #[serde(rename = "utf-16be")]
    Utf16Be,
    #[serde(rename = "windows-1252")]
    Windows1252,
}

const ZIP: &[u8] = b"PK\x03\x04";
const EMPTY_ZIP: &[u8] = b"PK\x05\x06";
/// Compound File Binary: XLS, and also OOXML files encrypted with a password.
const CFB: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

pub fn format(bytes: &[u8]) -> Result<Format> {
    if bytes.is_empty() {
        return Err(file_error("empty_file", "the file is empty"));
    }
    if bytes.starts_with(ZIP) || bytes.starts_with(EMPTY_ZIP) {
        return Ok(Format::Xlsx);
    }
    if bytes.starts_with(CFB) {
        if contains_utf16(bytes, "EncryptedPackage") || contains_utf16(bytes, "EncryptionInfo") {
            return Err(file_error(
                "password_protected",
                "the workbook is protected with a password: save it without one",
            ));
        }
        return Ok(Format::Xls);
    }
    for (magic, what) in [
        (&b"%PDF"[..], "a PDF"),
        (&b"\x89PNG"[..], "an image"),
        (&b"\xFF\xD8\xFF"[..], "an image"),
        (&b"GIF8"[..], "an image"),
        (&b"\x1F\x8B"[..], "a gzip archive"),
        (&b"PK"[..], "a damaged zip"),
    ] {
        if bytes.starts_with(magic) {
            return Err(file_error("unsupported_format", format!("this is {what}, not a CSV, XLS or XLSX file")));
        }
    }
    Ok(Format::Csv)
}

fn contains_utf16(hay: &[u8], needle: &str) -> bool {
    let n: Vec<u8> = needle.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    hay.windows(n.len()).any(|w| w == n.as_slice())
}

/// The encoding of a text file: a byte-order mark decides; else UTF-16 when every other byte
/// of the start is zero; else UTF-8 when it decodes as such; else Windows-1252 (every byte is
/// a character there). A file that is UTF-8 in places and broken in others is refused rather
/// than guessed.
pub fn encoding(bytes: &[u8]) -> Result<Encoding> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return match std::str::from_utf8(&bytes[3..]) {
            Ok(_) => Ok(Encoding::Utf8Bom),
            Err(_) => Err(invalid_utf8()),
        };
    }
    if bytes.starts_with(&[0xFF, 0xFE]) {
        return Ok(Encoding::Utf16Le);
    }
    if bytes.starts_with(&[0xFE, 0xFF]) {
        return Ok(Encoding::Utf16Be);
    }
    let head = &bytes[..bytes.len().min(4096)];
    if head.len() >= 4 {
        let zeros_odd = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
        let zeros_even = head.iter().step_by(2).filter(|b| **b == 0).count();
        let half = head.len() / 2;
        if zeros_odd * 10 >= half * 9 && zeros_even == 0 {
            return Ok(Encoding::Utf16Le);
        }
        if zeros_even * 10 >= half * 9 && zeros_odd == 0 {
            return Ok(Encoding::Utf16Be);
        }
    }
    if bytes.contains(&0) {
        return Err(file_error("unsupported_format", "binary content: not a CSV, XLS or XLSX file"));
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => Ok(Encoding::Utf8),
        Err(_) if has_utf8_multibyte(bytes) => Err(invalid_utf8()),
        Err(_) => Ok(Encoding::Windows1252),
    }
}

fn invalid_utf8() -> crate::error::Error {
    file_error("invalid_encoding", "the file mixes UTF-8 with bytes that are not UTF-8: save it again as UTF-8")
}

/// Whether any well-formed multi-byte UTF-8 sequence occurs (a UTF-8 file with damage, as
/// opposed to a Windows-1252 file, where such sequences are very unlikely).
fn has_utf8_multibyte(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| matches!(w[0], 0xC2..=0xDF) && matches!(w[1], 0x80..=0xBF))
        || bytes.windows(3).any(|w| matches!(w[0], 0xE0..=0xEF) && w[1..].iter().all(|b| matches!(b, 0x80..=0xBF)))
}

/// Decode a whole text file.
pub fn decode(bytes: &[u8], enc: Encoding) -> String {
    let (encoding, body) = match enc {
        Encoding::Utf8 => (encoding_rs::UTF_8, bytes),
        Encoding::Utf8Bom => (encoding_rs::UTF_8, &bytes[3..]),
        Encoding::Utf16Le => (encoding_rs::UTF_16LE, bytes.strip_prefix(&[0xFF, 0xFE][..]).unwrap_or(bytes)),
        Encoding::Utf16Be => (encoding_rs::UTF_16BE, bytes.strip_prefix(&[0xFE, 0xFF][..]).unwrap_or(bytes)),
        Encoding::Windows1252 => (encoding_rs::WINDOWS_1252, bytes),
    };
    encoding.decode_without_bom_handling(body).0.into_owned()
}
