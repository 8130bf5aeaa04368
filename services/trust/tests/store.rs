#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! Products and grants in the trust store, on SQLite and PostgreSQL: each party sees a grant
//! through its own tenant scope, a third tenant does not, and only an active, unexpired grant
//! is found for a read.

use brain_governance::domain::Grade;
use brain_store::Store;
use brain_trust::TrustError;
use brain_trust::domain::grants::{self, AccessRequest, GrantStatus, Narrowing, Period};
use brain_trust::domain::{Product, ProductStatus};
use brain_trust::store::{ApiKeyRow, MIGRATIONS, SessionRow, Side, TenantRow, TrustStore, UserRow};
use chrono::{DateTime, Duration, Utc};

const OWNER: &str = "91330100MA27XKQ717";
const CONSUMER: &str = "bank-hz-01";

fn at(day: u32) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T00:00:00Z")).unwrap().with_timezone(&Utc)
}

fn product(id: &str) -> Product {
    Product {
        id: id.into(),
        owner_tenant: OWNER.into(),
        dataset: "production-output".into(),
        title: "Output per line".into(),
        fields: vec!["line".into(), "output_m".into()],
        filters: vec![],
        max_grade: Grade::Medium,
        terms: "for credit assessment only".into(),
        price_fen: 0,
        status: ProductStatus::Registered,
    }
}

async fn scenario(store: Store) {
    store.migrate(&brain_store::PLATFORM).await.unwrap();
    store.migrate(&MIGRATIONS).await.unwrap();
    let trust = TrustStore::new(store);

    let mut tx = trust.begin().await.unwrap();
    trust.save_product(&mut tx, &product("DP-1"), at(1)).await.unwrap();
    trust.save_product(&mut tx, &Product { owner_tenant: "other-owner".into(), ..product("DP-2") }, at(1)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trust.product("DP-1").await.unwrap().title, "Output per line");
    assert!(matches!(trust.product("DP-9").await, Err(TrustError::NotFound { .. })));
    assert_eq!(trust.registered_products(None, "", 10).await.unwrap().len(), 2, "the catalog is the brain's");
    assert_eq!(trust.registered_products(Some(OWNER), "", 10).await.unwrap().len(), 1);

    let ask = AccessRequest { purpose: "credit".into(), fields: vec!["line".into()], data_period: Period { start: at(1), end: at(10) }, expires_at: at(20) };
    let requested = grants::request("G-1".into(), &product("DP-1"), CONSUMER, ask, at(2)).unwrap();
    let mut tx = trust.begin().await.unwrap();
    trust.save_grant(&mut tx, &requested).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trust.grant(OWNER, "G-1").await.unwrap(), requested);
    assert_eq!(trust.grant(CONSUMER, "G-1").await.unwrap(), requested);
    assert!(matches!(trust.grant("bystander", "G-1").await, Err(TrustError::NotFound { .. })), "a third tenant sees nothing");
    assert_eq!(trust.grants(OWNER, Side::Granted, None, "", 10).await.unwrap().len(), 1);
    assert_eq!(trust.grants(OWNER, Side::Received, None, "", 10).await.unwrap().len(), 0);
    assert_eq!(trust.grants(CONSUMER, Side::Received, Some(GrantStatus::Requested), "", 10).await.unwrap().len(), 1);
    assert!(trust.active_grants(CONSUMER, OWNER, "production-output", at(3)).await.unwrap().is_empty(), "not approved yet");

    let active = grants::approve(&requested, OWNER, "owner-admin", Narrowing::default(), None, at(3)).unwrap();
    let mut tx = trust.begin().await.unwrap();
    trust.save_grant(&mut tx, &active).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trust.grants(CONSUMER, Side::Received, Some(GrantStatus::Requested), "", 10).await.unwrap().len(), 0);
    let found = trust.active_grants(CONSUMER, OWNER, "production-output", at(4)).await.unwrap();
    assert_eq!(found, vec![active.clone()]);
    assert!(trust.active_grants(CONSUMER, OWNER, "production-output", at(20)).await.unwrap().is_empty(), "expired");
    assert!(trust.active_grants("bystander", OWNER, "production-output", at(4)).await.unwrap().is_empty());

    let revoked = grants::revoke(&active, OWNER, "owner-admin", "audit finding".into(), at(5)).unwrap();
    let mut tx = trust.begin().await.unwrap();
    trust.save_grant(&mut tx, &revoked).await.unwrap();
    tx.commit().await.unwrap();
    assert!(trust.active_grants(CONSUMER, OWNER, "production-output", at(5) + Duration::seconds(1)).await.unwrap().is_empty(), "revoked at once");
    assert_eq!(trust.grant(CONSUMER, "G-1").await.unwrap().status, GrantStatus::Revoked);

    let mut tx = trust.begin().await.unwrap();
    trust.save_product(&mut tx, &Product { status: ProductStatus::Withdrawn, ..product("DP-1") }, at(1)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trust.registered_products(None, "", 10).await.unwrap().len(), 1, "withdrawn products leave the catalog");
}

