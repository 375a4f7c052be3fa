//! Who may do what where: the role → permission table, inheritance down the organization tree,
//! and the permits that privileged service functions require as proof of a check.
//!
//! Rules (docs/roles.md says the same for people):
//! - a membership applies to its organization and, unless limited to that organization
//!   (`Scope::OrgOnly`), to every descendant;
//! - admins (and owners) of an ancestor always see a descendant — details, tree, members,
//!   activity — whatever the scope; their right to *change* it follows `Manage`
//!   (all descendants, none, or chosen sub-accounts and what lies beneath them);
//! - ownership is never inherited: an ancestor's owner acts as an admin below;
//! - agents and viewers of an ancestor (subtree scope) hold the same roles below.

use std::collections::BTreeSet;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use crate::domain::{OrgId, Role, SessionId, UserId};
use crate::error::{Error, Result};
use crate::store::{MemberStatus, MembershipRecord, OrgRecord, OrgStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See the organization's details and its place in the tree.
    OrgRead,
    /// Change settings and details (rename).
    OrgUpdate,
    /// Create sub-accounts beneath it.
    SubAccountCreate,
    /// Suspend or reactivate it (held through an ancestor only).
    SubAccountManage,
    ActivityRead,
    MembersRead,
    MembersManage,
    /// Read conversations and contacts (personal data).
    MessagesRead,
    MessagesReply,
    /// Create and change contact groups and their contacts.
    ContactsManage,
    OwnershipTransfer,
}

use Permission::*;

/// The one table of role permissions on an organization the role is held in directly.
pub const ROLE_PERMISSIONS: &[(Role, &[Permission])] = &[
    (
        Role::Owner,
        &[
            OrgRead,
            OrgUpdate,
            SubAccountCreate,
            ActivityRead,
            MembersRead,
            MembersManage,
            MessagesRead,
            MessagesReply,
            ContactsManage,
            OwnershipTransfer,
        ],
    ),
    (
        Role::Admin,
        &[
            OrgRead,
            OrgUpdate,
            SubAccountCreate,
            ActivityRead,
            MembersRead,
            MembersManage,
            MessagesRead,
            MessagesReply,
            ContactsManage,
        ],
    ),
    (Role::Agent, &[OrgRead, MembersRead, MessagesRead, MessagesReply, ContactsManage]),
    (Role::Viewer, &[OrgRead, MembersRead]),
];

/// What an ancestor's admin may always do below, even without the right to change.
pub const ADMIN_VISIBILITY: &[Permission] = &[OrgRead, ActivityRead, MembersRead];

/// All anyone may do in a closed organization (through an ancestor): see it, and restore it.
pub const CLOSED_ALLOWED: &[Permission] = &[OrgRead, ActivityRead, MembersRead, SubAccountManage];

/// Changes an ancestor's admin may make below when their right to change covers it.
pub const ADMIN_CHANGE_BELOW: &[Permission] =
    &[OrgUpdate, SubAccountCreate, SubAccountManage, MembersManage, MessagesRead, MessagesReply, ContactsManage];

pub fn role_permissions(role: Role) -> &'static [Permission] {
    ROLE_PERMISSIONS.iter().find(|(r, _)| *r == role).map(|(_, p)| *p).unwrap_or(&[])
}

// The value types a membership carries live in `domain` (the store keeps them on its items);
// they are named here too, where the rules that read them are.
pub(crate) use crate::domain::is_admin;
pub use crate::domain::{Manage, Scope};

/// What besides memberships decides access to an organization.
#[derive(Debug, Clone, Copy, Default)]
pub struct Standing<'a> {
    /// The topmost suspended organization of the lineage (the organization or an ancestor).
    /// At and below it memberships grant nothing: a suspended sub-account's own people are
    /// locked out, while admins above it still see it (and may reactivate it).
    pub suspended: Option<&'a OrgId>,
    /// The asking session. A membership whose sessions were revoked after it began (sign-out,
    /// deactivation) grants it nothing; `None` for a session being opened.
    pub session: Option<&'a SessionId>,
    /// The organization or an ancestor is closed: like a suspension, and moreover nothing
    /// but seeing it and restoring it is allowed to anyone.
    pub closed: bool,
}

