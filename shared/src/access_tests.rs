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
        closure: None,
        company: Default::default(),
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
        sessions_before: None,
    }
}

#[test]
fn owner_is_not_inherited_and_admins_change_below_by_default() {
    let m = [member(1, &[], &[Role::Owner, Role::Admin], Scope::Subtree, Manage::All)];
    let top = Access::compute(&user(), &org(1, &[]), &m, Standing::default());
    assert!(top.has(OwnershipTransfer) && top.has(OrgUpdate));
    assert!(!top.has(SubAccountManage), "a top organization is not suspended by its own admins");
    let child = Access::compute(&user(), &org(2, &[1]), &m, Standing::default());
    assert!(!child.has(OwnershipTransfer));
    assert!(child.has(SubAccountManage) && child.has(OrgUpdate) && child.has(ActivityRead));
    assert_eq!(child.roles.iter().copied().collect::<Vec<_>>(), vec![Role::Admin]);
    assert!(child.inherited_only);
}

#[test]
fn restricted_admins_still_see_but_do_not_change() {
    let none = [member(1, &[], &[Role::Admin], Scope::Subtree, Manage::None)];
    let a = Access::compute(&user(), &org(2, &[1]), &none, Standing::default());
    assert!(a.has(OrgRead) && a.has(ActivityRead) && a.has(MembersRead));
    assert!(!a.has(OrgUpdate) && !a.has(SubAccountCreate) && !a.has(MessagesRead));

    let only = [member(1, &[], &[Role::Admin], Scope::Subtree, Manage::Only(vec![id(2)]))];
    assert!(Access::compute(&user(), &org(2, &[1]), &only, Standing::default()).has(OrgUpdate));
    assert!(
        Access::compute(&user(), &org(4, &[1, 2]), &only, Standing::default()).has(OrgUpdate),
        "beneath a chosen one"
    );
    assert!(
        !Access::compute(&user(), &org(3, &[1]), &only, Standing::default()).has(OrgUpdate),
        "a sibling of the chosen one"
    );
    assert!(Access::compute(&user(), &org(3, &[1]), &only, Standing::default()).has(ActivityRead));

    let org_only = [member(1, &[], &[Role::Admin], Scope::OrgOnly, Manage::All)];
    let a = Access::compute(&user(), &org(2, &[1]), &org_only, Standing::default());
    assert!(a.can_enter() && !a.has(OrgUpdate), "visibility always, change never");
}

#[test]
fn agents_and_viewers_follow_scope() {
    let sub = [member(1, &[], &[Role::Agent], Scope::Subtree, Manage::All)];
    let a = Access::compute(&user(), &org(3, &[1, 2]), &sub, Standing::default());
    assert!(a.has(MessagesReply) && !a.has(ActivityRead));
    let only = [member(1, &[], &[Role::Viewer], Scope::OrgOnly, Manage::All)];
    assert!(!Access::compute(&user(), &org(2, &[1]), &only, Standing::default()).can_enter());
    assert!(Access::compute(&user(), &org(1, &[]), &only, Standing::default()).can_enter());
}

#[test]
fn nothing_reaches_up_or_sideways() {
    let m = [member(2, &[1], &[Role::Owner, Role::Admin], Scope::Subtree, Manage::All)];
    assert!(!Access::compute(&user(), &org(1, &[]), &m, Standing::default()).can_enter(), "parent");
    assert!(!Access::compute(&user(), &org(3, &[1]), &m, Standing::default()).can_enter(), "sibling");
    assert!(Access::compute(&user(), &org(4, &[1, 2]), &m, Standing::default()).can_enter(), "child");
    let other_user = UserId::new(ulid::Ulid::from_parts(9, 9));
    assert!(
        !Access::compute(&other_user, &org(2, &[1]), &m, Standing::default()).can_enter(),
        "someone else's membership"
    );
}

#[test]
fn permits_are_checked() {
    let m = [member(1, &[], &[Role::Viewer], Scope::Subtree, Manage::All)];
    let a = Access::compute(&user(), &org(1, &[]), &m, Standing::default());
    assert!(a.permit::<ReadOrg>().is_ok());
    assert_eq!(a.permit::<UpdateOrg>().unwrap_err().code(), "forbidden");
    assert_eq!(a.permit::<ReadActivity>().unwrap_err().code(), "forbidden");
}

#[test]
fn a_suspended_subtree_locks_out_its_own_people_but_not_the_admins_above() {
    let mut suspended = org(2, &[1]);
    suspended.status = OrgStatus::Suspended;
    let child = org(3, &[1, 2]);
    let standing = Standing::of(&suspended, &[], None);
    let own_admin = [member(2, &[1], &[Role::Admin], Scope::Subtree, Manage::All)];
    assert!(!Access::compute(&user(), &suspended, &own_admin, standing).can_enter(), "its own admin");
    let ancestors = [org(1, &[]), suspended.clone()];
    let below = Standing::of(&child, &ancestors, None);
    assert!(below.suspended.is_some(), "beneath a suspended sub-account");
    assert!(!Access::compute(&user(), &child, &own_admin, below).can_enter(), "its admin, one level down");
    let parent_admin = [member(1, &[], &[Role::Admin], Scope::Subtree, Manage::All)];
    let a = Access::compute(&user(), &suspended, &parent_admin, standing);
    assert!(a.can_enter() && a.has(Permission::SubAccountManage) && a.suspended, "the parent's admin");
    let parent_agent = [member(1, &[], &[Role::Agent], Scope::Subtree, Manage::All)];
    assert!(!Access::compute(&user(), &suspended, &parent_agent, standing).can_enter(), "the parent's agent");
}

#[test]
fn a_membership_revoked_after_a_session_began_gives_that_session_nothing() {
    let session = |n| crate::domain::SessionId::new(ulid::Ulid::from_parts(3, n));
    let (old_session, new_session) = (session(1), session(3));
    let mut m = member(1, &[], &[Role::Admin], Scope::Subtree, Manage::All);
    m.sessions_before = Some(session(2));
    let old = Standing { suspended: None, session: Some(&old_session), closed: false };
    assert!(!Access::compute(&user(), &org(1, &[]), std::slice::from_ref(&m), old).can_enter());
    assert!(!Access::compute(&user(), &org(2, &[1]), std::slice::from_ref(&m), old).can_enter(), "nor below");
    let new = Standing { suspended: None, session: Some(&new_session), closed: false };
    assert!(Access::compute(&user(), &org(1, &[]), std::slice::from_ref(&m), new).can_enter());
    assert!(Access::compute(&user(), &org(1, &[]), &[m], Standing::default()).can_enter(), "a session being opened");
}

#[test]
fn reach_follows_manage_and_inheritance() {
    let only = [member(1, &[], &[Role::Admin], Scope::Subtree, Manage::Only(vec![id(2)]))];
    assert_eq!(Access::compute(&user(), &org(1, &[]), &only, Standing::default()).reach, Reach::Only([id(2)].into()));
    let a = Access::compute(&user(), &org(4, &[1, 2]), &only, Standing::default());
    assert_eq!(a.reach, Reach::All, "inside a chosen sub-account everything below is theirs");
    let owner = [member(1, &[], &[Role::Owner, Role::Admin], Scope::Subtree, Manage::None)];
    assert_eq!(Access::compute(&user(), &org(1, &[]), &owner, Standing::default()).reach, Reach::All);
}
