//! Authentication for Industry Brain (issue 4, MLPS level 3 identity controls).
//!
//! Pure building blocks — roles and tenants, password hashing and policy, lockout, access
//! tokens (Ed25519 JWTs), sessions with rotating refresh tokens, TOTP, API keys, OIDC — and
//! [`AuthLayer`], the one tower layer that authenticates REST and gRPC requests alike. Tables
//! and APIs that use them live in the services.

pub mod apikey;
pub mod authenticator;
pub mod credential;
pub mod error;
pub mod extract;
pub mod jwt;
pub mod layer;
pub mod lockout;
pub mod oidc;
pub mod password;
pub mod principal;
pub mod proto;
mod random;
pub mod roles;
pub mod session;
pub mod totp;
pub mod uscc;

pub use apikey::{ApiKey, ApiKeyRecord};
pub use authenticator::{ApiKeyResolver, Authenticator, JwtAuthenticator, StaticAuthenticator};
pub use credential::Credential;
pub use error::AuthError;
pub use extract::{PLATFORM_TENANT, grpc_principal, grpc_tenant};
pub use jwt::{AccessClaims, JwtIssuer, JwtVerifier, PublicKey, SigningKey};
pub use layer::{AuthLayer, AuthService, PublicPaths};
pub use lockout::{LockoutDecision, LockoutPolicy};
pub use oidc::{JwksCache, OidcAuthenticator, OidcConfig, OidcValidator};
pub use password::{PasswordHasher, PasswordPolicy, PasswordViolation};
pub use principal::{AuthMethod, KeyScope, Principal, Subject};
pub use roles::{Role, TenantKind, check_role_separation};
pub use session::{RefreshDecision, RefreshToken, SessionPolicy, SessionState};
pub use totp::{Totp, TotpSecret};