impl<'a> Standing<'a> {
    /// The standing of `org` given the records of its ancestors (any order; missing ones
    /// count as active).
    pub fn of(org: &'a OrgRecord, ancestors: &'a [OrgRecord], session: Option<&'a SessionId>) -> Self {
        let status_of = |id: &OrgId| {
            if id == &org.org_id {
                Some(org.status)
            } else {
                ancestors.iter().find(|a| &a.org_id == id).map(|a| a.status)
            }
        };
        let suspended =
            org.lineage().find(|id| matches!(status_of(id), Some(OrgStatus::Suspended | OrgStatus::Closed)));
        let closed = org.lineage().any(|id| status_of(id) == Some(OrgStatus::Closed));
        Standing { suspended, session, closed }
    }
}

/// A user's effective access to one organization, computed from their memberships in it and
/// its ancestors (never from anything the client sends).
#[derive(Debug, Clone)]
pub struct Access {
    pub user_id: UserId,
    pub org: OrgRecord,
    pub roles: BTreeSet<Role>,
    pub permissions: BTreeSet<Permission>,
    /// True when nothing comes from a membership in this organization itself.
    pub inherited_only: bool,
    /// The person, when `user_id` is a shared account they act in the name of.
    pub real_user_id: Option<UserId>,
    /// Which descendants the user may change: what they may hand on to others below.
    pub reach: Reach,
    /// The organization or an ancestor is suspended: only admins above it see it.
    pub suspended: bool,
    /// The organization or an ancestor is closed.
    pub closed: bool,
    /// The ancestors' records (any order), read with the memberships: their settings are
    /// what the organization inherits.
    pub ancestors: Vec<OrgRecord>,
}

/// The user's effective roles and permissions on one organization.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    pub roles: BTreeSet<Role>,
    pub permissions: BTreeSet<Permission>,
    /// A membership in the organization itself counts.
    pub direct: bool,
    pub reach: Reach,
}

impl Access {
    /// `memberships` may include memberships anywhere; only those on the org's path count.
    pub fn compute(user_id: &UserId, org: &OrgRecord, memberships: &[MembershipRecord], standing: Standing) -> Access {
        let mut e = effective(user_id, &org.org_id, &org.ancestors, memberships, standing);
        if standing.closed {
            e.permissions.retain(|p| CLOSED_ALLOWED.contains(p));
        }
        Access {
            user_id: user_id.clone(),
            org: org.clone(),
            roles: e.roles,
            permissions: e.permissions,
            inherited_only: !e.direct,
            real_user_id: None,
            reach: e.reach,
            suspended: standing.suspended.is_some(),
            closed: standing.closed,
            ancestors: Vec::new(),
        }
    }

    /// The user can enter (switch into, list) this organization.
    pub fn can_enter(&self) -> bool {
        self.permissions.contains(&OrgRead)
    }

    /// An owner or admin here, directly or through an ancestor.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| matches!(r, Role::Owner | Role::Admin))
    }

    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// Proof that the user holds `P::PERMISSION` here, or `Forbidden`.
    pub fn permit<P: PermissionKind>(&self) -> Result<Permit<P>> {
        if self.has(P::PERMISSION) {
            Ok(Permit {
                user_id: self.user_id.clone(),
                real_user_id: self.real_user_id.clone(),
                org: self.org.clone(),
                ancestors: self.ancestors.clone(),
                grantor: Grantor { permissions: self.permissions.clone(), reach: self.reach.clone() },
                _kind: PhantomData,
            })
        } else {
            Err(Error::Forbidden)
        }
    }
}

/// Roles, permissions, whether a direct membership exists and the right to change below, for
/// the organization `org` whose ancestors (root first) are `ancestors`.
pub fn effective(
    user_id: &UserId,
    org: &OrgId,
    ancestors: &[OrgId],
    memberships: &[MembershipRecord],
    standing: Standing,
) -> Effective {
    let mut e = Effective { reach: Reach::none(), ..Effective::default() };
    // Lineage position of the topmost suspended organization: memberships there or below count for nothing.
    let lineage_len = ancestors.len() + 1;
    let suspended_at = standing
        .suspended
        .map(|s| if s == org { ancestors.len() } else { ancestors.iter().position(|a| a == s).unwrap_or(0) });
    let position = |m: &MembershipRecord| {
        if m.org_id == *org { Some(ancestors.len()) } else { ancestors.iter().position(|a| *a == m.org_id) }
    };
    // Session ids are ULIDs: they sort by when the session began.
    let revoked = |m: &MembershipRecord| match (&m.sessions_before, standing.session) {
        (Some(before), Some(session)) => session < before,
        _ => false,
    };
    // A deactivated membership grants nothing, here or below.
    for m in memberships.iter().filter(|m| m.user_id == *user_id && m.status == MemberStatus::Active && !revoked(m)) {
        let Some(pos) = position(m) else { continue };
        if suspended_at.is_some_and(|s| pos >= s) {
            continue;
        }
        if pos + 1 == lineage_len {
            e.direct = true;
            e.roles.extend(m.roles.iter().copied());
            for r in &m.roles {
                e.permissions.extend(role_permissions(*r).iter().copied());
            }
            e.reach.add(direct_reach(m));
        } else {
            let (r, p, may_change) = inherited(m, org, ancestors, suspended_at.is_some());
            e.roles.extend(r);
            e.permissions.extend(p);
            if may_change {
                e.reach = Reach::All;
            }
        }
    }
    e
}

