//! The alarm service: where an organization's alarm (panic) messages from the mobile app are
//! forwarded. Kept as a company setting, so it is inherited down the tree (a department uses
//! the hospital's receiver unless it sets its own, or `none`), lockable, versioned by the
//! settings' ETag and written with an activity entry.

use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{Permit, UpdateOrg};
use crate::domain::OrgId;
use crate::domain::alarm::AlarmService;
use crate::domain::settings::{SettingKey, SettingsChange};
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::service::notify::email_settings::write_settings;
use crate::service::orgs::settings::{effective, etag_of, resolve};
use crate::store::{OrgRecord, OrgStatus};

/// The alarm service an admin sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmDoc {
    pub organization_id: OrgId,
    /// The settings' ETag: send it in `If-Match` to change the alarm service.
    pub etag: String,
    /// What this organization sets itself (absent: it inherits).
    pub own: Option<AlarmService>,
    /// What applies here; absent when nothing (or `none`) applies.
    pub effective: Option<AlarmService>,
    /// The ancestor whose configuration applies.
    pub inherited_from: Option<OrgId>,
    /// An ancestor fixed the alarm service: it cannot be changed here.
    pub locked_by: Option<OrgId>,
}

/// What the messaging service forwards alarms by.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmTarget {
    pub organization_id: OrgId,
    /// Absent: alarms of this organization are not forwarded.
    pub alarm_service: Option<AlarmService>,
    /// The organization whose configuration this is (itself or an ancestor).
    pub configured_by: Option<OrgId>,
}

fn describe(org: &OrgRecord, ancestors: &[OrgRecord]) -> AlarmDoc {
    let e = effective(org, ancestors);
    let from = e.source.get(&SettingKey::AlarmService).filter(|o| *o != &org.org_id).cloned();
    AlarmDoc {
        organization_id: org.org_id.clone(),
        etag: etag_of(org.company.settings_version),
        own: org.company.settings.alarm_service.clone(),
        effective: e.values.alarm_service.filter(|a| a.target().is_some()),
        inherited_from: from,
        locked_by: e.locked_by.get(&SettingKey::AlarmService).cloned(),
    }
}

pub fn read(permit: &Permit<UpdateOrg>) -> AlarmDoc {
    describe(&permit.org, &permit.ancestors)
}

/// Set this organization's own alarm service (a receiver, or `none`).
pub async fn save(ctx: &Ctx, permit: &Permit<UpdateOrg>, version: u64, alarm: AlarmService) -> Result<AlarmDoc> {
    let change = SettingsChange { alarm_service: Some(Some(alarm)), ..SettingsChange::default() };
    let after = write_settings(ctx, permit, version, change, "organization.alarm_service_changed").await?;
    Ok(describe(&after, &permit.ancestors))
}

/// Remove this organization's own alarm service: it inherits again.
pub async fn remove(ctx: &Ctx, permit: &Permit<UpdateOrg>, version: u64) -> Result<AlarmDoc> {
    let change = SettingsChange { alarm_service: Some(None), ..SettingsChange::default() };
    let after = write_settings(ctx, permit, version, change, "organization.alarm_service_removed").await?;
    Ok(describe(&after, &permit.ancestors))
}

/// For the messaging service: where this organization's alarms go. The organization, then
/// its ancestors in one read (none for a top-level one). A suspended or unknown
/// organization forwards nothing.
pub async fn for_messaging(ctx: &Ctx, org_id: &OrgId) -> Result<AlarmTarget> {
    let org = ctx.store.get_org(org_id).await?.ok_or(Error::NotFound("organization"))?;
    if org.status != OrgStatus::Active {
        return Err(Error::NotFound("organization"));
    }
    let e = resolve(ctx, &org).await?;
    let alarm = e.values.alarm_service.filter(|a| a.target().is_some());
    let configured_by = alarm.as_ref().and_then(|_| e.source.get(&SettingKey::AlarmService).cloned());
    Ok(AlarmTarget { organization_id: org.org_id, alarm_service: alarm, configured_by })
}
