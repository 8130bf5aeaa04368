//! Pure logic of the trust layer: no I/O, no clock (callers pass `now`).

pub mod grants;
pub mod products;
pub mod reports;

pub use grants::{Access, AccessRequest, Grant, GrantError, GrantStatus, Narrowing, Period};
pub use products::{Filter, FilterOp, Product, ProductStatus};
