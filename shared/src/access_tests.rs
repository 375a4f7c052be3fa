use chrono::Utc;

use super::*;
use crate::store::{OrgStatus, Plan};

fn id(n: u128) -> OrgId {
    OrgId::new(ulid::Ulid::from_parts(1, n))
}

fn user() -> UserId {
    UserId::new(ulid::Ulid::from_parts(2, 1))
}

fn org(n: u128, ancestors: &[u128]) -> OrgRecord {
    OrgRecord {
        org_id: id(n),
        name: format!("org {n}"),
        parent_id: ancestors.last().map(|a| id(*a)),
        root_id: id(*ancestors.first().unwrap_or(&n)),
        ancestors: ancestors.iter().map(|a| id(*a)).collect(),
        depth: ancestors.len() as u32,
        plan: Plan::Trial,
        trial_ends_at: None,
        status: OrgStatus::Active,
        owner_id: user(),
        created_at: Utc::now(),
        version: 1,
        language: Default::default(),
        login_domain: None,
    }
}

fn member(n: u128, ancestors: &[u128], roles: &[Role], scope: Scope, manage: Manage) -> MembershipRecord {
    MembershipRecord {
        user_id: user(),
        org_id: id(n),
        org_ancestors: ancestors.iter().map(|a| id(*a)).collect(),
        roles: roles.to_vec(),
        scope,
        manage,
        joined_at: Utc::now(),
        status: Default::default(),
        member_email: None,
        member_name: None,
        member_login: None,
        shared: false,
    }
}

#[test]
fn owner_is_not_inherited_and_admins_change_below_by_default() {
    let m = [member(1, &[], &[Role::Owner, Role::Admin], Scope::Subtree, Manage::All)];
    let top = Access::compute(&user(), &org(1, &[]), &m);
    assert!(top.has(OwnershipTransfer) && top.has(OrgUpdate));
    assert!(!top.has(SubAccountManage), "a top organization is not suspended by its own admins");
    let child = Access::compute(&user(), &org(2, &[1]), &m);
    assert!(!child.has(OwnershipTransfer));
    assert!(child.has(SubAccountManage) && child.has(OrgUpdate) && child.has(ActivityRead));
    assert_eq!(child.roles.iter().copied().collect::<Vec<_>>(), vec![Role::Admin]);
    assert!(child.inherited_only);
}

#[test]
fn restricted_admins_still_see_but_do_not_change() {
    let none = [member(1, &[], &[Role::Admin], Scope::Subtree, Manage::None)];
    let a = Access::compute(&user(), &org(2, &[1]), &none);
    assert!(a.has(OrgRead) && a.has(ActivityRead) && a.has(MembersRead));
    assert!(!a.has(OrgUpdate) && !a.has(SubAccountCreate) && !a.has(MessagesRead));

    let only = [member(1, &[], &[Role::Admin], Scope::Subtree, Manage::Only(vec![id(2)]))];
    assert!(Access::compute(&user(), &org(2, &[1]), &only).has(OrgUpdate));
    assert!(Access::compute(&user(), &org(4, &[1, 2]), &only).has(OrgUpdate), "beneath a chosen one");
    assert!(!Access::compute(&user(), &org(3, &[1]), &only).has(OrgUpdate), "a sibling of the chosen one");
    assert!(Access::compute(&user(), &org(3, &[1]), &only).has(ActivityRead));

    let org_only = [member(1, &[], &[Role::Admin], Scope::OrgOnly, Manage::All)];
    let a = Access::compute(&user(), &org(2, &[1]), &org_only);
    assert!(a.can_enter() && !a.has(OrgUpdate), "visibility always, change never");
}

#[test]
fn agents_and_viewers_follow_scope() {
    let sub = [member(1, &[], &[Role::Agent], Scope::Subtree, Manage::All)];
    let a = Access::compute(&user(), &org(3, &[1, 2]), &sub);
    assert!(a.has(MessagesReply) && !a.has(ActivityRead));
    let only = [member(1, &[], &[Role::Viewer], Scope::OrgOnly, Manage::All)];
    assert!(!Access::compute(&user(), &org(2, &[1]), &only).can_enter());
    assert!(Access::compute(&user(), &org(1, &[]), &only).can_enter());
}

#[test]
fn nothing_reaches_up_or_sideways() {
    let m = [member(2, &[1], &[Role::Owner, Role::Admin], Scope::Subtree, Manage::All)];
    assert!(!Access::compute(&user(), &org(1, &[]), &m).can_enter(), "parent");
    assert!(!Access::compute(&user(), &org(3, &[1]), &m).can_enter(), "sibling");
    assert!(Access::compute(&user(), &org(4, &[1, 2]), &m).can_enter(), "child");
    let other_user = UserId::new(ulid::Ulid::from_parts(9, 9));
    assert!(!Access::compute(&other_user, &org(2, &[1]), &m).can_enter(), "someone else's membership");
}

#[test]
fn permits_are_checked() {
    let m = [member(1, &[], &[Role::Viewer], Scope::Subtree, Manage::All)];
    let a = Access::compute(&user(), &org(1, &[]), &m);
    assert!(a.permit::<ReadOrg>().is_ok());
    assert_eq!(a.permit::<UpdateOrg>().unwrap_err().code(), "forbidden");
    assert_eq!(a.permit::<ReadActivity>().unwrap_err().code(), "forbidden");
}
