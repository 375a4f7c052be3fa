//! Inviting people by email, one or many at once, and accepting, resending, editing and
//! revoking invitations.

use futures::StreamExt;
use serde::Serialize;

use crate::access::{Grant, Manage, ManageMembers, Permit, Scope};
use crate::auth::secret;
use crate::domain::{Email, InboxId, Language, OrgId, Password, PersonName, Role, Roles, UserId};
use crate::error::{Error, Result};
pub(crate) use crate::service::members::invitation_emails::{
    InvitationEmail, InviteComposer, invitation_email, invitation_jobs,
};
use crate::service::notify::compose;
use crate::service::{Authenticated, Ctx, activity_record, members::grants, permit_activity};
use crate::store::{
    Assignments, CredentialRecord, EmailStatus, InboxChoice, InboxMemberRecord, InboxRecord, InvitationRecord,
    InviteTokenRecord, MembershipRecord, NewLogin, OrgRecord, OutboxMail, UserRecord,
};

/// Most addresses one request may invite.
pub const MAX_BATCH: usize = 100;

/// Invitation transactions of one request in flight at once: enough to hide the round trips,
/// few enough that one bulk request does not crowd out the seat counter for everyone else.
const INVITE_CONCURRENCY: usize = 8;

/// An address that passed the checks, waiting for its invitation.
struct Candidate {
    index: usize,
    email: Email,
    roles: Roles,
    scope: Scope,
    manage: Manage,
    inbox: Option<InboxChoice>,
    /// A person with a login is written to in their own language.
    language: Option<Language>,
}

/// What every invitation of one request shares.
struct Batch<'a> {
    effective: &'a crate::service::orgs::settings::Effective,
    inviter_name: &'a str,
    lineage: &'a [OrgId],
    days: i64,
    composer: &'a InviteComposer,
}

/// Write one invitation (its seat, token, activity and email in one transaction); its email
/// to hand on after.
async fn invite_one(ctx: &Ctx, permit: &Permit<ManageMembers>, b: &Batch<'_>, c: &Candidate) -> Result<OutboxMail> {
    let Batch { effective, inviter_name, lineage, days, composer: mailer } = *b;
    let now = ctx.now();
    let (token, token_hash) = secret::new_secret(ctx.random.as_ref());
    let inv = InvitationRecord {
        org_id: permit.org.org_id.clone(),
        email: c.email.clone(),
        roles: c.roles.as_slice().to_vec(),
        scope: c.scope,
        manage: c.manage.clone(),
        invited_by: permit.user_id.clone(),
        invited_by_name: inviter_name.to_owned(),
        sent_at: now,
        expires_at: now + chrono::Duration::days(days),
        token_hash,
        email_status: EmailStatus::Queued,
        inbox: c.inbox.clone(),
    };
    let token_rec =
        InviteTokenRecord { org_id: inv.org_id.clone(), email: inv.email.clone(), expires_at: inv.expires_at };
    let act = permit_activity(ctx, permit, "member.invited", Some(c.email.to_string()));
    let mail = mailer.mail(ctx, c.language.unwrap_or(effective.language()), &inv, &token)?;
    ctx.store.create_invitation(&inv, &token_rec, lineage, &act, Some(&mail)).await?;
    Ok(mail)
}

