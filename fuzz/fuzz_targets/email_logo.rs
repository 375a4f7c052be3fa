//! Any bytes as an uploaded email logo: refused or accepted, never a panic, a hang or a
//! decode that allocates past the limits (a tiny file claiming a huge canvas).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::domain::logo::Logo;

fuzz_target!(
    init: {
        // The logo check catches the decoders' panics on purpose (third-party code on hostile
        // input) and refuses the file, as in production; libFuzzer's hook would abort on
        // those. A panic anywhere else still reaches libfuzzer-sys's `catch_unwind`.
        std::panic::set_hook(Box::new(|_| {}));
    },
    |data: &[u8]| {
    let _ = Logo::parse(data.to_vec(), None);
});
