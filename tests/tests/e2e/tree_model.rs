//! Property test: for random trees and random memberships, the organizations the API lets a
//! user enter (and change) are exactly those a small reference model of the rules allows.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use e2e::{Engine, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use switchboard::access::{Manage, Scope};
use switchboard::auth::jwt::{ACCESS_TOKEN_TYPE, AccessClaims};
use switchboard::domain::{ClientType, OrgId, Role, SessionId, UserId};
use switchboard::store::{ActivityRecord, MembershipRecord, OrgRecord, OrgStatus, Plan, SessionRecord};

/// (org index, roles, subtree scope?, manage: None = all, Some(vec) = only those; empty = none)
type CaseMembership = (usize, Vec<Role>, bool, Option<Vec<usize>>);

#[derive(Debug, Clone)]
struct Case {
    /// parent index of each organization (None: a top organization).
    parents: Vec<Option<usize>>,
    memberships: Vec<CaseMembership>,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..12)
        .prop_flat_map(|n| {
            let parents = (0..n)
                .map(|i| if i == 0 { Just(None).boxed() } else { proptest::option::weighted(0.8, 0..i).boxed() })
                .collect::<Vec<_>>();
            let role = prop::sample::subsequence(vec![Role::Owner, Role::Admin, Role::Agent, Role::Viewer], 1..=2);
            let manage = proptest::option::of(prop::collection::vec(0..n, 0..3));
            let memberships = prop::collection::vec((0..n, role, any::<bool>(), manage), 0..4);
            (parents, memberships)
        })
        .prop_map(|(parents, mut memberships)| {
            let mut seen = BTreeSet::new();
            memberships.retain(|m| seen.insert(m.0));
            Case { parents, memberships }
        })
}

fn ancestors(c: &Case, i: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = c.parents[i];
    while let Some(p) = at {
        out.insert(0, p);
        at = c.parents[p];
    }
    out
}

fn admin(roles: &[Role]) -> bool {
    roles.iter().any(|r| matches!(r, Role::Owner | Role::Admin))
}

/// The rules, restated independently of the implementation.
fn model(c: &Case) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let mut enter = BTreeSet::new();
    let mut change = BTreeSet::new();
    for org in 0..c.parents.len() {
        let up = ancestors(c, org);
        for (m_org, roles, subtree, manage) in &c.memberships {
            if *m_org == org {
                enter.insert(org);
                if admin(roles) {
                    change.insert(org);
                }
            } else if up.contains(m_org) {
                if *subtree || admin(roles) {
                    enter.insert(org);
                }
                let may = match manage {
                    None => true,
                    Some(only) => only.iter().any(|o| *o == org || up.contains(o)),
                };
                if admin(roles) && *subtree && may {
                    change.insert(org);
                }
            }
        }
    }
    (enter, change)
}

