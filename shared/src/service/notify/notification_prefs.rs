//! A person's notification feed and choices in one organization: unread count, pages of
//! notifications, marking them read, and which email types they receive (within what the
//! organization allows) and when their digests come. Also the one-click unsubscribe links.

use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{Permit, ReadOrg};
use crate::domain::{DigestTime, EmailGroup, EmailType, Interval};
use crate::error::{Error, Result};
use crate::service::Ctx;
use crate::service::notify::compose::Scope;
use crate::store::{Cursor, FeedRecord, NotificationRecord};

/// Whether the organization (or one above it) fixed `ty` for its members.
pub(crate) fn locked(scope: &Scope, ty: EmailType) -> bool {
    !ty.can_switch_off()
        || scope.org.company.email_locks.contains(&ty)
        || scope.ancestors.iter().any(|a| a.company.email_locks.contains(&ty))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: crate::domain::notification::NotificationKind,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub conversation_id: Option<String>,
    pub conversation_name: Option<String>,
    pub subject: Option<String>,
    pub link: Option<String>,
    pub read: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub unread: i64,
    pub items: Vec<NotificationView>,
    pub next_cursor: Option<String>,
}

fn view(feed: &FeedRecord, n: NotificationRecord) -> NotificationView {
    NotificationView {
        read: feed.is_read(&n),
        id: n.notification_id,
        kind: n.kind,
        occurred_at: n.at,
        conversation_id: n.conversation_id,
        conversation_name: n.conversation_name,
        subject: n.subject,
        link: n.link,
    }
}

pub async fn unread(ctx: &Ctx, permit: &Permit<ReadOrg>) -> Result<i64> {
    Ok(ctx.store.feed(&permit.user_id, &permit.org.org_id).await?.unread.max(0))
}

pub async fn list(
    ctx: &Ctx,
    permit: &Permit<ReadOrg>,
    limit: i32,
    cursor: Option<&Cursor>,
) -> Result<NotificationPage> {
    let (feed, page) = futures::try_join!(
        ctx.store.feed(&permit.user_id, &permit.org.org_id),
        ctx.store.notifications(&permit.user_id, &permit.org.org_id, limit, cursor)
    )?;
    Ok(NotificationPage {
        unread: feed.unread.max(0),
        items: page.items.into_iter().map(|n| view(&feed, n)).collect(),
        next_cursor: page.next.map(|c| c.as_str().to_owned()),
    })
}

pub async fn mark_read(ctx: &Ctx, permit: &Permit<ReadOrg>, id: &str) -> Result<i64> {
    if ulid::Ulid::from_string(id).is_err()
        || !ctx.store.mark_read(&permit.user_id, &permit.org.org_id, id, ctx.now()).await?
    {
        return Err(Error::NotFound("notification"));
    }
    unread(ctx, permit).await
}

pub async fn mark_all_read(ctx: &Ctx, permit: &Permit<ReadOrg>) -> Result<()> {
    ctx.store.mark_all_read(&permit.user_id, &permit.org.org_id, &ctx.ulid().to_string()).await
}

