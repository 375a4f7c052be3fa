//! Email rendering benchmark: `cargo bench -p e2e --bench templates`.
//!
//! Times, per email type and language, what every email costs before it is queued: the
//! subject, title and body templates compiled and rendered in the sandbox, then laid out as
//! HTML and text; and, apart, checking a template an admin saves (parse, variable check and
//! a trial render). Prints medians in microseconds over many rounds.

use std::time::{Duration, Instant};

use switchboard::domain::template_text::{Part, TemplateText};
use switchboard::domain::{Email, EmailType, Language};
use switchboard::mail::templates::{self, Branding};

const ROUNDS: usize = 400;

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e6
}

fn main() {
    let to = Email::parse("ann@example.com", "to").expect("address");
    let brand = Branding::plain("Acme Logistics", "https://app.example");
    let mut render = Vec::new();
    let mut check = Vec::new();
    for _ in 0..ROUNDS {
        for ty in EmailType::ALL {
            for lang in Language::ALL {
                let parts = templates::default_parts(*ty, lang).expect("default");
                let vars = serde_json::Value::Object(ty.sample());
                let t = Instant::now();
                let rendered = templates::render_parts(parts, &vars).expect("render");
                let email = templates::compose(rendered, &brand, &to, lang).expect("compose");
                render.push(t.elapsed());
                std::hint::black_box(email);
            }
        }
        let body =
            templates::default_parts(EmailType::Invitation, Language::Nl).expect("default").body.as_str().to_owned();
        let t = Instant::now();
        let parsed = TemplateText::parse(&body, Part::Body, EmailType::Invitation, "body").expect("valid");
        check.push(t.elapsed());
        std::hint::black_box(parsed);
    }
    println!(
        "render one email (subject, title, body, HTML layout, text): median {:.1} µs over {} renders",
        median(render),
        ROUNDS * EmailType::ALL.len() * 3
    );
    println!(
        "check a saved body template (parse, variables, trial render): median {:.1} µs over {ROUNDS}",
        median(check)
    );
}
