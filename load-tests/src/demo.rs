//! `brain-load demo`: a textile and apparel cluster (纺织服装产业集群) pushed through the real
//! APIs of a running brain. It registers one dataset per kind in the catalog (basic library:
//! `enterprises`, `production-lines`; industry library: `production-output`, `energy-use`,
//! `orders`, `quality-checks`), sends the records over REST in batches with deterministic
//! ids (re-running creates no duplicates), plants a small share of realistic bad records,
//! waits for governance and prints what landed and what was rejected.

use crate::clients;
use crate::textile::{self, Cluster, DemoRecord, Rng};
use anyhow::{Context, bail, ensure};
use chrono::NaiveDate;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone, Debug)]
pub struct DemoArgs {
    /// Ingestion REST base URL (`brain up` answers everything here).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Governance REST base URL (catalog, quality) when it runs elsewhere; default: --url.
    #[arg(long)]
    governance_url: Option<String>,
    /// Tenant owning the datasets; default: the cluster's industry-brain operating centre.
    #[arg(long)]
    tenant: Option<String>,
    /// Enterprises of the cluster.
    #[arg(long, default_value_t = 40)]
    enterprises: usize,
    /// Days of facts, ending with --end-date.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Last day of facts (YYYY-MM-DD); default: yesterday in China Standard Time.
    #[arg(long)]
    end_date: Option<NaiveDate>,
    /// Seed of the cluster: the same seed gives the same enterprises, lines and facts.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Share of fact records spoiled the way real feeds go wrong (0–1).
    #[arg(long, default_value_t = 0.01)]
    bad_share: f64,
    /// Records per REST request.
    #[arg(long, default_value_t = 300)]
    batch: usize,
    /// Seconds to wait for governance to account for every record (0: do not wait).
    #[arg(long, default_value_t = 120)]
    wait: u64,
    /// Generate and print the counts and one record per dataset, send nothing.
    #[arg(long)]
    dry_run: bool,
    /// An API key of the tenant (role `gov-admin` or `enterprise-admin`): the brain
    /// authenticates every API.
    #[arg(long, env = "BRAIN_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Or an access token of a user of the tenant (`POST /api/v1/auth/sign-in`).
    #[arg(long, env = "BRAIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// Every request carries the caller's credential.
fn authenticated_client(args: &DemoArgs, tenant: &str) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    match (&args.api_key, &args.token) {
        (Some(key), _) => {
            headers.insert("x-api-key", key.parse().context("--api-key is not a header value")?);
        }
        (None, Some(token)) => {
            headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().context("--token is not a header value")?);
        }
        (None, None) => anyhow::bail!(
            "the brain authenticates every API: pass --api-key (or BRAIN_API_KEY) of tenant {tenant}, made by its administrator with POST /api/v1/identity/tenants/{tenant}/api-keys, or --token of one of its users (see README, \"Run it\")"
        ),
    }
    Ok(reqwest::Client::builder().timeout(Duration::from_secs(60)).default_headers(headers).build()?)
}

/// The records of every dataset, in catalog order.
pub fn generate(cluster: &Cluster, end: NaiveDate, days: u32, bad_share: f64) -> Vec<(&'static str, Vec<DemoRecord>)> {
    let first = end - chrono::Days::new(u64::from(days.saturating_sub(1)));
    let mut out: Vec<(&'static str, Vec<DemoRecord>)> = vec![
        (textile::ENTERPRISES, cluster.enterprise_records(end)),
        (textile::PRODUCTION_LINES, cluster.line_records(end)),
        (textile::PRODUCTION_OUTPUT, Vec::new()),
        (textile::ENERGY_USE, Vec::new()),
        (textile::ORDERS, Vec::new()),
        (textile::QUALITY_CHECKS, Vec::new()),
    ];
    for day in first.iter_days().take_while(|d| *d <= end) {
        for e in &cluster.enterprises {
            for l in &e.lines {
                out[2].1.push(cluster.output_record(e, l, day));
                out[3].1.push(cluster.energy_record(e, l, day));
                out[5].1.extend(cluster.quality_records(e, l, day));
            }
            out[4].1.extend(cluster.order_records(e, day));
        }
    }
    // Facts only: the reference data (enterprises, lines) stays clean.
    for (kind, records) in out.iter_mut().skip(2) {
        for record in records.iter_mut() {
            let mut rng = Rng::for_key(cluster.seed, &["bad", kind, &record.id]);
            if rng.chance(bad_share) {
                textile::spoil(kind, record, &mut rng);
            }
        }
    }
    out
}

