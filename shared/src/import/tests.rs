use super::mapping::{Field, Mapping, suggest};
use super::rows::{report_safe, validate};
use super::*;

fn all_rows(bytes: &[u8]) -> Vec<Row> {
    let book = Workbook::open(bytes).unwrap();
    let mut rows = Vec::new();
    book.for_each_row(None, |r| {
        rows.push(r);
        true
    })
    .unwrap();
    rows
}

fn texts(r: &Row) -> Vec<&str> {
    r.cells.iter().map(|c| c.text().unwrap_or("")).collect()
}

#[test]
fn csv_delimiters_and_encodings() {
    let semi = "Voornaam;Achternaam;E-mailadres\nJosé;Muñoz;jose@example.com\n";
    let (cp1252, _, lossy) = encoding_rs::WINDOWS_1252.encode(semi);
    assert!(!lossy);
    let book = Workbook::open(&cp1252).unwrap();
    assert_eq!((book.info().encoding, book.info().delimiter.as_deref()), (Some(Encoding::Windows1252), Some(";")));
    assert_eq!(texts(&all_rows(&cp1252)[1]), vec!["José", "Muñoz", "jose@example.com"]);

    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice("email\tfirst\na@b.nl\tÅsa\n".as_bytes());
    let book = Workbook::open(&bom).unwrap();
    assert_eq!((book.info().encoding, book.info().delimiter.as_deref()), (Some(Encoding::Utf8Bom), Some("\t")));
    assert_eq!(texts(&all_rows(&bom)[1]), vec!["a@b.nl", "Åsa"]);

    let mut utf16: Vec<u8> = vec![0xFF, 0xFE];
    utf16.extend("email,name\r\n\"x@y.de\",\"Jörg, Jr\"\r\n".encode_utf16().flat_map(u16::to_le_bytes));
    let rows = all_rows(&utf16);
    assert_eq!(Workbook::open(&utf16).unwrap().info().encoding, Some(Encoding::Utf16Le));
    assert_eq!(texts(&rows[1]), vec!["x@y.de", "Jörg, Jr"]);
}

#[test]
fn broken_text_is_refused_not_guessed() {
    let mut mixed = "name\nJosé\n".as_bytes().to_vec();
    mixed.extend_from_slice(b"Ren\xE9\n");
    assert_eq!(Workbook::open(&mixed).err().map(|e| e.code()), Some("invalid_encoding"));
    assert_eq!(Workbook::open(b"\x00\x01\x02binary\x00\xFF").err().map(|e| e.code()), Some("unsupported_format"));
    assert_eq!(Workbook::open(b"%PDF-1.7").err().map(|e| e.code()), Some("unsupported_format"));
    assert_eq!(Workbook::open(b"").err().map(|e| e.code()), Some("empty_file"));
    assert_eq!(Workbook::open(b"PK\x03\x04truncated").err().map(|e| e.code()), Some("unreadable_file"));
}

#[test]
fn row_and_column_limits() {
    let mut big = String::from("email\n");
    for i in 0..=limits::MAX_ROWS {
        big.push_str(&format!("u{i}@example.com\n"));
    }
    let book = Workbook::open(big.as_bytes()).unwrap();
    assert_eq!(book.for_each_row(None, |_| true).err().map(|e| e.code()), Some("too_many_rows"));
    let wide = format!("{}\n", vec!["x"; limits::MAX_COLUMNS + 1].join(","));
    let book = Workbook::open(wide.as_bytes()).unwrap();
    assert_eq!(book.for_each_row(None, |_| true).err().map(|e| e.code()), Some("too_many_columns"));
}

