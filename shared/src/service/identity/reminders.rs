//! The reminder to confirm a mobile number: once per login, a configurable time after it
//! was made (`SWITCHBOARD_MOBILE_REMINDER_AFTER_HOURS`, default 24, `0` turns it off), only
//! while no confirmed number is on the profile. Runs with the digest schedule.

use chrono::{DateTime, Utc};

use crate::domain::EmailType;
use crate::error::Result;
use crate::service::Ctx;
use crate::store::{OutboxMail, REMINDER_SHARDS, UserRecord};

/// Reminders read per page (and profiles per batch read).
const PAGE: i32 = 100;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReminderReport {
    /// Emails recorded.
    pub sent: usize,
    /// Reminders dropped: the number was confirmed, or there is nobody (or no address) to
    /// write to, or the organization switched the email off.
    pub dropped: usize,
    /// Reminders another run settled first.
    pub lost: usize,
}

/// One pass as of `at`: every login made at least the configured time before `at` whose
/// reminder is still waiting.
pub async fn run(ctx: &Ctx, at: DateTime<Utc>) -> Result<ReminderReport> {
    let mut report = ReminderReport::default();
    let Some(after) = ctx.config.mobile_reminder_after else { return Ok(report) };
    for shard in 0..REMINDER_SHARDS {
        let mut cursor = None;
        loop {
            let (due, next) = ctx.store.due_mobile_reminders(shard, at - after, PAGE, cursor.as_ref()).await?;
            let ids: Vec<_> = due.iter().map(|r| r.user_id.clone()).collect();
            let users = ctx.store.get_users(&ids).await?;
            for reminder in &due {
                let user = users.iter().find(|u| u.user_id == reminder.user_id);
                let mails = match user.filter(|u| wants_reminder(u)) {
                    Some(u) => email(ctx, u).await?,
                    None => Vec::new(),
                };
                let sent = !mails.is_empty();
                if ctx.store.settle_mobile_reminder(reminder, &mails).await? {
                    if sent {
                        report.sent += 1;
                        crate::service::notify::outbox::handed_on(ctx, mails).await;
                    } else {
                        report.dropped += 1;
                    }
                } else {
                    report.lost += 1;
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(report)
}

/// Still a login in use, with an address to write to and no confirmed number.
fn wants_reminder(user: &UserRecord) -> bool {
    user.merged_into.is_none() && user.email.is_some() && user.mobile_verified_at.is_none()
}

/// The reminder email, branded by the organization the person last used; none when that
/// organization switched the email type off.
async fn email(ctx: &Ctx, user: &UserRecord) -> Result<Vec<OutboxMail>> {
    let vars = crate::service::notify::compose::vars([("link", format!("{}/profile", ctx.config.public_url).into())]);
    let job =
        crate::service::notify::compose::to_user(ctx, user, None, EmailType::MobileVerificationReminder, vars).await?;
    crate::service::notify::outbox::record(ctx, job.into_iter().collect())
}
