//! Which text of an email becomes a link. Only the service's own URLs do, judged by parsing
//! them (scheme, host and port compared exactly, no user name or password), never by how a
//! string starts: `https://app.example@evil.example/` and `https://app.example.evil.example/`
//! begin like the service's address and lead elsewhere. And text people wrote (names,
//! organization names, messages) never becomes a link, whatever it holds: where the rendered
//! text shows such a value, it is fenced with two private-use characters, link recognition
//! skips fenced text, and the fences are removed from what is sent.

use std::borrow::Cow;

/// Opens and closes text that came from people, inside a rendered template.
pub const OPEN: char = '\u{E000}';
pub const CLOSE: char = '\u{E001}';

/// Variables whose values the service builds itself (its own links); every other string is
/// people's text.
fn is_service_link(name: &str) -> bool {
    name == "link" || name.ends_with("_link")
}

/// `rendered` with every place that shows a value of people's text that holds an address
/// (`://`) fenced. The values themselves go into the template untouched, so comparisons in
/// it (`{% if period == "hourly" %}`) mean what they say.
pub fn fence_people_text(rendered: &str, vars: &serde_json::Value) -> String {
    let mut out = rendered.replace([OPEN, CLOSE], "");
    let Some(map) = vars.as_object() else { return out };
    let mut values: Vec<&str> = map
        .iter()
        .filter(|(k, _)| !is_service_link(k))
        .filter_map(|(_, v)| v.as_str())
        .filter(|v| v.contains("://"))
        .collect();
    // The longest first, so a value inside another is fenced within it, not apart.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for v in values {
        let v = v.replace([OPEN, CLOSE], "");
        // Line by line: the body is cut into lines before links are looked for.
        let fenced: Vec<String> = v.split('\n').map(|l| format!("{OPEN}{l}{CLOSE}")).collect();
        out = out.replace(&v, &fenced.join("\n"));
    }
    out
}

/// `s` without fences.
pub fn unfence(s: &str) -> Cow<'_, str> {
    if s.contains([OPEN, CLOSE]) { Cow::Owned(s.replace([OPEN, CLOSE], "")) } else { Cow::Borrowed(s) }
}

/// The service's address, as links to it must match.
#[derive(Debug, Clone)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// From the service's public URL; `None` (no link is then recognised) when it does not parse.
    pub fn of(base: &str) -> Option<Origin> {
        let u = url::Url::parse(base).ok()?;
        Some(Origin { scheme: u.scheme().to_owned(), host: u.host_str()?.to_owned(), port: u.port_or_known_default() })
    }

    /// Whether `href` leads to the service: same scheme, host and port, no credentials.
    pub fn owns(&self, href: &str) -> bool {
        let Ok(u) = url::Url::parse(href) else { return false };
        u.scheme() == self.scheme
            && u.host_str() == Some(self.host.as_str())
            && u.port_or_known_default() == self.port
            && u.username().is_empty()
            && u.password().is_none()
    }
}

/// For each byte of `s`: whether it lies in fenced (people's) text.
fn fenced_at(s: &str) -> Vec<bool> {
    let mut out = vec![false; s.len()];
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            OPEN => depth += 1,
            CLOSE => depth = depth.saturating_sub(1),
            _ => {}
        }
        let inside = depth > 0 || c == CLOSE;
        out[i..i + c.len_utf8()].iter_mut().for_each(|b| *b = inside);
    }
    out
}

/// The next of the service's links in `s`: (start, end, label, href). A link is a bare URL or
/// `[label](URL)` written in the template itself; the URL must lie outside fenced text (a
/// label may hold people's text, shown as text).
pub fn next_link<'a>(s: &'a str, origin: &Origin) -> Option<(usize, usize, &'a str, &'a str)> {
    let fenced = fenced_at(s);
    let stops = |c: char| c.is_whitespace() || c == OPEN || c == CLOSE;
    let url_end = |from: usize, extra: &[char]| {
        s[from..].find(|c: char| stops(c) || extra.contains(&c)).map_or(s.len(), |e| from + e)
    };
    let mut from = 0;
    while from < s.len() {
        let start = ["https://", "http://"].iter().filter_map(|p| s[from..].find(p)).min().map(|i| from + i)?;
        from = start + 1;
        if fenced[start] {
            continue;
        }
        if start >= 2
            && s[..start].ends_with("](")
            && let Some(open) = s[..start - 2].rfind('[')
        {
            let label = &s[open + 1..start - 2];
            let end = url_end(start, &[')']);
            let href = &s[start..end];
            if !label.is_empty() && !label.contains(['[', ']']) && s[end..].starts_with(')') && origin.owns(href) {
                return Some((open, end + 1, label, href));
            }
        }
        let mut end = url_end(start, &[]);
        // A sentence's full stop or comma after a link is not part of it.
        while end > start && s[..end].ends_with(['.', ',', ';', ':', '!', '?']) {
            end -= 1;
        }
        let href = &s[start..end];
        if origin.owns(href) {
            return Some((start, end, href, href));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence(s: &str) -> String {
        format!("{OPEN}{s}{CLOSE}")
    }

    #[test]
    fn only_the_services_own_origin_is_a_link() {
        let o = Origin::of("http://127.0.0.1:3601").unwrap();
        assert!(o.owns("http://127.0.0.1:3601/login?x=1"));
        for other in [
            "http://127.0.0.1:3601@evil.example/login",
            "http://user:pw@127.0.0.1:3601/login",
            "http://127.0.0.1:3601.evil.example/steal",
            "http://127.0.0.1:3602/login",
            "https://127.0.0.1:3601/login",
            "http://127.0.0.10:3601/",
        ] {
            assert!(!o.owns(other), "{other}");
        }
        let o = Origin::of("https://app.example").unwrap();
        assert!(o.owns("https://app.example:443/x") && !o.owns("https://app.example.evil.example/steal"));
    }

    #[test]
    fn people_text_is_never_a_link() {
        let o = Origin::of("https://app.example").unwrap();
        let line = format!("{} accepted. See https://app.example/admin/users.", fence("https://app.example/phish"));
        let (start, end, _, href) = next_link(&line, &o).unwrap();
        assert_eq!(href, "https://app.example/admin/users");
        assert_eq!(&line[start..end], href);
        let vars = serde_json::json!({
            "first_name": "https://app.example/x\u{E001}", "org_name": "Acme", "link": "https://app.example/l",
        });
        let fenced = fence_people_text("Hi https://app.example/x\u{E001}, see https://app.example/l (Acme)", &vars);
        assert_eq!(fenced, format!("Hi {}, see https://app.example/l (Acme)", fence("https://app.example/x")));
        assert_eq!(unfence(&fence("Ann")), "Ann");
        // A value of several lines is fenced on each.
        let vars = serde_json::json!({"summary": "Ann: hi\nBob: https://app.example/x"});
        let fenced = fence_people_text("Summary:\nAnn: hi\nBob: https://app.example/x\nEnd", &vars);
        assert_eq!(fenced, format!("Summary:\n{}\n{}\nEnd", fence("Ann: hi"), fence("Bob: https://app.example/x")));
        assert!(next_link(fenced.lines().nth(2).unwrap(), &o).is_none());
    }
}