#[test]
fn suggests_fields_from_headers_in_three_languages() {
    let csv = "Member list,,,\n\nE-mail,Vorname,Achternaam,Telefonnummer\nann@example.com,Ann,Smith,+31 6 12345678\n";
    let (s, start) = suggest(&all_rows(csv.as_bytes()));
    assert_eq!(start, 4);
    let fields: Vec<Option<Field>> = s.iter().map(|c| c.field).collect();
    assert_eq!(fields, vec![Some(Field::Email), Some(Field::FirstName), Some(Field::LastName), Some(Field::Phone)]);
    assert_eq!(
        (s[1].header.as_deref(), s[1].sample.as_deref(), s[1].column.as_str()),
        (Some("Vorname"), Some("Ann"), "B")
    );
    // Without a header the addresses give the email column away.
    let (s, start) = suggest(&all_rows(b"Ann,ann@example.com\nBob,bob@example.com\n"));
    assert_eq!((start, s[1].field, s[0].field), (1, Some(Field::Email), None));
}

#[test]
fn rows_are_validated_and_normalized() {
    let raw = [("email", "A"), ("first_name", "B"), ("phone", "C"), ("password", "D")];
    let mapping = Mapping::parse(
        &raw.iter().map(|(f, c)| (serde_json::from_value(serde_json::json!(f)).unwrap(), c.to_string())).collect(),
        false,
    )
    .unwrap();
    let row = |cells: &[&str]| Row { number: 7, cells: cells.iter().map(|c| cell_text(c.to_string())).collect() };
    let ok = validate(&row(&[" Ann@Example.COM ", "  Ann  ", "0031 6 1234 5678", ""]), &mapping, None).ok().unwrap();
    assert_eq!(
        (ok.login.display(), ok.first_name.as_str(), ok.phone.map(|p| p.as_str().to_owned())),
        ("ann@example.com".into(), "Ann", Some("+31612345678".into()))
    );
    let code = |cells: &[&str]| validate(&row(cells), &mapping, None).err().map(|f| (f.code, f.field));
    assert_eq!(code(&["nope", "Ann", "", ""]), Some(("invalid_email".into(), Some(Field::Email))));
    assert_eq!(code(&["a@b.nl", "", "", ""]), Some(("invalid_name".into(), Some(Field::FirstName))));
    assert_eq!(code(&["a@b.nl", "Ann", "0612345678", ""]), Some(("invalid_phone".into(), Some(Field::Phone))));
    assert_eq!(code(&["a@b.nl", "Ann", "", "password"]), Some(("weak_password".into(), Some(Field::Password))));
    let mut formula = row(&["a@b.nl", "Ann", "", ""]);
    formula.cells[1] = Cell::Formula;
    assert_eq!(validate(&formula, &mapping, None).err().map(|f| f.code), Some("formula_cell".into()));
}

#[test]
fn mappings_need_their_columns() {
    let m = |pairs: &[(Field, &str)], domain| {
        Mapping::parse(&pairs.iter().map(|(f, c)| (*f, c.to_string())).collect(), domain)
    };
    assert!(m(&[(Field::Email, "A"), (Field::FirstName, "B")], false).is_ok());
    assert!(m(&[(Field::Username, "A"), (Field::FirstName, "B")], true).is_ok());
    for bad in [
        m(&[(Field::FirstName, "B")], false),
        m(&[(Field::Username, "A"), (Field::FirstName, "B")], false),
        m(&[(Field::Email, "A"), (Field::FirstName, "A")], false),
        m(&[(Field::Email, "A1"), (Field::FirstName, "B")], false),
        m(&[(Field::Email, "AZZ"), (Field::FirstName, "B")], false),
    ] {
        assert_eq!(bad.err().map(|e| e.code()), Some("invalid_mapping"));
    }
}

#[test]
fn report_cells_cannot_become_formulas() {
    for v in ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
        assert!(report_safe(v).starts_with('\''), "{v:?}");
    }
    assert_eq!(report_safe("ann@example.com"), "ann@example.com");
    assert_eq!(
        (column_name(0), column_name(25), column_name(26), column_name(701)),
        ("A".into(), "Z".into(), "AA".into(), "ZZ".into())
    );
    assert_eq!(column_index(b"XFD1048576"), Some(16_383));
}

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../tests/fixtures/import/", $name)).as_slice()
    };
}

