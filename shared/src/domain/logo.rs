//! An email header logo: a PNG or JPEG (SVG can carry scripts and most mail clients do not
//! show it), recognised from its bytes rather than from what the client says it is, and
//! decoded in full within limits, so that a truncated or hostile file never reaches an email.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// Bytes of a logo file at most.
pub const LOGO_MAX_BYTES: usize = 256 * 1024;
/// Pixel bounds: an email header is at most 600 px wide; twice that for sharp screens.
pub const LOGO_MAX_WIDTH: u32 = 1200;
pub const LOGO_MAX_HEIGHT: u32 = 400;
pub const LOGO_MIN_SIDE: u32 = 16;
/// Decoded pixels may take at most this much memory while checking.
const DECODE_MEMORY: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ImageFormat {
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "image/jpeg")]
    Jpeg,
}

impl ImageFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
        }
    }
}

/// A checked logo file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    bytes: Vec<u8>,
    format: ImageFormat,
    width: u32,
    height: u32,
}

fn refuse(code: &'static str, message: impl std::fmt::Display) -> Error {
    Error::validation(code, "logo", message)
}

fn check_size(width: u32, height: u32) -> Result<()> {
    if width > LOGO_MAX_WIDTH || height > LOGO_MAX_HEIGHT {
        return Err(refuse(
            "logo_too_large",
            format!("is {width}×{height} px; at most {LOGO_MAX_WIDTH}×{LOGO_MAX_HEIGHT}"),
        ));
    }
    if width < LOGO_MIN_SIDE || height < LOGO_MIN_SIDE {
        return Err(refuse("logo_too_small", format!("is {width}×{height} px; at least {LOGO_MIN_SIDE} px a side")));
    }
    Ok(())
}

/// Whether a PNG's chunks run whole from the signature to `IEND`, with nothing after it.
fn png_ends_at_iend(bytes: &[u8]) -> bool {
    let mut i = 8;
    while let Some(head) = bytes.get(i..i + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let end = i.saturating_add(12).saturating_add(len);
        if end > bytes.len() {
            return false;
        }
        if &head[4..8] == b"IEND" {
            return end == bytes.len();
        }
        i = end;
    }
    false
}

/// Whether a JPEG's segments and entropy-coded data run whole from `SOI` to `EOI`, with
/// nothing after it (a file cut short has no `EOI`; one with more after it is two things).
fn jpeg_ends_at_eoi(bytes: &[u8]) -> bool {
    let mut i = 2;
    while i + 1 < bytes.len() {
        if bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        match marker {
            // Fill bytes before a marker.
            0xFF => i += 1,
            0xD9 => return i + 2 == bytes.len(),
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let Some(len) = bytes.get(i + 2..i + 4).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))) else {
                    return false;
                };
                i += 2 + len;
                if marker == 0xDA {
                    // Entropy-coded data runs to the next marker that is not a stuffed 0xFF
                    // or a restart.
                    let marker_at = |i: usize| bytes[i] == 0xFF && !matches!(bytes[i + 1], 0x00 | 0xD0..=0xD7);
                    while i + 1 < bytes.len() && !marker_at(i) {
                        i += 1;
                    }
                }
            }
        }
    }
    false
}

fn decode_png(bytes: &[u8]) -> Result<(u32, u32)> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_limits(png::Limits { bytes: DECODE_MEMORY });
    let mut reader = decoder.read_info().map_err(|e| refuse("invalid_image", format!("is not a valid PNG: {e}")))?;
    let (width, height) = (reader.info().width, reader.info().height);
    // Dimensions come first, from the header: a huge canvas is refused before decoding it.
    check_size(width, height)?;
    if reader.info().animation_control().is_some() {
        return Err(refuse("invalid_image", "is an animated PNG; send a still image"));
    }
    let size = reader.output_buffer_size().ok_or_else(|| refuse("invalid_image", "is too large to decode"))?;
    let mut buf = vec![0; size];
    reader.next_frame(&mut buf).map_err(|e| refuse("invalid_image", format!("is not a valid PNG: {e}")))?;
    if !png_ends_at_iend(bytes) {
        return Err(refuse("invalid_image", "does not end where the PNG ends (cut short, or something after it)"));
    }
    Ok((width, height))
}

fn decode_jpeg(bytes: &[u8]) -> Result<(u32, u32)> {
    use zune_jpeg::zune_core::options::DecoderOptions;
    let options = DecoderOptions::default()
        .set_max_width(LOGO_MAX_WIDTH as usize)
        .set_max_height(LOGO_MAX_HEIGHT as usize)
        .set_strict_mode(true);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(bytes, options);
    let bad = |e: zune_jpeg::errors::DecodeErrors| refuse("invalid_image", format!("is not a valid JPEG: {e:?}"));
    match decoder.decode_headers() {
        Ok(()) => {}
        Err(zune_jpeg::errors::DecodeErrors::LargeDimensions(_)) => {
            return Err(refuse("logo_too_large", format!("is larger than {LOGO_MAX_WIDTH}×{LOGO_MAX_HEIGHT} px")));
        }
        Err(e) => return Err(bad(e)),
    }
    let (w, h) = decoder.dimensions().ok_or_else(|| refuse("invalid_image", "has no dimensions"))?;
    let (width, height) = (u32::try_from(w).unwrap_or(u32::MAX), u32::try_from(h).unwrap_or(u32::MAX));
    check_size(width, height)?;
    if !jpeg_ends_at_eoi(bytes) {
        return Err(refuse("invalid_image", "does not end where the JPEG ends (cut short, or something after it)"));
    }
    decoder.decode().map_err(bad)?;
    Ok((width, height))
}

