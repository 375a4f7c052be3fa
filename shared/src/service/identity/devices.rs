//! The devices a login signs in from: remembered (hashed) so that the first sign-in from a
//! new one, after an earlier device, is a notification.

use crate::auth::secret;
use crate::domain::{ClientType, UserId};
use crate::error::Result;
use crate::service::Ctx;

/// What a new session knows of the device it comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Device<'a> {
    /// None to remember (a token exchange, not a sign-in).
    None,
    /// Remembered already (sign-in read it with the profile).
    Known,
    /// Not remembered yet: written with the session.
    New(&'a str),
    /// Not looked at yet: remembered beside the session's write.
    Unread(&'a str),
}

/// A device, as this service can tell one: the login, the client type and its `User-Agent`,
/// hashed (the raw string is never kept).
pub(crate) fn device_of(user: &crate::store::UserRecord, client: ClientType, user_agent: &str) -> String {
    device_hash(&user.user_id, client, user_agent)
}

pub(in crate::service) fn device_hash(user: &UserId, client: ClientType, user_agent: &str) -> String {
    secret::hash(&format!("{}|{}|{}", user, client.as_str(), user_agent.trim()))
}

/// Remember the device; the first sign-in from a device after an earlier one is a
/// notification (and its email) in the organization the session opened in.
pub(in crate::service) async fn note_device(
    ctx: &Ctx,
    user: &crate::store::UserRecord,
    client: ClientType,
    device: &str,
    org: Option<&crate::domain::OrgId>,
) -> Result<()> {
    if !ctx.store.remember_device(&user.user_id, device, ctx.now()).await? {
        return Ok(());
    }
    tell_new_device(ctx, user, client, device, org).await
}

/// A device was just remembered: unless it is the login's first, a notification (and its
/// email) in the organization the session opened in.
pub(in crate::service) async fn tell_new_device(
    ctx: &Ctx,
    user: &crate::store::UserRecord,
    client: ClientType,
    device: &str,
    org: Option<&crate::domain::OrgId>,
) -> Result<()> {
    if ctx.store.devices(&user.user_id, 2).await? < 2 {
        return Ok(());
    }
    let Some(org) = org else { return Ok(()) };
    use crate::domain::notification::NotificationKind;
    let mut e =
        crate::service::notify::notifications::tell(ctx, org, &user.user_id, NotificationKind::NewSignIn, device);
    e.subject = Some(client.as_str().to_owned());
    e.link = Some("/profile/sessions".into());
    crate::service::notify::notifications::emit(ctx, e).await;
    Ok(())
}
