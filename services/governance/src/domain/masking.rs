//! Masking policies per grade, for the trust layer to apply on read.
//!
//! The per-grade table lives in the rules (data, not code); the per-brain hash salt does not: it is a
//! secret, injected at runtime with [`MaskingTable::with_salt`], never (de)serialized, and a hash
//! policy without a salt drops the value rather than emit an unsalted hash that a dictionary of
//! phone or ID numbers would reverse.

use super::detectors::{self, DetectorKind};
use super::taxonomy::Grade;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The per-brain secret mixed into hashes. Debug output never shows it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Salt(String);

impl Salt {
    pub fn new(secret: impl Into<String>) -> Self {
        Salt(secret.into())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "Salt(<unset>)" } else { "Salt(<redacted>)" })
    }
}

/// What to do with a value of some grade when it is read.
///
/// In rules files: `{ policy: keep }`, `{ policy: hash }`, `{ policy: partial_mask }` (per-kind
/// defaults) or `{ policy: partial_mask, keep_first: 3, keep_last: 4 }`, `{ policy: generalize }` or
/// `{ policy: generalize, significant_digits: 2 }`, `{ policy: drop }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case", deny_unknown_fields)]
pub enum MaskingPolicy {
    Keep,
    /// SHA-256 hex of salt + canonical value: equal values stay joinable, values stay secret.
    Hash {
        #[serde(skip)]
        salt: Salt,
    },
    /// Keep the first and last characters, `*` in between. Unset counts take the detector kind's
    /// default (ID card 6/4, phone 3/4, bank card 0/4, USCC 8/2, e-mail: first character of the local
    /// part, address: up to the district, coordinates: two decimals; otherwise 1/1).
    PartialMask {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep_first: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep_last: Option<usize>,
    },
    /// Coarser value: numbers to `significant_digits`, dates to the month, addresses to the
    /// district, coordinates to 2 decimals, identifiers to their public prefix (ID card region,
    /// phone carrier prefix, card BIN, USCC authority+division, e-mail domain); anything else `***`.
    Generalize {
        #[serde(default = "default_significant_digits")]
        significant_digits: u8,
    },
    Drop,
}

fn default_significant_digits() -> u8 {
    1
}

/// What generalization and partial masking put in place of content they cannot keep.
pub const REDACTED: &str = "***";

impl MaskingPolicy {
    /// Hash policy with a salt.
    pub fn hash(salt: Salt) -> Self {
        MaskingPolicy::Hash { salt }
    }

    /// The same policy, with `salt` if it hashes.
    pub fn with_salt(&self, salt: &Salt) -> Self {
        match self {
            MaskingPolicy::Hash { .. } => MaskingPolicy::Hash { salt: salt.clone() },
            other => other.clone(),
        }
    }

    /// Problems with the parameters, for rules validation.
    pub fn check(&self) -> Result<(), String> {
        match self {
            MaskingPolicy::Generalize { significant_digits } if !(1..=15).contains(significant_digits) => {
                Err(format!("significant_digits must be 1..=15, got {significant_digits}"))
            }
            _ => Ok(()),
        }
    }
}

/// The masking policy for each grade.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingTable {
    pub low: MaskingPolicy,
    pub medium: MaskingPolicy,
    pub high: MaskingPolicy,
}

impl MaskingTable {
    pub fn policy_for(&self, grade: Grade) -> &MaskingPolicy {
        match grade {
            Grade::Low => &self.low,
            Grade::Medium => &self.medium,
            Grade::High => &self.high,
        }
    }

    /// The table with the brain's salt in every hash policy.
    pub fn with_salt(&self, salt: &Salt) -> Self {
        MaskingTable { low: self.low.with_salt(salt), medium: self.medium.with_salt(salt), high: self.high.with_salt(salt) }
    }