/// One address to invite, as sent (parsed here so one bad entry does not sink the others).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteEntry {
    pub email: String,
    /// One or more of admin, agent, viewer (ownership is transferred, never invited).
    pub roles: Vec<String>,
    /// `org_only` limits the membership to this organization; beneath it by default.
    pub scope: Option<Scope>,
    /// For admins: which sub-accounts they may change (all by default). Never more than the
    /// inviter may change.
    pub manage: Option<Manage>,
    /// `{"existing": "inb_…"}` to join an inbox, or `{"new": {"name": "…"}}` for a new one
    /// whose number the invitee picks when joining.
    pub inbox: Option<InboxChoice>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InviteStatus {
    Invited,
    AlreadyMember,
    AlreadyInvited,
    Failed,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteOutcome {
    /// As sent (normalized when valid).
    pub email: String,
    pub status: InviteStatus,
    /// For `failed`: the error code (e.g. `invalid_email`, `no_free_seats`, `duplicate_in_request`).
    pub code: Option<String>,
    pub reason: Option<String>,
    /// A failure the bulk invitation acts on afterwards (a seat to buy, a retry to suggest).
    #[serde(skip)]
    pub(crate) refusal: Option<Refusal>,
}

/// The failures a bulk invitation acts on after the fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    NoSeat,
    /// The engine stayed busy: sending the address again will likely work.
    Busy,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InviteReport {
    pub results: Vec<InviteOutcome>,
    pub invited: usize,
    /// Seats to buy to invite everyone refused for lack of one.
    pub seats_to_buy: u32,
}

impl InviteOutcome {
    /// Refused because the engine stayed busy (sending it again will likely work).
    pub fn is_busy(&self) -> bool {
        self.refusal == Some(Refusal::Busy)
    }
}

fn failed(email: &str, e: &Error) -> InviteOutcome {
    InviteOutcome {
        email: email.to_owned(),
        status: InviteStatus::Failed,
        code: Some(e.code().into()),
        reason: Some(e.public_message()),
        refusal: match e {
            Error::NoFreeSeats { .. } => Some(Refusal::NoSeat),
            Error::Busy(_) => Some(Refusal::Busy),
            _ => None,
        },
    }
}

fn parse_entry(e: &InviteEntry, i: usize) -> Result<(Email, Roles, Scope, Manage)> {
    let email = Email::parse(&e.email, &format!("invitations[{i}].email"))?;
    let roles = Roles::parse(&e.roles, &format!("invitations[{i}].roles"))?;
    if roles.contains(Role::Owner) {
        return Err(Error::validation(
            "invalid_role",
            format!("invitations[{i}].roles"),
            "ownership is transferred, not invited",
        ));
    }
    Ok((email, roles, e.scope.unwrap_or_default(), e.manage.clone().unwrap_or_default()))
}

/// Invite up to [`MAX_BATCH`] people. Each address gets its own outcome; each invitation is its
/// own transaction that takes a seat, so seats can never be oversold. Emails are queued.
pub async fn invite(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    entries: &[InviteEntry],
    days: Option<i64>,
) -> Result<InviteReport> {
    if entries.len() > MAX_BATCH {
        return Err(Error::validation(
            "too_many_invitations",
            "invitations",
            format!("at most {MAX_BATCH} per request"),
        ));
    }
    if entries.is_empty() {
        return Err(Error::validation("invalid_field", "invitations", "at least one invitation is required"));
    }
    let days = days.unwrap_or(ctx.config.invitation_days);
    if !(1..=30).contains(&days) {
        return Err(Error::validation("invalid_expiry", "expires_in_days", "must be between 1 and 30"));
    }
    let effective = crate::service::orgs::settings::of_permit(permit);
    let org = &permit.org;
    let inviter = ctx.store.get_user(&permit.user_id).await?.ok_or(Error::Unauthenticated)?;
    let inviter_name = inviter.display_name();
    let mut seen = std::collections::HashSet::new();
    // Each address's outcome, by position: checks first, one batch of member lookups, then
    // the invitations' transactions side by side.
    let mut outcomes: Vec<Option<InviteOutcome>> = (0..entries.len()).map(|_| None).collect();
    let mut candidates: Vec<Candidate> = Vec::with_capacity(entries.len());
    let mut inboxes: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let (email, roles, scope, manage) = match parse_entry(entry, i) {
            Ok(v) => v,
            Err(e) => {
                outcomes[i] = Some(failed(&entry.email, &e));
                continue;
            }
        };
        let grant = Grant { roles: roles.as_slice(), scope, manage: &manage };
        if let Err(e) = grants::check_grant(ctx, permit, grant, &format!("invitations[{i}].manage")).await {
            outcomes[i] = Some(failed(email.as_str(), &e));
            continue;
        }
        if let Err(e) = effective.check_coworker(&email, &format!("invitations[{i}].email")) {
            outcomes[i] = Some(failed(email.as_str(), &e));
            continue;
        }
        if !seen.insert(email.clone()) {
            let e = Error::validation(
                "duplicate_in_request",
                format!("invitations[{i}].email"),
                "appears earlier in this request",
            );
            outcomes[i] = Some(failed(email.as_str(), &e));
            continue;
        }
        if let Some(InboxChoice::Existing(id)) = &entry.inbox {
            // One read per inbox named, however many addresses name it.
            let found = match inboxes.get(id.as_str()) {
                Some(f) => Ok(*f),
                None => ctx.store.get_inbox(&org.org_id, id).await.map(|i| i.is_some()),
            };
            match found {
                Ok(f) => {
                    inboxes.insert(id.as_str().to_owned(), f);
                    if !f {
                        let e = Error::validation(
                            "unknown_inbox",
                            format!("invitations[{i}].inbox"),
                            "no such inbox in this organization",
                        );
                        outcomes[i] = Some(failed(email.as_str(), &e));
                        continue;
                    }
                }
                Err(e) => {
                    outcomes[i] = Some(failed(email.as_str(), &e));
                    continue;
                }
            }
        }
        if let Some(InboxChoice::New { name }) = &entry.inbox
            && let Err(e) = crate::domain::OrgName::parse(name, &format!("invitations[{i}].inbox.new.name"))
        {
            outcomes[i] = Some(failed(email.as_str(), &e));
            continue;
        }
        let inbox = entry.inbox.clone();
        candidates.push(Candidate { index: i, email, roles, scope, manage, inbox, language: None });
    }
    let addresses: Vec<Email> = candidates.iter().map(|c| c.email.clone()).collect();
    let known = match ctx.store.logins_by_email(&addresses, &org.org_id).await {
        Ok(m) => m,
        // A storage failure is every remaining address's outcome; nothing was written.
        Err(e) => {
            for c in candidates.drain(..) {
                outcomes[c.index] = Some(failed(c.email.as_str(), &e));
            }
            Default::default()
        }
    };
    for c in &mut candidates {
        c.language = known.get(&c.email).and_then(|k| k.language);
    }
    let (already, todo): (Vec<Candidate>, Vec<Candidate>) =
        candidates.into_iter().partition(|c| known.get(&c.email).is_some_and(|k| k.member));
    for c in already {
        outcomes[c.index] = Some(InviteOutcome {
            email: c.email.to_string(),
            status: InviteStatus::AlreadyMember,
            code: None,
            reason: None,
            refusal: None,
        });
    }
    let lineage = org.lineage_ids();
    let composer = InviteComposer::new(ctx, &compose::Scope::of_permit(permit)).await?;
    let batch =
        Batch { effective: &effective, inviter_name: &inviter_name, lineage: &lineage, days, composer: &composer };
    let batch = &batch;
    // Each invitation is its own transaction taking a seat (`free >= 1`), so running them side
    // by side cannot oversell; `buffered` keeps the answers in request order.
    let pace = &crate::service::pace::Pace::new(ctx.config.invitations_per_second);
    let written: Vec<(Candidate, Result<OutboxMail>)> = futures::stream::iter(todo.into_iter().enumerate())
        .map(|(i, c)| async move {
            pace.wait_for(i).await;
            let res = invite_one(ctx, permit, batch, &c).await;
            (c, res)
        })
        .buffered(INVITE_CONCURRENCY)
        .collect()
        .await;
    let mut jobs = Vec::new();
    let mut seats_to_buy = 0u32;
    for (c, res) in written {
        let email = c.email.as_str();
        outcomes[c.index] = Some(match res {
            Ok(job) => {
                jobs.push(job);
                InviteOutcome {
                    email: email.to_owned(),
                    status: InviteStatus::Invited,
                    code: None,
                    reason: None,
                    refusal: None,
                }
            }
            Err(Error::AlreadyInvited) => InviteOutcome {
                email: email.to_owned(),
                status: InviteStatus::AlreadyInvited,
                code: None,
                reason: None,
                refusal: None,
            },
            Err(e @ Error::NoFreeSeats { .. }) => {
                seats_to_buy += 1;
                failed(email, &e)
            }
            // Nothing was written for this address (the transaction is all or nothing), so
            // sending it again is safe; the ones invited beside it keep their emails.
            Err(e) => failed(email, &e),
        });
    }
    let mut results: Vec<InviteOutcome> = outcomes.into_iter().flatten().collect();
    let invited = jobs.len();
    crate::service::notify::outbox::handed_on(ctx, jobs).await;
    for r in results.iter_mut().filter(|r| r.refusal == Some(Refusal::NoSeat)) {
        r.reason = Some(format!("no free seat: buy {seats_to_buy} more seat(s) to invite everyone refused"));
    }
    Ok(InviteReport { results, invited, seats_to_buy })
}

