//! What sub-accounts read from a parent, parsed from untrusted text: message template bodies
//! (placeholders), contact group names under a naming convention, contacts. Parsing never
//! panics, what it accepts stays within its limits, and what it stores parses again to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::domain::contact::Contact;
use switchboard::domain::contact_group::{GroupName, GroupNaming};
use switchboard::domain::message_template::{BODY_MAX, TemplateBody, TemplateLanguage, TemplateName};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(body) = TemplateBody::parse(text, "body") {
        assert!(body.as_str().chars().count() <= BODY_MAX);
        let names = body.placeholders();
        assert!(names.len() <= 20);
        for n in &names {
            assert!(body.as_str().contains(n.as_str()));
        }
        let again = TemplateBody::parse(body.as_str(), "body").expect("a stored body parses again");
        assert_eq!(again, body);
    }
    let _ = TemplateName::parse(text, "name");
    if let Ok(l) = TemplateLanguage::parse(text, "language") {
        assert_eq!(TemplateLanguage::parse(l.as_str(), "language").expect("again"), l);
    }
    let mut parts = text.splitn(2, '\n');
    let (labels, name) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let labels: Vec<String> = labels.split('|').map(str::to_owned).collect();
    let naming = GroupNaming::parse(&labels, "naming").ok();
    if let Ok(n) = GroupName::parse(name, "name", naming.as_ref()) {
        let again = GroupName::parse(n.as_str(), "name", naming.as_ref()).expect("a stored name parses again");
        assert_eq!(again, n);
        if let Some(naming) = &naming {
            assert_eq!(n.as_str().split(" / ").count(), naming.segments().len());
        }
    }
    let fields: Vec<&str> = text.split('\t').collect();
    if fields.len() >= 2 {
        let _ = Contact::parse(fields[0], fields[1], fields.get(2).copied(), "contacts[0]");
    }
});
