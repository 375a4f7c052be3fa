//! Single sign-on (SAML) and OAuth applications and tokens.

pub mod oauth;
pub mod sso;
