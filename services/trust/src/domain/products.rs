//! Data products (数据产品): the registered subset of a dataset that may circulate outside its
//! owner — which fields, which rows (filters), up to which grade unmasked, on which terms.

use brain_core::Violation;
use brain_governance::domain::Grade;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Limits on what a registration may carry.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_TERMS_CHARS: usize = 10_000;
pub const MAX_FILTERS: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Registered,
    Withdrawn,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Registration id (登记编号).
    pub id: String,
    pub owner_tenant: String,
    pub dataset: String,
    pub title: String,
    pub fields: Vec<String>,
    pub filters: Vec<Filter>,
    /// Fields graded above this are masked in every read of the product.
    pub max_grade: Grade,
    pub terms: String,
    /// Price per read in fen (分).
    pub price_fen: i64,
    pub status: ProductStatus,
}

impl Product {
    pub fn is_registered(&self) -> bool {
        self.status == ProductStatus::Registered
    }

    /// Whether a record is among the product's rows.
    pub fn includes(&self, record: &Map<String, Value>) -> bool {
        self.filters.iter().all(|f| f.matches(record))
    }
}

/// What a registration asks for, before it has an id.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Registration {
    pub dataset: String,
    pub title: String,
    pub fields: Vec<String>,
    #[serde(default)]
    pub filters: Vec<String>,
    pub max_grade: Grade,
    #[serde(default)]
    pub terms: String,
    #[serde(default)]
    pub price_fen: i64,
}

/// Checks a registration against the dataset's schema fields; returns the parsed filters or
/// every reason it is refused.
pub fn check_registration(registration: &Registration, schema_fields: &[&str]) -> Result<Vec<Filter>, Vec<Violation>> {
    let mut violations = Vec::new();
    let mut refuse = |field: &str, rule: &str, reason: String| {
        violations.push(Violation { field: Some(field.to_owned()), rule: rule.to_owned(), reason, ..Violation::default() });
    };
    if registration.title.trim().is_empty() || registration.title.chars().count() > MAX_TITLE_CHARS {
        refuse("title", "title", format!("a title of 1-{MAX_TITLE_CHARS} characters is required"));
    }
    if registration.terms.chars().count() > MAX_TERMS_CHARS {
        refuse("terms", "terms", format!("at most {MAX_TERMS_CHARS} characters"));
    }
    if registration.price_fen < 0 {
        refuse("price_fen", "price", "must not be negative".into());
    }
    if registration.fields.is_empty() {
        refuse("fields", "fields", "a product offers at least one field".into());
    }
    for field in &registration.fields {
        if !schema_fields.contains(&field.as_str()) {
            refuse("fields", "known_field", format!("`{field}` is not a field of dataset {}", registration.dataset));
        }
    }
    if registration.filters.len() > MAX_FILTERS {
        refuse("filters", "filters", format!("at most {MAX_FILTERS} filters"));
    }
    let mut filters = Vec::new();
    for (i, text) in registration.filters.iter().enumerate() {
        match Filter::parse(text) {
            Ok(filter) if schema_fields.contains(&filter.field.as_str()) => filters.push(filter),
            Ok(filter) => refuse("filters", "known_field", format!("filter {i}: `{}` is not a field of dataset {}", filter.field, registration.dataset)),
            Err(reason) => refuse("filters", "filter", format!("filter {i} `{text}`: {reason}")),
        }
    }
    if violations.is_empty() { Ok(filters) } else { Err(violations) }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterOp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl std::fmt::Display for Filter {
    /// The text [`Filter::parse`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = FilterOp::SPELLINGS.iter().find(|(_, op)| *op == self.op).map_or("=", |(spelling, _)| *spelling);
        write!(f, "{} {op} {}", self.field, self.value)
    }
}

