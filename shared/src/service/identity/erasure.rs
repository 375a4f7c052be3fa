//! A person deletes their login (GDPR Art. 17): refused while they own an organization;
//! otherwise every membership is removed as a departure would be (seats freed, inboxes to
//! the owner, the messaging service told), then the login itself goes: credentials,
//! profile, sessions, links, grants and pending tokens. Activity keeps only a pseudonym:
//! entries naming their address get the pseudonym instead, and their id, once nothing maps
//! it to a person, is one already.

use crate::auth::password::Verified;
use crate::domain::{OrgId, Password, UserId};
use crate::error::{Error, Result};
use crate::service::{Authenticated, Ctx, activity_record};
use crate::store::OrgStatus;

/// What an erased person is called in what remains.
pub fn pseudonym(user: &UserId) -> String {
    format!("erased:{user}")
}

pub async fn delete_me(ctx: &Ctx, auth: &Authenticated, password: &Password) -> Result<()> {
    let user = ctx.store.get_user(&auth.user_id).await?.ok_or(Error::Unauthenticated)?;
    let login = user.email.as_ref().map(|e| e.as_str().to_owned()).or(user.username.clone());
    // The password again, as for any irreversible change of a login.
    let credential = match &login {
        Some(l) => ctx.store.credential(l).await?,
        None => None,
    };
    let stored = credential.as_ref().filter(|c| c.user_id == user.user_id).map(|c| c.password_hash.as_str());
    // As every re-confirmation: a 401 on a valid token would read as a dead session.
    if ctx.hasher.verify(password, stored, ctx.random.as_ref()).await? == Verified::No {
        return Err(Error::validation("wrong_password", "password", "is not your current password"));
    }
    let memberships = ctx.store.all_memberships(&user.user_id).await?;
    let ids: Vec<OrgId> = memberships.iter().map(|m| m.org_id.clone()).collect();
    let orgs = ctx.store.get_orgs(&ids).await?;
    let owned: Vec<String> = memberships
        .iter()
        .filter(|m| m.is_owner())
        .filter_map(|m| orgs.iter().find(|o| o.org_id == m.org_id))
        .filter(|o| o.status != OrgStatus::Closed)
        .map(|o| o.name.clone())
        .collect();
    if !owned.is_empty() {
        return Err(Error::StillOwner { orgs: owned });
    }
    let pseudonym = pseudonym(&user.user_id);
    let mut feeds = std::collections::BTreeSet::new();
    for m in &memberships {
        let Some(org) = orgs.iter().find(|o| o.org_id == m.org_id) else { continue };
        feeds.extend(org.lineage_ids());
        if !m.is_owner() {
            let act = activity_record(ctx, &org.org_id, &user.user_id, None, "member.erased", Some(pseudonym.clone()));
            match crate::service::members::manage::remove(
                ctx,
                org,
                m,
                &org.owner_id,
                crate::service::members::manage::SeatChoice::Keep,
                &act,
            )
            .await
            {
                Ok(()) | Err(Error::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        // An owner's membership (of a closed organization) goes with the login below; its
        // search entries go now.
        if m.is_owner() {
            ctx.store.delete_member_entries(m).await?;
        }
        ctx.store.purge_member_items(&org.org_id, &user.user_id).await?;
    }
    if let Some(email) = &user.email {
        // Every entry naming the address, wherever it is (organizations left earlier, or
        // whose invitation was never accepted, too), found by its index.
        ctx.store.pseudonymize_activity(email, &pseudonym).await?;
        // Entries written before that index existed, in the feeds of the organizations the
        // person still belonged to.
        for org in &feeds {
            ctx.store.pseudonymize_feed(org, email.as_str(), &pseudonym).await?;
        }
    }
    ctx.store.erase_login(&user.user_id, login.as_deref()).await?;
    tracing::info!(user = %user.user_id, memberships = memberships.len(), "login erased");
    Ok(())
}