/// Invite one address checked by the caller (an admin adding a user by an address off the
/// organization's verified domains): the invitation, its seat and its email, or why not.
pub(crate) async fn invite_checked(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    email: Email,
    roles: Roles,
) -> Result<()> {
    let known = ctx.store.logins_by_email(std::slice::from_ref(&email), &permit.org.org_id).await?.remove(&email);
    if known.is_some_and(|k| k.member) {
        return Err(Error::AlreadyMember);
    }
    let inviter = ctx.store.get_user(&permit.user_id).await?.ok_or(Error::Unauthenticated)?;
    let inviter_name = inviter.display_name();
    let (effective, lineage) = (crate::service::orgs::settings::of_permit(permit), permit.org.lineage_ids());
    let composer = InviteComposer::new(ctx, &compose::Scope::of_permit(permit)).await?;
    let days = ctx.config.invitation_days;
    let b = Batch { effective: &effective, inviter_name: &inviter_name, lineage: &lineage, days, composer: &composer };
    let language = known.and_then(|k| k.language);
    let c =
        Candidate { index: 0, email, roles, scope: Scope::default(), manage: Manage::default(), inbox: None, language };
    let mail = invite_one(ctx, permit, &b, &c).await?;
    crate::service::notify::outbox::handed_on(ctx, vec![mail]).await;
    Ok(())
}