impl FilterOp {
    /// Longest first, so `<=` is not read as `<`.
    const SPELLINGS: [(&'static str, FilterOp); 6] =
        [("!=", Self::Ne), ("<=", Self::Le), (">=", Self::Ge), ("=", Self::Eq), ("<", Self::Lt), (">", Self::Gt)];
}

/// One row filter: `field op value`, where value is a JSON literal (`"L1"`, `1200`, `true`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub field: String,
    pub op: FilterOp,
    pub value: Value,
}

impl Filter {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (at, spelling, op) = FilterOp::SPELLINGS
            .iter()
            .filter_map(|(spelling, op)| text.find(spelling).map(|at| (at, *spelling, *op)))
            .min_by_key(|(at, spelling, _)| (*at, std::cmp::Reverse(spelling.len())))
            .ok_or("expected `field op value` with op one of = != < <= > >=")?;
        let field = text[..at].trim();
        if field.is_empty() || !field.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.') {
            return Err(format!("`{field}` is not a field name"));
        }
        let literal = text[at + spelling.len()..].trim();
        let value: Value = serde_json::from_str(literal).map_err(|_| format!("`{literal}` is not a JSON literal (quote strings: \"L1\")"))?;
        match (&value, op) {
            (Value::String(_) | Value::Number(_) | Value::Bool(_), FilterOp::Eq | FilterOp::Ne) => {}
            (Value::String(_) | Value::Number(_), _) => {}
            _ => return Err(format!("`{literal}` cannot be compared with {spelling}")),
        }
        Ok(Self { field: field.to_owned(), op, value })
    }

    /// A record without the field, or with a value of another type, is not matched.
    pub fn matches(&self, record: &Map<String, Value>) -> bool {
        use std::cmp::Ordering;
        let Some(actual) = record.get(&self.field) else { return false };
        let ordering = match (actual, &self.value) {
            (Value::Number(a), Value::Number(b)) => a.as_f64().zip(b.as_f64()).and_then(|(a, b)| a.partial_cmp(&b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        };
        let Some(ordering) = ordering else { return false };
        match self.op {
            FilterOp::Eq => ordering == Ordering::Equal,
            FilterOp::Ne => ordering != Ordering::Equal,
            FilterOp::Lt => ordering == Ordering::Less,
            FilterOp::Le => ordering != Ordering::Greater,
            FilterOp::Gt => ordering == Ordering::Greater,
            FilterOp::Ge => ordering != Ordering::Less,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn filters_parse_and_match() {
        let f = Filter::parse(r#"line = "L1""#).unwrap();
        assert_eq!((f.field.as_str(), f.op), ("line", FilterOp::Eq));
        assert!(f.matches(&record(json!({"line": "L1"}))));
        assert!(!f.matches(&record(json!({"line": "L2"}))));
        assert!(!f.matches(&record(json!({"other": "L1"}))), "a missing field never matches");
        let ge = Filter::parse("output_m>=1000").unwrap();
        assert_eq!(ge.op, FilterOp::Ge);
        assert!(ge.matches(&record(json!({"output_m": 1000}))));
        assert!(!ge.matches(&record(json!({"output_m": 999.5}))));
        assert!(!ge.matches(&record(json!({"output_m": "1000"}))), "types are not coerced");
        assert_eq!(Filter::parse("a <= 3").unwrap().op, FilterOp::Le);
        assert_eq!(Filter::parse("a != true").unwrap().op, FilterOp::Ne);
    }

    #[test]
    fn bad_filters_say_why() {
        assert!(Filter::parse("line L1").unwrap_err().contains("field op value"));
        assert!(Filter::parse("line = L1").unwrap_err().contains("quote strings"));
        assert!(Filter::parse(" = 3").unwrap_err().contains("not a field name"));
        assert!(Filter::parse("ok > true").unwrap_err().contains("cannot be compared"));
        assert!(Filter::parse("x = [1]").unwrap_err().contains("cannot be compared"));
    }

    #[test]
    fn registrations_are_checked_against_the_schema() {
        let schema = ["line", "output_m", "operator_id"];
        let mut registration = Registration {
            dataset: "production-output".into(),
            title: "Output per line".into(),
            fields: vec!["line".into(), "output_m".into()],
            filters: vec![r#"line != "L9""#.into()],
            max_grade: Grade::Medium,
            terms: String::new(),
            price_fen: 0,
        };
        assert_eq!(check_registration(&registration, &schema).unwrap().len(), 1);
        registration.fields.push("salary".into());
        registration.filters.push("colour = \"red\"".into());
        registration.price_fen = -1;
        let violations = check_registration(&registration, &schema).unwrap_err();
        let reasons: Vec<&str> = violations.iter().map(|v| v.reason.as_str()).collect();
        assert_eq!(
            reasons,
            ["must not be negative", "`salary` is not a field of dataset production-output", "filter 1: `colour` is not a field of dataset production-output"]
        );
    }
}
