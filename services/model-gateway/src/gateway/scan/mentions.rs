//! Datasets a prompt names as `tenant/dataset`, and their grades from governance's catalog.
//!
//! A reference is graded only when the caller may read the dataset (its own tenant, within an
//! API key's dataset scope; services read all): the grade then decides where the prompt may go.
//! Another tenant's dataset is never looked up. Its grade would protect nothing (the caller holds
//! none of its data, or holds it masked under a grant), and looking it up would turn the
//! gateway's decision (`x-brain-guardrail: block` for a high-graded dataset, `allow` for a name
//! that does not exist) into a way of probing what another tenant has: unreadable and unknown
//! references both stay ungraded, whatever exists.

use brain_auth::Principal;
use brain_governance::domain::{Grade, detectors};
use brain_proto::common::v1::DatasetRef;
use brain_proto::governance::v1::GetDatasetRequest;
use brain_proto::governance::v1::catalog_service_client::CatalogServiceClient;
use brain_runtime::{PeerChannel, Peers};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// A dataset a prompt names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatasetMention {
    /// `tenant/dataset`, as written.
    pub reference: String,
    /// Its grade in the catalog; `None` until [`grade_mentions`] settles it, and after it for a
    /// dataset the caller may not read, one not in the catalog, or one it could not ask about.
    pub grade: Option<Grade>,
}

impl DatasetMention {
    pub fn tenant(&self) -> &str {
        self.reference.split_once('/').map_or("", |(t, _)| t)
    }

    pub fn dataset(&self) -> &str {
        self.reference.split_once('/').map_or("", |(_, d)| d)
    }
}

/// Most distinct references one scan keeps; a prompt naming more is not looked at further.
pub const MAX_MENTIONS: usize = 64;
/// Most catalog look-ups one call of [`grade_mentions`] makes (cached answers do not count).
pub const MAX_LOOKUPS: usize = 16;
/// A dataset's grade changes rarely (re-classification, an override): cached this long.
const KNOWN_FOR: Duration = Duration::from_secs(10);
/// A dataset may be registered any moment: ask again soon.
const UNKNOWN_FOR: Duration = Duration::from_secs(2);
/// One look-up may not hold a request longer than this.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);
/// Bound on cached answers; the cache is emptied when it is full.
const MAX_CACHED: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// Finding references

fn reference_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')
}

/// A tenant id: a unified social credit code (check character verified), or a slug of 2–64
/// letters, digits, `-` and `_` with at least one letter. No dots: `example.com/x` is a host.
fn looks_like_tenant(t: &str) -> bool {
    if t.len() == 18 && detectors::is_uscc(t) {
        return true;
    }
    let b = t.as_bytes();
    (2..=64).contains(&b.len())
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
        && b.iter().any(u8::is_ascii_alphabetic)
}

/// A dataset name as the catalog accepts it (1–64 of `[A-Za-z0-9._-]`), starting with a letter or
/// digit and holding a letter (`03` in `2024/03` is no name).
fn looks_like_dataset(d: &str) -> bool {
    let b = d.as_bytes();
    (1..=64).contains(&b.len())
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter().all(|c| reference_char(*c))
        && b.iter().any(u8::is_ascii_alphabetic)
}