/// A pending invitation by its emailed token, if it is still valid.
pub(crate) async fn pending_by_token(ctx: &Ctx, token: &str) -> Result<(InvitationRecord, OrgRecord)> {
    if !secret::looks_like_secret(token) {
        return Err(Error::InvalidToken);
    }
    let hash = secret::hash(token);
    let t = ctx.store.get_invite_token(&hash).await?.ok_or(Error::InvalidToken)?;
    let inv = ctx.store.get_invitation(&t.org_id, &t.email).await?.ok_or(Error::InvalidToken)?;
    if !secret::hashes_equal(&inv.token_hash, &hash) || inv.expires_at <= ctx.now() {
        return Err(Error::InvalidToken);
    }
    let org = ctx.store.get_org(&inv.org_id).await?.ok_or(Error::InvalidToken)?;
    // Closed itself, or beneath a closed organization (closing takes the subtree with it).
    let closed = |o: &OrgRecord| o.status == crate::store::OrgStatus::Closed;
    if closed(&org) || ctx.store.get_orgs(&org.ancestors).await?.iter().any(closed) {
        return Err(Error::InvalidToken);
    }
    Ok((inv, org))
}

/// For a person without a login: the name and password they choose.
#[derive(Debug)]
pub struct NewMember {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub password: Password,
    /// Their choice; the organization's default language otherwise.
    pub language: Option<Language>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub organization_id: OrgId,
    pub user_id: UserId,
    pub roles: Vec<Role>,
    /// The inbox joined, if the invitation named one.
    pub inbox_id: Option<InboxId>,
    /// True when that inbox is new and waits for its phone number.
    pub inbox_needs_phone: bool,
}

/// The inbox records an acceptance writes, if the invitation names an inbox.
fn inbox_for(ctx: &Ctx, inv: &InvitationRecord, user: &UserId) -> (Option<InboxRecord>, Option<InboxMemberRecord>) {
    let (new, id) = match &inv.inbox {
        None => return (None, None),
        Some(InboxChoice::Existing(id)) => (None, id.clone()),
        Some(InboxChoice::New { name }) => {
            let inbox = InboxRecord {
                inbox_id: InboxId::new(ctx.ulid()),
                org_id: inv.org_id.clone(),
                name: name.clone(),
                phone: None,
                owner_id: user.clone(),
                created_at: ctx.now(),
            };
            let id = inbox.inbox_id.clone();
            (Some(inbox), id)
        }
    };
    let member = InboxMemberRecord {
        inbox_id: id,
        org_id: inv.org_id.clone(),
        user_id: user.clone(),
        assignments: Assignments::ON_JOIN,
        added_at: ctx.now(),
    };
    (new, Some(member))
}

