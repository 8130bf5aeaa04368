//! Conversions between the trust contract and the service's types.

use crate::domain::grants::Period;
use crate::domain::products::Registration;
use crate::domain::{Grant, GrantStatus, Product, ProductStatus};
use crate::store::{TenantRow, UserRow};
use brain_auth::TenantKind;
use brain_auth::proto::{role_to, time, timestamp};
use brain_governance::domain::Grade;
use brain_proto::common::v1 as common;
use brain_proto::trust::v1 as pb;

pub(crate) fn tenant_kind_from(value: i32) -> Result<TenantKind, String> {
    Ok(match common::TenantKind::try_from(value).map_err(|_| format!("unknown tenant kind {value}"))? {
        common::TenantKind::Government => TenantKind::Government,
        common::TenantKind::Enterprise => TenantKind::Enterprise,
        common::TenantKind::ServiceProvider => TenantKind::ServiceProvider,
        common::TenantKind::Bank => TenantKind::Bank,
        common::TenantKind::Unspecified => return Err("tenant kind is unspecified".into()),
    })
}

pub(crate) fn tenant_to(row: TenantRow) -> common::Tenant {
    let kind = match row.kind.as_str() {
        "government" => common::TenantKind::Government,
        "enterprise" => common::TenantKind::Enterprise,
        "service-provider" => common::TenantKind::ServiceProvider,
        "bank" => common::TenantKind::Bank,
        _ => common::TenantKind::Unspecified,
    };
    let uscc = if kind == common::TenantKind::Enterprise { row.id.clone() } else { String::new() };
    common::Tenant { id: row.id, kind: kind as i32, name: row.name, uscc }
}

pub(crate) fn user_to(row: UserRow) -> pb::User {
    pb::User {
        id: row.id,
        tenant_id: row.tenant,
        username: row.username,
        display_name: row.display_name,
        roles: row.roles.iter().filter_map(|r| r.parse().ok()).map(|r| role_to(r) as i32).collect(),
        totp_enabled: row.totp_secret.is_some(),
        locked_until: row.locked_until.map(timestamp),
        created_at: Some(timestamp(row.created_at)),
    }
}

pub(crate) fn period_from(range: Option<&common::TimeRange>) -> Option<Period> {
    let range = range?;
    Some(Period { start: time(range.start.as_ref())?, end: time(range.end.as_ref())? })
}

fn period_to(period: Period) -> common::TimeRange {
    common::TimeRange { start: Some(timestamp(period.start)), end: Some(timestamp(period.end)) }
}

fn grant_status_to(status: GrantStatus) -> pb::GrantStatus {
    match status {
        GrantStatus::Requested => pb::GrantStatus::Requested,
        GrantStatus::Active => pb::GrantStatus::Active,
        GrantStatus::Denied => pb::GrantStatus::Denied,
        GrantStatus::Revoked => pb::GrantStatus::Revoked,
        GrantStatus::Expired => pb::GrantStatus::Expired,
    }
}

pub(crate) fn grant_status_from(value: i32) -> Option<GrantStatus> {
    match pb::GrantStatus::try_from(value).ok()? {
        pb::GrantStatus::Requested => Some(GrantStatus::Requested),
        pb::GrantStatus::Active => Some(GrantStatus::Active),
        pb::GrantStatus::Denied => Some(GrantStatus::Denied),
        pb::GrantStatus::Revoked => Some(GrantStatus::Revoked),
        pb::GrantStatus::Expired => Some(GrantStatus::Expired),
        pb::GrantStatus::Unspecified => None,
    }
}

pub(crate) fn grant_to(grant: Grant) -> pb::Grant {
    let status = crate::domain::grants::status_at(&grant, chrono::Utc::now());
    pb::Grant {
        id: grant.id,
        product_id: grant.product_id,
        dataset: Some(common::DatasetRef { tenant_id: grant.owner_tenant, dataset: grant.dataset }),
        consumer_tenant_id: grant.consumer_tenant,
        purpose: grant.purpose,
        fields: grant.fields.into_iter().collect(),
        max_grade: grant.max_grade.to_proto(),
        data_period: Some(period_to(grant.data_period)),
        expires_at: Some(timestamp(grant.expires_at)),
        status: grant_status_to(status) as i32,
        decided_by: grant.decided_by.unwrap_or_default(),
        reason: grant.reason.unwrap_or_default(),
        requested_at: Some(timestamp(grant.requested_at)),
        decided_at: grant.decided_at.map(timestamp),
    }
}

pub(crate) fn product_to(product: Product, ledger_seq: u64) -> pb::DataProduct {
    let status = match product.status {
        ProductStatus::Registered => pb::ProductStatus::Registered,
        ProductStatus::Withdrawn => pb::ProductStatus::Withdrawn,
    };
    pb::DataProduct {
        id: product.id,
        dataset: Some(common::DatasetRef { tenant_id: product.owner_tenant, dataset: product.dataset }),
        title: product.title,
        description: String::new(),
        fields: product.fields,
        filters: product.filters.iter().map(ToString::to_string).collect(),
        max_grade: product.max_grade.to_proto(),
        terms: product.terms,
        price_fen: product.price_fen,
        status: status as i32,
        registered_at: None,
        ledger_seq,
    }
}

pub(crate) fn registration_from(product: pb::DataProduct) -> Result<Registration, String> {
    let dataset = product.dataset.ok_or("product.dataset is required")?;
    Ok(Registration {
        dataset: dataset.dataset,
        title: product.title,
        fields: product.fields,
        filters: product.filters,
        max_grade: Grade::from_proto(product.max_grade).ok_or("product.max_grade is required")?,
        terms: product.terms,
        price_fen: product.price_fen,
    })
}