/// `tenant/dataset` references in free text: exactly one slash between two names, not part of a
/// path or URL (`https://host/a/b`, `host:8080/x`, `a/b/c`, `user@host/x`), not a date or a
/// fraction (`2024/03/15`, `3/4`). A full stop after the name ends the sentence, not the name.
pub(super) fn find(text: &str) -> Vec<DatasetMention> {
    let b = text.as_bytes();
    let mut found: Vec<DatasetMention> = Vec::new();
    for slash in b.iter().enumerate().filter_map(|(i, c)| (*c == b'/').then_some(i)) {
        if found.len() >= MAX_MENTIONS {
            break;
        }
        let mut start = slash;
        while start > 0 && b.get(start - 1).copied().is_some_and(reference_char) {
            start -= 1;
        }
        let mut end = slash + 1;
        while b.get(end).copied().is_some_and(reference_char) {
            end += 1;
        }
        let glued_before = start > 0 && matches!(b.get(start - 1), Some(b'/' | b':' | b'@' | b'\\'));
        let glued_after = matches!(b.get(end), Some(b'/' | b'\\' | b'@'));
        if glued_before || glued_after {
            continue;
        }
        while end > slash + 1 && b.get(end - 1) == Some(&b'.') {
            end -= 1;
        }
        let (Some(tenant), Some(dataset)) = (text.get(start..slash), text.get(slash + 1..end)) else { continue };
        if looks_like_tenant(tenant) && looks_like_dataset(dataset) {
            let reference = format!("{tenant}/{dataset}");
            if !found.iter().any(|m| m.reference == reference) {
                found.push(DatasetMention { reference, grade: None });
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Grading references

/// What [`grade_mentions`] settled. Counts only, so it may be logged and audited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Lookups {
    /// Graded from the catalog (asked now or answered from the cache).
    pub graded: usize,
    /// Within the caller's reach but not in the catalog.
    pub unknown: usize,
    /// Datasets the caller may not read: not looked up.
    pub unreadable: usize,
    /// Not settled: governance could not be asked in time, or beyond [`MAX_LOOKUPS`]. A guardrail
    /// that fails closed treats these as high.
    pub unchecked: usize,
}

/// (tenant/dataset) → (grade, or `None` when not in the catalog; when governance said so).
#[derive(Default)]
pub(super) struct GradeCache(Mutex<HashMap<String, (Option<Grade>, Instant)>>);

impl GradeCache {
    fn get(&self, reference: &str) -> Option<Option<Grade>> {
        let answers = self.0.lock().ok()?;
        let (grade, at) = answers.get(reference)?;
        let ttl = if grade.is_some() { KNOWN_FOR } else { UNKNOWN_FOR };
        (at.elapsed() < ttl).then_some(*grade)
    }

    fn put(&self, reference: &str, grade: Option<Grade>) {
        if let Ok(mut answers) = self.0.lock() {
            if answers.len() >= MAX_CACHED {
                answers.clear();
            }
            answers.insert(reference.to_owned(), (grade, Instant::now()));
        }
    }
}

/// The process's cache: one brain per process, and the answers are the catalog's, not a caller's
/// (readability is checked before the cache is asked).
static CACHE: LazyLock<GradeCache> = LazyLock::new(GradeCache::default);

/// Looks up the grade of each mentioned dataset the `reader` may read with governance's
/// `CatalogService.GetDataset`, as a platform service through `peers`; see [`Lookups`] for what
/// stays `None`. At most [`MAX_LOOKUPS`] look-ups per call, concurrently, each bounded in time;
/// answers are cached for a few seconds. A dataset in the catalog without a grade counts as high.
pub async fn grade_mentions(peers: &Peers, reader: &Principal, mentions: &mut [DatasetMention]) -> Lookups {
    let channel = || match peers.channel("governance") {
        Ok(channel) => channel,
        Err(e) => {
            tracing::warn!(error = %e, "cannot reach governance to grade dataset references");
            None
        }
    };
    grade_with(channel, &CACHE, reader, mentions).await
}

enum Answer {
    Graded(Grade),
    Unknown,
    Unchecked,
}

pub(super) async fn grade_with(
    channel: impl FnOnce() -> Option<PeerChannel>,
    cache: &GradeCache,
    reader: &Principal,
    mentions: &mut [DatasetMention],
) -> Lookups {
    let mut lookups = Lookups::default();
    let mut ask: Vec<usize> = Vec::new();
    for (i, mention) in mentions.iter_mut().enumerate() {
        mention.grade = None;
        if reader.require_dataset_of(mention.tenant(), mention.dataset()).is_err() {
            lookups.unreadable += 1;
        } else if let Some(cached) = cache.get(&mention.reference) {
            mention.grade = cached;
            if cached.is_some() {
                lookups.graded += 1;
            } else {
                lookups.unknown += 1;
            }
        } else if ask.len() < MAX_LOOKUPS {
            ask.push(i);
        } else {
            lookups.unchecked += 1;
        }
    }
    if ask.is_empty() {
        return lookups;
    }
    let Some(client) = channel().map(CatalogServiceClient::new) else {
        lookups.unchecked += ask.len();
        return lookups;
    };
    let asked = ask.iter().filter_map(|i| mentions.get(*i)).map(|m| {
        let (client, tenant, dataset) = (client.clone(), m.tenant().to_owned(), m.dataset().to_owned());
        async move { look_up(client, tenant, dataset).await }
    });
    let answers = futures::future::join_all(asked).await;
    for (i, answer) in ask.into_iter().zip(answers) {
        let Some(mention) = mentions.get_mut(i) else { continue };
        match answer {
            Answer::Graded(grade) => {
                cache.put(&mention.reference, Some(grade));
                mention.grade = Some(grade);
                lookups.graded += 1;
            }
            Answer::Unknown => {
                cache.put(&mention.reference, None);
                lookups.unknown += 1;
            }
            Answer::Unchecked => lookups.unchecked += 1,
        }
    }
    lookups
}

async fn look_up(mut client: CatalogServiceClient<PeerChannel>, tenant: String, dataset: String) -> Answer {
    let mut request = tonic::Request::new(GetDatasetRequest { r#ref: Some(DatasetRef { tenant_id: tenant, dataset }) });
    brain_telemetry::propagation::inject_grpc(&mut request);
    match tokio::time::timeout(LOOKUP_TIMEOUT, client.get_dataset(request)).await {
        Ok(Ok(found)) => Answer::Graded(Grade::from_proto(found.into_inner().grade).unwrap_or(Grade::High)),
        Ok(Err(status)) if status.code() == tonic::Code::NotFound => Answer::Unknown,
        Ok(Err(status)) => {
            tracing::warn!(code = ?status.code(), message = status.message(), "cannot grade a dataset reference");
            Answer::Unchecked
        }
        Err(_) => {
            tracing::warn!(timeout_ms = LOOKUP_TIMEOUT.as_millis() as u64, "grading a dataset reference timed out");
            Answer::Unchecked
        }
    }
}

#[cfg(test)]
impl GradeCache {
    pub(super) fn insert_at(&self, reference: &str, grade: Option<Grade>, at: Instant) {
        if let Ok(mut answers) = self.0.lock() {
            answers.insert(reference.to_owned(), (grade, at));
        }
    }
}
