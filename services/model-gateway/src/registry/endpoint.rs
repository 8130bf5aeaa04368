//! Endpoints of a version: where an OpenAI-compatible upstream runs, and the rules for its
//! address, capacity and key.

use super::domain::{text_enum, violation};
use brain_core::Violation;
use brain_governance::domain::Grade;
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;
use std::time::Duration;
use utoipa::ToSchema;

pub const WEIGHT: RangeInclusive<u32> = 1..=1000;
pub const DEFAULT_WEIGHT: u32 = 100;
pub const MAX_CONCURRENCY: RangeInclusive<u32> = 1..=10_000;
pub const REQUEST_TIMEOUT_MS: RangeInclusive<u32> = 100..=600_000;
pub const MAX_URL_LEN: usize = 2048;
/// Upstream keys live in the gateway's environment under names with this prefix, so that no
/// other secret of the process (database password, signing keys) can be named.
pub const SECRET_ENV_PREFIX: &str = "MODEL_KEY_";

/// Where an endpoint runs. The grade-aware guardrail trusts this claim with graded data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// In this brain's cluster.
    OnPremise,
    /// In a data center of the province.
    InProvince,
    /// Anywhere else (a hosted API).
    External,
}

text_enum!(Location { OnPremise => "on_premise", InProvince => "in_province", External => "external" });

impl Location {
    /// Whether an endpoint here may serve a model trained on data graded `grade`: weights
    /// trained on high-graded data stay on premise, on medium-graded data in the province.
    pub fn may_serve(self, grade: Grade) -> bool {
        match self {
            Self::OnPremise => true,
            Self::InProvince => grade <= Grade::Medium,
            Self::External => grade <= Grade::Low,
        }
    }

    /// Whether the claim needs the platform to vouch for it before the version serves: the
    /// guardrail sends graded data to on-premise and in-province endpoints on its word.
    pub fn needs_attestation(self) -> bool {
        !matches!(self, Self::External)
    }

    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::OnPremise => "on premise",
            Self::InProvince => "in the province",
            Self::External => "outside the province",
        }
    }
}

fn default_weight() -> u32 {
    DEFAULT_WEIGHT
}

/// An OpenAI-compatible upstream (vLLM, TGI, Ollama, llama.cpp server, a hosted API).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Base URL such as `http://vllm-0.models.svc:8000/v1`: http or https, no credentials,
    /// query or fragment. Absent in answers to callers outside the owner tenant and the platform.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    pub location: Location,
    /// Share of the traffic, 1-1000 (default 100).
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Requests in flight at most, 1-10000.
    pub max_concurrency: u32,
    /// Per-request timeout, 100-600000 ms; absent: the gateway's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u32>,
    /// The gateway's environment variable holding the upstream API key (`MODEL_KEY_…`);
    /// never the key itself. Absent in answers to callers outside the owner tenant and the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_env: Option<String>,
}

impl Endpoint {
    pub fn request_timeout(&self) -> Option<Duration> {
        self.request_timeout_ms.map(|ms| Duration::from_millis(u64::from(ms)))
    }

    /// The base URL without a trailing `/`, so the gateway appends `/chat/completions`.
    pub fn normalized(mut self) -> Self {
        while self.url.ends_with('/') {
            self.url.pop();
        }
        self
    }

    /// The endpoint without its address and key name.
    pub fn redacted(&self) -> Self {
        Self { url: String::new(), api_key_secret_env: None, ..self.clone() }
    }

    /// Every problem of this endpoint (fields start with `prefix`); `before` are the version's
    /// endpoints before it, which it may not repeat.
    pub fn check(&self, prefix: &str, before: &[Endpoint]) -> Vec<Violation> {
        let mut violations = Vec::new();
        let field = |name: &str| format!("{prefix}{name}");
        if let Err(reason) = check_url(&self.url) {
            violations.push(violation(field("url"), "url", reason));
        } else if before.iter().any(|e| e.url.trim_end_matches('/') == self.url.trim_end_matches('/')) {
            violations.push(violation(field("url"), "unique", "the version names this URL twice"));
        }
        if !WEIGHT.contains(&self.weight) {
            violations.push(violation(field("weight"), "range", format!("must be {}-{}", WEIGHT.start(), WEIGHT.end())));
        }
        if !MAX_CONCURRENCY.contains(&self.max_concurrency) {
            violations.push(violation(field("max_concurrency"), "range", format!("must be {}-{}", MAX_CONCURRENCY.start(), MAX_CONCURRENCY.end())));
        }
        if let Some(ms) = self.request_timeout_ms.filter(|ms| !REQUEST_TIMEOUT_MS.contains(ms)) {
            violations.push(violation(field("request_timeout_ms"), "range", format!("{ms} is not {}-{} ms", REQUEST_TIMEOUT_MS.start(), REQUEST_TIMEOUT_MS.end())));
        }
        if let Some(name) = &self.api_key_secret_env
            && let Err(reason) = check_secret_env(name)
        {
            violations.push(violation(field("api_key_secret_env"), "secret_env", reason));
        }
        violations
    }
}

/// An OpenAI-compatible base URL: http or https with a host, no user info (credentials belong
/// in `api_key_secret_env`), no query or fragment (the gateway appends paths; queries can carry
/// keys), no whitespace.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("a base URL is required, e.g. http://vllm-0.models.svc:8000/v1".into());
    }
    if url.len() > MAX_URL_LEN {
        return Err(format!("longer than {MAX_URL_LEN} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters".into());
    }
    if !url.contains("://") {
        return Err("needs a scheme: http:// or https://".into());
    }
    if url.contains('#') {
        return Err("has a fragment; give the base URL only".into());
    }
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(format!("scheme {other:?} is not http or https")),
        None => return Err("needs a scheme: http:// or https://".into()),
    }
    let Some(authority) = uri.authority() else { return Err("needs a host".into()) };
    if authority.as_str().contains('@') {
        return Err("contains credentials; name the environment variable that holds the key in api_key_secret_env".into());
    }
    if authority.host().is_empty() {
        return Err("needs a host".into());
    }
    if uri.query().is_some() {
        return Err("has a query string; give the base URL only (keys go in api_key_secret_env)".into());
    }
    Ok(())
}

/// The name of an environment variable holding an upstream key: `MODEL_KEY_` and 1-64 of
/// `[A-Z0-9_]`. A name, never a secret.
pub fn check_secret_env(name: &str) -> Result<(), String> {
    let rest = name.strip_prefix(SECRET_ENV_PREFIX).unwrap_or_default();
    let ok = !rest.is_empty() && rest.len() <= 64 && rest.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("name an environment variable {SECRET_ENV_PREFIX}<1-64 of A-Z, 0-9, _> of the gateway that holds the key (never the key itself)"))
    }
}
