//! The lines of a digest email: notifications grouped by conversation (else by type), each
//! group one line in the recipient's language, with the latest message's text beneath it
//! only where the organization shows message content in emails.

use std::collections::BTreeMap;

use crate::domain::Language;
use crate::domain::notification::NotificationKind;

/// Groups listed in one digest, at most; the rest are counted as "and N more".
pub const MAX_GROUPS: usize = 10;

/// One notification as the digest sees it.
#[derive(Debug, Clone)]
pub struct Item {
    pub kind: NotificationKind,
    pub conversation: Option<(String, String)>,
    pub subject: Option<String>,
    pub content: Option<String>,
}

fn phrase(kind: NotificationKind, lang: Language, n: usize) -> String {
    use NotificationKind as K;
    let (one, many): (&str, &str) = match (lang, kind) {
        (Language::En, K::NewMessage) => ("1 new message", "{n} new messages"),
        (Language::En, K::Mention) => ("1 mention", "{n} mentions"),
        (Language::En, K::MissedCall) => ("1 missed call", "{n} missed calls"),
        (Language::En, K::Voicemail) => ("1 voicemail", "{n} voicemails"),
        (Language::En, K::ConversationAssigned) => ("assigned to you", "assigned to you {n} times"),
        (Language::En, K::InvitationAccepted) => ("1 invitation accepted", "{n} invitations accepted"),
        (Language::En, K::ImportFinished) => ("1 import finished", "{n} imports finished"),
        (Language::En, K::TwoFactorReset) => ("two-factor authentication reset", "two-factor authentication reset"),
        (Language::En, K::NewSignIn) => ("1 new sign-in", "{n} new sign-ins"),
        (Language::En, _) => ("1 team change", "{n} team changes"),
        (Language::Nl, K::NewMessage) => ("1 nieuw bericht", "{n} nieuwe berichten"),
        (Language::Nl, K::Mention) => ("1 vermelding", "{n} vermeldingen"),
        (Language::Nl, K::MissedCall) => ("1 gemiste oproep", "{n} gemiste oproepen"),
        (Language::Nl, K::Voicemail) => ("1 voicemail", "{n} voicemails"),
        (Language::Nl, K::ConversationAssigned) => ("aan u toegewezen", "{n} keer aan u toegewezen"),
        (Language::Nl, K::InvitationAccepted) => ("1 uitnodiging aanvaard", "{n} uitnodigingen aanvaard"),
        (Language::Nl, K::ImportFinished) => ("1 import klaar", "{n} imports klaar"),
        (Language::Nl, K::TwoFactorReset) => ("tweestapsverificatie uitgezet", "tweestapsverificatie uitgezet"),
        (Language::Nl, K::NewSignIn) => ("1 nieuwe aanmelding", "{n} nieuwe aanmeldingen"),
        (Language::Nl, _) => ("1 teamwijziging", "{n} teamwijzigingen"),
        (Language::De, K::NewMessage) => ("1 neue Nachricht", "{n} neue Nachrichten"),
        (Language::De, K::Mention) => ("1 Erwähnung", "{n} Erwähnungen"),
        (Language::De, K::MissedCall) => ("1 verpasster Anruf", "{n} verpasste Anrufe"),
        (Language::De, K::Voicemail) => ("1 Sprachnachricht", "{n} Sprachnachrichten"),
        (Language::De, K::ConversationAssigned) => ("Ihnen zugewiesen", "{n}-mal Ihnen zugewiesen"),
        (Language::De, K::InvitationAccepted) => ("1 Einladung angenommen", "{n} Einladungen angenommen"),
        (Language::De, K::ImportFinished) => ("1 Import abgeschlossen", "{n} Importe abgeschlossen"),
        (Language::De, K::TwoFactorReset) => {
            ("Zwei-Faktor-Authentifizierung zurückgesetzt", "Zwei-Faktor-Authentifizierung zurückgesetzt")
        }
        (Language::De, K::NewSignIn) => ("1 neue Anmeldung", "{n} neue Anmeldungen"),
        (Language::De, _) => ("1 Teamänderung", "{n} Teamänderungen"),
    };
    if n == 1 { one.to_owned() } else { many.replace("{n}", &n.to_string()) }
}

