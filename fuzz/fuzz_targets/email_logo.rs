//! Any bytes as an uploaded email logo: refused or accepted, never a panic, a hang or a
//! decode that allocates past the limits (a tiny file claiming a huge canvas).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::domain::logo::Logo;

fuzz_target!(|data: &[u8]| {
    let _ = Logo::parse(data.to_vec(), None);
});
