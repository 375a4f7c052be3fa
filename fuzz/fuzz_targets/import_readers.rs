//! Any bytes through format detection, the CSV / XLSX / XLS readers, the mapping suggester and
//! row validation: errors are fine, panics, hangs and unbounded memory are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::import::rows::validate;
use switchboard::import::{Mapping, Workbook, suggest};

fuzz_target!(
    init: {
        // libFuzzer's hook aborts on any panic, even one caught. The XLS reader catches
        // calamine's panics on purpose (third-party code on hostile input: calamine 0.38
        // asserts in `utils.rs` on some damaged XLS files) and turns them into errors, as in
        // production. A panic anywhere else still reaches libfuzzer-sys's `catch_unwind`,
        // which aborts: those remain crashes.
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
    let Ok(book) = Workbook::open(data) else { return };
    let sheets = book.info().sheets.clone();
    for sheet in sheets.iter().take(3) {
        let mut rows = Vec::new();
        let _ = book.for_each_row(Some(sheet), |r| {
            rows.push(r);
            rows.len() < 500
        });
        let (suggestions, _) = suggest(&rows);
        let mapping = Mapping(suggestions.iter().filter_map(|s| Some((s.field?, s.index))).collect());
        for r in &rows {
            let _ = validate(r, &mapping, None);
        }
    }
    }
);
