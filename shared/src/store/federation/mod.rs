//! Single sign-on (SAML) and OAuth applications and tokens.

pub(in crate::store) mod oauth;
pub(in crate::store) mod sso;
