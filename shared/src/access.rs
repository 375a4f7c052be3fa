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

use crate::domain::{OrgId, Role, UserId};
use crate::error::{Error, Result};
use crate::store::{MemberStatus, MembershipRecord, OrgRecord};

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
    MessagesRead,
    MessagesReply,
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
            OwnershipTransfer,
        ],
    ),
    (
        Role::Admin,
        &[OrgRead, OrgUpdate, SubAccountCreate, ActivityRead, MembersRead, MembersManage, MessagesRead, MessagesReply],
    ),
    (Role::Agent, &[OrgRead, MembersRead, MessagesRead, MessagesReply]),
    (Role::Viewer, &[OrgRead, MembersRead]),
];

/// What an ancestor's admin may always do below, even without the right to change.
pub const ADMIN_VISIBILITY: &[Permission] = &[OrgRead, ActivityRead, MembersRead];

/// Changes an ancestor's admin may make below when their right to change covers it.
pub const ADMIN_CHANGE_BELOW: &[Permission] =
    &[OrgUpdate, SubAccountCreate, SubAccountManage, MembersManage, MessagesRead, MessagesReply];

pub fn role_permissions(role: Role) -> &'static [Permission] {
    ROLE_PERMISSIONS.iter().find(|(r, _)| *r == role).map(|(_, p)| *p).unwrap_or(&[])
}

/// How far down the tree a membership reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The organization and every descendant.
    #[default]
    Subtree,
    /// The organization alone.
    OrgOnly,
}

/// For admins: which descendants they may change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "org_ids")]
pub enum Manage {
    #[default]
    All,
    None,
    /// These sub-accounts and what lies beneath them.
    #[schema(value_type = Vec<String>)]
    Only(Vec<OrgId>),
}

fn is_admin(roles: &[Role]) -> bool {
    roles.iter().any(|r| matches!(r, Role::Owner | Role::Admin))
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
}

impl Access {
    /// `memberships` may include memberships anywhere; only those on the org's path count.
    pub fn compute(user_id: &UserId, org: &OrgRecord, memberships: &[MembershipRecord]) -> Access {
        let (roles, permissions, direct) = effective(user_id, &org.org_id, &org.ancestors, memberships);
        Access {
            user_id: user_id.clone(),
            org: org.clone(),
            roles,
            permissions,
            inherited_only: !direct,
            real_user_id: None,
        }
    }

    /// The user can enter (switch into, list) this organization.
    pub fn can_enter(&self) -> bool {
        self.permissions.contains(&OrgRead)
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
                _kind: PhantomData,
            })
        } else {
            Err(Error::Forbidden)
        }
    }
}

/// Roles, permissions, and whether a direct membership exists, for the organization `org`
/// whose ancestors (root first) are `ancestors`.
pub fn effective(
    user_id: &UserId,
    org: &OrgId,
    ancestors: &[OrgId],
    memberships: &[MembershipRecord],
) -> (BTreeSet<Role>, BTreeSet<Permission>, bool) {
    let mut roles = BTreeSet::new();
    let mut permissions = BTreeSet::new();
    let mut direct = false;
    // A deactivated membership grants nothing, here or below.
    for m in memberships.iter().filter(|m| m.user_id == *user_id && m.status == MemberStatus::Active) {
        if m.org_id == *org {
            direct = true;
            roles.extend(m.roles.iter().copied());
            for r in &m.roles {
                permissions.extend(role_permissions(*r).iter().copied());
            }
        } else if ancestors.contains(&m.org_id) {
            let (r, p) = inherited(m, org, ancestors);
            roles.extend(r);
            permissions.extend(p);
        }
    }
    (roles, permissions, direct)
}

/// Whether a membership reaches the descendants of its organization at all.
pub fn reaches_below(m: &MembershipRecord) -> bool {
    m.scope == Scope::Subtree || is_admin(&m.roles)
}

fn inherited(m: &MembershipRecord, target: &OrgId, target_ancestors: &[OrgId]) -> (Vec<Role>, Vec<Permission>) {
    let admin = is_admin(&m.roles);
    let mut roles = Vec::new();
    let mut perms: Vec<Permission> = Vec::new();
    if admin {
        roles.push(Role::Admin);
        perms.extend(ADMIN_VISIBILITY);
        let may_change = m.scope == Scope::Subtree
            && match &m.manage {
                Manage::All => true,
                Manage::None => false,
                Manage::Only(ids) => ids.iter().any(|id| id == target || target_ancestors.contains(id)),
            };
        if may_change {
            perms.extend(ADMIN_CHANGE_BELOW);
        }
    }
    if m.scope == Scope::Subtree {
        for r in m.roles.iter().filter(|r| !matches!(r, Role::Owner | Role::Admin)) {
            roles.push(*r);
            perms.extend(role_permissions(*r));
        }
    }
    (roles, perms)
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
);

/// Proof, made only by [`Access::permit`], that `user_id` holds `P` on `org`.
#[derive(Debug)]
pub struct Permit<P> {
    pub user_id: UserId,
    /// The person, when `user_id` is a shared account they act in the name of.
    pub real_user_id: Option<UserId>,
    pub org: OrgRecord,
    _kind: PhantomData<P>,
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
