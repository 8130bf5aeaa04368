//! Trust service (可信): who may do what with whose data.
//!
//! Being built for issue 4, domain logic and storage first:
//! - [`domain::grants`]: authorized use of data — request, approve with narrowing, deny,
//!   revoke, expiry, and what a read under a grant may see;
//! - [`domain::products`]: data products registered before they circulate, with row filters;
//! - [`domain::reports`]: signed trusted-status reports, verifiable offline;
//! - [`store`]: products, per-party grant rows, tenants, users, sessions and API keys on both
//!   SQL engines (secrets only as hashes);
//! - [`identity`]: accounts, sign-in (password, TOTP once enrolled, lockout), rotating
//!   sessions, sign-out;
//! - [`keys`]: API keys resolved from the store for brain-auth's authentication layer.
//!
//! Identity and the ledger API join them with the service's API (contract:
//! `proto/brain/trust/v1/trust.proto`); the service registers with the runtime once that API
//! answers.

pub mod domain;
mod error;
pub mod identity;
pub mod keys;
pub mod store;

pub use error::TrustError;