/// One type as the person sees it on their preference page.
#[derive(Debug, Serialize, ToSchema)]
pub struct TypePreference {
    pub email_type: EmailType,
    pub group: EmailGroup,
    /// What the organization sends (off: nobody gets it).
    pub organization_enabled: bool,
    pub interval: Interval,
    /// Fixed by the organization: the person cannot switch it off.
    pub locked: bool,
    /// Whether this person gets it.
    pub enabled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preferences {
    pub types: Vec<TypePreference>,
    /// Local hour (0–23) of daily and weekly digests.
    pub digest_hour: u32,
    /// Weekday of weekly digests (`monday` … `sunday`).
    pub digest_weekday: String,
    /// The timezone digests follow: the profile's, else the organization's default.
    pub timezone: String,
}

/// The types a person may choose about: those that can be switched off, and notifications
/// lead to.
fn choosable() -> impl Iterator<Item = EmailType> {
    EmailType::ALL.iter().copied().filter(|t| t.can_switch_off())
}

async fn doc(ctx: &Ctx, permit: &Permit<ReadOrg>, feed: &FeedRecord) -> Result<Preferences> {
    let scope = Scope::of_permit(permit);
    let time = crate::service::notify::notifications::digest_time(feed);
    let user = ctx.store.get_user(&permit.user_id).await?.ok_or(Error::NotFound("user"))?;
    let e = crate::service::orgs::settings::effective(&scope.org, &scope.ancestors);
    let tz = user.timezone.or(e.values.default_timezone).unwrap_or_default();
    let types = choosable()
        .map(|ty| {
            let v = crate::service::notify::email_settings::resolve_type(&scope.org, &scope.ancestors, ty);
            let locked = locked(&scope, ty);
            TypePreference {
                email_type: ty,
                group: ty.group(),
                organization_enabled: v.enabled,
                interval: v.interval,
                locked,
                enabled: v.enabled && (locked || !feed.off.contains(&ty)),
            }
        })
        .collect();
    Ok(Preferences {
        types,
        digest_hour: time.hour,
        digest_weekday: time.weekday_name().into(),
        timezone: tz.as_str().into(),
    })
}

pub async fn preferences(ctx: &Ctx, permit: &Permit<ReadOrg>) -> Result<Preferences> {
    let feed = ctx.store.feed(&permit.user_id, &permit.org.org_id).await?;
    doc(ctx, permit, &feed).await
}

/// A person's choice: types switched off for themselves, and when digests come.
pub struct PreferenceChange {
    pub off: Vec<EmailType>,
    pub on: Vec<EmailType>,
    pub time: Option<DigestTime>,
}

pub async fn set_preferences(ctx: &Ctx, permit: &Permit<ReadOrg>, change: PreferenceChange) -> Result<Preferences> {
    let scope = Scope::of_permit(permit);
    for (i, ty) in change.off.iter().enumerate() {
        if locked(&scope, *ty) {
            return Err(Error::validation(
                "email_type_locked",
                format!("off[{i}]"),
                "the organization sends this type to every member",
            ));
        }
    }
    let mut feed = ctx.store.feed(&permit.user_id, &permit.org.org_id).await?;
    feed.off.extend(change.off.iter().copied());
    for ty in &change.on {
        feed.off.remove(ty);
    }
    if let Some(t) = change.time {
        feed.digest_hour = Some(t.hour);
        feed.digest_weekday = Some(t.weekday_name().into());
    }
    ctx.store.put_preferences(&permit.user_id, &permit.org.org_id, &feed).await?;
    doc(ctx, permit, &feed).await
}

/// What an unsubscribe link would do (shown to a GET, which changes nothing).
#[derive(Debug, Serialize, ToSchema)]
pub struct UnsubscribeView {
    pub organization_name: String,
    pub email_types: Vec<EmailType>,
}

async fn link(ctx: &Ctx, secret: &str) -> Result<crate::store::UnsubscribeRecord> {
    let hash = crate::auth::secret::hash(secret);
    match ctx.store.unsubscribe_link(&hash).await? {
        Some(r) if r.expires_at > ctx.now() => Ok(r),
        _ => Err(Error::InvalidToken),
    }
}

pub async fn unsubscribe_preview(ctx: &Ctx, secret: &str) -> Result<UnsubscribeView> {
    let r = link(ctx, secret).await?;
    let org = ctx.store.get_org(&r.org_id).await?.ok_or(Error::InvalidToken)?;
    Ok(UnsubscribeView { organization_name: org.name, email_types: r.types })
}

/// One click: switch the link's types off for its person (those the organization lets them).
pub async fn unsubscribe(ctx: &Ctx, secret: &str) -> Result<UnsubscribeView> {
    let r = link(ctx, secret).await?;
    let org = ctx.store.get_org(&r.org_id).await?.ok_or(Error::InvalidToken)?;
    let scope = Scope::resolve(ctx, &org).await?;
    let mut feed = ctx.store.feed(&r.user_id, &r.org_id).await?;
    let types: Vec<EmailType> = r.types.iter().copied().filter(|t| !locked(&scope, *t)).collect();
    feed.off.extend(types.iter().copied());
    ctx.store.put_preferences(&r.user_id, &r.org_id, &feed).await?;
    Ok(UnsubscribeView { organization_name: org.name, email_types: types })
}
