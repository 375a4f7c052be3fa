//! Handing rights on: nobody grants, widens or holds more than they have.
//!
//! A grant is whatever gives someone rights on an organization: an invitation, an imported
//! row, a change of roles, scope or change rights, a link to a shared account. The granter's
//! own rights on the organization must include every permission the granted roles carry
//! there, and their right to change beneath it must cover everything the grant reaches below.

use std::collections::BTreeSet;

use super::{ADMIN_VISIBILITY, Manage, Permission, Scope, is_admin, role_permissions};
use crate::domain::{OrgId, Role};
use crate::store::{MembershipRecord, OrgRecord};

/// The descendants of an organization someone may change (and so hand rights on in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    All,
    /// These sub-accounts and what lies beneath them; empty: none.
    Only(BTreeSet<OrgId>),
}

impl Default for Reach {
    fn default() -> Self {
        Reach::none()
    }
}

impl Reach {
    pub fn none() -> Self {
        Reach::Only(BTreeSet::new())
    }

    /// Whether the holder may change `org` (a descendant of the organization reached from).
    pub fn covers_org(&self, org: &OrgRecord) -> bool {
        match self {
            Reach::All => true,
            Reach::Only(ids) => ids.contains(&org.org_id) || org.ancestors.iter().any(|a| ids.contains(a)),
        }
    }

    pub(crate) fn add(&mut self, other: Reach) {
        match (&mut *self, other) {
            (Reach::All, _) => {}
            (_, Reach::All) => *self = Reach::All,
            (Reach::Only(mine), Reach::Only(more)) => mine.extend(more),
        }
    }

    /// Whether this reach includes everything `need` reaches. `chosen` holds the records of
    /// the organizations `need` names, so that one beneath a reached sub-account counts.
    fn includes(&self, need: &Reach, chosen: &[OrgRecord]) -> bool {
        match (self, need) {
            (Reach::All, _) => true,
            (Reach::Only(_), Reach::All) => false,
            (Reach::Only(mine), Reach::Only(ids)) => ids.iter().all(|id| {
                mine.contains(id)
                    || chosen.iter().any(|o| &o.org_id == id && o.ancestors.iter().any(|a| mine.contains(a)))
            }),
        }
    }
}

/// The rights one membership hands its holder on an organization and beneath it.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub roles: &'a [Role],
    pub scope: Scope,
    pub manage: &'a Manage,
}

impl<'a> Grant<'a> {
    pub fn of(m: &'a MembershipRecord) -> Self {
        Grant { roles: &m.roles, scope: m.scope, manage: &m.manage }
    }

    /// The organizations a `manage.only` list names.
    pub fn chosen(&self) -> &'a [OrgId] {
        match self.manage {
            Manage::Only(ids) => ids,
            _ => &[],
        }
    }

    /// Where beneath the organization the holder gets more than every admin there sees anyway.
    fn below(&self) -> Reach {
        if self.roles.contains(&Role::Owner) {
            return Reach::All;
        }
        let mut need = Reach::none();
        if self.scope == Scope::Subtree {
            let beyond_sight = self
                .roles
                .iter()
                .filter(|r| !matches!(r, Role::Owner | Role::Admin))
                .any(|r| role_permissions(*r).iter().any(|p| !ADMIN_VISIBILITY.contains(p)));
            if beyond_sight {
                need = Reach::All;
            }
            if is_admin(self.roles) {
                need.add(match self.manage {
                    Manage::All => Reach::All,
                    Manage::None => Reach::none(),
                    Manage::Only(ids) => Reach::Only(ids.iter().cloned().collect()),
                });
            }
        }
        need
    }
}

/// What a permit's holder may hand on: their permissions on the organization and their
/// right to change beneath it.
#[derive(Debug, Clone)]
pub struct Grantor {
    pub(crate) permissions: BTreeSet<Permission>,
    pub(crate) reach: Reach,
}

impl Grantor {
    /// Whether the holder holds everything `grant` hands on. `chosen` are the records of the
    /// organizations its `manage.only` names.
    pub fn covers(&self, grant: &Grant, chosen: &[OrgRecord]) -> bool {
        let here = grant.roles.iter().all(|r| role_permissions(*r).iter().all(|p| self.permissions.contains(p)));
        here && self.reach.includes(&grant.below(), chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> OrgId {
        OrgId::new(ulid::Ulid::from_parts(1, n))
    }

    fn admin_perms() -> BTreeSet<Permission> {
        role_permissions(Role::Admin).iter().copied().collect()
    }

    #[test]
    fn restricted_admins_hand_on_no_more_than_they_reach() {
        let restricted = Grantor { permissions: admin_perms(), reach: Reach::Only([id(1)].into()) };
        let all = Manage::All;
        let only_c1 = Manage::Only(vec![id(1)]);
        let only_c2 = Manage::Only(vec![id(2)]);
        let admin = [Role::Admin];
        let grant = |manage, scope| Grant { roles: &admin, scope, manage };
        assert!(!restricted.covers(&grant(&all, Scope::Subtree), &[]), "manage all from a restricted admin");
        assert!(restricted.covers(&grant(&only_c1, Scope::Subtree), &[]));
        assert!(!restricted.covers(&grant(&only_c2, Scope::Subtree), &[]), "a sub-account outside their reach");
        assert!(restricted.covers(&grant(&all, Scope::OrgOnly), &[]), "no reach below: nothing to cover");
        let agent = [Role::Agent];
        let viewer = [Role::Viewer];
        assert!(!restricted.covers(&Grant { roles: &agent, scope: Scope::Subtree, manage: &all }, &[]));
        assert!(restricted.covers(&Grant { roles: &agent, scope: Scope::OrgOnly, manage: &all }, &[]));
        assert!(restricted.covers(&Grant { roles: &viewer, scope: Scope::Subtree, manage: &all }, &[]));
        let owner = [Role::Owner, Role::Admin];
        let full = Grantor { permissions: admin_perms(), reach: Reach::All };
        assert!(!full.covers(&Grant { roles: &owner, scope: Scope::Subtree, manage: &all }, &[]), "owner rights");
    }
}