    /// Mask a value of a field of `grade` (see [`mask_value`]).
    pub fn mask(&self, value: &Value, grade: Grade, kind_hint: Option<DetectorKind>) -> Option<Value> {
        mask_value(value, self.policy_for(grade), kind_hint)
    }
}

/// Apply `policy` to one value; `kind_hint` (the field's detector kind) picks the per-kind behavior.
/// `None` means the value is dropped. `null` stays `null` under every policy but drop.
pub fn mask_value(value: &Value, policy: &MaskingPolicy, kind_hint: Option<DetectorKind>) -> Option<Value> {
    match policy {
        MaskingPolicy::Drop => None,
        MaskingPolicy::Keep => Some(value.clone()),
        _ if value.is_null() => Some(Value::Null),
        MaskingPolicy::Hash { salt } => (!salt.is_empty()).then(|| Value::String(hash_text(salt, &canonical_text(value, kind_hint)))),
        MaskingPolicy::PartialMask { keep_first, keep_last } => Some(Value::String(partial_mask(&value_text(value), *keep_first, *keep_last, kind_hint))),
        MaskingPolicy::Generalize { significant_digits } => Some(generalize(value, *significant_digits, kind_hint)),
    }
}

/// Text of a JSON value: strings as they are, everything else as compact JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The form hashed, so the same identifier hashes the same however it was typed (`+86 138-1234-5678`
/// and `13812345678`; `x` and `X` check characters; e-mail case).
fn canonical_text(value: &Value, kind: Option<DetectorKind>) -> String {
    let text = value_text(value);
    let trimmed = text.trim();
    match kind {
        Some(DetectorKind::Phone) => detectors::mobile_national_number(trimmed).unwrap_or_else(|| trimmed.to_string()),
        Some(DetectorKind::BankCard) => detectors::bank_card_digits(trimmed).unwrap_or_else(|| trimmed.to_string()),
        Some(DetectorKind::IdCard | DetectorKind::Uscc) => trimmed.to_ascii_uppercase(),
        Some(DetectorKind::Email) => trimmed.to_lowercase(),
        _ => text,
    }
}

fn hash_text(salt: &Salt, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.0.as_bytes());
    h.update([0x1f]); // unit separator: salt "ab"+"c" differs from "a"+"bc"
    h.update(text.as_bytes());
    hex::encode(h.finalize())
}

/// Keep `first` and `last` characters, `*` for each one between; all `*` when nothing would be hidden.
fn mask_middle(text: &str, first: usize, last: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    if first.saturating_add(last) >= n {
        return "*".repeat(n);
    }
    let mut out: String = chars[..first].iter().collect();
    out.push_str(&"*".repeat(n - first - last));
    out.extend(&chars[n - last..]);
    out
}

fn partial_mask(text: &str, keep_first: Option<usize>, keep_last: Option<usize>, kind: Option<DetectorKind>) -> String {
    if keep_first.is_some() || keep_last.is_some() {
        return mask_middle(text, keep_first.unwrap_or(0), keep_last.unwrap_or(0));
    }
    let t = text.trim();
    match kind {
        Some(DetectorKind::IdCard) => mask_middle(t, 6, 4),
        Some(DetectorKind::Phone) => mask_middle(&detectors::mobile_national_number(t).unwrap_or_else(|| t.to_string()), 3, 4),
        Some(DetectorKind::BankCard) => mask_middle(&detectors::bank_card_digits(t).unwrap_or_else(|| t.to_string()), 0, 4),
        Some(DetectorKind::Uscc) => mask_middle(t, 8, 2),
        Some(DetectorKind::Email) => match t.split_once('@') {
            Some((local, domain)) if detectors::is_email(t) => {
                let kept = if local.chars().count() > 1 { 1 } else { 0 };
                format!("{}@{domain}", mask_middle(local, kept, 0))
            }
            _ => mask_middle(t, 1, 1),
        },
        Some(DetectorKind::Address) => match detectors::address_district_prefix(t) {
            Some(prefix) => {
                let keep = prefix.chars().count();
                mask_middle(t, keep, 0)
            }
            None => mask_middle(t, 1, 0),
        },
        Some(DetectorKind::Coordinates) => map_coordinates(t, |c| {
            let keep = c.find('.').map_or(c.len(), |dot| (dot + 3).min(c.len()));
            mask_middle(c, keep, 0)
        })
        .unwrap_or_else(|| "*".repeat(t.chars().count())),
        None => mask_middle(text, 1, 1),
    }
}

