//! Authorized use of data (授权才可用): a consumer tenant asks for a registered data product
//! for a purpose, fields and a data period; the owner approves — possibly narrowed — or
//! denies; a grant ends when it expires or is revoked. A read under a grant sees only the
//! granted fields of the rows in its period, with fields graded above its cap masked.

use super::products::Product;
use brain_core::{ErrorCode, ServiceError, Violation};
use brain_governance::domain::{Grade, MaskingTable};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// The longest a grant may run, and the most a purpose may say.
pub const MAX_GRANT_DAYS: i64 = 366;
pub const MAX_PURPOSE_CHARS: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    Requested,
    Active,
    Denied,
    Revoked,
    /// Not stored: an active grant past its expiry.
    Expired,
}

/// A range of event times: `start` inclusive, `end` exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Period {
    pub fn contains(&self, time: DateTime<Utc>) -> bool {
        self.start <= time && time < self.end
    }

    fn within(&self, outer: &Period) -> bool {
        outer.start <= self.start && self.end <= outer.end
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub product_id: String,
    pub owner_tenant: String,
    pub dataset: String,
    pub consumer_tenant: String,
    pub purpose: String,
    pub fields: BTreeSet<String>,
    pub max_grade: Grade,
    pub data_period: Period,
    pub expires_at: DateTime<Utc>,
    pub status: GrantStatus,
    pub requested_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

/// What a consumer asks for.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct AccessRequest {
    pub purpose: String,
    pub fields: Vec<String>,
    pub data_period: Period,
    pub expires_at: DateTime<Utc>,
}

/// What an owner may take away when approving; `None` keeps the request's value.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Narrowing {
    pub fields: Option<Vec<String>>,
    pub max_grade: Option<Grade>,
    pub data_period: Option<Period>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GrantError {
    #[error("the access request is invalid")]
    Invalid(Vec<Violation>),
    #[error("only the owner tenant {owner} may {action} this grant")]
    NotOwner { owner: String, action: &'static str },
    #[error("the grant is {status:?}; it must be {expected:?} to {action} it")]
    WrongStatus { status: GrantStatus, expected: GrantStatus, action: &'static str },
    #[error("no access: {0}")]
    Refused(String),
}

impl ServiceError for GrantError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Invalid(_) => ErrorCode::InvalidArgument,
            Self::NotOwner { .. } | Self::Refused(_) => ErrorCode::PermissionDenied,
            Self::WrongStatus { .. } => ErrorCode::FailedPrecondition,
        }
    }

    fn violations(&self) -> Vec<Violation> {
        match self {
            Self::Invalid(v) => v.clone(),
            _ => Vec::new(),
        }
    }
}

fn violation(field: &str, rule: &str, reason: String) -> Violation {
    Violation { field: Some(field.to_owned()), rule: rule.to_owned(), reason, ..Violation::default() }
}

/// Opens a request for `product` by `consumer`; every problem with it is reported at once.
pub fn request(id: String, product: &Product, consumer: &str, ask: AccessRequest, now: DateTime<Utc>) -> Result<Grant, GrantError> {
    let mut violations = Vec::new();
    if consumer == product.owner_tenant {
        violations.push(violation("product_id", "own_data", "a tenant reads its own data without a grant".into()));
    }
    if !product.is_registered() {
        violations.push(violation("product_id", "registered", format!("product {} is withdrawn", product.id)));
    }
    let purpose_chars = ask.purpose.trim().chars().count();
    if purpose_chars == 0 || purpose_chars > MAX_PURPOSE_CHARS {
        violations.push(violation("purpose", "purpose", format!("state the purpose in 1-{MAX_PURPOSE_CHARS} characters")));
    }
    if ask.fields.is_empty() {
        violations.push(violation("fields", "fields", "ask for at least one field".into()));
    }
    for field in &ask.fields {
        if !product.fields.contains(field) {
            violations.push(violation("fields", "product_field", format!("`{field}` is not offered by product {}", product.id)));
        }
    }
    violations.extend(check_times(&ask.data_period, ask.expires_at, now));
    if !violations.is_empty() {
        return Err(GrantError::Invalid(violations));
    }
    Ok(Grant {
        id,
        product_id: product.id.clone(),
        owner_tenant: product.owner_tenant.clone(),
        dataset: product.dataset.clone(),
        consumer_tenant: consumer.to_owned(),
        purpose: ask.purpose.trim().to_owned(),
        fields: ask.fields.into_iter().collect(),
        max_grade: product.max_grade,
        data_period: ask.data_period,
        expires_at: ask.expires_at,
        status: GrantStatus::Requested,
        requested_at: now,
        decided_at: None,
        decided_by: None,
        reason: None,
    })
}

