//! Email rendering benchmark: `cargo bench -p e2e --bench templates`.
//!
//! Times, per email type and language, what every email costs before it is queued: the
//! subject, title and body templates compiled and rendered in the sandbox, then laid out as
//! HTML and text; and, apart, checking a template an admin saves (parse, variable check and
//! a trial render). Prints medians in microseconds over many rounds.
//!
//! Then the sandbox's bounds: for the reported memory and time payloads and the worst
//! templates the sandbox still runs, the time and the peak memory above the start (a counting
//! allocator) of saving the template (parse, checks, trial render) and rendering it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, counting the bytes held and their peak.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = HELD.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        HELD.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Run `f`; its time and the peak bytes held above what was held when it started.
fn measured<T>(f: impl FnOnce() -> T) -> (T, Duration, usize) {
    let base = HELD.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let out = f();
    (out, t.elapsed(), PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// The payloads: the two reported, then the heaviest the bounds allow.
const HOSTILE: [(&str, &str); 5] = [
    ("reported: one 100 MB string", "{% set a = 'x' * (100000000 - first_name|length) %}{{ (a ~ a)|length }}"),
    ("reported: 100 MB strings in a loop", "{% for i in range(16) %}{% set a = 'x' * (100000000 - i) %}{% endfor %}"),
    (
        "allowed: 4 KiB values in a 1,000-step loop",
        "{% set a = range(400)|join('.......') %}{% for i in range(1000) %}{% set b = a|upper|lower|title %}{% endfor %}{{ a|length }}",
    ),
    (
        "allowed: nested loops of bounded joins",
        "{% for i in range(1000) %}{% for j in range(1000) %}{{ range(10)|join('-')|length }}{% endfor %}{% endfor %}",
    ),
    (
        "allowed: lists of a thousand, sorted and grouped",
        "{{ range(1000)|map('string')|sort|reverse|unique|batch(7)|list|length }}{{ range(1000)|list|string|length }}",
    ),
];

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

    let vars = serde_json::Value::Object(EmailType::Invitation.sample());
    for (name, raw) in HOSTILE {
        let (saved, save_time, save_peak) =
            measured(|| TemplateText::parse(raw, Part::Body, EmailType::Invitation, "body"));
        let verdict = match &saved {
            Ok(_) => "saved".to_owned(),
            Err(e) => format!("refused ({})", e.code()),
        };
        // Rendered as a stored template is, whatever the save said.
        let parts = templates::Parts {
            body: TemplateText::parse("{{ first_name }}", Part::Body, EmailType::Invitation, "b").expect("plain"),
            ..templates::default_parts(EmailType::Invitation, Language::En).expect("default").clone()
        };
        let hostile = templates::Parts { body: stored(raw), ..parts };
        let (rendered, render_time, render_peak) = measured(|| templates::render_parts(&hostile, &vars));
        println!(
            "{name}: save {verdict} in {:.2} ms, peak +{:.2} MiB; render {} in {:.2} ms, peak +{:.2} MiB",
            save_time.as_secs_f64() * 1e3,
            save_peak as f64 / (1024.0 * 1024.0),
            if rendered.is_ok() { "done" } else { "refused" },
            render_time.as_secs_f64() * 1e3,
            render_peak as f64 / (1024.0 * 1024.0),
        );
    }
}

/// A template as stored, without the checks of saving (one saved before a rule).
fn stored(raw: &str) -> TemplateText {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).expect("a template text")
}
