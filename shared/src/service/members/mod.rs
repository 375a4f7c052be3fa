//! Members: invitations, seats, grants, shared accounts, inboxes, imports.

pub(in crate::service) mod grants;
pub mod imports;
pub mod inboxes;
pub mod invitation_emails;
pub mod invitations;
pub mod invitee;
pub mod manage;
pub mod people;
pub mod shared_accounts;