/// Apply `f` to each component of a coordinate pair (or a single coordinate), keeping separators.
fn map_coordinates(text: &str, f: impl Fn(&str) -> String) -> Option<String> {
    if let Some((a, sep, b)) = detectors::split_pair(text)
        && detectors::parse_decimal(a).is_some()
        && detectors::parse_decimal(b).is_some()
    {
        return Some(format!("{}{sep}{}", f(a), f(b)));
    }
    detectors::parse_decimal(text).map(|_| f(text.trim()))
}

fn generalize(value: &Value, digits: u8, kind: Option<DetectorKind>) -> Value {
    match value {
        Value::Null | Value::Bool(_) => value.clone(),
        Value::Number(n) if kind == Some(DetectorKind::Coordinates) => n.as_f64().map_or(Value::Null, |x| json_f64(round_decimals(x, 2))),
        Value::Number(n) => generalize_number(n, digits),
        Value::Array(items) => Value::Array(items.iter().map(|v| generalize(v, digits, kind)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), generalize(v, digits, kind))).collect()),
        Value::String(s) => Value::String(generalize_text(s, digits, kind)),
    }
}

fn generalize_text(s: &str, digits: u8, kind: Option<DetectorKind>) -> String {
    let t = s.trim();
    let prefix = |ok: bool, n: usize| if ok { t.chars().take(n).collect() } else { REDACTED.to_string() };
    match kind {
        Some(DetectorKind::Coordinates) => map_coordinates(t, |c| parse_f64(c).map_or_else(|| REDACTED.to_string(), |x| format!("{:.2}", round_decimals(x, 2))))
            .unwrap_or_else(|| REDACTED.to_string()),
        Some(DetectorKind::Address) => detectors::address_district_prefix(t).unwrap_or_else(|| REDACTED.to_string()),
        Some(DetectorKind::IdCard) => prefix(detectors::is_resident_id(t), 6),
        Some(DetectorKind::Uscc) => prefix(detectors::is_uscc(t), 8),
        Some(DetectorKind::Phone) => detectors::mobile_national_number(t).map_or_else(|| REDACTED.to_string(), |n| n[..3].to_string()),
        Some(DetectorKind::BankCard) => detectors::bank_card_digits(t).map_or_else(|| REDACTED.to_string(), |n| n[..6].to_string()),
        Some(DetectorKind::Email) => match t.split_once('@') {
            Some((_, domain)) if detectors::is_email(t) => domain.to_lowercase(),
            _ => REDACTED.to_string(),
        },
        None => {
            if let Some(month) = date_to_month(t) {
                month
            } else if let Some(number) = generalize_numeric_text(t, digits) {
                number
            } else {
                REDACTED.to_string()
            }
        }
    }
}

