pub mod auth;
pub mod inboxes;
pub mod jwks;
pub mod me;
pub mod members;
pub mod orgs;
pub mod profile;
pub mod two_factor;
