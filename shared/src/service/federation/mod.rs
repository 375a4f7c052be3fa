//! Single sign-on (SAML) and OAuth applications and tokens.

pub mod oauth;
pub mod oauth_apps;
pub mod oauth_tokens;
pub mod sso;
pub mod sso_link;
pub mod sso_login;
