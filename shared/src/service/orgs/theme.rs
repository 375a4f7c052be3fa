//! The organization's colors: the effective theme every member's client applies (its own,
//! the nearest ancestor's, or the default), saving one with a contrast check, previews of a
//! draft, and removing it.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{Permit, ReadOrg, UpdateOrg};
use crate::domain::OrgId;
use crate::domain::settings::{SettingKey, SettingsChange};
use crate::domain::theme::{ContrastCheck, DEFAULT_THEME, Theme};
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::service::notify::email_settings::write_settings;
use crate::service::orgs::settings::{effective, etag_of};
use crate::store::OrgRecord;

/// Where the colors in force come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThemeSource {
    /// The organization's own.
    Own,
    /// An ancestor's (`inherited_from`).
    Inherited,
    /// The messenger's default.
    Default,
}

/// The resolved colors a client applies.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThemeDoc {
    pub organization_id: OrgId,
    /// The settings' ETag: send it in `If-Match` to change the theme. (The response's `ETag`
    /// header names these colors, for `If-None-Match`.)
    pub settings_etag: String,
    pub source: ThemeSource,
    pub inherited_from: Option<OrgId>,
    pub theme: Theme,
    /// The same colors as CSS custom properties, e.g. `--sb-header-bg`.
    pub css_variables: BTreeMap<String, String>,
    /// The contrast of the text on every background.
    pub contrast: Vec<ContrastCheck>,
    /// Pairs under 4.5:1 (WCAG 2.2 AA), by `component.state`.
    pub low_contrast: Vec<String>,
    /// An ancestor fixed the theme: it cannot be changed here.
    pub locked_by: Option<OrgId>,
}

fn low_contrast(checks: &[ContrastCheck]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| !c.readable)
        .map(|c| {
            let state =
                serde_json::to_value(c.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            format!("{}.{state}", c.component.as_str())
        })
        .collect()
}

fn describe(org: &OrgRecord, ancestors: &[OrgRecord], draft: Option<Theme>) -> ThemeDoc {
    let e = effective(org, ancestors);
    let from = e.source.get(&SettingKey::Theme).cloned();
    let (theme, source, inherited_from) = match (draft, e.values.theme, from) {
        (Some(d), _, _) => (d, ThemeSource::Own, None),
        (None, Some(t), Some(o)) if o == org.org_id => (t, ThemeSource::Own, None),
        (None, Some(t), o) => (t, ThemeSource::Inherited, o),
        (None, None, _) => (DEFAULT_THEME, ThemeSource::Default, None),
    };
    let contrast = theme.contrast();
    ThemeDoc {
        organization_id: org.org_id.clone(),
        settings_etag: etag_of(org.company.settings_version),
        source,
        inherited_from,
        css_variables: theme.css_variables(),
        low_contrast: low_contrast(&contrast),
        contrast,
        theme,
        locked_by: e.locked_by.get(&SettingKey::Theme).cloned(),
    }
}

/// The theme in force, for every member's client.
pub fn read(permit: &Permit<ReadOrg>) -> ThemeDoc {
    describe(&permit.org, &permit.ancestors, None)
}

/// What a draft would look like, without saving it.
pub fn preview(permit: &Permit<UpdateOrg>, draft: Theme) -> ThemeDoc {
    describe(&permit.org, &permit.ancestors, Some(draft))
}

/// Save the organization's own theme. Text under 4.5:1 on any background is refused unless
/// the admin accepts it as it is.
pub async fn save(
    ctx: &Ctx,
    permit: &Permit<UpdateOrg>,
    expected_version: u64,
    theme: Theme,
    accept_low_contrast: bool,
) -> Result<ThemeDoc> {
    let low = low_contrast(&theme.contrast());
    if !low.is_empty() && !accept_low_contrast {
        return Err(Error::LowContrast { pairs: low });
    }
    let change = SettingsChange { theme: Some(Some(theme)), ..SettingsChange::default() };
    let after = write_settings(ctx, permit, expected_version, change, "organization.theme_changed").await?;
    Ok(describe(&after, &permit.ancestors, None))
}

/// Remove the organization's own theme: it shows the inherited one, or the default.
pub async fn remove(ctx: &Ctx, permit: &Permit<UpdateOrg>, expected_version: u64) -> Result<ThemeDoc> {
    let change = SettingsChange { theme: Some(None), ..SettingsChange::default() };
    let after = write_settings(ctx, permit, expected_version, change, "organization.theme_removed").await?;
    Ok(describe(&after, &permit.ancestors, None))
}
