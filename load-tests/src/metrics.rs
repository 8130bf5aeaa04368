//! What a brain's own metrics say about a phase: `/metrics` scraped before and after, the
//! differences of bus publish calls and their mean duration per topic, consumer commits
//! (one per consumer batch) and the mean HTTP handler time per route.

use std::collections::BTreeMap;

/// `name{labels}` → value, for the series this module reads.
pub type Scrape = BTreeMap<String, f64>;

const SERIES: [&str; 5] = [
    "brain_bus_publish_duration_seconds_sum",
    "brain_bus_publish_duration_seconds_count",
    "brain_bus_commits_total",
    "brain_http_request_duration_seconds_sum",
    "brain_http_request_duration_seconds_count",
];

pub async fn scrape(client: &reqwest::Client, http: &str) -> Scrape {
    let Ok(response) = client.get(format!("{http}/metrics")).send().await else { return Scrape::new() };
    let Ok(text) = response.text().await else { return Scrape::new() };
    text.lines()
        .filter(|l| SERIES.iter().any(|s| l.starts_with(s)))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn label<'a>(series: &'a str, name: &str) -> Option<&'a str> {
    let start = series.find(&format!("{name}=\""))? + name.len() + 2;
    let end = series[start..].find('"')? + start;
    Some(&series[start..end])
}

/// `ingest.records.v1` of `<prefix>.ingest.records.v1`.
fn short_topic(topic: &str) -> &str {
    topic.split_once('.').map_or(topic, |(_, rest)| rest)
}

/// A one-line summary of what changed between two scrapes of one brain.
pub fn summary(name: &str, before: &Scrape, after: &Scrape) -> Option<String> {
    let delta = |key: &str| after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0);
    let mut parts = Vec::new();
    for (series, _) in after.iter().filter(|(k, _)| k.starts_with("brain_bus_publish_duration_seconds_count")) {
        let calls = delta(series);
        if calls < 1.0 {
            continue;
        }
        let sum = delta(&series.replace("_count", "_sum"));
        let topic = label(series, "topic").map_or("?", short_topic);
        parts.push(format!("publish {topic} {calls:.0}× {:.1} ms", sum / calls * 1000.0));
    }
    for (series, _) in after.iter().filter(|(k, _)| k.starts_with("brain_bus_commits_total")) {
        let commits = delta(series);
        if commits >= 1.0 {
            let topic = label(series, "topic").map_or("?", short_topic);
            parts.push(format!("commits {topic} {commits:.0}"));
        }
    }
    for (series, _) in after.iter().filter(|(k, _)| k.starts_with("brain_http_request_duration_seconds_count")) {
        let calls = delta(series);
        let route = label(series, "route").unwrap_or("?");
        if calls < 1.0 || !route.ends_with("/records") || label(series, "method") != Some("POST") {
            continue;
        }
        let sum = delta(&series.replace("_count", "_sum"));
        parts.push(format!("POST records {calls:.0}× {:.1} ms", sum / calls * 1000.0));
    }
    (!parts.is_empty()).then(|| format!("{name}: {}", parts.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_per_topic() {
        let before: Scrape = [("brain_bus_publish_duration_seconds_count{backend=\"kafka\",topic=\"p.ingest.records.v1\"}".to_owned(), 1.0)].into();
        let after: Scrape = [
            ("brain_bus_publish_duration_seconds_count{backend=\"kafka\",topic=\"p.ingest.records.v1\"}".to_owned(), 11.0),
            ("brain_bus_publish_duration_seconds_sum{backend=\"kafka\",topic=\"p.ingest.records.v1\"}".to_owned(), 0.1),
            ("brain_bus_commits_total{backend=\"kafka\",topic=\"p.ingest.records.v1\"}".to_owned(), 4.0),
        ]
        .into();
        assert_eq!(summary("x", &before, &after).unwrap(), "x: publish ingest.records.v1 10× 10.0 ms, commits ingest.records.v1 4");
    }
}