/// What a membership in the organization itself lets its holder change beneath it.
fn direct_reach(m: &MembershipRecord) -> Reach {
    if m.is_owner() {
        return Reach::All;
    }
    if !is_admin(&m.roles) || m.scope != Scope::Subtree {
        return Reach::none();
    }
    match &m.manage {
        Manage::All => Reach::All,
        Manage::None => Reach::none(),
        Manage::Only(ids) => Reach::Only(ids.iter().cloned().collect()),
    }
}

/// Whether a membership reaches the descendants of its organization at all.
pub fn reaches_below(m: &MembershipRecord) -> bool {
    m.scope == Scope::Subtree || is_admin(&m.roles)
}

/// What a membership in an ancestor gives on `target`: roles, permissions, and whether its
/// holder may change `target`. In a suspended subtree only the admins above it count.
fn inherited(
    m: &MembershipRecord,
    target: &OrgId,
    target_ancestors: &[OrgId],
    suspended: bool,
) -> (Vec<Role>, Vec<Permission>, bool) {
    let admin = is_admin(&m.roles);
    let mut roles = Vec::new();
    let mut perms: Vec<Permission> = Vec::new();
    let mut may_change = false;
    if admin {
        roles.push(Role::Admin);
        perms.extend(ADMIN_VISIBILITY);
        may_change = m.scope == Scope::Subtree
            && match &m.manage {
                Manage::All => true,
                Manage::None => false,
                Manage::Only(ids) => ids.iter().any(|id| id == target || target_ancestors.contains(id)),
            };
        if may_change {
            perms.extend(ADMIN_CHANGE_BELOW);
        }
    }
    if m.scope == Scope::Subtree && !suspended {
        for r in m.roles.iter().filter(|r| !matches!(r, Role::Owner | Role::Admin)) {
            roles.push(*r);
            perms.extend(role_permissions(*r));
        }
    }
    (roles, perms, may_change)
}

/// A permission as a type, so a service function can demand proof of exactly it.
pub trait PermissionKind {
    const PERMISSION: Permission;
}

macro_rules! kinds {
    ($($name:ident => $perm:ident),* $(,)?) => {
        $(
            #[derive(Debug)]
            pub struct $name;
            impl PermissionKind for $name {
                const PERMISSION: Permission = Permission::$perm;
            }
        )*
    };
}

kinds!(
    ReadOrg => OrgRead,
    UpdateOrg => OrgUpdate,
    CreateSubAccount => SubAccountCreate,
    ManageSubAccount => SubAccountManage,
    ReadActivity => ActivityRead,
    ReadMembers => MembersRead,
    ManageMembers => MembersManage,
    TransferOwnership => OwnershipTransfer,
    ReadContacts => MessagesRead,
    ManageContacts => ContactsManage,
);

/// Proof, made only by [`Access::permit`], that `user_id` holds `P` on `org`.
#[derive(Debug)]
pub struct Permit<P> {
    pub user_id: UserId,
    /// The person, when `user_id` is a shared account they act in the name of.
    pub real_user_id: Option<UserId>,
    pub org: OrgRecord,
    /// The organization's ancestors' records, for what it inherits.
    pub ancestors: Vec<OrgRecord>,
    /// What the holder may hand on: checked by every grant they make.
    pub(crate) grantor: Grantor,
    _kind: PhantomData<P>,
}

mod grants;
pub use grants::{Grant, Grantor, Reach};

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
