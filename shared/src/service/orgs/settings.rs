//! Company settings down the tree: an organization's own values, what it inherits from its
//! nearest ancestor that sets one, locks that fix a value for a whole subtree, the policy
//! document every member's client reads, and enforcing the policies this service decides.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::access::{Access, Permit, UpdateOrg};
use crate::domain::settings::{Locks, OrgSettings, PASSWORD_MIN_RANGE, SettingKey, SettingsChange};
use crate::domain::{Alias, ClientType, DomainName, Email, Language, OrgId};
use crate::error::{Error, Result};
use crate::service::{Ctx, permit_activity};
use crate::store::{OrgRecord, SessionRecord};

/// The settings in force for one organization, and where each comes from.
#[derive(Debug, Clone)]
pub struct Effective {
    pub values: OrgSettings,
    /// The organization whose value applies, per setting (absent: the system default).
    pub source: BTreeMap<SettingKey, OrgId>,
    /// Settings an ancestor fixed, and which ancestor.
    pub locked_by: BTreeMap<SettingKey, OrgId>,
    /// Verified company domains of the organization and its ancestors.
    pub company_domains: Vec<DomainName>,
}

/// Resolve `org`'s settings from its own and its ancestors' (any order, missing ones skipped):
/// per setting the nearest value set, unless an ancestor locked it (the topmost lock wins,
/// with that ancestor's own effective value).
pub fn effective(org: &OrgRecord, ancestors: &[OrgRecord]) -> Effective {
    let chain = chain(org, ancestors);
    let root_language = chain.first().map(|o| o.language).unwrap_or_default();
    let mut values = OrgSettings::system_defaults(root_language);
    let mut source = BTreeMap::new();
    let mut locked_by = BTreeMap::new();
    for &key in SettingKey::ALL {
        for (i, o) in chain.iter().enumerate() {
            if locked_by.contains_key(&key) {
                break;
            }
            if o.company.settings.is_set(key) {
                values.copy_from(&o.company.settings, key);
                source.insert(key, o.org_id.clone());
            }
            let is_self = i + 1 == chain.len();
            if !is_self && o.company.locks.contains(&key) {
                locked_by.insert(key, o.org_id.clone());
            }
        }
    }
    let mut company_domains: Vec<DomainName> =
        chain.iter().flat_map(|o| o.company.company_domains.iter().cloned()).collect();
    company_domains.sort();
    company_domains.dedup();
    Effective { values, source, locked_by, company_domains }
}

/// The lineage from the root down to `org` (missing ancestors skipped).
pub(crate) fn chain<'a>(org: &'a OrgRecord, ancestors: &'a [OrgRecord]) -> Vec<&'a OrgRecord> {
    org.ancestors
        .iter()
        .filter_map(|id| ancestors.iter().find(|a| &a.org_id == id))
        .chain(std::iter::once(org))
        .collect()
}

/// A flag of the effective settings: resolution starts from the system defaults, which set
/// every flag, so `None` does not occur.
fn on(flag: Option<bool>) -> bool {
    flag.unwrap_or_default()
}

impl Effective {
    pub fn language(&self) -> Language {
        self.values.default_language.unwrap_or_default()
    }

    /// Whether `email` is on one of the organization's verified company domains (its own or
    /// an ancestor's): the organization controls who holds such an address.
    pub fn on_company_domain(&self, email: &Email) -> bool {
        // Domains are kept in their ASCII (IDNA) form; an address may be written in Unicode.
        let Ok(domain) = crate::domain::DomainName::parse(email.domain(), "email") else { return false };
        self.company_domains.contains(&domain)
    }

    /// Whether `email` may be a coworker here under the company-domains policy.
    pub fn allows_coworker(&self, email: &Email) -> bool {
        !on(self.values.coworkers_on_company_domains_only) || self.on_company_domain(email)
    }

    /// Refuse `email` under the company-domains policy, naming `field`.
    pub fn check_coworker(&self, email: &Email, field: &str) -> Result<()> {
        if self.allows_coworker(email) { Ok(()) } else { Err(Error::DomainNotApproved { field: field.to_owned() }) }
    }

    pub fn min_password_length(&self) -> u8 {
        self.values.min_password_length.unwrap_or(*PASSWORD_MIN_RANGE.start())
    }

    /// A new password chosen for a member of this organization meets its rule.
    pub fn check_password(&self, password: &crate::domain::Password, field: &str) -> Result<()> {
        let min = self.min_password_length();
        if password.char_count() < usize::from(min) {
            return Err(Error::validation(
                "password_too_short",
                field,
                format!("this organization requires at least {min} characters"),
            ));
        }
        Ok(())
    }
}

/// The effective settings of an organization read without an access check: its ancestors in
/// one round trip (none for a top-level organization).
pub async fn resolve(ctx: &Ctx, org: &OrgRecord) -> Result<Effective> {
    let ancestors = if org.ancestors.is_empty() { Vec::new() } else { ctx.store.get_orgs(&org.ancestors).await? };
    Ok(effective(org, &ancestors))
}

