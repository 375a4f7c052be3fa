//! What an organization's export carries: an allow-list of entity types, and of each type's
//! fields. An item of a type not listed here (sessions, tokens, jobs, guards, catalogs, and
//! any type added later) is left out, and so is a field not listed (a secret's hash, an
//! index key, a lease): a new attribute stays private until someone decides it is the
//! customer's data and lists it.

use serde_json::{Map, Value};

use crate::error::Result;
use crate::store::items::{Entity, entity_of};
use crate::store::ops::Item;
use crate::store::{
    ActivityRecord, BillingEvent, ContactRecord, DomainClaimRecord, EmailTemplateRecord, GroupRecord, ImportJobRecord,
    InboxMemberRecord, InboxRecord, InvitationRecord, JoinRequestRecord, MembershipRecord, OrgRecord, SeatsRecord,
    SharedLinkRecord, TemplateRecord,
};

/// One exported entity type: the section its records are listed under, and its fields.
pub struct Exported {
    pub entity: &'static str,
    pub section: &'static str,
    pub fields: &'static [&'static str],
}

/// Sections of the organization's own partition are named as before (by their keys' kind),
/// so that exports made before and after this list read alike.
pub const EXPORTED: &[Exported] = &[
    Exported {
        entity: OrgRecord::TYPE,
        section: "organization",
        fields: &[
            "org_id",
            "name",
            "parent_id",
            "root_id",
            "ancestors",
            "depth",
            "plan",
            "trial_ends_at",
            "status",
            "owner_id",
            "created_at",
            "version",
            "language",
            "login_domain",
            "closure",
            "settings",
            "locks",
            "settings_version",
            "company_domains",
            "aliases",
            "email_types",
            "email_locks",
        ],
    },
    Exported {
        entity: SeatsRecord::TYPE,
        section: "seats",
        fields: &["purchased", "used", "pending", "free", "reserved"],
    },
    Exported {
        entity: InvitationRecord::TYPE,
        section: "invite",
        fields: &[
            "org_id",
            "email",
            "roles",
            "scope",
            "manage",
            "invited_by",
            "invited_by_name",
            "sent_at",
            "expires_at",
            "email_status",
            "inbox",
        ],
    },
    Exported {
        entity: BillingEvent::TYPE,
        section: "billing",
        fields: &["event_id", "org_id", "kind", "seats", "amount_cents", "currency", "actor_id", "at"],
    },
    Exported {
        entity: InboxRecord::TYPE,
        section: "inbox",
        fields: &["inbox_id", "org_id", "name", "phone", "owner_id", "created_at"],
    },
    Exported {
        entity: InboxMemberRecord::TYPE,
        section: "inboxmember",
        fields: &[
            "inbox_id",
            "org_id",
            "user_id",
            "conversation_assignment",
            "ring_group",
            "ivr",
            "call_distribution",
            "added_at",
        ],
    },
    Exported {
        entity: ImportJobRecord::TYPE,
        section: "import",
        fields: &[
            "job_id",
            "org_id",
            "upload_id",
            "sheet",
            "mapping",
            "start_row",
            "roles",
            "created_by",
            "created_by_name",
            "created_at",
            "status",
            "error",
            "total",
            "counts",
            "finished_at",
        ],
    },
    Exported {
        entity: JoinRequestRecord::TYPE,
        section: "joinreq",
        fields: &["org_id", "user_id", "email", "name", "requested_at", "expires_at"],
    },
    Exported {
        entity: DomainClaimRecord::TYPE,
        section: "domain",
        fields: &["org_id", "domain", "kind", "created_at", "expires_at", "verified_at", "checked_at"],
    },
    Exported {
        entity: GroupRecord::TYPE,
        section: "cgroup",
        fields: &["group_id", "org_id", "name", "contact_count", "version", "created_at", "created_by", "updated_at"],
    },
    Exported {
        entity: TemplateRecord::TYPE,
        section: "msgtpl",
        fields: &[
            "template_id",
            "org_id",
            "name",
            "language",
            "body",
            "version",
            "created_at",
            "updated_at",
            "updated_by",
        ],
    },
    Exported {
        entity: EmailTemplateRecord::TYPE,
        section: "emailtpl",
        fields: &["org_id", "version", "en", "nl", "de"],
    },
    Exported {
        entity: SharedLinkRecord::TYPE,
        section: "actas",
        fields: &["org_id", "shared_user_id", "shared_name", "linked_user_id", "linked_at"],
    },
    Exported {
        entity: MembershipRecord::TYPE,
        section: "members",
        fields: &[
            "user_id",
            "org_id",
            "roles",
            "scope",
            "manage",
            "joined_at",
            "status",
            "member_email",
            "member_name",
            "member_login",
            "shared",
        ],
    },
    // A contact's section is its group's (`contacts:<group>`), named by the export itself.
    Exported {
        entity: ContactRecord::TYPE,
        section: "contacts",
        fields: &["group_id", "name", "phone", "email", "added_at"],
    },
    Exported {
        entity: ActivityRecord::TYPE,
        section: "activity",
        fields: &["activity_id", "org_id", "actor_id", "merged_actor_id", "real_actor_id", "action", "target", "at"],
    },
];

/// An item as exported: its section and its listed fields as JSON, or `None` for an item
/// whose type is not exported.
pub fn exported(mut item: Item) -> Result<Option<(&'static str, Value)>> {
    let Some(kind) = entity_of(&item).and_then(|t| EXPORTED.iter().find(|e| e.entity == t)) else {
        return Ok(None);
    };
    item.retain(|name, _| kind.fields.contains(&name.as_str()));
    let fields: Map<String, Value> = serde_dynamo::from_item(item).map_err(crate::store::error::storage)?;
    Ok(Some((kind.section, Value::Object(fields))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_listed_field_is_a_key_a_secret_or_a_lease() {
        for e in EXPORTED {
            for f in e.fields {
                let private = ["pk", "sk", "ttl", "search", crate::store::items::ENTITY_TYPE];
                assert!(
                    !private.contains(f) && !f.starts_with("gsi") && !f.contains("hash") && !f.contains("lease"),
                    "{}.{f}",
                    e.entity
                );
            }
        }
    }

    #[test]
    fn each_type_is_listed_once_and_sections_are_not_shared() {
        let mut types: Vec<_> = EXPORTED.iter().map(|e| e.entity).collect();
        let mut sections: Vec<_> = EXPORTED.iter().map(|e| e.section).collect();
        types.sort_unstable();
        types.dedup();
        sections.sort_unstable();
        sections.dedup();
        assert_eq!((types.len(), sections.len()), (EXPORTED.len(), EXPORTED.len()));
    }
}
