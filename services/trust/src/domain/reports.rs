//! Trusted-status reports (可信状态报告): for every data exchange and every factory's data
//! onboarding, what happened, which checks ran with which results, hashes of what was sent and
//! the ledger entries that record it — signed, so that anyone holding the public key can verify
//! the report offline, without access to the brain.
//!
//! The signature covers the report's canonical JSON (keys sorted, no whitespace). Signing and
//! verifying are the caller's key's business ([`ReportSigner`], [`ReportVerifier`]): the
//! platform signs with the key of its ledger checkpoints.

use serde::{Deserialize, Serialize};

/// The checks a report can state.
pub const CHECK_NAMES: [&str; 7] = ["identity", "grant", "product", "grade", "schema", "quality", "masking"];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// Data read out under a grant.
    Export,
    /// Data sent to the provincial center.
    Exchange,
    /// A factory's data source connected and its first data accepted.
    Onboarding,
}

/// What a report states; everything in it is signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportBody {
    pub id: String,
    pub kind: ReportKind,
    pub brain: String,
    pub actor: String,
    pub tenant: String,
    pub subject: String,
    pub checks: Vec<Check>,
    /// Hash of exactly what was sent (hex), with the name of the hash.
    pub content_hash: String,
    pub hash_algorithm: String,
    pub records: u64,
    pub ledger_seqs: Vec<u64>,
    /// RFC 3339, UTC.
    pub issued_at: String,
}

impl ReportBody {
    /// Whether every check passed: a report is issued for refused exchanges too, saying why.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }
}

/// A signed report as it is handed out and verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReport {
    pub body: ReportBody,
    /// The canonical JSON of `body` that was signed.
    pub signed_json: String,
    pub key_id: String,
    /// e.g. `ed25519`.
    pub algorithm: String,
    pub signature_hex: String,
}

pub trait ReportSigner {
    fn key_id(&self) -> String;
    fn algorithm(&self) -> &'static str;
    fn sign(&self, message: &[u8]) -> Vec<u8>;
}

pub trait ReportVerifier {
    fn key_id(&self) -> String;
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool;
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("check `{0}` is not one of identity, grant, product, grade, schema, quality, masking")]
    UnknownCheck(String),
    #[error("the report was signed with key {signed_with}, not {expected}")]
    OtherKey { signed_with: String, expected: String },
    #[error("the signed JSON is not the report's canonical form: the report was altered")]
    Altered,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the report is not readable: {0}")]
    Unreadable(String),
}

/// JSON with object keys sorted and no whitespace: one byte string per report (the ledger's
/// canonical form, so reports and ledger details hash alike).
pub use brain_ledger::canonical_json;

fn canonical_body(body: &ReportBody) -> Result<String, ReportError> {
    serde_json::to_value(body).map(|v| canonical_json(&v)).map_err(|e| ReportError::Unreadable(e.to_string()))
}

pub fn sign(body: ReportBody, signer: &dyn ReportSigner) -> Result<SignedReport, ReportError> {
    if let Some(unknown) = body.checks.iter().find(|c| !CHECK_NAMES.contains(&c.name.as_str())) {
        return Err(ReportError::UnknownCheck(unknown.name.clone()));
    }
    let signed_json = canonical_body(&body)?;
    let signature = signer.sign(signed_json.as_bytes());
    Ok(SignedReport { body, signed_json, key_id: signer.key_id(), algorithm: signer.algorithm().to_owned(), signature_hex: hex::encode(signature) })
}

/// Offline verification: the right key, an unaltered body, a valid signature.
pub fn verify(report: &SignedReport, verifier: &dyn ReportVerifier) -> Result<(), ReportError> {
    if report.key_id != verifier.key_id() {
        return Err(ReportError::OtherKey { signed_with: report.key_id.clone(), expected: verifier.key_id() });
    }
    if canonical_body(&report.body)? != report.signed_json {
        return Err(ReportError::Altered);
    }
    let signature = hex::decode(&report.signature_hex).map_err(|_| ReportError::BadSignature)?;
    if verifier.verify(report.signed_json.as_bytes(), &signature) { Ok(()) } else { Err(ReportError::BadSignature) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A stand-in key for the logic under test: "signs" by reversing the message with a tag.
    struct ToyKey(&'static str);

    impl ReportSigner for ToyKey {
        fn key_id(&self) -> String {
            self.0.into()
        }
        fn algorithm(&self) -> &'static str {
            "toy"
        }
        fn sign(&self, message: &[u8]) -> Vec<u8> {
            self.0.bytes().chain(message.iter().rev().copied()).collect()
        }
    }

    impl ReportVerifier for ToyKey {
        fn key_id(&self) -> String {
            self.0.into()
        }
        fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
            signature == self.sign(message).as_slice()
        }
    }

    fn body() -> ReportBody {
        ReportBody {
            id: "TR-1".into(),
            kind: ReportKind::Export,
            brain: "textile-shaoxing".into(),
            actor: "api-key:k1".into(),
            tenant: "bank-hz-01".into(),
            subject: "grant GR-1 / product DP-1".into(),
            checks: vec![
                Check { name: "identity".into(), passed: true, detail: "API key k1 of bank-hz-01".into() },
                Check { name: "grant".into(), passed: true, detail: "GR-1 active until 2026-12-01".into() },
                Check { name: "masking".into(), passed: true, detail: "operator_id masked (high > medium)".into() },
            ],
            content_hash: "ab".repeat(32),
            hash_algorithm: "sha256".into(),
            records: 1200,
            ledger_seqs: vec![41, 42],
            issued_at: "2026-11-22T09:00:00Z".into(),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        assert_eq!(canonical_json(&json!({"b": 1, "a": {"d": [2, {"z": 0, "y": "é"}], "c": null}})), r#"{"a":{"c":null,"d":[2,{"y":"é","z":0}]},"b":1}"#);
    }

    #[test]
    fn a_signed_report_verifies_offline_and_any_change_is_caught() {
        let key = ToyKey("k-2026");
        let report = sign(body(), &key).unwrap();
        assert!(report.body.passed());
        assert_eq!(verify(&report, &key), Ok(()));

        let mut altered = report.clone();
        altered.body.records = 1;
        assert_eq!(verify(&altered, &key), Err(ReportError::Altered));
        let mut forged = report.clone();
        forged.signed_json = canonical_body(&altered.body).unwrap();
        forged.body = altered.body;
        assert_eq!(verify(&forged, &key), Err(ReportError::BadSignature), "re-canonicalized but not re-signed");
        assert!(matches!(verify(&report, &ToyKey("other")), Err(ReportError::OtherKey { .. })));
        let mut garbled = report;
        garbled.signature_hex.push('x');
        assert_eq!(verify(&garbled, &key), Err(ReportError::BadSignature));
    }

    #[test]
    fn unknown_checks_and_failed_checks() {
        let mut b = body();
        b.checks.push(Check { name: "vibes".into(), passed: true, detail: String::new() });
        assert_eq!(sign(b, &ToyKey("k")).unwrap_err(), ReportError::UnknownCheck("vibes".into()));
        let mut refused = body();
        refused.checks[1].passed = false;
        assert!(!refused.passed(), "one failed check fails the report");
    }
}
