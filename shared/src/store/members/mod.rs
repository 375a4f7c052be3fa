//! Members: invitations, seats, grants, shared accounts, inboxes, imports.

pub(in crate::store) mod import_mail;
pub(in crate::store) mod imports;
pub(in crate::store) mod inboxes;
pub(in crate::store) mod manage;
pub(in crate::store) mod member_ops;
pub(in crate::store) mod member_search;
pub(in crate::store) mod shared_accounts;
