//! The guardrail in the request path: grade the prompt (detectors, and the datasets it names),
//! decide per endpoint what may be sent, masked or refused, prepare the masked request, and
//! record in the ledger every decision about graded content.

use super::guardrail::{self, Decision, GuardrailPolicy, Treatment};
use super::openai::{OpenAiError, ProxyRequest};
use super::scan;
use crate::registry::ModelRoute;
use brain_auth::Principal;
use brain_governance::domain::{ClassificationRules, Grade};
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
pub struct Guard {
    pub rules: Arc<ClassificationRules>,
    pub policy: GuardrailPolicy,
    pub peers: brain_runtime::Peers,
    pub audit: brain_runtime::Auditor,
}

/// What the guardrail found in one request.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub grade: Grade,
    pub findings: Vec<scan::Finding>,
    pub datasets: usize,
}

impl Guard {
    /// Grades the prompt; `Low` without a look at it when the guardrail is off.
    pub async fn inspect(&self, caller: &Principal, request: &ProxyRequest) -> Verdict {
        if !self.policy.enabled {
            return Verdict { grade: Grade::Low, findings: Vec::new(), datasets: 0 };
        }
        let mut found = scan::scan(&request.prompt, &self.rules);
        let mut grade = found.grade;
        if !found.datasets.is_empty() {
            let lookups = scan::grade_mentions(&self.peers, caller, &mut found.datasets).await;
            grade = found.overall_grade();
            // A named dataset whose grade could not be learned (governance down, too many
            // names) is treated as high: the guardrail fails closed.
            if lookups.unchecked > 0 {
                grade = Grade::High;
            }
        }
        Verdict { grade, datasets: found.datasets.len(), findings: found.findings }
    }

    pub fn plan(&self, verdict: &Verdict, route: &ModelRoute) -> Vec<Treatment> {
        let locations: Vec<_> = route.endpoints.iter().map(|e| e.location).collect();
        guardrail::plan(verdict.grade, route.trained_on_grade, &locations, self.policy)
    }

    /// The request with every value graded medium or higher masked in its prompt.
    pub fn masked(&self, request: &ProxyRequest) -> ProxyRequest {
        let mut body = request.body.clone();
        let rules = &self.rules;
        let mask = |value: &mut Value| mask_strings(value, &|text| scan::mask(text, rules, Grade::Medium));
        if let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) {
            for message in messages {
                if let Some(content) = message.get_mut("content") {
                    mask(content);
                }
            }
        }
        for field in ["prompt", "input"] {
            if let Some(value) = body.get_mut(field) {
                mask(value);
            }
        }
        request.with_body(body)
    }

    /// Every decision about graded content, and every refusal, goes to the ledger before the
    /// caller hears of it; low-graded content that passed is not recorded (metered only).
    pub async fn record(&self, caller: &Principal, route: &ModelRoute, verdict: &Verdict, decision: Decision) -> Result<(), OpenAiError> {
        if verdict.grade == Grade::Low && decision == Decision::Allow {
            return Ok(());
        }
        let findings: Vec<Value> = verdict.findings.iter().map(|f| json!({ "detector": f.detector, "count": f.count, "grade": f.grade })).collect();
        let details = json!({ "decision": decision.as_str(), "grade": verdict.grade, "trained_on": route.trained_on_grade, "findings": findings, "datasets_named": verdict.datasets, "version": route.version });
        self.audit
            .record(caller, &caller.tenant, "gateway.guardrail", &route.model, details)
            .await
            .map(|_| ())
            .map_err(|e| OpenAiError::unavailable(format!("the audit ledger: {e}")))
    }
}

fn mask_strings(value: &mut Value, mask: &dyn Fn(&str) -> String) {
    match value {
        Value::String(text) => *text = mask(text),
        Value::Array(items) => items.iter_mut().for_each(|item| mask_strings(item, mask)),
        Value::Object(part) => {
            if let Some(text) = part.get_mut("text") {
                mask_strings(text, mask);
            }
        }
        _ => {}
    }
}

/// The refusal when no endpoint of the model may take this content.
pub fn blocked(route: &ModelRoute, verdict: &Verdict) -> OpenAiError {
    OpenAiError {
        status: axum::http::StatusCode::FORBIDDEN,
        message: format!(
            "the prompt holds data graded {:?}; no endpoint of `{}` may receive it (high-graded content goes only to on-premise endpoints)",
            verdict.grade, route.model
        )
        .to_lowercase(),
        kind: "invalid_request_error",
        param: Some("messages"),
        code: Some("guardrail_blocked"),
        retry_after: None,
    }
}
