#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! Products and grants in the trust store, on SQLite and PostgreSQL: each party sees a grant
//! through its own tenant scope, a third tenant does not, and only an active, unexpired grant
//! is found for a read.

use brain_governance::domain::Grade;
use brain_store::Store;
use brain_trust::TrustError;
use brain_trust::domain::grants::{self, AccessRequest, GrantStatus, Narrowing, Period};
use brain_trust::domain::{Product, ProductStatus};
use brain_trust::store::{MIGRATIONS, Side, TrustStore};
use chrono::{DateTime, Duration, Utc};

const OWNER: &str = "91330100MA27XKQ71B";
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