async fn run_case(app: &TestApp, c: &Case) -> Result<(), TestCaseError> {
    let ctx = &app.ctx;
    let founder = UserId::new(ctx.ulid());
    let user = UserId::new(ctx.ulid());
    let mut orgs: Vec<OrgRecord> = Vec::new();
    for (i, parent) in c.parents.iter().enumerate() {
        let id = OrgId::new(ctx.ulid());
        let ancestors: Vec<OrgId> = ancestors(c, i).iter().map(|a| orgs[*a].org_id.clone()).collect();
        let org = OrgRecord {
            org_id: id.clone(),
            name: format!("org {i}"),
            parent_id: parent.map(|p| orgs[p].org_id.clone()),
            root_id: ancestors.first().cloned().unwrap_or_else(|| id.clone()),
            depth: ancestors.len() as u32,
            ancestors,
            plan: Plan::Trial,
            trial_ends_at: None,
            status: OrgStatus::Active,
            owner_id: founder.clone(),
            created_at: Utc::now(),
            version: 1,
            language: Default::default(),
            login_domain: None,
            closure: None,
            company: Default::default(),
        };
        let act = ActivityRecord {
            activity_id: ctx.ulid().to_string(),
            org_id: id.clone(),
            actor_id: founder.clone(),
            real_actor_id: None,
            merged_actor_id: None,
            action: "organization.created".into(),
            target: None,
            at: Utc::now(),
        };
        let seats = switchboard::store::SeatsRecord::new(0);
        ctx.store.create_org(&org, &MembershipRecord::owner(&founder, &org, Utc::now()), &seats, &act).await.unwrap();
        orgs.push(org);
    }
    for (i, roles, subtree, manage) in &c.memberships {
        let m = MembershipRecord {
            user_id: user.clone(),
            org_id: orgs[*i].org_id.clone(),
            org_ancestors: orgs[*i].ancestors.clone(),
            roles: roles.clone(),
            scope: if *subtree { Scope::Subtree } else { Scope::OrgOnly },
            manage: match manage {
                None => Manage::All,
                Some(v) if v.is_empty() => Manage::None,
                Some(v) => Manage::Only(v.iter().map(|o| orgs[*o].org_id.clone()).collect()),
            },
            joined_at: Utc::now(),
            status: Default::default(),
            member_email: None,
            member_name: None,
            member_login: None,
            shared: false,
            sessions_before: None,
        };
        ctx.store.put_membership(&m).await.unwrap();
    }
    // A session made directly, for a profile made directly: the property is about
    // memberships, not passwords (a session counts only beside its person's profile).
    let now = ctx.now();
    let login =
        switchboard::domain::LoginKey::Email(switchboard::domain::Email::parse("model@example.com", "e").unwrap());
    let profile = switchboard::store::UserRecord::new(user.clone(), &login, "M", "Odel", Default::default(), true, now);
    let mut item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        serde_dynamo::to_item(&profile).unwrap();
    item.insert("pk".into(), aws_sdk_dynamodb::types::AttributeValue::S(format!("USER#{user}")));
    item.insert("sk".into(), aws_sdk_dynamodb::types::AttributeValue::S(switchboard::store::UserRecord::SK.into()));
    assert!(ctx.store.put_new(item).await.unwrap());
    let session = SessionRecord {
        session_id: SessionId::new(ctx.ulid()),
        user_id: user.clone(),
        client: ClientType::Api,
        active_org: None,
        refresh_hash: "x".into(),
        prev_refresh_hash: None,
        created_at: now,
        last_used_at: now,
        expires_at: now + chrono::Duration::hours(1),
        acting_as: None,
        second_factor: false,
        confined_to: None,
        epoch: 0,
        factor_epoch: 0,
    };
    ctx.store.put_session(&session).await.unwrap();
    let token = ctx
        .keys
        .sign(&AccessClaims {
            iss: ctx.config.issuer.clone(),
            aud: ctx.config.audience.clone(),
            sub: user.clone(),
            sid: session.session_id.clone(),
            org: None,
            roles: vec![],
            client: ClientType::Api,
            act_as: None,
            typ: ACCESS_TOKEN_TYPE.into(),
            iat: now.timestamp(),
            exp: (now + chrono::Duration::minutes(5)).timestamp(),
            jti: "t".into(),
        })
        .unwrap();

    let r = app.get("/v1/me/organizations?limit=200", &token).await;
    prop_assert_eq!(r.status, reqwest::StatusCode::OK);
    let index_of = |id: &str| orgs.iter().position(|o| o.org_id.as_str() == id).unwrap();
    let mut entered = BTreeSet::new();
    let mut changeable = BTreeSet::new();
    for o in r.body["organizations"].as_array().unwrap() {
        let i = index_of(o["organization"]["id"].as_str().unwrap());
        prop_assert!(entered.insert(i), "listed twice: {}", i);
        if o["permissions"].as_array().unwrap().iter().any(|p| p == "org_update") {
            changeable.insert(i);
        }
    }
    let (want_enter, want_change) = model(c);
    prop_assert_eq!(&entered, &want_enter, "enterable organizations");
    prop_assert_eq!(&changeable, &want_change, "changeable organizations");
    // Direct checks agree with the listing, including for organizations not listed.
    for (i, org) in orgs.iter().enumerate() {
        let r = app.get(&format!("/v1/orgs/{}", org.org_id), &token).await;
        prop_assert_eq!(r.status.is_success(), want_enter.contains(&i), "GET org {}", i);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enterable_organizations_match_the_model() {
    let app = Arc::new(TestApp::spawn(Engine::Dynoxide).await);
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        let mut runner = TestRunner::new(Config { cases: 48, failure_persistence: None, ..Config::default() });
        runner.run(&case(), |c| handle.block_on(run_case(&app, &c))).unwrap_or_else(|e| panic!("{e}"));
    });
}