fn accepted(
    org: OrgRecord,
    user_id: UserId,
    inv: InvitationRecord,
    inbox: &(Option<InboxRecord>, Option<InboxMemberRecord>),
) -> Accepted {
    Accepted {
        organization_id: org.org_id,
        user_id,
        roles: inv.roles,
        inbox_id: inbox.1.as_ref().map(|m| m.inbox_id.clone()),
        inbox_needs_phone: inbox.0.is_some(),
    }
}

/// Accept an invitation: signed in with the invited address, or as a new person choosing a
/// name and password. Accepting twice, or concurrently, yields one membership.
pub async fn accept(
    ctx: &Ctx,
    token: &str,
    signed_in: Option<&Authenticated>,
    new: Option<NewMember>,
) -> Result<Accepted> {
    let (inv, org) = pending_by_token(ctx, token).await?;
    let now = ctx.now();
    let act_target = Some(inv.email.to_string());
    match (signed_in, new) {
        (Some(auth), _) => {
            let user = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
            if user.email.as_ref() != Some(&inv.email) {
                return Err(Error::EmailMismatch);
            }
            let accepted = join(ctx, inv, org, &user).await?;
            // The client that accepted opens in the organization it joined next time.
            crate::service::identity::landing::note_landing(ctx, &user, auth.session.client, &accepted.organization_id)
                .await;
            Ok(accepted)
        }
        (None, Some(n)) => {
            let effective = crate::service::orgs::settings::resolve(ctx, &org).await?;
            effective.check_password(&n.password, "password")?;
            let language = n.language.unwrap_or(effective.language());
            let user_id = UserId::new(ctx.ulid());
            let password_hash = ctx.hasher.hash(&n.password, ctx.random.as_ref()).await?;
            let login = crate::domain::LoginKey::Email(inv.email.clone());
            let credential = CredentialRecord::for_login(&user_id, &login, password_hash);
            // Verified: the emailed token proves the address.
            let mut user = UserRecord::new(
                user_id.clone(),
                &login,
                n.first_name.as_str(),
                n.last_name.as_str(),
                language,
                true,
                now,
            );
            // Accepted on the web: the first sign-in there opens in this organization.
            user.last_org.insert(crate::domain::ClientType::Web.as_str().to_owned(), org.org_id.clone());
            let m = MembershipRecord::new(&user_id, &org, inv.roles.clone(), inv.scope, now)
                .managing(inv.manage.clone())
                .described(&inv.email, &user.display_name());
            let act = activity_record(ctx, &org.org_id, &user_id, None, "member.joined", act_target);
            let login = NewLogin { credential: &credential, user: &user };
            let inbox = inbox_for(ctx, &inv, &user_id);
            let inbox_ref = inbox.1.as_ref().map(|m| (inbox.0.as_ref(), m));
            ctx.store.accept_invitation(&inv, &m, Some(login), inbox_ref, &org.lineage_ids(), &act).await?;
            tell_inviter(ctx, &inv, &user, &act.activity_id).await;
            Ok(accepted(org, user_id, inv, &inbox))
        }
        (None, None) => Err(Error::validation(
            "invalid_field",
            "password",
            "a new member chooses first_name, last_name and password; an existing login accepts signed in",
        )),
    }
}

/// An existing login joins through an invitation to its own address.
pub(crate) async fn join(ctx: &Ctx, inv: InvitationRecord, org: OrgRecord, user: &UserRecord) -> Result<Accepted> {
    let now = ctx.now();
    let m = MembershipRecord::new(&user.user_id, &org, inv.roles.clone(), inv.scope, now)
        .managing(inv.manage.clone())
        .described(&inv.email, &user.display_name());
    let act = activity_record(ctx, &org.org_id, &user.user_id, None, "member.joined", Some(inv.email.to_string()));
    let inbox = inbox_for(ctx, &inv, &user.user_id);
    let inbox_ref = inbox.1.as_ref().map(|m| (inbox.0.as_ref(), m));
    ctx.store.accept_invitation(&inv, &m, None, inbox_ref, &org.lineage_ids(), &act).await?;
    tell_inviter(ctx, &inv, user, &act.activity_id).await;
    Ok(accepted(org, user.user_id.clone(), inv, &inbox))
}