/// The same people written by openpyxl, LibreOffice (XLSX, XLS) and LibreOffice's CSV export.
#[test]
fn files_from_real_writers_read_alike() {
    let files: [(&[u8], Format); 5] = [
        (fixture!("people-openpyxl.xlsx"), Format::Xlsx),
        (fixture!("people-libreoffice.xlsx"), Format::Xlsx),
        (fixture!("people-libreoffice.xls"), Format::Xls),
        (fixture!("people-semicolon-1252.csv"), Format::Csv),
        (fixture!("people-tab-utf16.csv"), Format::Csv),
    ];
    for (bytes, format) in files {
        let book = Workbook::open(bytes).unwrap();
        assert_eq!(book.info().format, format);
        let rows = all_rows(bytes);
        let (suggested, start) = suggest(&rows);
        assert_eq!(start, 4, "{format:?}");
        let fields: Vec<Option<Field>> = suggested.iter().map(|s| s.field).collect();
        assert_eq!(
            fields,
            [Field::Email, Field::FirstName, Field::LastName, Field::Phone, Field::Password].map(Some).to_vec(),
            "{format:?}"
        );
        let joerg = rows.iter().find(|r| r.number == 5).unwrap();
        assert_eq!(texts(joerg)[..3], ["jörg.müller@example.de", "Jörg", "Müller"], "{format:?}");
        let sophie = rows.iter().find(|r| r.number == 9).unwrap();
        assert_eq!(texts(sophie)[3], "31612345679", "a phone typed as a number, {format:?}");
        let mallory = rows.iter().find(|r| r.number == 10).unwrap();
        assert_eq!(texts(mallory)[1..3], ["@SUM(1+1)", "-2+3"], "{format:?}");
    }
    let sheets = |b: &[u8]| Workbook::open(b).unwrap().info().sheets.clone();
    assert_eq!(sheets(fixture!("people-libreoffice.xls")), vec!["Mensen", "Notes"]);
    assert_eq!(sheets(fixture!("people-openpyxl.xlsx")), vec!["Mensen", "Notes"]);
    let enc = |b: &[u8]| Workbook::open(b).unwrap().info().encoding;
    assert_eq!(enc(fixture!("people-semicolon-1252.csv")), Some(Encoding::Windows1252));
    assert_eq!(enc(fixture!("people-tab-utf16.csv")), Some(Encoding::Utf16Le));
}

#[test]
fn formulas_in_workbooks_are_never_taken_as_values() {
    for bytes in
        [fixture!("people-openpyxl.xlsx"), fixture!("people-libreoffice.xlsx"), fixture!("people-libreoffice.xls")]
    {
        let rows = all_rows(bytes);
        let evil = rows.iter().find(|r| r.number == 7).unwrap();
        assert_eq!(evil.cells[0], Cell::Formula);
        let concat = rows.iter().find(|r| r.number == 13).unwrap();
        assert_eq!(concat.cells[2], Cell::Formula);
    }
}

#[test]
fn hostile_files_fail_cleanly() {
    let cases: [(&[u8], &str); 9] = [
        (fixture!("hostile-bomb.xlsx"), "zip_limits"),
        (fixture!("hostile-truncated.xlsx"), "unreadable_file"),
        (fixture!("hostile-macro.xlsm"), "macro_workbook"),
        (fixture!("hostile-password.xlsx"), "password_protected"),
        (fixture!("hostile-invalid-utf8.csv"), "invalid_encoding"),
        (fixture!("hostile-dimension.xlsx"), "sheet_too_large"),
        // Found by the fuzzer: calamine 0.38 panics on it (an assertion); we answer an error.
        (fixture!("fuzz-calamine-assert.xls"), "unreadable_file"),
        // Refused before calamine would size its grid to the far cell.
        (fixture!("hostile-far-cell.xls"), "sheet_too_large"),
        // Found by the fuzzer: a damaged file whose DIMENSIONS record made calamine reserve
        // terabytes (an abort, not a panic); now refused before calamine opens it.
        (fixture!("fuzz-huge-allocation.xls"), "unreadable_file"),
    ];
    for (bytes, code) in cases {
        let got = Workbook::open(bytes).and_then(|b| b.for_each_row(None, |_| true));
        assert_eq!(got.err().map(|e| e.code()), Some(code));
    }
}
