//! Members: invitations, seats, grants, shared accounts, inboxes, imports, people added directly.

pub mod imports;
pub mod inboxes;
pub mod invitee;
pub mod manage;
pub mod membership;
pub mod people;
