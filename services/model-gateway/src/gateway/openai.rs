//! The OpenAI wire format at the gateway's edge: what a request must look like before it is
//! forwarded, and errors as OpenAI clients expect them (`{"error": {message, type, param, code}}`).

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Largest request body the gateway reads (prompts, embeddings inputs).
pub const MAX_BODY_BYTES: usize = 4 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Chat,
    Completion,
    Embedding,
}

impl Operation {
    pub const ALL: [Self; 3] = [Self::Chat, Self::Completion, Self::Embedding];

    /// Position in [`Self::ALL`].
    pub fn index(self) -> usize {
        match self {
            Self::Chat => 0,
            Self::Completion => 1,
            Self::Embedding => 2,
        }
    }

    /// The path under an endpoint's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Self::Chat => "chat/completions",
            Self::Completion => "completions",
            Self::Embedding => "embeddings",
        }
    }
}

/// A checked request: the caller's JSON, forwarded unchanged, and what the gateway needs of it.
#[derive(Clone, Debug)]
pub struct ProxyRequest {
    pub operation: Operation,
    pub model: String,
    pub stream: bool,
    /// `max_tokens` or `max_completion_tokens`, when given.
    pub max_tokens: Option<u64>,
    pub body: Value,
    /// The text sent to the model ([`prompt_text`] of the body), for the quota and the guardrail.
    pub prompt: String,
    /// The bytes sent upstream: the caller's own while the body is unchanged (no re-encoding).
    pub wire: Bytes,
}

impl ProxyRequest {
    /// The same request with another body (a masked one), encoded anew.
    pub fn with_body(&self, body: Value) -> Self {
        Self { operation: self.operation, model: self.model.clone(), stream: self.stream, max_tokens: self.max_tokens, prompt: prompt_text(&body), wire: Bytes::from(body.to_string()), body }
    }
}

/// The text a request sends the model: message contents, the prompt or the input.
pub fn prompt_text(body: &Value) -> String {
    let mut text = String::new();
    let mut add = |value: &Value| match value {
        Value::String(s) => {
            text.push_str(s);
            text.push('\n');
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => {
                        text.push_str(s);
                        text.push('\n');
                    }
                    // Multi-part message content: the text parts.
                    Value::Object(part) => {
                        if let Some(Value::String(s)) = part.get("text") {
                            text.push_str(s);
                            text.push('\n');
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    };
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        for message in messages {
            if let Some(content) = message.get("content") {
                add(content);
            }
        }
    }
    for field in ["prompt", "input"] {
        if let Some(value) = body.get(field) {
            add(value);
        }
    }
    text
}

#[derive(Clone, Debug, PartialEq)]
pub struct OpenAiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, `rate_limit_exceeded`, `api_error`.
    pub kind: &'static str,
    pub param: Option<&'static str>,
    pub code: Option<&'static str>,
    /// Seconds, sent as `retry-after`.
    pub retry_after: Option<u64>,
}

impl OpenAiError {
    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message: message.into(), kind: "invalid_request_error", param: Some(param), code: None, retry_after: None }
    }

    pub fn model_not_found(model: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!("The model `{model}` does not exist or has no version in production"),
            kind: "invalid_request_error",
            param: Some("model"),
            code: Some("model_not_found"),
            retry_after: None,
        }
    }

    /// Every endpoint failed or was unavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self { status: StatusCode::SERVICE_UNAVAILABLE, message: message.into(), kind: "api_error", param: None, code: Some("no_healthy_endpoint"), retry_after: Some(1) }
    }

    pub fn upstream(message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_GATEWAY, message: message.into(), kind: "api_error", param: None, code: Some("upstream_error"), retry_after: None }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, message: message.into(), kind: "api_error", param: None, code: None, retry_after: None }
    }

    pub fn body(&self) -> Value {
        json!({ "error": { "message": self.message, "type": self.kind, "param": self.param, "code": self.code } })
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}

fn number_in(body: &Value, field: &'static str, min: f64, max: f64) -> Result<(), OpenAiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(value) => match value.as_f64() {
            Some(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(OpenAiError::invalid(field, format!("`{field}` must be a number from {min} to {max}, got {value}"))),
        },
    }
}

