//! Any text as an organization's email template (each part, for a type chosen by the first
//! byte): refused with a line and column or accepted, never a panic or endless work; what is
//! accepted renders within the sandbox's budget.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::domain::EmailType;
use switchboard::domain::template_text::{Part, TemplateParts, TemplateText};
use switchboard::mail::templates;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let ty = EmailType::ALL[usize::from(pick) % EmailType::ALL.len()];
    let parse = |part| TemplateText::parse(text, part, ty, part.as_str());
    if let (Ok(subject), Ok(title), Ok(body)) = (parse(Part::Subject), parse(Part::Title), parse(Part::Body)) {
        let vars = serde_json::Value::Object(ty.sample());
        let _ = templates::render_parts(&TemplateParts { subject, title, body }, &vars);
    }
});
