//! Personal settings: profile, password, and the person's own sessions.

use serde::Serialize;

use crate::auth::password::Verified;
use crate::domain::{ClientType, OrgId, Password, SessionId};
use crate::error::{Error, Result};
use crate::service::{Authenticated, Ctx};
use crate::store::{ProfileChange, SessionRecord};

pub async fn update(
    ctx: &Ctx,
    auth: &Authenticated,
    change: &ProfileChange,
) -> Result<crate::service::identity::accounts::UserView> {
    let user = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
    let after = ctx.store.update_profile(&user, change).await?;
    Ok(crate::service::identity::accounts::UserView::from(&after))
}

/// Change one's password; the current one is required. Other sessions end when asked to.
pub async fn change_password(
    ctx: &Ctx,
    auth: &Authenticated,
    current: &Password,
    new: &Password,
    end_others: bool,
) -> Result<usize> {
    let user = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
    let cred = ctx.store.login_lookup(user.login_key(), &[]).await?.credential.ok_or(Error::Unauthenticated)?;
    match ctx.hasher.verify(current, Some(&cred.password_hash), ctx.random.as_ref()).await? {
        Verified::No => {
            return Err(Error::validation("wrong_password", "current_password", "is not your current password"));
        }
        Verified::Yes | Verified::YesRehash { .. } => {}
    }
    crate::service::orgs::settings::check_password_for(ctx, &user.user_id, new, "new_password").await?;
    let new_hash = ctx.hasher.hash(new, ctx.random.as_ref()).await?;
    if !end_others {
        if !ctx.store.replace_password_hash(user.login_key(), &cred.password_hash, &new_hash).await? {
            return Err(Error::Conflict);
        }
        return Ok(0);
    }
    // The others end in the password's own transaction (the epoch moves on, this session
    // with it); their items are deleted after, as clean-up.
    let me = &auth.session.session_id;
    let others: Vec<SessionRecord> = ctx
        .store
        .list_sessions(&auth.user_id)
        .await?
        .into_iter()
        .filter(|s| &s.session_id != me && s.epoch == user.session_epoch && s.expires_at > ctx.now())
        .collect();
    if !ctx.store.replace_password_ending_others(&user, &cred.password_hash, &new_hash, me).await? {
        return Err(Error::Conflict);
    }
    ctx.store.clean_up_sessions(&others).await;
    Ok(others.len())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub session_id: SessionId,
    pub client: ClientType,
    pub active_organization: Option<OrgId>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_used_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The session making this request.
    pub current: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Sessions {
    pub sessions: Vec<SessionView>,
}

pub async fn sessions(ctx: &Ctx, auth: &Authenticated) -> Result<Sessions> {
    let now = ctx.now();
    let list: Vec<SessionRecord> = ctx.store.list_sessions(&auth.user_id).await?;
    Ok(Sessions {
        sessions: list
            .into_iter()
            // Ended by the epoch but not yet cleaned up: gone for the person.
            .filter(|s| s.expires_at > now && s.epoch == auth.session.epoch)
            .map(|s| SessionView {
                current: s.session_id == auth.session.session_id,
                session_id: s.session_id,
                client: s.client,
                active_organization: s.active_org,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
            })
            .collect(),
    })
}

pub async fn end_session(ctx: &Ctx, auth: &Authenticated, id: &SessionId) -> Result<()> {
    ctx.store.get_session(&auth.user_id, id).await?.ok_or(Error::NotFound("session"))?;
    ctx.store.delete_session(&auth.user_id, id).await
}
