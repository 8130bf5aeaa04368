//! Runs `producers` concurrent publishers over a fixed number of events, `batch` events per
//! call, and measures wall time and per-call latency. Two flavours: tokio tasks for async
//! clients (the buses, rdkafka) and OS threads for blocking I/O (the raw file baseline).

use crate::report::{Sample, new_histogram};
use anyhow::{Context, anyhow};
use hdrhistogram::Histogram;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the events of one phase are cut: `producers` publishers, `batch` events per call.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub producers: usize,
    pub batch: usize,
}

/// The calls of one producer: (first sequence number, event count) of each batch.
/// Sequence numbers are global and dense, so keys chosen as `seq % keys` rotate evenly.
fn calls_of(producer: usize, events: u64, first_seq: u64, shape: Shape) -> Vec<(u64, usize)> {
    let producers = shape.producers as u64;
    let p = producer as u64;
    let mine = events / producers + u64::from(p < events % producers);
    let before: u64 = (0..p).map(|q| events / producers + u64::from(q < events % producers)).sum();
    let mut calls = Vec::new();
    let mut done = 0u64;
    while done < mine {
        let n = (mine - done).min(shape.batch as u64);
        calls.push((first_seq + before + done, n as usize));
        done += n;
    }
    calls
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Async publishers: `call(first_seq, count)` publishes one batch and returns how long the
/// publish call itself took (building the batch stays outside the latency figure).
pub async fn run_async<F, Fut>(events: u64, first_seq: u64, shape: Shape, bytes_per_event: u64, call: F) -> anyhow::Result<Sample>
where
    F: Fn(u64, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<Duration>> + Send + 'static,
{
    let start = Arc::new(tokio::sync::Barrier::new(shape.producers + 1));
    let mut tasks = Vec::with_capacity(shape.producers);
    for producer in 0..shape.producers {
        let calls = calls_of(producer, events, first_seq, shape);
        let call = call.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            let mut latency = new_histogram()?;
            start.wait().await;
            for (seq, n) in calls {
                let took = call(seq, n).await?;
                latency.saturating_record(micros(took));
            }
            anyhow::Ok(latency)
        }));
    }
    start.wait().await;
    let started = Instant::now();
    let mut latency = new_histogram()?;
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok(h)) => latency.add(&h).map_err(|e| anyhow!("merging histograms: {e}"))?,
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(anyhow!("producer task died: {e}"))),
        }
    }
    let elapsed = started.elapsed();
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(Sample::new(events, events * bytes_per_event, elapsed, latency))
}

/// A client with state of its own (a connection, a stream): one per producer.
pub trait Session: Send + 'static {
    /// Sends the records `first_seq .. first_seq + count` as one batch and waits for its
    /// acknowledgement; returns the time from send to acknowledgement.
    fn call(&mut self, first_seq: u64, count: usize) -> impl Future<Output = anyhow::Result<Duration>> + Send;
}

/// Like [`run_async`], with one [`Session`] per producer (`sessions.len()` producers).
pub async fn run_sessions<S: Session>(events: u64, first_seq: u64, batch: usize, bytes_per_event: u64, sessions: Vec<S>) -> anyhow::Result<(Sample, Vec<S>)> {
    let shape = Shape { producers: sessions.len(), batch };
    let start = Arc::new(tokio::sync::Barrier::new(shape.producers + 1));
    let mut tasks = Vec::with_capacity(shape.producers);
    for (producer, mut session) in sessions.into_iter().enumerate() {
        let calls = calls_of(producer, events, first_seq, shape);
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            // Built before the barrier, failing after it, so no task leaves the others waiting.
            let latency = new_histogram();
            start.wait().await;
            let mut latency = latency?;
            for (seq, n) in calls {
                let took = session.call(seq, n).await?;
                latency.saturating_record(micros(took));
            }
            anyhow::Ok((latency, session))
        }));
    }
    start.wait().await;
    let started = Instant::now();
    let mut latency = new_histogram()?;
    let mut failure = None;
    let mut back = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(Ok((h, session))) => {
                latency.add(&h).map_err(|e| anyhow!("merging histograms: {e}"))?;
                back.push(session);
            }
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(anyhow!("producer task died: {e}"))),
        }
    }
    let elapsed = started.elapsed();
    if let Some(error) = failure {
        return Err(error);
    }
    Ok((Sample::new(events, events * bytes_per_event, elapsed, latency), back))
}

/// Blocking publishers on OS threads: `call(first_seq, count)` does one batch's work and
/// returns its duration.
pub fn run_threads<F>(events: u64, first_seq: u64, shape: Shape, bytes_per_event: u64, call: F) -> anyhow::Result<Sample>
where
    F: Fn(u64, usize) -> anyhow::Result<Duration> + Sync,
{
    let start = std::sync::Barrier::new(shape.producers + 1);
    let (results, elapsed) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..shape.producers)
            .map(|producer| {
                let calls = calls_of(producer, events, first_seq, shape);
                let (call, start) = (&call, &start);
                scope.spawn(move || -> anyhow::Result<Histogram<u64>> {
                    // Build the histogram before the barrier so that no thread can fail out
                    // of the barrier and leave the others waiting.
                    let latency = new_histogram();
                    start.wait();
                    let mut latency = latency?;
                    for (seq, n) in calls {
                        latency.saturating_record(micros(call(seq, n)?));
                    }
                    Ok(latency)
                })
            })
            .collect();
        start.wait();
        let started = Instant::now();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().map_err(|_| anyhow!("producer thread panicked"))).collect();
        (results, started.elapsed())
    });
    let mut latency = new_histogram()?;
    for result in results {
        latency.add(&result??).map_err(|e| anyhow!("merging histograms: {e}"))?;
    }
    Ok(Sample::new(events, events * bytes_per_event, elapsed, latency))
}

/// Warm-up size: a few calls per producer, at least 5 % of the run.
pub fn warmup_events(events: u64, shape: Shape) -> u64 {
    (events / 20).max((shape.producers * shape.batch * 4) as u64)
}

/// Fails with `what` when `timeout` passes first (a broker that does not answer).
pub async fn within<T>(what: &str, timeout: Duration, fut: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::time::timeout(timeout, fut).await.with_context(|| format!("{what}: no answer within {timeout:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_cover_every_event_once() {
        let shape = Shape { producers: 3, batch: 7 };
        let mut seen: Vec<u64> = (0..3).flat_map(|p| calls_of(p, 100, 10, shape)).flat_map(|(s, n)| s..s + n as u64).collect();
        seen.sort_unstable();
        assert_eq!(seen, (10..110).collect::<Vec<_>>());
        assert!((0..3).flat_map(|p| calls_of(p, 100, 10, shape)).all(|(_, n)| n <= 7));
    }
}