struct Pushed {
    dataset: &'static str,
    library: String,
    created: bool,
    sent: u64,
    bad: u64,
    ingest_accepted: u64,
    ingest_rejected: u64,
    warehouse: u64,
    rejected: u64,
    score: f64,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    ensure!((0.0..=1.0).contains(&args.bad_share), "--bad-share is a share between 0 and 1");
    ensure!(args.batch > 0 && args.days > 0 && args.enterprises > 0, "--batch, --days and --enterprises must be positive");
    let url = args.url.trim_end_matches('/').to_owned();
    let governance = args.governance_url.as_deref().unwrap_or(&url).trim_end_matches('/').to_owned();
    let tenant = args.tenant.clone().unwrap_or_else(textile::operator_tenant);
    let end = args.end_date.unwrap_or_else(|| {
        let cst = chrono::Utc::now() + chrono::Duration::hours(8);
        cst.date_naive() - chrono::Days::new(1)
    });
    let cluster = Cluster::generate(args.seed, args.enterprises);
    ensure!(cluster.enterprises.iter().all(|e| textile::uscc_valid(&e.uscc)), "a generated credit code fails its check character");
    let datasets = generate(&cluster, end, args.days, args.bad_share);
    let first = end - chrono::Days::new(u64::from(args.days - 1));
    let provinces = ["浙江省", "山东省", "江西省"].map(|p| (p, cluster.enterprises.iter().filter(|e| e.region.province == p).count()));
    println!(
        "brain-load demo: textile and apparel cluster, seed {}, {} enterprises ({}), {} production lines, {} days {first} … {end}, tenant {tenant}",
        args.seed,
        cluster.enterprises.len(),
        provinces.iter().map(|(p, n)| format!("{p} {n}")).collect::<Vec<_>>().join(", "),
        cluster.line_count(),
        args.days,
    );
    if args.dry_run {
        for (kind, records) in &datasets {
            let bad = records.iter().filter(|r| r.bad.is_some()).count();
            println!("{kind:<18} {:>7} records ({bad} bad)", records.len());
            if let Some(r) = records.first() {
                println!("  {}", r.to_json());
            }
        }
        return Ok(());
    }

    let client = authenticated_client(&args, &tenant)?;
    let started = Instant::now();
    let mut pushed = Vec::new();
    for (kind, records) in &datasets {
        let spec = textile::dataset_spec(kind, kind, &tenant).with_context(|| format!("no spec for {kind}"))?;
        let created = clients::register_dataset(&client, &governance, &tenant, &spec).await.with_context(|| format!("registering {kind} at {governance}"))?;
        let library = spec["library"].as_str().unwrap_or("").to_owned();
        let endpoint = format!("{url}/api/v1/tenants/{tenant}/datasets/{kind}/records");
        let (mut accepted, mut rejected) = (0, 0);
        for chunk in records.chunks(args.batch) {
            let body = serde_json::to_vec(&Value::Array(chunk.iter().map(DemoRecord::to_json).collect()))?;
            let response = clients::post_retrying(&client, &endpoint, &body).await?;
            let status = response.status();
            let ack: Value = response.json().await.with_context(|| format!("reading the answer of POST {endpoint}"))?;
            if !status.is_success() {
                bail!("POST {endpoint} answered {status}: {ack}");
            }
            accepted += ack["accepted"].as_u64().unwrap_or(0);
            rejected += ack["rejected"].as_u64().unwrap_or(0);
        }
        let bad = records.iter().filter(|r| r.bad.is_some()).count() as u64;
        eprintln!("brain-load: {kind}: {} records sent ({bad} bad), ingestion accepted {accepted}, rejected {rejected}", records.len());
        pushed.push(Pushed {
            dataset: kind,
            library,
            created,
            sent: records.len() as u64,
            bad,
            ingest_accepted: accepted,
            ingest_rejected: rejected,
            warehouse: 0,
            rejected: 0,
            score: 100.0,
        });
    }
    let sent_seconds = started.elapsed().as_secs_f64();