fn check_times(period: &Period, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Violation> {
    let mut violations = Vec::new();
    if period.start >= period.end {
        violations.push(violation("data_period", "period", "the period's start must be before its end".into()));
    }
    if expires_at <= now {
        violations.push(violation("expires_at", "expiry", "the expiry must be in the future".into()));
    } else if expires_at > now + Duration::days(MAX_GRANT_DAYS) {
        violations.push(violation("expires_at", "expiry", format!("a grant runs at most {MAX_GRANT_DAYS} days")));
    }
    violations
}

fn decide_as_owner(grant: &Grant, tenant: &str, action: &'static str) -> Result<(), GrantError> {
    if tenant != grant.owner_tenant {
        return Err(GrantError::NotOwner { owner: grant.owner_tenant.clone(), action });
    }
    if grant.status != GrantStatus::Requested {
        return Err(GrantError::WrongStatus { status: grant.status, expected: GrantStatus::Requested, action });
    }
    Ok(())
}

/// The owner approves, possibly narrowing: fewer fields, a lower grade cap, a shorter period or
/// an earlier expiry — never more than was asked.
pub fn approve(grant: &Grant, tenant: &str, actor: &str, narrowing: Narrowing, reason: Option<String>, now: DateTime<Utc>) -> Result<Grant, GrantError> {
    decide_as_owner(grant, tenant, "approve")?;
    let mut violations = Vec::new();
    let fields: BTreeSet<String> = match narrowing.fields {
        Some(fields) => {
            for field in fields.iter().filter(|f| !grant.fields.contains(*f)) {
                violations.push(violation("fields", "narrowing", format!("`{field}` was not requested; approval can only remove fields")));
            }
            if fields.is_empty() {
                violations.push(violation("fields", "narrowing", "approve at least one field, or deny".into()));
            }
            fields.into_iter().collect()
        }
        None => grant.fields.clone(),
    };
    let max_grade = narrowing.max_grade.unwrap_or(grant.max_grade);
    if max_grade > grant.max_grade {
        violations.push(violation("max_grade", "narrowing", format!("the product caps the grade at {}", grant.max_grade.as_str())));
    }
    let data_period = narrowing.data_period.unwrap_or(grant.data_period);
    if !data_period.within(&grant.data_period) {
        violations.push(violation("data_period", "narrowing", "the period must lie within the requested one".into()));
    }
    let expires_at = narrowing.expires_at.unwrap_or(grant.expires_at);
    if expires_at > grant.expires_at {
        violations.push(violation("expires_at", "narrowing", "the expiry may only come earlier than requested".into()));
    }
    violations.extend(check_times(&data_period, expires_at, now));
    if !violations.is_empty() {
        return Err(GrantError::Invalid(violations));
    }
    Ok(Grant {
        fields,
        max_grade,
        data_period,
        expires_at,
        status: GrantStatus::Active,
        decided_at: Some(now),
        decided_by: Some(actor.to_owned()),
        reason,
        ..grant.clone()
    })
}

pub fn deny(grant: &Grant, tenant: &str, actor: &str, reason: String, now: DateTime<Utc>) -> Result<Grant, GrantError> {
    decide_as_owner(grant, tenant, "deny")?;
    Ok(Grant { status: GrantStatus::Denied, decided_at: Some(now), decided_by: Some(actor.to_owned()), reason: Some(reason), ..grant.clone() })
}

/// The owner withdraws an active grant, or the consumer gives it up; it ends at once.
pub fn revoke(grant: &Grant, tenant: &str, actor: &str, reason: String, now: DateTime<Utc>) -> Result<Grant, GrantError> {
    if tenant != grant.owner_tenant && tenant != grant.consumer_tenant {
        return Err(GrantError::NotOwner { owner: grant.owner_tenant.clone(), action: "revoke" });
    }
    match status_at(grant, now) {
        GrantStatus::Active => {}
        status => return Err(GrantError::WrongStatus { status, expected: GrantStatus::Active, action: "revoke" }),
    }
    Ok(Grant { status: GrantStatus::Revoked, decided_at: Some(now), decided_by: Some(actor.to_owned()), reason: Some(reason), ..grant.clone() })
}

/// The status as of `now`: an active grant past its expiry is expired.
pub fn status_at(grant: &Grant, now: DateTime<Utc>) -> GrantStatus {
    match grant.status {
        GrantStatus::Active if now >= grant.expires_at => GrantStatus::Expired,
        status => status,
    }
}

/// What a read under a grant may see.
#[derive(Clone, Debug, PartialEq)]
pub struct Access {
    pub grant_id: String,
    pub fields: BTreeSet<String>,
    pub max_grade: Grade,
    pub data_period: Period,
}

/// Whether `consumer` may read through `grant` now: the grant is theirs, active and not
/// expired, and its product is still registered (withdrawal stops circulation).
pub fn access(grant: &Grant, product: &Product, consumer: &str, now: DateTime<Utc>) -> Result<Access, GrantError> {
    if grant.consumer_tenant != consumer {
        return Err(GrantError::Refused(format!("grant {} is not for tenant {consumer}", grant.id)));
    }
    match status_at(grant, now) {
        GrantStatus::Active => {}
        status => return Err(GrantError::Refused(format!("grant {} is {status:?}", grant.id).to_lowercase())),
    }
    if !product.is_registered() || product.id != grant.product_id {
        return Err(GrantError::Refused(format!("product {} is not registered for circulation", grant.product_id)));
    }
    let fields = grant.fields.iter().filter(|f| product.fields.contains(*f)).cloned().collect();
    Ok(Access { grant_id: grant.id.clone(), fields, max_grade: grant.max_grade.min(product.max_grade), data_period: grant.data_period })
}

/// One record as a read under `access` returns it: None when its event time is outside the
/// period or the product's filters exclude it; otherwise only granted fields, and those graded
/// above the cap masked by their grade's policy (dropped when the policy drops them).
pub fn shape_record(
    record: &Map<String, Value>,
    event_time: DateTime<Utc>,
    access: &Access,
    product: &Product,
    grades: &HashMap<String, Grade>,
    masking: &MaskingTable,
) -> Option<Map<String, Value>> {
    if !access.data_period.contains(event_time) || !product.includes(record) {
        return None;
    }
    let mut shaped = Map::new();
    for (field, value) in record.iter().filter(|(f, _)| access.fields.contains(*f)) {
        // A field the classification does not know is treated as high: unknown is not safe.
        let grade = grades.get(field).copied().unwrap_or(Grade::High);
        let shown = if grade > access.max_grade { masking.mask(value, grade, None) } else { Some(value.clone()) };
        if let Some(shown) = shown {
            shaped.insert(field.clone(), shown);
        }
    }
    Some(shaped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::products::{Filter, ProductStatus};
    use brain_governance::domain::MaskingPolicy;
    use serde_json::json;

    fn at(day: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T00:00:00Z")).unwrap().with_timezone(&Utc)
    }

    fn product() -> Product {
        Product {
            id: "DP-2026-000001".into(),
            owner_tenant: "91330100MA27XKQ717".into(),
            dataset: "production-output".into(),
            title: "Output per line".into(),
            fields: vec!["line".into(), "output_m".into(), "operator_id".into()],
            filters: vec![Filter::parse(r#"line != "L9""#).unwrap()],
            max_grade: Grade::Medium,
            terms: String::new(),
            price_fen: 0,
            status: ProductStatus::Registered,
        }
    }

    fn ask() -> AccessRequest {
        AccessRequest {
            purpose: "capacity planning for the cluster (产能规划)".into(),
            fields: vec!["line".into(), "output_m".into(), "operator_id".into()],
            data_period: Period { start: at(1), end: at(20) },
            expires_at: at(30),
        }
    }

    fn requested() -> Grant {
        request("g1".into(), &product(), "bank-1", ask(), at(10)).unwrap()
    }

    #[test]
    fn a_request_is_checked_whole() {
        let g = requested();
        assert_eq!((g.status, g.max_grade, g.owner_tenant.as_str()), (GrantStatus::Requested, Grade::Medium, "91330100MA27XKQ717"));
        let bad = AccessRequest { purpose: " ".into(), fields: vec!["salary".into()], data_period: Period { start: at(5), end: at(5) }, expires_at: at(9) };
        let GrantError::Invalid(v) = request("g2".into(), &product(), "91330100MA27XKQ717", bad, at(10)).unwrap_err() else { panic!() };
        let rules: Vec<&str> = v.iter().map(|v| v.rule.as_str()).collect();
        assert_eq!(rules, ["own_data", "purpose", "product_field", "period", "expiry"]);
        let far = AccessRequest { expires_at: at(10) + Duration::days(MAX_GRANT_DAYS + 1), ..ask() };
        assert!(request("g3".into(), &product(), "bank-1", far, at(10)).is_err());
        let withdrawn = Product { status: ProductStatus::Withdrawn, ..product() };
        assert!(request("g4".into(), &withdrawn, "bank-1", ask(), at(10)).is_err(), "only registered products circulate");
    }

    #[test]
    fn only_the_owner_decides_and_narrowing_only_narrows() {
        let g = requested();
        assert!(matches!(approve(&g, "bank-1", "u", Narrowing::default(), None, at(10)), Err(GrantError::NotOwner { .. })));
        let narrowed = Narrowing {
            fields: Some(vec!["line".into(), "output_m".into()]),
            max_grade: Some(Grade::Low),
            data_period: Some(Period { start: at(5), end: at(15) }),
            expires_at: Some(at(20)),
        };
        let active = approve(&g, &g.owner_tenant, "owner-admin", narrowed, None, at(11)).unwrap();
        assert_eq!(active.status, GrantStatus::Active);
        assert_eq!(active.fields.len(), 2);
        assert_eq!((active.max_grade, active.expires_at), (Grade::Low, at(20)));
        let widened = Narrowing { fields: Some(vec!["salary".into()]), max_grade: Some(Grade::High), expires_at: Some(at(30) + Duration::days(1)), ..Narrowing::default() };
        let GrantError::Invalid(v) = approve(&g, &g.owner_tenant, "o", widened, None, at(11)).unwrap_err() else { panic!() };
        assert_eq!(v.len(), 3, "{v:?}");
        assert!(matches!(approve(&active, &g.owner_tenant, "o", Narrowing::default(), None, at(11)), Err(GrantError::WrongStatus { .. })));
        assert_eq!(deny(&g, &g.owner_tenant, "o", "no purpose fit".into(), at(11)).unwrap().status, GrantStatus::Denied);
    }

    #[test]
    fn expiry_revocation_and_withdrawal_end_access() {
        let active = approve(&requested(), "91330100MA27XKQ717", "o", Narrowing::default(), None, at(11)).unwrap();
        assert!(access(&active, &product(), "bank-1", at(12)).is_ok());
        assert!(access(&active, &product(), "bank-2", at(12)).is_err(), "another consumer");
        assert_eq!(status_at(&active, at(30)), GrantStatus::Expired);
        assert!(access(&active, &product(), "bank-1", at(30)).unwrap_err().to_string().contains("expired"));
        let withdrawn = Product { status: ProductStatus::Withdrawn, ..product() };
        assert!(access(&active, &withdrawn, "bank-1", at(12)).is_err());
        let revoked = revoke(&active, "bank-1", "consumer", "no longer needed".into(), at(12)).unwrap();
        assert!(access(&revoked, &product(), "bank-1", at(12)).is_err());
        assert!(matches!(revoke(&revoked, "91330100MA27XKQ717", "o", "again".into(), at(12)), Err(GrantError::WrongStatus { .. })));
        assert!(matches!(revoke(&active, "someone-else", "x", "r".into(), at(12)), Err(GrantError::NotOwner { .. })));
    }

    #[test]
    fn a_read_sees_granted_fields_of_rows_in_period_masked_above_the_cap() {
        let narrowed = Narrowing { fields: Some(vec!["line".into(), "operator_id".into()]), max_grade: Some(Grade::Low), ..Narrowing::default() };
        let active = approve(&requested(), "91330100MA27XKQ717", "o", narrowed, None, at(11)).unwrap();
        let access = access(&active, &product(), "bank-1", at(12)).unwrap();
        let grades = HashMap::from([("line".to_owned(), Grade::Low), ("operator_id".to_owned(), Grade::High)]);
        let masking = MaskingTable { low: MaskingPolicy::Keep, medium: MaskingPolicy::Generalize { significant_digits: 1 }, high: MaskingPolicy::PartialMask { keep_first: None, keep_last: None } };
        let record = json!({"line": "L1", "output_m": 1200, "operator_id": "330102199003071234"}).as_object().unwrap().clone();
        let shaped = shape_record(&record, at(3), &access, &product(), &grades, &masking).unwrap();
        assert_eq!(shaped.get("line"), Some(&json!("L1")));
        assert!(!shaped.contains_key("output_m"), "not granted: absent");
        assert_eq!(shaped.get("operator_id"), Some(&json!(format!("3{}4", "*".repeat(16)))), "high above the low cap: masked by the high policy");
        assert!(shape_record(&record, at(25), &access, &product(), &grades, &masking).is_none(), "outside the period");
        let excluded = json!({"line": "L9"}).as_object().unwrap().clone();
        assert!(shape_record(&excluded, at(3), &access, &product(), &grades, &masking).is_none(), "outside the product's rows");
    }
}
