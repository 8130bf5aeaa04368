//! Trust service (可信): who may do what with whose data.
//!
//! Being built for issue 4, domain logic first: [`domain::grants`] (authorized use of data:
//! request, approve with narrowing, deny, revoke, expiry, and what a read under a grant may
//! see) and [`domain::products`] (data products registered before they circulate, with their
//! row filters). Identity, the ledger API and trusted-status reports join them with the
//! service's API (contract: `proto/brain/trust/v1/trust.proto`); the service registers with
//! the runtime once that API answers.

pub mod domain;
mod error;
pub mod store;

pub use error::TrustError;