fn positive_integer(body: &Value, field: &'static str, max: u64) -> Result<Option<u64>, OpenAiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ => Err(OpenAiError::invalid(field, format!("`{field}` must be an integer from 1 to {max}, got {value}"))),
        },
    }
}

fn non_empty_input(body: &Value, field: &'static str) -> Result<(), OpenAiError> {
    let ok = match body.get(field) {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        _ => false,
    };
    if ok { Ok(()) } else { Err(OpenAiError::invalid(field, format!("`{field}` is required: a non-empty string or array"))) }
}

/// Checks a request body the way the OpenAI API does, naming the parameter that is wrong.
pub fn parse(operation: Operation, wire: Bytes) -> Result<ProxyRequest, OpenAiError> {
    let body: Value = serde_json::from_slice(&wire).map_err(|e| OpenAiError::invalid("body", format!("the body is not valid JSON: {e}")))?;
    if !body.is_object() {
        return Err(OpenAiError::invalid("body", "the body must be a JSON object"));
    }
    let model = match body.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() && m.len() <= 128 => m.to_owned(),
        _ => return Err(OpenAiError::invalid("model", "`model` is required: a model name of 1-128 characters")),
    };
    match operation {
        Operation::Chat => {
            let messages = body.get("messages").and_then(Value::as_array).filter(|m| !m.is_empty());
            let messages = messages.ok_or_else(|| OpenAiError::invalid("messages", "`messages` must be a non-empty array"))?;
            if let Some(i) = messages.iter().position(|m| m.get("role").and_then(Value::as_str).is_none()) {
                return Err(OpenAiError::invalid("messages", format!("`messages[{i}]` needs a `role`")));
            }
        }
        Operation::Completion => non_empty_input(&body, "prompt")?,
        Operation::Embedding => non_empty_input(&body, "input")?,
    }
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) if operation != Operation::Embedding => *b,
        Some(other) => return Err(OpenAiError::invalid("stream", format!("`stream` must be a boolean (and is not for embeddings), got {other}"))),
    };
    number_in(&body, "temperature", 0.0, 2.0)?;
    number_in(&body, "top_p", 0.0, 1.0)?;
    positive_integer(&body, "n", 16)?;
    let max_tokens = match positive_integer(&body, "max_tokens", 1_000_000)? {
        Some(n) => Some(n),
        None => positive_integer(&body, "max_completion_tokens", 1_000_000)?,
    };
    Ok(ProxyRequest { operation, model, stream, max_tokens, prompt: prompt_text(&body), body, wire })
}

/// Prompt and completion tokens as the upstream reported them.
pub fn usage(body: &Value) -> Option<(u64, u64)> {
    let usage = body.get("usage")?;
    let prompt = usage.get("prompt_tokens")?.as_u64()?;
    Some((prompt, usage.get("completion_tokens").and_then(Value::as_u64).unwrap_or(0)))
}

/// Just the `usage` member of an answer or stream chunk: the rest is checked for syntax but
/// never built into a document. `Err` when the bytes are not a JSON object.
pub fn usage_of(json: &[u8]) -> Result<Option<(u64, u64)>, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct UsageMember {
        #[serde(default)]
        usage: Option<Value>,
    }
    let member: UsageMember = serde_json::from_slice(json)?;
    Ok(member.usage.and_then(|usage| self::usage(&json!({ "usage": usage }))))
}

/// The `data:` payloads of a server-sent event stream, across chunk boundaries.
#[derive(Default)]
pub struct SseData {
    pending: Vec<u8>,
}

