//! Single sign-on (SAML) and OAuth applications and tokens.

pub mod oauth;
pub mod oauth_apps;
pub mod sso;
