//! Scheduled pulls of public JSON feeds (power, tax, statistics data) over HTTP(S).
//!
//! One task per feed: wait for the next cron tick, GET the URL (with `?<param>=<cursor>` for
//! incremental feeds), take the array of records at the configured JSON pointer, ingest
//! them, and only then advance and persist the cursor. Runs of one feed never overlap: the
//! next tick is computed after a run ends. A failed run (HTTP error, a body that is not
//! JSON, a missing pointer, the bus or the store unavailable) is logged with the feed name and
//! retried at the next tick from the same cursor; records that are not JSON objects become
//! refused records with the reason. Header values are secrets: they are never logged.

use super::cursors::CursorStore;
use super::schedule::Schedule;
use super::{SourceError, SourceStatus, metrics};
use crate::Ingestion;
use crate::domain::{self, RecordInput};
use brain_config::PullFeedConfig;
use brain_proto::events::v1::{Source, SourceKind};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::cmp::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why a run failed; it is retried at the next tick.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PullError {
    #[error("request failed: {0}")]
    Request(reqwest::Error),
    #[error("HTTP {status}: {body}")]
    Status { status: reqwest::StatusCode, body: String },
    #[error("response body exceeds {limit} bytes (ingestion.max_body_bytes)")]
    TooLarge { limit: u64 },
    #[error("response is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("response has nothing at records_pointer `{0}`")]
    MissingPointer(String),
    #[error("records_pointer `{pointer}` holds {found}, not an array of records")]
    NotArray { pointer: String, found: &'static str },
    #[error("cursor store: {0}")]
    Store(#[from] brain_store::StoreError),
    #[error("ingest: {0}")]
    Ingest(#[from] crate::IngestionError),
}

impl PullError {
    fn kind(&self) -> &'static str {
        match self {
            Self::Request(_) => "request",
            Self::Status { .. } => "status",
            Self::TooLarge { .. } => "too_large",
            Self::NotJson(_) => "not_json",
            Self::MissingPointer(_) | Self::NotArray { .. } => "pointer",
            Self::Store(_) => "store",
            Self::Ingest(_) => "ingest",
        }
    }
}

/// How the cursor of an incremental feed is carried and advanced.
#[derive(Clone, Debug)]
pub(crate) struct CursorSpec {
    pub param: String,
    pub from_field: String,
}

pub(crate) struct PullFeed {
    name: String,
    url: reqwest::Url,
    /// The URL without query or credentials, for logs and the records' source.
    url_shown: String,
    schedule: Schedule,
    tenant: String,
    dataset: String,
    pointer: String,
    cursor: Option<CursorSpec>,
    max_pages: u32,
    client: reqwest::Client,
}

/// What one run did.
#[derive(Debug, PartialEq)]
pub(crate) struct RunReport {
    pub pages: u32,
    pub records: usize,
    pub cursor: Option<Value>,
    /// Shutdown began while a request was in flight (nothing of it was ingested).
    pub interrupted: bool,
}

/// The feed's URL as logs and the API show it: without credentials, query or fragment
/// (API keys often travel in the query).
pub(crate) fn shown_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

impl PullFeed {
    pub fn new(config: &PullFeedConfig) -> Result<Self, SourceError> {
        let key = |field: &str| format!("ingestion.pulls.{}.{field}", config.name);
        let invalid = |field: &str| {
            let key = key(field);
            move |reason: String| SourceError::Config { key, reason }
        };
        let url = reqwest::Url::parse(&config.url).map_err(|e| invalid("url")(e.to_string()))?;
        let shown = shown_url(&url);
        let schedule = Schedule::parse(&config.schedule).map_err(invalid("schedule"))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid("headers")(format!("`{name}`: {e}")))?;
            // Never echo the value: it is usually an API key.
            let mut value = HeaderValue::from_str(value).map_err(|_| invalid("headers")(format!("the value of `{name}` is not a valid header value")))?;
            value.set_sensitive(true);
            headers.insert(header, value);
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds))
            .connect_timeout(Duration::from_secs(config.timeout_seconds.min(10)))
            .default_headers(headers)
            .user_agent(concat!("industry-brain-ingestion/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid("url")(format!("HTTP client: {e}")))?;
        Ok(Self {
            name: config.name.clone(),
            url,
            url_shown: shown,
            schedule,
            tenant: config.tenant.clone(),
            dataset: config.dataset.clone(),
            pointer: config.records_pointer.clone(),
            cursor: config.cursor.as_ref().map(|c| CursorSpec { param: c.param.clone(), from_field: c.from_field.clone() }),
            max_pages: if config.cursor.is_some() { config.max_pages_per_run.max(1) } else { 1 },
            client,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs at every tick until `shutdown`. A run in its ingest step is finished (and its
    /// cursor stored) before returning; a request in flight is abandoned, nothing having
    /// been ingested from it.
    pub async fn run(self, ingestion: Ingestion, cursors: Option<CursorStore>, status: SourceStatus, shutdown: CancellationToken) {
        tracing::info!(feed = %self.name, url = %self.url_shown, "scheduled pull starting");
        let mut last_tick = chrono::Utc::now();
        loop {
            let base = chrono::Utc::now().max(last_tick);
            let Some(tick) = self.schedule.next_after(base) else {
                tracing::warn!(feed = %self.name, "the schedule never fires again; the feed stops");
                shutdown.cancelled().await;
                return;
            };
            last_tick = tick;
            let wait = (tick - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = shutdown.cancelled() => return,
            }
            let labels = |outcome: &'static str| [opentelemetry::KeyValue::new("feed", self.name.clone()), opentelemetry::KeyValue::new("outcome", outcome)];
            match self.run_once(&ingestion, cursors.as_ref(), &shutdown).await {
                Ok(report) if report.interrupted && report.records == 0 => {
                    tracing::info!(feed = %self.name, "pull run abandoned at shutdown; nothing was ingested");
                }
                Ok(report) => {
                    tracing::info!(feed = %self.name, pages = report.pages, records = report.records, "pull run done");
                    metrics::get().pull_runs.add(1, &labels("ok"));
                    status.update("pull", &self.name, |s| {
                        s.last_success = Some(chrono::Utc::now());
                        s.last_error = None;
                        s.runs += 1;
                        if report.cursor.is_some() {
                            s.cursor = report.cursor.clone();
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(feed = %self.name, url = %self.url_shown, kind = error.kind(), %error, "pull run failed; retrying at the next tick");
                    metrics::get().pull_runs.add(1, &labels(error.kind()));
                    status.update("pull", &self.name, |s| {
                        s.last_error = Some(error.to_string());
                        s.failures += 1;
                    });
                }
            }
            if shutdown.is_cancelled() {
                return;
            }
        }
    }

    /// One run: fetch, ingest, advance the cursor — page after page while the cursor moves.
    pub(crate) async fn run_once(&self, ingestion: &Ingestion, cursors: Option<&CursorStore>, shutdown: &CancellationToken) -> Result<RunReport, PullError> {
        // A feed with a cursor always has a store (checked when the sources are built).
        let cursors = cursors.filter(|_| self.cursor.is_some());
        let mut cursor = match cursors {
            Some(store) => store.load(&self.tenant, &self.name).await?,
            None => None,
        };
        let mut report = RunReport { pages: 0, records: 0, cursor: cursor.clone(), interrupted: false };
        let limit = ingestion.limits.max_body_bytes;
        while report.pages < self.max_pages && !shutdown.is_cancelled() {
            report.pages += 1;
            let body = tokio::select! {
                body = self.fetch(cursor.as_ref(), limit) => body?,
                () = shutdown.cancelled() => {
                    report.interrupted = true;
                    break;
                }
            };
            let records = extract_records(&body, &self.pointer)?;
            drop(body);
            if records.is_empty() {
                break;
            }
            let next = self.cursor.as_ref().and_then(|spec| next_cursor(&records, &spec.from_field, cursor.as_ref()));
            report.records += records.len();
            self.ingest(ingestion, records).await?;
            // Only now, with the records durable on the bus, may the cursor move.
            match next {
                Some(next) if Some(&next) != cursor.as_ref() => {
                    if let Some(store) = cursors {
                        store.save(&self.tenant, &self.name, &next).await?;
                    }
                    cursor = Some(next);
                    report.cursor = cursor.clone();
                }
                _ => break,
            }
        }
        Ok(report)
    }

    async fn fetch(&self, cursor: Option<&Value>, limit: u64) -> Result<Vec<u8>, PullError> {
        let mut request = self.client.get(self.url.clone());
        if let (Some(spec), Some(cursor)) = (&self.cursor, cursor) {
            request = request.query(&[(spec.param.as_str(), cursor_param(cursor))]);
        }
        // Errors without the URL: its query may carry a key.
        let mut response = request.send().await.map_err(|e| PullError::Request(e.without_url()))?;
        let status = response.status();
        if !status.is_success() {
            let mut body = String::new();
            if let Ok(Some(chunk)) = response.chunk().await {
                body = String::from_utf8_lossy(&chunk[..chunk.len().min(200)]).into_owned();
            }
            return Err(PullError::Status { status, body });
        }
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(PullError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| PullError::Request(e.without_url()))? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(PullError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn ingest(&self, ingestion: &Ingestion, records: Vec<Value>) -> Result<(), PullError> {
        let inputs: Vec<RecordInput> = records.iter().map(record_input).collect();
        let source = Source {
            kind: SourceKind::Pull as i32,
            name: self.name.clone(),
            attributes: [("url".to_owned(), self.url_shown.clone())].into_iter().collect(),
        };
        for chunk in inputs.chunks(ingestion.limits.max_batch_records.max(1) as usize) {
            ingestion.ingest(&self.tenant, &self.dataset, source.clone(), chunk.to_vec()).await?;
        }
        Ok(())
    }
}

/// A record of the feed as ingestion reads JSON records (`_id`, `_event_time` taken out).
fn record_input(record: &Value) -> RecordInput {
    domain::json_record(&record.to_string())
}

/// The array of records at `pointer` (empty = the whole body); `null` there means none.
pub(crate) fn extract_records(body: &[u8], pointer: &str) -> Result<Vec<Value>, PullError> {
    let mut value: Value = serde_json::from_slice(body).map_err(PullError::NotJson)?;
    let target = if pointer.is_empty() {
        value
    } else {
        value.pointer_mut(pointer).map(Value::take).ok_or_else(|| PullError::MissingPointer(pointer.to_owned()))?
    };
    match target {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(Vec::new()),
        other => Err(PullError::NotArray { pointer: if pointer.is_empty() { "(the body)".into() } else { pointer.to_owned() }, found: json_kind(&other) }),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The next cursor: the largest value of `field` (a top-level key, or a JSON pointer) over
/// the records and the previous cursor, so it never moves back. Numbers compare numerically,
/// strings as text; records without the field (or with another type) do not count.
pub(crate) fn next_cursor(records: &[Value], field: &str, previous: Option<&Value>) -> Option<Value> {
    let read = |record: &'_ Value| -> Option<Value> {
        let value = if field.starts_with('/') { record.pointer(field) } else { record.get(field) }?;
        (value.is_string() || value.is_number()).then(|| value.clone())
    };
    records.iter().filter_map(read).chain(previous.cloned()).max_by(compare_cursor)
}

fn compare_cursor(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => x.as_f64().unwrap_or(f64::NAN).total_cmp(&y.as_f64().unwrap_or(f64::NAN)),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        // Mixed types: deterministic, numbers before strings.
        (Value::Number(_), _) => Ordering::Less,
        (_, Value::Number(_)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// The text of a cursor in the query string.
pub(crate) fn cursor_param(cursor: &Value) -> String {
    match cursor {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_at_a_pointer_or_the_whole_body() {
        let body = br#"{"code":0,"data":{"items":[{"a":1},{"a":2}],"total":2}}"#;
        assert_eq!(extract_records(body, "/data/items").unwrap(), vec![json!({"a":1}), json!({"a":2})]);
        assert_eq!(extract_records(br#"[{"a":1}]"#, "").unwrap(), vec![json!({"a":1})]);
        assert!(extract_records(br#"{"data":{"items":null}}"#, "/data/items").unwrap().is_empty());
        // Elements that are not objects still travel: ingestion refuses them with a reason.
        assert_eq!(extract_records(br#"[1,{"a":1}]"#, "").unwrap().len(), 2);
    }

    #[test]
    fn feed_problems_are_run_errors() {
        let e = extract_records(br#"{"data":{}}"#, "/data/items").unwrap_err();
        assert_eq!(e.to_string(), "response has nothing at records_pointer `/data/items`");
        let e = extract_records(br#"{"data":{"items":{"a":1}}}"#, "/data/items").unwrap_err();
        assert_eq!(e.to_string(), "records_pointer `/data/items` holds an object, not an array of records");
        assert!(matches!(extract_records(b"<html>busy</html>", ""), Err(PullError::NotJson(_))));
        assert!(matches!(extract_records(br#"{"a":1}"#, ""), Err(PullError::NotArray { .. })));
    }

    #[test]
    fn cursor_is_the_max_of_the_field() {
        let records = [
            json!({"id":1,"updated_at":"2026-03-01T08:00:00Z"}),
            json!({"id":2,"updated_at":"2026-03-01T09:30:00Z"}),
            json!({"id":3,"updated_at":"2026-03-01T09:00:00Z"}),
            json!({"id":4}),
            json!({"id":5,"updated_at":null}),
            json!(7),
        ];
        assert_eq!(next_cursor(&records, "updated_at", None), Some(json!("2026-03-01T09:30:00Z")));
        // Never moves back.
        let later = json!("2026-03-02T00:00:00Z");
        assert_eq!(next_cursor(&records, "updated_at", Some(&later)), Some(later.clone()));
        // Nothing carries the field: the previous cursor stays.
        assert_eq!(next_cursor(&[json!({"a":1})], "updated_at", Some(&later)), Some(later));
        assert_eq!(next_cursor(&[json!({"a":1})], "updated_at", None), None);
    }

    #[test]
    fn numeric_and_nested_cursors() {
        let records = [json!({"seq":9,"meta":{"v":1.5}}), json!({"seq":10,"meta":{"v":0.5}}), json!({"seq":2})];
        // Numerically, not as text ("9" > "10").
        assert_eq!(next_cursor(&records, "seq", None), Some(json!(10)));
        assert_eq!(next_cursor(&records, "/meta/v", None), Some(json!(1.5)));
        assert_eq!(cursor_param(&json!(10)), "10");
        assert_eq!(cursor_param(&json!("2026-03-01T09:30:00Z")), "2026-03-01T09:30:00Z");
        assert_eq!(compare_cursor(&json!(u64::MAX), &json!(1)), Ordering::Greater);
    }
}