impl SseData {
    const MAX_LINE: usize = 1 << 20;

    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_data(bytes, |data| out.push(String::from_utf8_lossy(data).into_owned()));
        out
    }

    /// Calls `on_data` with each complete `data:` payload (trimmed), without copying lines
    /// that arrive whole in one chunk; a line split across chunks is kept until its end.
    pub fn for_each_data(&mut self, mut bytes: &[u8], mut on_data: impl FnMut(&[u8])) {
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            let (line, rest) = (&bytes[..end], &bytes[end + 1..]);
            if self.pending.is_empty() {
                Self::data_of(line, &mut on_data);
            } else {
                self.keep(line);
                Self::data_of(&self.pending, &mut on_data);
                self.pending.clear();
            }
            bytes = rest;
        }
        self.keep(bytes);
    }

    /// Holds the start of an unfinished line (at most `MAX_LINE` bytes of it).
    fn keep(&mut self, part: &[u8]) {
        let room = Self::MAX_LINE.saturating_sub(self.pending.len());
        self.pending.extend_from_slice(&part[..part.len().min(room)]);
    }

    fn data_of(line: &[u8], on_data: &mut impl FnMut(&[u8])) {
        if let Some(data) = line.strip_prefix(b"data:") {
            on_data(data.trim_ascii());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: Value) -> Result<ProxyRequest, OpenAiError> {
        parse(Operation::Chat, body.to_string().into())
    }

    #[test]
    fn a_good_chat_request_is_read() {
        let request = chat(json!({"model": "textile-qa", "messages": [{"role": "user", "content": "hi"}], "stream": true, "max_tokens": 64})).unwrap();
        assert_eq!((request.model.as_str(), request.stream, request.max_tokens), ("textile-qa", true, Some(64)));
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let cases = [
            (json!({"messages": [{"role": "user"}]}), "model"),
            (json!({"model": "m", "messages": []}), "messages"),
            (json!({"model": "m", "messages": [{"content": "x"}]}), "messages"),
            (json!({"model": "m", "messages": [{"role": "user"}], "temperature": 3}), "temperature"),
            (json!({"model": "m", "messages": [{"role": "user"}], "max_tokens": 0}), "max_tokens"),
            (json!({"model": "m", "messages": [{"role": "user"}], "stream": "yes"}), "stream"),
            (json!(["not", "an", "object"]), "body"),
        ];
        for (body, param) in cases {
            let error = chat(body.clone()).unwrap_err();
            assert_eq!((error.status, error.param), (StatusCode::BAD_REQUEST, Some(param)), "{body}: {error:?}");
            assert_eq!(error.body()["error"]["type"], "invalid_request_error");
        }
        let broken = parse(Operation::Chat, Bytes::from_static(b"{\"model\": ")).unwrap_err();
        assert!(broken.message.contains("not valid JSON"), "{broken:?}");
        assert_eq!(parse(Operation::Embedding, Bytes::from_static(br#"{"model":"e","input":"x","stream":true}"#)).unwrap_err().param, Some("stream"));
    }

    #[test]
    fn sse_payloads_survive_chunk_boundaries() {
        let mut lines = SseData::default();
        assert_eq!(lines.feed(b"data: {\"a\":1}\n\nda"), ["{\"a\":1}"]);
        assert_eq!(lines.feed(b"ta: [DONE]\n\n"), ["[DONE]"]);
        // A line in three pieces, CRLF line ends, comments and other fields skipped.
        assert_eq!(lines.feed(b": keep-alive\r\nevent: x\r\ndata: {\"b\""), Vec::<String>::new());
        assert_eq!(lines.feed(b":"), Vec::<String>::new());
        assert_eq!(lines.feed(b"2}\r\n\r\ndata: one\ndata:two\n"), ["{\"b\":2}", "one", "two"]);
    }

    #[test]
    fn usage_is_read_as_reported() {
        assert_eq!(usage(&json!({"usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}})), Some((12, 30)));
        assert_eq!(usage(&json!({"usage": {"prompt_tokens": 7}})), Some((7, 0)), "embeddings report prompt tokens only");
        assert_eq!(usage(&json!({})), None);
        let answer = br#"{"id":"c1","choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":12,"completion_tokens":30}}"#;
        assert_eq!(usage_of(answer).unwrap(), Some((12, 30)));
        assert_eq!(usage_of(br#"{"choices":[],"usage":null}"#).unwrap(), None, "stream chunks carry usage: null");
        assert!(usage_of(b"{\"choices\": [").is_err(), "a truncated answer is not JSON");
        assert!(usage_of(b"[1, 2]").is_err(), "an answer is an object");
    }
}