async fn identity(store: Store) {
    store.migrate(&brain_store::PLATFORM).await.unwrap();
    store.migrate(&MIGRATIONS).await.unwrap();
    let trust = TrustStore::new(store);
    let mut tx = trust.begin().await.unwrap();
    for (id, kind) in [(OWNER, "enterprise"), (CONSUMER, "bank")] {
        trust.create_tenant(&mut tx, &TenantRow { id: id.into(), kind: kind.into(), name: format!("{kind} {id}"), created_at: at(1) }).await.unwrap();
    }
    let user = UserRow {
        tenant: OWNER.into(),
        id: "u1".into(),
        username: "zhang.wei".into(),
        display_name: "张伟".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        roles: vec!["enterprise-admin".into()],
        totp_secret: None,
        totp_last_step: 0,
        failed_sign_ins: 0,
        locked_until: None,
        created_at: at(1),
    };
    trust.create_user(&mut tx, &user).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trust.tenants("", 10).await.unwrap().len(), 2);

    let mut tx = trust.begin().await.unwrap();
    let again = trust.create_user(&mut tx, &UserRow { id: "u2".into(), ..user.clone() }).await;
    assert!(again.is_err(), "one user name per tenant");
    drop(tx);
    assert_eq!(trust.user_by_name(OWNER, "zhang.wei").await.unwrap(), Some(user.clone()));
    assert_eq!(trust.user_by_name(CONSUMER, "zhang.wei").await.unwrap(), None, "scoped by tenant");
    let locked = UserRow { failed_sign_ins: 5, locked_until: Some(at(2)), totp_last_step: 7, ..user.clone() };
    let mut tx = trust.begin().await.unwrap();
    trust.record_sign_in(&mut tx, &locked).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trust.user_by_name(OWNER, "zhang.wei").await.unwrap(), Some(locked));

    let session = SessionRow {
        tenant: OWNER.into(),
        id: "s1".into(),
        family_id: "f1".into(),
        user_id: "u1".into(),
        refresh_hash: "h1".into(),
        created_at: at(1),
        last_used_at: at(1),
        expires_at: at(2),
        rotated_at: None,
        revoked_at: None,
    };
    let next = SessionRow { id: "s2".into(), refresh_hash: "h2".into(), ..session.clone() };
    let mut tx = trust.begin().await.unwrap();
    trust.create_session(&mut tx, &session).await.unwrap();
    trust.mark_rotated(&mut tx, &session, at(1) + Duration::minutes(5)).await.unwrap();
    trust.create_session(&mut tx, &next).await.unwrap();
    tx.commit().await.unwrap();
    let found = trust.session_by_refresh_hash("h1").await.unwrap().unwrap();
    assert!(found.rotated_at.is_some(), "the old token is known as replaced");
    let mut tx = trust.begin().await.unwrap();
    assert_eq!(trust.revoke_family(&mut tx, OWNER, "f1", at(1) + Duration::minutes(6)).await.unwrap(), 2);
    tx.commit().await.unwrap();
    assert!(trust.session_by_refresh_hash("h2").await.unwrap().unwrap().revoked_at.is_some());

    let secret = brain_auth::ApiKey::generate();
    let key = ApiKeyRow {
        tenant: CONSUMER.into(),
        id: secret.key_id().to_owned(),
        name: "risk engine".into(),
        key_hash: secret.hash(),
        scope: serde_json::json!({"services": ["governance"], "datasets": []}),
        roles: vec!["enterprise-user".into()],
        created_at: at(1),
        expires_at: Some(at(30)),
        revoked_at: None,
    };
    let mut tx = trust.begin().await.unwrap();
    trust.create_api_key(&mut tx, &key).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trust.api_key(&key.id).await.unwrap(), Some(key.clone()));
    // The authentication layer's view: the presented key authenticates as the consumer tenant.
    let resolver = brain_trust::keys::StoredKeys::new(trust.clone());
    let record = brain_auth::ApiKeyResolver::resolve(&resolver, &key.id).await.unwrap().unwrap();
    let principal = record.authenticate(&secret, at(2)).unwrap();
    assert_eq!(principal.tenant, CONSUMER);
    assert!(record.authenticate(&brain_auth::ApiKey::generate(), at(2)).is_err(), "another key with another id and hash");
    assert!(record.authenticate(&secret, at(30)).is_err(), "expired");
    assert_eq!(trust.api_keys(CONSUMER, "", 10).await.unwrap().len(), 1);
    assert!(trust.api_keys(OWNER, "", 10).await.unwrap().is_empty());
    let mut tx = trust.begin().await.unwrap();
    assert!(!trust.revoke_api_key(&mut tx, OWNER, &key.id, at(3)).await.unwrap(), "another tenant's key");
    assert!(trust.revoke_api_key(&mut tx, CONSUMER, &key.id, at(3)).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(trust.api_key(&key.id).await.unwrap().unwrap().revoked_at, Some(at(3)));
    let revoked = brain_auth::ApiKeyResolver::resolve(&resolver, &key.id).await.unwrap().unwrap();
    assert!(revoked.authenticate(&secret, at(4)).is_err(), "revoked");
}

#[tokio::test]
async fn identity_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    identity(Store::connect(&format!("sqlite://{}/trust.db", dir.path().display())).await.unwrap()).await;
}

#[tokio::test]
async fn identity_on_postgres() {
    let Some(server) = brain_testkit::engines::postgres() else { return };
    let db = brain_testkit::postgres::fresh_database(&server).await.unwrap();
    identity(Store::connect(db.url()).await.unwrap()).await;
    db.drop_now().await.unwrap();
}

#[tokio::test]
async fn products_and_grants_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/trust.db", dir.path().display())).await.unwrap();
    scenario(store).await;
}

#[tokio::test]
async fn products_and_grants_on_postgres() {
    let Some(server) = brain_testkit::engines::postgres() else { return };
    let db = brain_testkit::postgres::fresh_database(&server).await.unwrap();
    scenario(Store::connect(db.url()).await.unwrap()).await;
    db.drop_now().await.unwrap();
}
