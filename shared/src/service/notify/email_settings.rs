//! Email settings: per type, whether it goes out and how often, down the tree like the other
//! settings (nearest choice wins, an ancestor's lock fixes it below); and the header logo
//! every email of the organization shows.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{Permit, UpdateOrg};
use crate::domain::logo::{Logo, LogoRef};
use crate::domain::settings::SettingsChange;
use crate::domain::{EmailGroup, EmailType, Interval, OrgId, TypeSetting, Variable};
use crate::error::{Error, Result};
use crate::service::orgs::settings::{chain, etag_of, of_permit};
use crate::service::{Ctx, permit_activity};
use crate::store::OrgRecord;

/// What applies to one type in one organization, and where it comes from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TypeView {
    #[serde(rename = "type")]
    pub email_type: EmailType,
    pub group: EmailGroup,
    /// Whether an organization may switch it off.
    pub can_switch_off: bool,
    /// Whether it may be gathered into hourly, daily or weekly digests (activity emails).
    pub takes_interval: bool,
    pub enabled: bool,
    pub interval: Interval,
    /// This organization's own choice, if it made one.
    pub own: Option<TypeSetting>,
    /// The ancestor whose choice applies (absent: its own, or the default).
    pub inherited_from: Option<OrgId>,
    /// The ancestor that fixed it; it cannot be changed here.
    pub locked_by: Option<OrgId>,
    /// The variables its template may use (the editor's "Add fields").
    pub variables: Vec<Variable>,
}

/// Resolve one type: the nearest choice set, unless an ancestor locked it (topmost wins).
pub fn resolve_type(org: &OrgRecord, ancestors: &[OrgRecord], ty: EmailType) -> TypeView {
    let lineage = chain(org, ancestors);
    let mut setting = TypeSetting::DEFAULT;
    let mut source = None;
    let mut locked_by = None;
    for (i, o) in lineage.iter().enumerate() {
        if let Some(s) = o.company.email_types.get(&ty) {
            setting = *s;
            source = Some(o.org_id.clone());
        }
        if i + 1 < lineage.len() && o.company.email_locks.contains(&ty) {
            locked_by = Some(o.org_id.clone());
            break;
        }
    }
    if !ty.can_switch_off() {
        setting.enabled = true;
    }
    if !ty.takes_interval() {
        setting.interval = Interval::Immediate;
    }
    TypeView {
        email_type: ty,
        group: ty.group(),
        can_switch_off: ty.can_switch_off(),
        takes_interval: ty.takes_interval(),
        enabled: setting.enabled,
        interval: setting.interval,
        own: org.company.email_types.get(&ty).copied(),
        inherited_from: source.filter(|s| s != &org.org_id),
        locked_by,
        variables: ty.variables().copied().collect(),
    }
}

/// The logo an organization's emails show, and whose it is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogoView {
    #[serde(flatten)]
    pub logo: LogoRef,
    pub inherited_from: Option<OrgId>,
}

/// The Email settings tab.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailSettingsDoc {
    pub organization_id: OrgId,
    /// The settings' ETag (shared with the company settings): send it in `If-Match`.
    pub etag: String,
    /// The header logo; absent: the default header with the organization's name.
    pub logo: Option<LogoView>,
    /// Every type of the catalogue, in catalogue order.
    pub types: Vec<TypeView>,
    /// Types this organization fixes for every organization beneath it.
    pub locks: BTreeSet<EmailType>,
}

fn doc(org: &OrgRecord, ancestors: &[OrgRecord]) -> EmailSettingsDoc {
    let e = crate::service::orgs::settings::effective(org, ancestors);
    let logo = e.values.email_logo.clone().map(|logo| LogoView {
        logo,
        inherited_from: e
            .source
            .get(&crate::domain::settings::SettingKey::EmailLogo)
            .filter(|o| *o != &org.org_id)
            .cloned(),
    });
    EmailSettingsDoc {
        organization_id: org.org_id.clone(),
        etag: etag_of(org.company.settings_version),
        logo,
        types: EmailType::ALL.iter().map(|t| resolve_type(org, ancestors, *t)).collect(),
        locks: org.company.email_locks.clone(),
    }
}

pub fn read(permit: &Permit<UpdateOrg>) -> EmailSettingsDoc {
    doc(&permit.org, &permit.ancestors)
}

