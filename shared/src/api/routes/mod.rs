pub mod federation;
pub mod identity;
pub mod library;
pub mod members;
pub mod notify;
pub mod orgs;
