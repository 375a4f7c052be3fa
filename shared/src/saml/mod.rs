//! SAML 2.0 single sign-on, service provider side: identity provider metadata read with
//! limits, the sign-in request sent, and the response verified (its XML signature by the
//! narrow checker in `dsig`, over `c14n`'s exclusive canonical form). Pure functions over
//! text: the service decides what a verified sign-in may do.

pub mod c14n;
pub mod cert;
pub mod dsig;
pub mod metadata;
pub mod request;
pub mod response;
pub mod xml;

#[cfg(test)]
mod tests;