/// A change to one type: a new choice, or `None` to inherit again.
pub type TypeChange = Option<TypeSetting>;

/// Change types' choices and, optionally, replace the types this organization locks.
pub async fn change(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    expected_version: u64,
    changes: BTreeMap<EmailType, TypeChange>,
    locks: Option<BTreeSet<EmailType>>,
) -> Result<EmailSettingsDoc> {
    let org = &permit.org;
    if org.company.settings_version != expected_version {
        return Err(Error::PreconditionFailed);
    }
    let mut types = org.company.email_types.clone();
    let mut changed = Vec::new();
    for (ty, change) in changes {
        if resolve_type(org, &permit.ancestors, ty).locked_by.is_some() {
            return Err(Error::SettingLocked { key: ty.key() });
        }
        let before = types.get(&ty).copied();
        match change {
            Some(s) => types.insert(ty, s),
            None => types.remove(&ty),
        };
        if types.get(&ty).copied() != before {
            changed.push(ty.key());
        }
    }
    let locks = locks.unwrap_or_else(|| org.company.email_locks.clone());
    if locks != org.company.email_locks {
        changed.push("locks");
    }
    if changed.is_empty() {
        return Ok(doc(org, &permit.ancestors));
    }
    let act = permit_activity(ctx, permit, "organization.email_settings_changed", Some(changed.join(",")));
    ctx.store.put_email_types(org, expected_version, &types, &locks, &act).await?;
    let mut after = org.clone();
    after.company.email_types = types;
    after.company.email_locks = locks;
    after.company.settings_version = expected_version + 1;
    Ok(doc(&after, &permit.ancestors))
}

/// Where an organization's logo file lives: named by its content's hash, so a stored file
/// never changes.
fn logo_key(org: &OrgId, logo: &Logo) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(logo.bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("logos/{org}/{hex}")
}

/// Store an uploaded logo (checked already) and make it the organization's.
pub async fn set_logo(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    expected_version: u64,
    logo: Logo,
) -> Result<EmailSettingsDoc> {
    let org = &permit.org;
    // Checked before the upload too, so that a doomed request stores nothing.
    crate::service::orgs::settings::precheck(
        permit,
        expected_version,
        &[crate::domain::settings::SettingKey::EmailLogo],
    )?;
    let (width, height) = logo.dimensions();
    let r = LogoRef {
        key: logo_key(&org.org_id, &logo),
        content_type: logo.format(),
        width,
        height,
        bytes: logo.bytes().len() as u64,
    };
    // The file first: settings never point at a file that is not there. A failed settings
    // write leaves an unreferenced file, harmless (it is named by its content).
    ctx.files.put(&r.key, logo.into_bytes()).await?;
    let change = SettingsChange { email_logo: Some(Some(r)), ..SettingsChange::default() };
    let after = write_settings(ctx, permit, expected_version, change, "organization.email_logo_changed").await?;
    Ok(doc(&after, &permit.ancestors))
}

/// Remove the organization's own logo: its emails show the inherited one, or the default.
pub async fn remove_logo(ctx: &Ctx, permit: &Permit<UpdateOrg>, expected_version: u64) -> Result<EmailSettingsDoc> {
    let change = SettingsChange { email_logo: Some(None), ..SettingsChange::default() };
    let after = write_settings(ctx, permit, expected_version, change, "organization.email_logo_removed").await?;
    Ok(doc(&after, &permit.ancestors))
}

/// Apply a change of settings kept on the organization's own routes (logo, theme).
pub(crate) async fn write_settings<P>(
    ctx: &Ctx,
    permit: &Permit<P>,
    expected_version: u64,
    change: SettingsChange,
    action: &str,
) -> Result<OrgRecord> {
    crate::service::orgs::settings::commit(ctx, permit, expected_version, change, None, action, false).await
}

/// The logo file the organization's emails show (its own or inherited), for the admin's
/// preview.
pub async fn logo_file(ctx: &Ctx, permit: &Permit<UpdateOrg>) -> Result<(LogoRef, Vec<u8>)> {
    let r = of_permit(permit).values.email_logo.ok_or(Error::NotFound("logo"))?;
    let bytes = ctx.files.get(&r.key, crate::domain::logo::LOGO_MAX_BYTES as u64).await?;
    Ok((r, bytes))
}