/// A new password for `user` meets the strictest minimum length among the organizations they
/// belong to (active memberships): their memberships, then those organizations and their
/// ancestors, one round trip per 100.
pub async fn check_password_for(
    ctx: &Ctx,
    user: &crate::domain::UserId,
    password: &crate::domain::Password,
    field: &str,
) -> Result<()> {
    let memberships = ctx.store.all_memberships(user).await?;
    let mut ids: Vec<OrgId> = Vec::new();
    for m in memberships.iter().filter(|m| m.status == crate::store::MemberStatus::Active) {
        for id in m.org_ancestors.iter().chain(std::iter::once(&m.org_id)) {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    let orgs = ctx.store.get_orgs(&ids).await?;
    let strictest = memberships
        .iter()
        .filter_map(|m| orgs.iter().find(|o| o.org_id == m.org_id))
        .map(|o| effective(o, &orgs))
        .max_by_key(Effective::min_password_length);
    match strictest {
        Some(e) => e.check_password(password, field),
        None => Ok(()),
    }
}

/// The effective settings of an organization reached through an access check.
pub fn of_access(access: &Access) -> Effective {
    effective(&access.org, &access.ancestors)
}

pub fn of_permit<P>(permit: &Permit<P>) -> Effective {
    effective(&permit.org, &permit.ancestors)
}

/// Whether this session may work in the organization under its policies: admins always keep
/// every client; two-factor, when required, binds admins too.
pub fn admit(access: &Access, session: &SessionRecord) -> Result<()> {
    admit_client(access, session.client, session.second_factor, session.confined_to.as_ref())
}

/// Whether a session of `client` (a second factor passed or not; confined to an identity
/// provider's organization or not) may work in `access`'s organization.
pub fn admit_client(
    access: &Access,
    client: ClientType,
    second_factor: bool,
    confined_to: Option<&OrgId>,
) -> Result<()> {
    if confined_to.is_some_and(|c| !access.org.lineage().any(|o| o == c)) {
        return Err(Error::SessionConfined);
    }
    let e = of_access(access);
    if on(e.values.two_factor_required) && !second_factor {
        return Err(Error::TwoFactorRequired);
    }
    let disabled = e.values.disabled_clients.as_ref().is_some_and(|d| d.contains(&client));
    if disabled && !access.is_admin() {
        return Err(Error::ClientDisabled);
    }
    Ok(())
}

/// The settings document admins read and change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SettingsDoc {
    pub organization_id: OrgId,
    /// Sent back in `If-Match` to change them (also the `ETag` header).
    pub etag: String,
    /// What this organization sets itself.
    pub own: OrgSettings,
    /// What applies here: own, inherited or system defaults.
    pub effective: OrgSettings,
    /// Per setting, the organization whose value applies (absent: the system default).
    #[schema(value_type = BTreeMap<String, String>)]
    pub inherited_from: BTreeMap<SettingKey, OrgId>,
    /// Settings an ancestor fixed, and which one; they cannot be changed here.
    #[schema(value_type = BTreeMap<String, String>)]
    pub locked_by: BTreeMap<SettingKey, OrgId>,
    /// Settings this organization fixes for every organization beneath it.
    pub locks: Locks,
    /// Other names it is known by (top-level organizations).
    pub aliases: Vec<String>,
    /// Verified company domains, its own and its ancestors'.
    #[schema(value_type = Vec<String>)]
    pub company_domains: Vec<DomainName>,
}

pub fn etag_of(version: u64) -> String {
    format!("\"s{version}\"")
}

/// The version an `If-Match` value names, or 412 for one that names no version of ours.
pub fn version_of(if_match: &str) -> Result<u64> {
    version_tagged(if_match, 's')
}

/// The version an ETag `"<tag><n>"` names (settings `s`, templates `t`), or 412.
pub fn version_tagged(if_match: &str, tag: char) -> Result<u64> {
    // If-Match compares strongly (RFC 9110 §13.1.1): a weak tag never matches.
    if_match
        .trim()
        .strip_prefix('"')
        .and_then(|r| r.strip_prefix(tag))
        .and_then(|r| r.strip_suffix('"'))
        .and_then(|n| n.parse().ok())
        .ok_or(Error::PreconditionFailed)
}

fn doc(org: &OrgRecord, ancestors: &[OrgRecord]) -> SettingsDoc {
    let e = effective(org, ancestors);
    SettingsDoc {
        organization_id: org.org_id.clone(),
        etag: etag_of(org.company.settings_version),
        own: org.company.settings.clone(),
        effective: e.values,
        inherited_from: e.source.into_iter().filter(|(_, o)| o != &org.org_id).collect(),
        locked_by: e.locked_by,
        locks: org.company.locks.clone(),
        aliases: org.company.aliases.clone(),
        company_domains: e.company_domains,
    }
}

pub fn read(permit: &Permit<UpdateOrg>) -> SettingsDoc {
    doc(&permit.org, &permit.ancestors)
}

/// Change settings and, optionally, replace the locks this organization sets for its subtree.
pub async fn change(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    expected_version: u64,
    change: SettingsChange,
    locks: Option<Locks>,
) -> Result<SettingsDoc> {
    let after = commit(ctx, permit, expected_version, change, locks, "organization.settings_changed", true).await?;
    Ok(doc(&after, &permit.ancestors))
}

/// The settings are still at the version read, and no ancestor locked `keys`.
pub(crate) fn precheck<P>(permit: &Permit<P>, expected_version: u64, keys: &[SettingKey]) -> Result<()> {
    if permit.org.company.settings_version != expected_version {
        return Err(Error::PreconditionFailed);
    }
    let locked = of_permit(permit).locked_by;
    match keys.iter().find(|k| locked.contains_key(k)) {
        Some(k) => Err(Error::SettingLocked { key: k.as_str() }),
        None => Ok(()),
    }
}

/// Check, apply and store a change of settings (and, given, of the locks) with its activity
/// entry (`name_keys`: naming the settings changed); the organization as it is after.
pub(crate) async fn commit<P>(
    ctx: &Ctx,
    permit: &Permit<P>,
    expected_version: u64,
    change: SettingsChange,
    locks: Option<Locks>,
    action: &str,
    name_keys: bool,
) -> Result<OrgRecord> {
    let org = &permit.org;
    precheck(permit, expected_version, &change.keys())?;
    let mut settings = org.company.settings.clone();
    let mut changed: Vec<&str> = settings.apply(change).into_iter().map(SettingKey::as_str).collect();
    let locks = locks.unwrap_or_else(|| org.company.locks.clone());
    if locks != org.company.locks {
        changed.push("locks");
    }
    if changed.is_empty() {
        return Ok(org.clone());
    }
    let act = permit_activity(ctx, permit, action, name_keys.then(|| changed.join(",")));
    ctx.store.put_settings(org, expected_version, &settings, &locks, &act).await?;
    let mut after = org.clone();
    after.company.settings = settings;
    after.company.locks = locks;
    after.company.settings_version = expected_version + 1;
    Ok(after)
}

/// Replace a top-level organization's aliases.
pub async fn set_aliases(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    expected_version: u64,
    aliases: Vec<Alias>,
) -> Result<SettingsDoc> {
    let org = &permit.org;
    if org.parent_id.is_some() {
        return Err(Error::validation(
            "not_top_level",
            "aliases",
            "only top-level organizations are found by name, so only they have aliases",
        ));
    }
    if org.company.settings_version != expected_version {
        return Err(Error::PreconditionFailed);
    }
    let mut list: Vec<String> = Vec::new();
    for a in aliases {
        if !list.iter().any(|l| crate::domain::fold_for_search(l) == crate::domain::fold_for_search(a.as_str())) {
            list.push(a.as_str().to_owned());
        }
    }
    if list == org.company.aliases {
        return Ok(doc(org, &permit.ancestors));
    }
    let act = permit_activity(ctx, permit, "organization.aliases_changed", Some(list.join(", ")));
    ctx.store.set_aliases(org, expected_version, &list, &act).await?;
    let mut after = org.clone();
    after.company.aliases = list;
    after.company.settings_version = expected_version + 1;
    Ok(doc(&after, &permit.ancestors))
}

/// What every member's client reads: the flags the messaging clients enforce and the rules
/// that apply to the reader.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyDoc {
    pub organization_id: OrgId,
    pub disclaimer: Option<String>,
    pub default_language: Language,
    pub mobile_pin_required: bool,
    pub export_conversations_pdf: bool,
    pub group_chat_by_email: bool,
    pub message_content_in_mobile_notifications: bool,
    pub message_content_in_emails: bool,
    pub like_messages: bool,
    pub delete_own_messages: bool,
    pub two_factor_required: bool,
    pub min_password_length: u8,
    /// Client types disabled for members other than admins.
    pub disabled_clients: Vec<ClientType>,
    /// Client types the reader may use here (admins: all).
    pub allowed_clients: Vec<ClientType>,
}

pub fn policy(access: &Access, _proof: &Permit<crate::access::ReadOrg>) -> PolicyDoc {
    let e = of_access(access);
    let v = &e.values;
    let disabled: Vec<ClientType> = v.disabled_clients.iter().flatten().copied().collect();
    let allowed = ClientType::ALL.into_iter().filter(|c| access.is_admin() || !disabled.contains(c)).collect();
    PolicyDoc {
        organization_id: access.org.org_id.clone(),
        disclaimer: v.disclaimer.clone(),
        default_language: e.language(),
        mobile_pin_required: on(v.mobile_pin_required),
        export_conversations_pdf: on(v.export_conversations_pdf),
        group_chat_by_email: on(v.group_chat_by_email),
        message_content_in_mobile_notifications: on(v.message_content_in_mobile_notifications),
        message_content_in_emails: on(v.message_content_in_emails),
        like_messages: on(v.like_messages),
        delete_own_messages: on(v.delete_own_messages),
        two_factor_required: on(v.two_factor_required),
        min_password_length: e.min_password_length(),
        disabled_clients: disabled,
        allowed_clients: allowed,
    }
}