/// The person who sent an invitation hears that it was accepted.
async fn tell_inviter(ctx: &Ctx, inv: &InvitationRecord, user: &UserRecord, activity_id: &str) {
    use crate::domain::notification::NotificationKind;
    let mut e = crate::service::notify::notifications::tell(
        ctx,
        &inv.org_id,
        &inv.invited_by,
        NotificationKind::InvitationAccepted,
        activity_id,
    );
    e.actor = Some(user.user_id.clone());
    e.subject = Some(user.display_name());
    e.link = Some("/admin/users".into());
    e.details.insert("member_email".into(), inv.email.to_string());
    crate::service::notify::notifications::emit(ctx, e).await
}

async fn pending(ctx: &Ctx, org: &OrgId, email: &str) -> Result<InvitationRecord> {
    let email = Email::parse(email, "email")?;
    ctx.store.get_invitation(org, &email).await?.ok_or(Error::NotFound("invitation"))
}

/// Send a pending invitation again with a new token (the old link stops working) and a fresh expiry.
pub async fn resend(ctx: &Ctx, permit: &Permit<ManageMembers>, email: &str, days: Option<i64>) -> Result<()> {
    let old = pending(ctx, &permit.org.org_id, email).await?;
    crate::service::notify::email_requests::limit_address(ctx, "invitation", &old.email).await?;
    let language = crate::service::orgs::settings::of_permit(permit).language();
    let composer = InviteComposer::new(ctx, &compose::Scope::of_permit(permit)).await?;
    let (_, mail) = reissue(ctx, language, &old, days, Some(&composer)).await?;
    crate::service::notify::outbox::handed_on(ctx, mail.into_iter().collect()).await;
    Ok(())
}

/// A new token for a pending invitation (the old link stops working) and its email: recorded
/// in the same transaction when a composer is given, else returned for the caller to record.
pub(crate) async fn reissue(
    ctx: &Ctx,
    language: Language,
    old: &InvitationRecord,
    days: Option<i64>,
    composer: Option<&InviteComposer>,
) -> Result<(InvitationEmail, Option<OutboxMail>)> {
    let days = days.unwrap_or(ctx.config.invitation_days).clamp(1, 30);
    let (token, token_hash) = secret::new_secret(ctx.random.as_ref());
    let now = ctx.now();
    let new = InvitationRecord {
        token_hash,
        sent_at: now,
        expires_at: now + chrono::Duration::days(days),
        email_status: EmailStatus::Queued,
        ..old.clone()
    };
    let token_rec =
        InviteTokenRecord { org_id: new.org_id.clone(), email: new.email.clone(), expires_at: new.expires_at };
    let mail = composer.map(|c| c.mail(ctx, language, &new, &token)).transpose()?;
    ctx.store.reissue_invitation(old, &new, &token_rec, mail.as_ref()).await?;
    Ok((invitation_email(ctx, language, &new, &token), mail))
}

/// Change the roles (and scope) of a pending invitation.
pub async fn edit(
    ctx: &Ctx,
    permit: &Permit<ManageMembers>,
    email: &str,
    roles: Roles,
    scope: Option<Scope>,
    manage: Option<Manage>,
) -> Result<()> {
    if roles.contains(Role::Owner) {
        return Err(Error::validation("invalid_role", "roles", "ownership is transferred, not invited"));
    }
    let old = pending(ctx, &permit.org.org_id, email).await?;
    let manage = match manage {
        Some(m) => m,
        None if crate::access::is_admin(roles.as_slice()) => old.manage.clone(),
        None => Manage::All,
    };
    let new =
        InvitationRecord { roles: roles.as_slice().to_vec(), scope: scope.unwrap_or(old.scope), manage, ..old.clone() };
    grants::check_grant(ctx, permit, Grant { roles: &new.roles, scope: new.scope, manage: &new.manage }, "manage")
        .await?;
    ctx.store.replace_invitation(&old, &new).await
}

/// Withdraw a pending invitation; its link stops working and its seat is free again.
pub async fn revoke(ctx: &Ctx, permit: &Permit<ManageMembers>, email: &str) -> Result<()> {
    let inv = pending(ctx, &permit.org.org_id, email).await?;
    let act = permit_activity(ctx, permit, "invitation.revoked", Some(inv.email.to_string()));
    ctx.store.revoke_invitation(&inv, &permit.org.lineage_ids(), &act).await
}
