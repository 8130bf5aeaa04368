#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! Sign-in, lockout, TOTP and rotating sessions over the trust store, on SQLite and PostgreSQL.

use brain_auth::{AuthError, AuthMethod, JwtIssuer, JwtVerifier, LockoutPolicy, PasswordHasher, Role, SessionPolicy, SigningKey, Totp, TotpSecret};
use brain_store::Store;
use brain_trust::TrustError;
use brain_trust::identity::Identity;
use brain_trust::store::{MIGRATIONS, TrustStore};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

const TENANT: &str = "91330100MA27XKQ717";
const PASSWORD: &str = "Loom-and-Shuttle-2026";

fn t(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T08:00:00Z").unwrap().with_timezone(&Utc) + Duration::minutes(minutes)
}

fn auth_error(result: Result<impl Sized, TrustError>) -> AuthError {
    match result {
        Err(TrustError::Auth(error)) => error,
        Err(other) => panic!("expected an authentication error, got {other}"),
        Ok(_) => panic!("expected an authentication error, got success"),
    }
}

async fn scenario(store: Store) {
    store.migrate(&brain_store::PLATFORM).await.unwrap();
    store.migrate(&MIGRATIONS).await.unwrap();
    let key = Arc::new(SigningKey::generate().unwrap());
    let verifier = JwtVerifier::new("industry-brain", "industry-brain").with_key(&key.public_key());
    let identity = Identity::new(
        TrustStore::new(store),
        // Cheap parameters: the test is about the flow, not the hash's cost.
        PasswordHasher::new(1024, 1, 1).unwrap(),
        LockoutPolicy::from_config(3, 900),
        SessionPolicy::from_config(1800, 12 * 3600),
        JwtIssuer::new(key, "industry-brain", 900),
    );

    assert!(matches!(auth_error(identity.create_user(TENANT, "li.na", "Li Na", "short", &[Role::EnterpriseUser], t(0)).await), AuthError::WeakPassword { .. }));
    let separated = identity.create_user(TENANT, "root", "Root", PASSWORD, &[Role::SystemAdmin, Role::Auditor], t(0)).await;
    assert!(matches!(auth_error(separated), AuthError::RoleConflict { .. }));
    identity.create_user(TENANT, "li.na", "李娜", PASSWORD, &[Role::EnterpriseAdmin], t(0)).await.unwrap();

    // Unknown users and wrong passwords read the same.
    let unknown = auth_error(identity.sign_in(TENANT, "nobody", PASSWORD, None, t(1)).await);
    let wrong = auth_error(identity.sign_in(TENANT, "li.na", "Wrong-password-1", None, t(1)).await);
    assert_eq!(unknown.to_string(), wrong.to_string());
    auth_error(identity.sign_in(TENANT, "li.na", "Wrong-password-2", None, t(2)).await);
    auth_error(identity.sign_in(TENANT, "li.na", "Wrong-password-3", None, t(3)).await);
    let locked = auth_error(identity.sign_in(TENANT, "li.na", PASSWORD, None, t(4)).await);
    assert!(matches!(locked, AuthError::Locked { until } if until == t(18)), "three failures lock for 15 minutes: {locked}");

    let signed_in = identity.sign_in(TENANT, "li.na", PASSWORD, None, t(19)).await.unwrap();
    let claims = verifier.verify_at(&signed_in.access.token, t(19)).unwrap();
    assert_eq!((claims.tenant.as_str(), claims.roles.len()), (TENANT, 1));
    assert_eq!(signed_in.principal.method, AuthMethod::Password);

    // Refresh rotates; the replaced token coming back ends the whole session.
    let refreshed = identity.refresh(signed_in.refresh.as_str(), t(20)).await.unwrap();
    assert_ne!(refreshed.refresh.as_str(), signed_in.refresh.as_str());
    assert_eq!(refreshed.principal.session_id, signed_in.principal.session_id);
    let replay = auth_error(identity.refresh(signed_in.refresh.as_str(), t(21)).await);
    assert!(matches!(replay, AuthError::Revoked { .. }), "{replay}");
    assert!(matches!(auth_error(identity.refresh(refreshed.refresh.as_str(), t(21)).await), AuthError::Revoked { .. }), "the family is revoked");

    // Idle sessions end; sign-out ends a session.
    let second = identity.sign_in(TENANT, "li.na", PASSWORD, None, t(30)).await.unwrap();
    assert!(matches!(auth_error(identity.refresh(second.refresh.as_str(), t(30 + 31)).await), AuthError::Expired { .. }));
    let third = identity.sign_in(TENANT, "li.na", PASSWORD, None, t(70)).await.unwrap();
    identity.sign_out(third.refresh.as_str(), t(71)).await.unwrap();
    assert!(identity.refresh(third.refresh.as_str(), t(72)).await.is_err());

    // With TOTP enrolled, the code is required, and a code is never accepted twice.
    let totp = Totp::default();
    let secret = TotpSecret::generate();
    let unix = |at: DateTime<Utc>| u64::try_from(at.timestamp()).unwrap();
    let user = identity.store().user_by_name(TENANT, "li.na").await.unwrap().unwrap();
    identity.enable_totp(&user, &secret, &totp.code_at(&secret, unix(t(80))), t(80)).await.unwrap();
    let missing = auth_error(identity.sign_in(TENANT, "li.na", PASSWORD, None, t(81)).await);
    assert!(missing.to_string().contains("TOTP code is required"), "{missing}");
    let code = totp.code_at(&secret, unix(t(82)));
    let with_otp = identity.sign_in(TENANT, "li.na", PASSWORD, Some(&code), t(82)).await.unwrap();
    assert_eq!(with_otp.principal.method, AuthMethod::PasswordOtp);
    assert!(identity.sign_in(TENANT, "li.na", PASSWORD, Some(&code), t(82)).await.is_err(), "replayed code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_lockout_totp_and_sessions_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    scenario(Store::connect(&format!("sqlite://{}/trust.db", dir.path().display())).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_lockout_totp_and_sessions_on_postgres() {
    let Some(server) = brain_testkit::engines::postgres() else { return };
    let db = brain_testkit::postgres::fresh_database(&server).await.unwrap();
    scenario(Store::connect(db.url()).await.unwrap()).await;
    db.drop_now().await.unwrap();
}