impl Logo {
    /// Check an uploaded file. The format is the one its first bytes show; `declared` (the
    /// request's Content-Type) must agree with it.
    pub fn parse(bytes: Vec<u8>, declared: Option<&str>) -> Result<Self> {
        if bytes.len() > LOGO_MAX_BYTES {
            return Err(refuse("logo_too_large", format!("is larger than {} KiB", LOGO_MAX_BYTES / 1024)));
        }
        let format = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            ImageFormat::Png
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            ImageFormat::Jpeg
        } else {
            return Err(refuse("unsupported_image", "must be a PNG or JPEG file"));
        };
        if let Some(ct) = declared {
            let ct = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            let agrees = ct == format.content_type() || (format == ImageFormat::Jpeg && ct == "image/jpg");
            if !agrees {
                return Err(refuse("image_type_mismatch", format!("is a {} file sent as {ct}", format.content_type())));
            }
        }
        // The decoders are third-party code reading hostile input: a panic in one (fuzzing
        // found an arithmetic overflow in zune-jpeg's IDCT) is a file refused, not a crash.
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match format {
            ImageFormat::Png => decode_png(&bytes),
            ImageFormat::Jpeg => decode_jpeg(&bytes),
        }));
        let (width, height) = decoded.unwrap_or_else(|_| Err(refuse("invalid_image", "could not be decoded")))?;
        Ok(Logo { bytes, format, width, height })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub fn format(&self) -> ImageFormat {
        self.format
    }

    pub fn dimensions(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}

/// Where an organization's logo is stored and what it is: its object key names its content
/// hash, so a stored logo never changes and may be cached forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogoRef {
    pub key: String,
    pub content_type: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid PNG of `w`×`h` grey pixels.
    pub(crate) fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Grayscale);
            enc.set_depth(png::BitDepth::Eight);
            let mut writer = enc.write_header().unwrap();
            writer.write_image_data(&vec![128u8; (w * h) as usize]).unwrap();
        }
        out
    }

    fn code(r: Result<Logo>) -> &'static str {
        match r {
            Err(Error::Validation { code, .. }) => code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn accepts_a_png_by_its_content() {
        let logo = Logo::parse(png(200, 60), Some("image/png")).unwrap();
        assert_eq!((logo.format(), logo.dimensions()), (ImageFormat::Png, (200, 60)));
        assert_eq!(code(Logo::parse(png(200, 60), Some("image/jpeg"))), "image_type_mismatch");
    }

    #[test]
    fn refuses_svg_truncated_and_oversized_files() {
        let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
        assert_eq!(code(Logo::parse(svg, Some("image/svg+xml"))), "unsupported_image");
        let mut cut = png(200, 60);
        cut.truncate(cut.len() - 20);
        assert_eq!(code(Logo::parse(cut, None)), "invalid_image");
        assert_eq!(code(Logo::parse(png(1300, 60), None)), "logo_too_large");
        assert_eq!(code(Logo::parse(png(8, 8), None)), "logo_too_small");
        assert_eq!(code(Logo::parse(vec![0; LOGO_MAX_BYTES + 1], None)), "logo_too_large");
    }

    #[test]
    fn only_a_whole_file_with_nothing_after_it_is_a_logo() {
        let mut page = png(200, 60);
        page.extend_from_slice(b"<html><script>alert(document.domain)</script></html>");
        assert_eq!(code(Logo::parse(page, Some("image/png"))), "invalid_image");
        // A JPEG written by the `image` encoder of the fixtures, whole, cut in half, and with
        // a page after it.
        let jpeg = include_bytes!("../../../tests/fixtures/logos/acme.jpg").to_vec();
        assert!(Logo::parse(jpeg.clone(), Some("image/jpeg")).is_ok());
        assert_eq!(code(Logo::parse(jpeg[..jpeg.len() / 2].to_vec(), None)), "invalid_image");
        let mut after = jpeg;
        after.extend_from_slice(b"<html></html>");
        assert_eq!(code(Logo::parse(after, None)), "invalid_image");
    }

    #[test]
    fn a_png_claiming_a_huge_canvas_is_refused_from_its_header() {
        // 40000×40000 would need 1.6 GB decoded: the header alone refuses it.
        let mut bomb = png(20, 20);
        bomb[16..20].copy_from_slice(&40_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&40_000u32.to_be_bytes());
        assert!(Logo::parse(bomb, None).is_err());
    }

    #[test]
    fn a_file_that_makes_the_decoder_panic_is_refused() {
        // Found by `cargo fuzz run email_logo`: zune-jpeg 0.4.21 overflows in its IDCT.
        let bytes = include_bytes!("testdata/jpeg-idct-overflow.jpg").to_vec();
        assert!(matches!(Logo::parse(bytes, None), Err(Error::Validation { .. })));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048), png_head: bool) {
            if png_head && bytes.len() > 8 {
                bytes[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
            }
            let _ = Logo::parse(bytes, None);
        }
    }
}
