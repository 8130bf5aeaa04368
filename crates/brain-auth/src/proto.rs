//! Conversions between the trust contract (`brain.trust.v1`) and this crate's types, shared
//! by the trust service and every process's authentication layer.

use crate::apikey::ApiKeyRecord;
use crate::principal::KeyScope;
use crate::roles::Role;
use brain_proto::trust::v1 as pb;
use chrono::{DateTime, Utc};

pub fn role_to(role: Role) -> pb::Role {
    match role {
        Role::SystemAdmin => pb::Role::SystemAdmin,
        Role::SecurityAdmin => pb::Role::SecurityAdmin,
        Role::Auditor => pb::Role::Auditor,
        Role::GovAdmin => pb::Role::GovAdmin,
        Role::GovAnalyst => pb::Role::GovAnalyst,
        Role::EnterpriseAdmin => pb::Role::EnterpriseAdmin,
        Role::EnterpriseUser => pb::Role::EnterpriseUser,
        Role::Provider => pb::Role::Provider,
        Role::Operator => pb::Role::Operator,
    }
}

pub fn role_from(value: i32) -> Result<Role, String> {
    Ok(match pb::Role::try_from(value).map_err(|_| format!("unknown role {value}"))? {
        pb::Role::SystemAdmin => Role::SystemAdmin,
        pb::Role::SecurityAdmin => Role::SecurityAdmin,
        pb::Role::Auditor => Role::Auditor,
        pb::Role::GovAdmin => Role::GovAdmin,
        pb::Role::GovAnalyst => Role::GovAnalyst,
        pb::Role::EnterpriseAdmin => Role::EnterpriseAdmin,
        pb::Role::EnterpriseUser => Role::EnterpriseUser,
        pb::Role::Provider => Role::Provider,
        pb::Role::Operator => Role::Operator,
        pb::Role::Unspecified => return Err("role is unspecified".into()),
    })
}

pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: time.timestamp(), nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0) }
}

pub fn time(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
}

/// The contract's view of a stored key (its hash travels separately, in `ResolvedApiKey`).
pub fn api_key_to(record: &ApiKeyRecord, created_at: DateTime<Utc>) -> pb::ApiKey {
    pb::ApiKey {
        id: record.id.clone(),
        tenant_id: record.tenant.clone(),
        name: record.name.clone(),
        scope: Some(pb::KeyScope { services: record.scope.services.clone(), datasets: record.scope.datasets.clone() }),
        roles: record.roles.iter().map(|r| role_to(*r) as i32).collect(),
        created_at: Some(timestamp(created_at)),
        expires_at: record.expires_at.map(timestamp),
        revoked_at: record.revoked_at.map(timestamp),
    }
}

pub fn api_key_record_from(resolved: pb::ResolvedApiKey) -> Result<ApiKeyRecord, String> {
    let key = resolved.key.ok_or("resolved API key without its record")?;
    let roles = key.roles.iter().map(|r| role_from(*r)).collect::<Result<_, _>>()?;
    let scope = key.scope.unwrap_or_default();
    Ok(ApiKeyRecord {
        id: key.id,
        tenant: key.tenant_id,
        name: key.name,
        scope: KeyScope { services: scope.services, datasets: scope.datasets },
        roles,
        expires_at: time(key.expires_at.as_ref()),
        revoked_at: time(key.revoked_at.as_ref()),
        hash: resolved.hash_hex,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(role_from(role_to(role) as i32), Ok(role));
        }
        assert!(role_from(0).is_err());
        assert!(role_from(99).is_err());
    }
}