fn parse_f64(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

fn json_f64(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn round_decimals(x: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (x * p).round() / p
}

/// Round to `digits` significant digits, computed so that small magnitudes stay exact in print
/// (0.0345 → 0.03, not 0.030000000000000002).
pub fn round_significant(x: f64, digits: u8) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = i32::from(digits) - 1 - magnitude;
    if decimals >= 0 {
        round_decimals(x, decimals)
    } else {
        let p = 10f64.powi(-decimals);
        (x / p).round() * p
    }
}

/// Integer rounding to `digits` significant digits, half away from zero (123456 → 100000 at 1).
fn round_integer(n: i128, digits: u8) -> i128 {
    let len = n.unsigned_abs().checked_ilog10().map_or(1, |l| l + 1);
    let drop = len.saturating_sub(u32::from(digits));
    if drop == 0 {
        return n;
    }
    let p = 10i128.pow(drop);
    let rounded = (n.abs() + p / 2) / p * p;
    if n < 0 { -rounded } else { rounded }
}

fn generalize_number(n: &serde_json::Number, digits: u8) -> Value {
    if let Some(i) = n.as_i64() {
        let r = round_integer(i128::from(i), digits);
        return i64::try_from(r).map_or_else(|_| json_f64(r as f64), Value::from);
    }
    if let Some(u) = n.as_u64() {
        let r = round_integer(i128::from(u), digits);
        return u64::try_from(r).map_or_else(|_| json_f64(r as f64), Value::from);
    }
    n.as_f64().map_or(Value::Null, |x| json_f64(round_significant(x, digits)))
}

/// A plain number in text (`12345`, `-3.75`), rounded, keeping integer form for integers.
fn generalize_numeric_text(t: &str, digits: u8) -> Option<String> {
    let unsigned = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let plain = !int.is_empty() && int.bytes().all(|c| c.is_ascii_digit()) && frac.bytes().all(|c| c.is_ascii_digit());
    if !plain || (unsigned.contains('.') && frac.is_empty()) {
        return None;
    }
    if frac.is_empty() && int.len() <= 30 {
        return t.parse::<i128>().ok().map(|n| round_integer(n, digits).to_string());
    }
    parse_f64(t).map(|x| round_significant(x, digits).to_string())
}

/// `2024-03-15`, `2024/3/15`, `2024.03.15`, `2024-03-15T08:00:00Z`, `2024-03-15 08:00`, `2024年3月15日`
/// and `2024-03` → `2024-03`.
fn date_to_month(t: &str) -> Option<String> {
    let chars: Vec<char> = t.chars().collect();
    let year: String = chars.iter().take(4).collect();
    if year.len() != 4 || !year.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let sep = *chars.get(4)?;
    if !matches!(sep, '-' | '/' | '.' | '年') {
        return None;
    }
    let take_digits = |from: usize| -> (String, usize) {
        let d: String = chars.iter().skip(from).take_while(|c| c.is_ascii_digit()).collect();
        let len = d.len();
        (d, from + len)
    };
    let (month, after_month) = take_digits(5);
    let m: u32 = month.parse().ok().filter(|_| (1..=2).contains(&month.len()))?;
    let y: u32 = year.parse().ok()?;
    if !(1..=12).contains(&m) {
        return None;
    }
    let out = format!("{y:04}-{m:02}");
    let rest = &chars[after_month..];
    let month_sep = if sep == '年' { '月' } else { sep };
    match rest.first() {
        // `2024.5` is more likely a number than May 2024: a bare year-month needs `-` or `/`.
        None => matches!(sep, '-' | '/').then_some(out),
        Some('月') if sep == '年' && rest.len() == 1 => Some(out),
        Some(&c) if c == month_sep => {
            let (day, after_day) = take_digits(after_month + 1);
            let d: u32 = day.parse().ok().filter(|_| (1..=2).contains(&day.len()))?;
            if !detectors::valid_ymd(y, m, d) {
                return None;
            }
            let tail = &chars[after_day..];
            let tail_ok = match tail.first() {
                None => true,
                Some('日') => sep == '年',
                Some('T' | ' ') => sep != '年',
                _ => false,
            };
            tail_ok.then_some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn salted() -> MaskingPolicy {
        MaskingPolicy::hash(Salt::new("brain-textile-secret"))
    }
    fn partial() -> MaskingPolicy {
        MaskingPolicy::PartialMask { keep_first: None, keep_last: None }
    }
    fn general() -> MaskingPolicy {
        MaskingPolicy::Generalize { significant_digits: 1 }
    }
    fn s(v: Option<Value>) -> String {
        v.and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    #[test]
    fn keep_and_drop() {
        let v = json!({"a": 1});
        assert_eq!(mask_value(&v, &MaskingPolicy::Keep, None), Some(v.clone()));
        assert_eq!(mask_value(&v, &MaskingPolicy::Drop, None), None);
        assert_eq!(mask_value(&Value::Null, &MaskingPolicy::Drop, None), None);
        assert_eq!(mask_value(&Value::Null, &partial(), None), Some(Value::Null));
    }

    #[test]
    fn hash_is_salted_sha256_hex_and_canonical() {
        let h = s(mask_value(&json!("13812345678"), &salted(), Some(DetectorKind::Phone)));
        assert_eq!(h.len(), 64);
        assert!(h.bytes().all(|c| c.is_ascii_hexdigit()));
        // independently computed
        let mut d = Sha256::new();
        d.update(b"brain-textile-secret\x1f13812345678");
        assert_eq!(h, hex::encode(d.finalize()));
        // same phone typed differently, or as a JSON number, hashes the same
        assert_eq!(s(mask_value(&json!("+86 138-1234-5678"), &salted(), Some(DetectorKind::Phone))), h);
        assert_eq!(s(mask_value(&json!(13812345678u64), &salted(), Some(DetectorKind::Phone))), h);
        // a different salt gives a different hash
        let other = MaskingPolicy::hash(Salt::new("another-brain"));
        assert_ne!(s(mask_value(&json!("13812345678"), &other, Some(DetectorKind::Phone))), h);
        // ID check character case does not matter
        assert_eq!(
            mask_value(&json!("11010519491231002x"), &salted(), Some(DetectorKind::IdCard)),
            mask_value(&json!("11010519491231002X"), &salted(), Some(DetectorKind::IdCard))
        );
    }

    #[test]
    fn hash_without_salt_drops_and_salt_never_leaks() {
        let unsalted = MaskingPolicy::Hash { salt: Salt::default() };
        assert_eq!(mask_value(&json!("13812345678"), &unsalted, None), None);
        assert!(!format!("{:?}", salted()).contains("secret"));
        let yaml = serde_yaml::to_string(&salted()).unwrap();
        assert!(!yaml.contains("secret"), "{yaml}");
        let table = MaskingTable { low: MaskingPolicy::Keep, medium: partial(), high: MaskingPolicy::Hash { salt: Salt::default() } };
        let salted_table = table.with_salt(&Salt::new("k"));
        assert_eq!(salted_table.high, MaskingPolicy::hash(Salt::new("k")));
        assert_eq!(salted_table.medium, partial());
        assert!(salted_table.mask(&json!("x"), Grade::High, None).is_some());
        assert_eq!(table.mask(&json!("x"), Grade::High, None), None);
        assert_eq!(table.mask(&json!("x"), Grade::Low, None), Some(json!("x")));
    }

    #[test]
    fn partial_mask_defaults_per_kind() {
        let p = partial();
        assert_eq!(s(mask_value(&json!("11010519491231002X"), &p, Some(DetectorKind::IdCard))), "110105********002X");
        assert_eq!(s(mask_value(&json!("+86 138-1234-5678"), &p, Some(DetectorKind::Phone))), "138****5678");
        assert_eq!(s(mask_value(&json!("4111 1111 1111 1111"), &p, Some(DetectorKind::BankCard))), "************1111");
        assert_eq!(s(mask_value(&json!("zhang.san@example.com"), &p, Some(DetectorKind::Email))), "z********@example.com");
        assert_eq!(s(mask_value(&json!("a@example.com"), &p, Some(DetectorKind::Email))), "*@example.com");
        assert_eq!(s(mask_value(&json!("91350100M000100Y43"), &p, Some(DetectorKind::Uscc))), "91350100********43");
        assert_eq!(s(mask_value(&json!("浙江省杭州市西湖区文三路90号"), &p, Some(DetectorKind::Address))), "浙江省杭州市西湖区******");
        assert_eq!(s(mask_value(&json!("30.274112,120.155123"), &p, Some(DetectorKind::Coordinates))), "30.27****,120.15****");
        assert_eq!(s(mask_value(&json!(30.274112), &p, Some(DetectorKind::Coordinates))), "30.27****");
        assert_eq!(s(mask_value(&json!("张三丰"), &p, None)), "张*丰");
        assert_eq!(s(mask_value(&json!("张三"), &p, None)), "**");
        assert_eq!(s(mask_value(&json!(""), &p, None)), "");
        // a value that is not what the hint says still gets masked
        assert_eq!(s(mask_value(&json!("n/a"), &p, Some(DetectorKind::Email))), "n*a");
    }

    #[test]
    fn partial_mask_explicit_counts() {
        let p = MaskingPolicy::PartialMask { keep_first: Some(2), keep_last: None };
        assert_eq!(s(mask_value(&json!("ABCDEFG"), &p, Some(DetectorKind::IdCard))), "AB*****");
        let p = MaskingPolicy::PartialMask { keep_first: Some(0), keep_last: Some(3) };
        assert_eq!(s(mask_value(&json!(1234567), &p, None)), "****567");
        let p = MaskingPolicy::PartialMask { keep_first: Some(usize::MAX), keep_last: Some(usize::MAX) };
        assert_eq!(s(mask_value(&json!("secret"), &p, None)), "******");
    }

    #[test]
    fn generalize_numbers() {
        let g = general();
        assert_eq!(mask_value(&json!(123456), &g, None), Some(json!(100000)));
        assert_eq!(mask_value(&json!(-987), &g, None), Some(json!(-1000)));
        assert_eq!(mask_value(&json!(7), &g, None), Some(json!(7)));
        assert_eq!(mask_value(&json!(0.0345), &g, None), Some(json!(0.03)));
        assert_eq!(mask_value(&json!(18446744073709551615u64), &g, None), Some(json!(20000000000000000000.0)));
        let g2 = MaskingPolicy::Generalize { significant_digits: 2 };
        assert_eq!(mask_value(&json!(123456), &g2, None), Some(json!(120000)));
        assert_eq!(mask_value(&json!(1250.75), &g2, None), Some(json!(1300.0)));
        assert_eq!(mask_value(&json!("123456"), &g2, None), Some(json!("120000")));
        assert_eq!(mask_value(&json!("-0.0456"), &g2, None), Some(json!("-0.046")));
        assert_eq!(mask_value(&json!(true), &g, None), Some(json!(true)));
        assert_eq!(mask_value(&json!([1234, 56]), &g, None), Some(json!([1000, 60])));
        assert_eq!(mask_value(&json!({"kwh": 3456}), &g, None), Some(json!({"kwh": 3000})));
    }

    #[test]
    fn generalize_dates_to_month() {
        let g = general();
        for (input, out) in [
            ("2024-03-15", "2024-03"),
            ("2024/3/5", "2024-03"),
            ("2024.03.15", "2024-03"),
            ("2024-03-15T08:30:00+08:00", "2024-03"),
            ("2024-03-15 08:30", "2024-03"),
            ("2024年3月15日", "2024-03"),
            ("2024年12月", "2024-12"),
            ("2024-03", "2024-03"),
        ] {
            assert_eq!(s(mask_value(&json!(input), &g, None)), out, "{input}");
        }
        assert_eq!(s(mask_value(&json!("2024.5"), &g, None)), "2000");
        for bad in ["2024-13-01", "2023-02-29", "2024-03-15x", "2024-3-15日", "20240315x"] {
            assert_eq!(s(mask_value(&json!(bad), &g, None)), REDACTED, "{bad}");
        }
    }

    #[test]
    fn generalize_per_kind() {
        let g = general();
        assert_eq!(s(mask_value(&json!("江苏省苏州市吴江区盛泽镇舜湖西路88号"), &g, Some(DetectorKind::Address))), "江苏省苏州市吴江区");
        assert_eq!(s(mask_value(&json!("文三路90号"), &g, Some(DetectorKind::Address))), REDACTED);
        assert_eq!(s(mask_value(&json!("30.274112,120.155123"), &g, Some(DetectorKind::Coordinates))), "30.27,120.16");
        assert_eq!(s(mask_value(&json!("[120.155123 30.274112]"), &g, Some(DetectorKind::Coordinates))), "120.16 30.27");
        assert_eq!(mask_value(&json!(30.274112), &g, Some(DetectorKind::Coordinates)), Some(json!(30.27)));
        assert_eq!(mask_value(&json!([120.155123, 30.274112]), &g, Some(DetectorKind::Coordinates)), Some(json!([120.16, 30.27])));
        assert_eq!(s(mask_value(&json!("11010519491231002X"), &g, Some(DetectorKind::IdCard))), "110105");
        assert_eq!(s(mask_value(&json!("not an id"), &g, Some(DetectorKind::IdCard))), REDACTED);
        assert_eq!(s(mask_value(&json!("+86 13812345678"), &g, Some(DetectorKind::Phone))), "138");
        assert_eq!(s(mask_value(&json!("4111 1111 1111 1111"), &g, Some(DetectorKind::BankCard))), "411111");
        assert_eq!(s(mask_value(&json!("91350100M000100Y43"), &g, Some(DetectorKind::Uscc))), "91350100");
        assert_eq!(s(mask_value(&json!("Zhang.San@Example.com"), &g, Some(DetectorKind::Email))), "example.com");
        assert_eq!(s(mask_value(&json!("涤纶长丝"), &g, None)), REDACTED);
    }

    #[test]
    fn policies_round_trip_through_yaml() {
        let table: MaskingTable = serde_yaml::from_str(
            "low: { policy: keep }\nmedium: { policy: partial_mask, keep_first: 3, keep_last: 4 }\nhigh: { policy: generalize, significant_digits: 2 }\n",
        )
        .unwrap();
        assert_eq!(table.medium, MaskingPolicy::PartialMask { keep_first: Some(3), keep_last: Some(4) });
        assert_eq!(table.high, MaskingPolicy::Generalize { significant_digits: 2 });
        let back: MaskingTable = serde_yaml::from_str(&serde_yaml::to_string(&table).unwrap()).unwrap();
        assert_eq!(back, table);
        assert_eq!(serde_yaml::from_str::<MaskingPolicy>("policy: generalize").unwrap(), general());
        assert_eq!(serde_yaml::from_str::<MaskingPolicy>("policy: hash").unwrap(), MaskingPolicy::Hash { salt: Salt::default() });
        // salts do not belong in rules files; nor do unknown keys
        assert!(serde_yaml::from_str::<MaskingPolicy>("policy: hash\nsalt: abc").is_err());
        assert!(serde_yaml::from_str::<MaskingPolicy>("policy: partial_mask\nkeep_frist: 3").is_err());
        assert!(serde_yaml::from_str::<MaskingPolicy>("policy: encrypt").is_err());
        assert!(MaskingPolicy::Generalize { significant_digits: 0 }.check().is_err());
        assert!(general().check().is_ok());
    }

    #[test]
    fn significant_rounding() {
        assert_eq!(round_significant(0.0345, 1), 0.03);
        assert_eq!(round_significant(98765.0, 2), 99000.0);
        assert_eq!(round_significant(-0.000123456, 3), -0.000123);
        assert_eq!(round_integer(149, 1), 100);
        assert_eq!(round_integer(150, 1), 200);
        assert_eq!(round_integer(0, 1), 0);
    }
}