    // Governance checks asynchronously: wait until it has accounted for every record sent
    // (counts in the warehouse and among rejected records; earlier runs count too).
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let mut settled = args.wait == 0;
    let mut last: Vec<(u64, u64)> = Vec::new();
    while !settled {
        let mut now = Vec::with_capacity(pushed.len());
        for p in &pushed {
            let (a, r, score) = clients::quality_counts(&client, &governance, &tenant, p.dataset).await?;
            now.push((a, r, score));
        }
        for (p, (a, r, s)) in pushed.iter_mut().zip(&now) {
            (p.warehouse, p.rejected, p.score) = (*a, *r, *s);
        }
        let counts: Vec<(u64, u64)> = now.iter().map(|(a, r, _)| (*a, *r)).collect();
        let complete = pushed.iter().all(|p| p.warehouse + p.rejected >= p.sent);
        settled = complete && counts == last;
        last = counts;
        if !settled {
            if Instant::now() > deadline {
                eprintln!("brain-load: governance has not accounted for every record within {}s; the table shows what it has so far", args.wait);
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    println!();
    println!(
        "{:<18} {:<9} {:>8} {:>6} {:>9} {:>9} {:>10} {:>9} {:>6}  catalog",
        "dataset", "library", "sent", "bad", "ing. acc", "ing. rej", "warehouse", "rejected", "score"
    );
    println!("{}", "-".repeat(100));
    for p in &pushed {
        println!(
            "{:<18} {:<9} {:>8} {:>6} {:>9} {:>9} {:>10} {:>9} {:>6.1}  {}",
            p.dataset,
            p.library,
            p.sent,
            p.bad,
            p.ingest_accepted,
            p.ingest_rejected,
            p.warehouse,
            p.rejected,
            p.score,
            if p.created { "created" } else { "existed" }
        );
    }
    let total = |f: fn(&Pushed) -> u64| pushed.iter().map(f).sum::<u64>();
    println!("{}", "-".repeat(100));
    println!(
        "{:<18} {:<9} {:>8} {:>6} {:>9} {:>9} {:>10} {:>9}",
        "total",
        "",
        total(|p| p.sent),
        total(|p| p.bad),
        total(|p| p.ingest_accepted),
        total(|p| p.ingest_rejected),
        total(|p| p.warehouse),
        total(|p| p.rejected)
    );
    println!();
    println!(
        "enterprises {}, records sent {}, accepted {}, rejected {} (in {sent_seconds:.1} s of sending); warehouse and rejected counts are the datasets' totals, earlier runs included",
        cluster.enterprises.len(),
        total(|p| p.sent),
        total(|p| p.warehouse),
        total(|p| p.rejected)
    );
    println!("rejected records: GET {governance}/api/v1/tenants/{tenant}/datasets/<dataset>/rejected");
    let summary = json!({
        "benchmark": "demo",
        "seed": args.seed, "tenant": tenant, "enterprises": cluster.enterprises.len(), "lines": cluster.line_count(),
        "days": args.days, "first_day": first.to_string(), "end_date": end.to_string(), "bad_share": args.bad_share,
        "settled": settled, "send_seconds": (sent_seconds * 1000.0).round() / 1000.0,
        "datasets": pushed.iter().map(|p| json!({
            "name": p.dataset, "library": p.library, "created": p.created, "sent": p.sent, "bad": p.bad,
            "ingestion_accepted": p.ingest_accepted, "ingestion_rejected": p.ingest_rejected,
            "warehouse": p.warehouse, "rejected": p.rejected, "score": p.score,
        })).collect::<Vec<_>>(),
    });
    println!("{summary}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_one_percent_of_facts_are_bad_and_ids_are_unique() {
        let cluster = Cluster::generate(2026, 40);
        let end = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let data = generate(&cluster, end, 30, 0.01);
        let facts: Vec<&DemoRecord> = data.iter().skip(2).flat_map(|(_, r)| r).collect();
        let bad = facts.iter().filter(|r| r.bad.is_some()).count() as f64 / facts.len() as f64;
        assert!((0.005..0.02).contains(&bad), "{bad}");
        assert!(data[0].1.iter().chain(&data[1].1).all(|r| r.bad.is_none()));
        for (kind, records) in &data {
            let ids: std::collections::HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(ids.len(), records.len(), "{kind}");
        }
        // The same day is the same record in a longer window.
        let longer = generate(&cluster, end, 45, 0.01);
        let pick = |d: &[(&str, Vec<DemoRecord>)]| d[2].1.iter().find(|r| r.id.ends_with("2026-11-20")).map(|r| r.to_json());
        assert_eq!(pick(&data), pick(&longer));
    }
}