/// A group: the notifications of one conversation, or of one type outside conversations.
struct Group<'a> {
    label: Option<&'a str>,
    counts: BTreeMap<NotificationKind, usize>,
    subjects: Vec<&'a str>,
    latest_content: Option<&'a str>,
}

/// The summary lines of `items` (newest first), at most [`MAX_GROUPS`] groups, and how many
/// notifications those groups hold.
pub fn summary(items: &[Item], lang: Language) -> (String, usize) {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for it in items {
        let key = match &it.conversation {
            Some((id, _)) => format!("c:{id}"),
            None => format!("k:{}", it.kind.key()),
        };
        if !groups.contains_key(&key) {
            if order.len() == MAX_GROUPS {
                continue;
            }
            order.push(key.clone());
        }
        let g = groups.entry(key).or_insert_with(|| Group {
            label: it.conversation.as_ref().map(|(_, name)| name.as_str()),
            counts: BTreeMap::new(),
            subjects: Vec::new(),
            latest_content: None,
        });
        *g.counts.entry(it.kind).or_default() += 1;
        if let Some(s) = it.subject.as_deref()
            && g.subjects.len() < 3
            && !g.subjects.contains(&s)
        {
            g.subjects.push(s);
        }
        if g.latest_content.is_none() {
            g.latest_content = it.content.as_deref();
        }
    }
    let mut lines = Vec::new();
    let mut shown = 0;
    for key in &order {
        let Some(g) = groups.get(key) else { continue };
        shown += g.counts.values().sum::<usize>();
        let what: Vec<String> = g.counts.iter().map(|(k, n)| phrase(*k, lang, *n)).collect();
        let mut line = match g.label {
            Some(label) => format!("• {label}: {}", what.join(", ")),
            None => format!("• {}", what.join(", ")),
        };
        if !g.subjects.is_empty() {
            line.push_str(&format!(" ({})", g.subjects.join(", ")));
        }
        lines.push(line);
        if let Some(c) = g.latest_content {
            let one_line: String = c.split_whitespace().collect::<Vec<_>>().join(" ");
            lines.push(format!("  “{one_line}”"));
        }
    }
    (lines.join("\n"), shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: NotificationKind, conv: Option<&str>, content: Option<&str>) -> Item {
        Item {
            kind,
            conversation: conv.map(|c| (c.to_owned(), format!("Conversation {c}"))),
            subject: None,
            content: content.map(str::to_owned),
        }
    }

    #[test]
    fn groups_by_conversation_then_type() {
        let items = vec![
            item(NotificationKind::NewMessage, Some("1"), Some("latest")),
            item(NotificationKind::NewMessage, Some("1"), Some("older")),
            item(NotificationKind::Mention, Some("1"), None),
            item(NotificationKind::MissedCall, None, None),
        ];
        let (text, shown) = summary(&items, Language::En);
        assert_eq!(shown, 4);
        assert_eq!(text, "• Conversation 1: 2 new messages, 1 mention\n  “latest”\n• 1 missed call");
        let (nl, _) = summary(&items, Language::Nl);
        assert!(nl.contains("2 nieuwe berichten"), "{nl}");
    }

    #[test]
    fn at_most_ten_groups_are_listed() {
        let items: Vec<Item> =
            (0..15).map(|i| item(NotificationKind::NewMessage, Some(&i.to_string()), None)).collect();
        let (text, shown) = summary(&items, Language::De);
        assert_eq!(shown, MAX_GROUPS);
        assert_eq!(text.lines().count(), MAX_GROUPS);
    }
}
