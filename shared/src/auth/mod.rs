//! Credentials and tokens: argon2id password hashing, opaque single-use secrets, and the
//! EdDSA-signed access tokens with their public JWKS.

pub mod jwt;
pub mod password;
pub mod secret;
pub mod totp;

pub use jwt::{AccessClaims, KeySet};
pub use password::PasswordHasher;
