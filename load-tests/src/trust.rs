//! `brain-load trust`: what the trust layer (authentication, authorization, auditing) costs
//! on the read path.
//!
//! Two `brain up` processes run side by side, identical but for `BRAIN_TRUST__ENFORCE`:
//! `false` is the baseline (no credential is read, every caller acts as a platform service),
//! `true` is the system under test (every request carries a JWT or an API key, is
//! authenticated, guarded by tenant and authorized). Both hold the same records in the same
//! dataset and get the same closed-loop reads: REST `GET …/records?page_size=N` and gRPC
//! `WarehouseService/QueryRecords`. The two brains are measured alternately (off, on, off,
//! on, …) and each system's best round is compared, which evens out a noisy VM.
//! Goal: reads/s with trust on ≥ 0.7× reads/s with trust off, for REST and for gRPC.
//!
//! One more path shows what auditing costs (enforced only, no goal): a consumer tenant's read
//! under a grant (`GET /api/v1/grants/{id}/records`), which appends a ledger entry, meters a
//! usage event and signs a trusted-status report per read, against the owner's own REST read.

use crate::brainproc::{self, Brain};
use crate::bus::{cpus, filesystem_of};
use crate::clients::{self, LoadData};
use crate::cpu;
use crate::report::{Sample, median, new_histogram, round};
use crate::textile;
use anyhow::{Context, anyhow, bail, ensure};
use brain_proto::common::v1::{DatasetRef, PageRequest};
use brain_proto::governance::v1::QueryRecordsRequest;
use brain_proto::governance::v1::warehouse_service_client::WarehouseServiceClient;
use prost::Message as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};
use std::future::Future;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const GOAL: f64 = 0.7;
/// The bootstrap administrator's password: ≥ 10 characters, three classes, without `admin`.
pub(crate) const ADMIN_PASSWORD: &str = "Bench-Brain-passw0rd";
pub(crate) const USER_PASSWORD: &str = "Loom-and-shuttle-7";
/// The owner of the data: an enterprise (its id is a unified social credit code) and its administrator.
const OWNER_TENANT: &str = "91330100MA27XKQ717";
const OWNER_USER: &str = "weaver";
/// The consumer reading under a grant: a government department and its analyst.
const CONSUMER_TENANT: &str = "gov-economy";
const CONSUMER_USER: &str = "analyst";
const DATASET: &str = textile::PRODUCTION_OUTPUT;
/// Records per ingestion request while loading the dataset.
const LOAD_BATCH: usize = 500;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(clap::Args, Clone, Debug)]
pub struct TrustArgs {
    /// Concurrent clients, each with its own connection and one read in flight.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds measured per system and round.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of reads before each measured phase (not counted).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Records per read (`page_size`); small, so that per-request work dominates.
    #[arg(long, default_value_t = 10)]
    page_size: u32,
    /// Records ingested into the dataset that is read.
    #[arg(long, default_value_t = 1000)]
    records: u64,
    /// Rounds; each measures every system of the off brain, then every system of the on brain.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Leave out the read under a grant.
    #[arg(long)]
    no_grant: bool,
    #[command(flatten)]
    run: brainproc::BrainRun,
    /// Seed of the generated cluster the records come from.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

// ---------------------------------------------------------------------------------------
// The systems

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    Rest,
    Grpc,
    /// REST read under a grant, by the consumer tenant.
    Grant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CredentialKind {
    None,
    Jwt,
    ApiKey,
}

impl CredentialKind {
    fn label(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Jwt => "JWT",
            Self::ApiKey => "API key",
        }
    }
}

/// One measured system: an API, a credential, a brain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct System {
    api: Api,
    credential: CredentialKind,
    enforce: bool,
}

const REST_OFF: System = System { api: Api::Rest, credential: CredentialKind::None, enforce: false };
const GRPC_OFF: System = System { api: Api::Grpc, credential: CredentialKind::None, enforce: false };
const REST_JWT: System = System { api: Api::Rest, credential: CredentialKind::Jwt, enforce: true };
const REST_KEY: System = System { api: Api::Rest, credential: CredentialKind::ApiKey, enforce: true };
const GRPC_JWT: System = System { api: Api::Grpc, credential: CredentialKind::Jwt, enforce: true };
const GRPC_KEY: System = System { api: Api::Grpc, credential: CredentialKind::ApiKey, enforce: true };
const GRANT_JWT: System = System { api: Api::Grant, credential: CredentialKind::Jwt, enforce: true };

impl System {
    fn id(self) -> String {
        let api = match self.api {
            Api::Rest => "rest",
            Api::Grpc => "grpc",
            Api::Grant => "grant-read",
        };
        let credential = match self.credential {
            CredentialKind::None => "off",
            CredentialKind::Jwt => "jwt",
            CredentialKind::ApiKey => "api-key",
        };
        format!("{api}-{credential}")
    }

    /// What it is compared with, the goal of the ratio, and how the table names the baseline.
    fn baseline(self) -> Option<(System, Option<f64>)> {
        match self.api {
            _ if !self.enforce => None,
            Api::Rest => Some((REST_OFF, Some(GOAL))),
            Api::Grpc => Some((GRPC_OFF, Some(GOAL))),
            Api::Grant => Some((REST_JWT, None)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Credentials

/// The credential a client sends: a header (REST) or a metadata entry (gRPC), or nothing.
#[derive(Clone)]
pub(crate) struct Credential(Option<(&'static str, String)>);

impl Credential {
    pub(crate) fn none() -> Self {
        Self(None)
    }

    pub(crate) fn bearer(token: &str) -> Self {
        Self(Some(("authorization", format!("Bearer {token}"))))
    }

    fn api_key(secret: &str) -> Self {
        Self(Some(("x-api-key", secret.to_owned())))
    }

    /// A REST client that sends the credential on every request and keeps one connection.
    pub(crate) fn http_client(&self) -> anyhow::Result<reqwest::Client> {
        let mut headers = HeaderMap::new();
        if let Some((name, value)) = &self.0 {
            let mut value = HeaderValue::from_str(value).context("credential is not a header value")?;
            value.set_sensitive(true);
            headers.insert(HeaderName::from_static(name), value);
        }
        Ok(reqwest::Client::builder().timeout(REQUEST_TIMEOUT).pool_max_idle_per_host(1).default_headers(headers).build()?)
    }

    fn interceptor(&self) -> anyhow::Result<Attach> {
        match &self.0 {
            None => Ok(Attach(None)),
            Some((name, value)) => Ok(Attach(Some((*name, value.parse().map_err(|_| anyhow!("credential is not a metadata value"))?)))),
        }
    }
}

/// Adds the credential to every gRPC call (built once; a clone per call is a refcount).
#[derive(Clone)]
struct Attach(Option<(&'static str, AsciiMetadataValue)>);

impl Interceptor for Attach {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some((name, value)) = &self.0 {
            request.metadata_mut().insert(*name, value.clone());
        }
        Ok(request)
    }
}

type WarehouseClient = WarehouseServiceClient<InterceptedService<Channel, Attach>>;

// ---------------------------------------------------------------------------------------
// Readers and the closed loop

/// One client of the closed loop.
trait Reader: Send + 'static {
    /// One read; returns the size of the answer in bytes.
    fn read(&mut self) -> impl Future<Output = anyhow::Result<u64>> + Send;
}

struct RestReader {
    client: reqwest::Client,
    url: String,
}

impl Reader for RestReader {
    fn read(&mut self) -> impl Future<Output = anyhow::Result<u64>> + Send {
        let request = self.client.get(&self.url);
        async move {
            let response = request.send().await.context("GET")?;
            let status = response.status();
            let body = response.bytes().await?;
            if !status.is_success() {
                bail!("GET answered {status}: {}", String::from_utf8_lossy(&body[..body.len().min(300)]));
            }
            // The body is checked once before the run (see `probe_rest`); parsing every answer
            // would spend the load generator's share of the two cores on JSON.
            Ok(body.len() as u64)
        }
    }
}

struct GrpcReader {
    client: WarehouseClient,
    request: QueryRecordsRequest,
    expect: usize,
}

impl Reader for GrpcReader {
    fn read(&mut self) -> impl Future<Output = anyhow::Result<u64>> + Send {
        let request = self.request.clone();
        async move {
            let answer = self.client.query_records(request).await.map_err(|s| anyhow!("QueryRecords: {s}"))?.into_inner();
            ensure!(answer.records.len() == self.expect, "QueryRecords answered {} records, not {}", answer.records.len(), self.expect);
            Ok(answer.encoded_len() as u64)
        }
    }
}

/// One measured phase: reads completed in the window, and the CPU used during it.
struct Phase {
    sample: Sample,
    usage: cpu::Usage,
    /// Cores the brain under test used during the window.
    brain_cores: Option<f64>,
}

impl Phase {
    fn reads_per_s(&self) -> f64 {
        self.sample.events_per_s()
    }

    /// The brain's CPU time per read, in µs: the server's cost, whatever the client's.
    fn cpu_us_per_read(&self) -> Option<f64> {
        self.brain_cores.map(|cores| cores * 1e6 / self.reads_per_s().max(1e-9))
    }

    fn to_json(&self, round_no: usize) -> Value {
        let mut v = self.sample.to_json("");
        if let Value::Object(map) = &mut v {
            map.remove("system");
            map.remove("events");
            map.remove("events_per_s");
            map.remove("mb_per_s");
            map.remove("calls");
            map.insert("round".into(), json!(round_no));
            map.insert("reads".into(), json!(self.sample.events));
            map.insert("reads_per_s".into(), json!(round(self.reads_per_s(), 1)));
            map.insert("brain_cpu_us_per_read".into(), json!(self.cpu_us_per_read().map(|c| round(c, 1))));
            map.insert("cpu".into(), self.usage.to_json());
        }
        v
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Every reader reads in a loop, one read in flight, from a common start: first `warmup`
/// (not counted), then `duration`, in which each completed read is counted and its latency
/// recorded. Reads still in flight at the end are not counted. `watched` are the brains
/// whose CPU is read over exactly the measured window; `under_test` names the one measured.
async fn closed_loop<R: Reader>(readers: Vec<R>, warmup: Duration, duration: Duration, watched: &[(&str, u32)], under_test: &str) -> anyhow::Result<Phase> {
    // A little ahead, so that every client is spawned before any of them reads.
    let start = Instant::now() + Duration::from_millis(50);
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::with_capacity(readers.len());
    for mut reader in readers {
        tasks.push(tokio::spawn(async move {
            let mut latency = new_histogram()?;
            let (mut reads, mut bytes) = (0u64, 0u64);
            tokio::time::sleep_until(start).await;
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let size = reader.read().await?;
                let done = Instant::now();
                if done >= measure_from && done <= end {
                    reads += 1;
                    bytes += size;
                    latency.saturating_record(micros(done - began));
                }
            }
            anyhow::Ok((reads, bytes, latency))
        }));
    }
    let window = async {
        tokio::time::sleep_until(measure_from).await;
        let snapshot = cpu::snapshot(watched);
        tokio::time::sleep_until(end).await;
        snapshot.usage()
    };
    let (usage, results) = tokio::join!(window, futures::future::join_all(tasks));
    let mut latency = new_histogram()?;
    let (mut reads, mut bytes) = (0u64, 0u64);
    for result in results {
        let (r, b, h) = result.map_err(|e| anyhow!("reader task died: {e}"))??;
        reads += r;
        bytes += b;
        latency.add(&h).map_err(|e| anyhow!("merging histograms: {e}"))?;
    }
    let brain_cores = usage.cores.iter().find(|(name, _)| name == under_test).map(|(_, c)| *c);
    Ok(Phase { sample: Sample::new(reads, bytes, duration, latency), usage, brain_cores })
}

// ---------------------------------------------------------------------------------------
// Talking to a brain: JSON calls, sign-in, loading the dataset

/// Sends a JSON request and returns the JSON answer; fails unless the status is one of `ok`.
pub(crate) async fn call(client: &reqwest::Client, method: reqwest::Method, url: &str, body: Option<&Value>, ok: &[u16]) -> anyhow::Result<Value> {
    let mut request = client.request(method.clone(), url);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let text = response.text().await?;
    if !ok.contains(&status.as_u16()) {
        bail!("{method} {url} answered {status}: {}", text.chars().take(500).collect::<String>());
    }
    if text.is_empty() { Ok(Value::Null) } else { serde_json::from_str(&text).with_context(|| format!("{method} {url}: answer is not JSON")) }
}

pub(crate) fn text_of(value: &Value, key: &str, what: &str) -> anyhow::Result<String> {
    value[key].as_str().map(str::to_owned).ok_or_else(|| anyhow!("{what}: no `{key}` in the answer"))
}

/// Signs in with a password (and a TOTP code); returns the access token.
pub(crate) async fn sign_in(http: &str, tenant: &str, username: &str, password: &str, totp_code: Option<String>) -> anyhow::Result<String> {
    let client = Credential::none().http_client()?;
    let body = json!({"tenant_id": tenant, "username": username, "password": password, "totp_code": totp_code});
    let answer = call(&client, reqwest::Method::POST, &format!("{http}/api/v1/auth/sign-in"), Some(&body), &[200]).await?;
    text_of(&answer, "access_token", &format!("sign-in of {tenant}/{username}"))
}

fn totp_code(secret_base32: &str, at: SystemTime) -> anyhow::Result<String> {
    let secret = brain_auth::TotpSecret::from_base32(secret_base32).map_err(|e| anyhow!("TOTP secret: {e}"))?;
    let unix = at.duration_since(UNIX_EPOCH)?.as_secs();
    Ok(brain_auth::Totp::default().code_at(&secret, unix))
}

/// The bootstrap system administrator, signed in with two factors (administration needs
/// them): enrols TOTP with the previous 30 s step's code and signs in with the current one,
/// so no code is used twice.
pub(crate) async fn platform_admin(http: &str) -> anyhow::Result<reqwest::Client> {
    let first = Credential::bearer(&sign_in(http, "platform", "admin", ADMIN_PASSWORD, None).await?).http_client()?;
    let enrolment = call(&first, reqwest::Method::POST, &format!("{http}/api/v1/auth/totp/enroll"), None, &[200]).await?;
    let secret = text_of(&enrolment, "secret_base32", "TOTP enrolment")?;
    let earlier = SystemTime::now() - Duration::from_secs(30);
    let confirm = json!({"secret_base32": secret, "code": totp_code(&secret, earlier)?});
    call(&first, reqwest::Method::POST, &format!("{http}/api/v1/auth/totp/confirm"), Some(&confirm), &[200]).await?;
    let token = sign_in(http, "platform", "admin", ADMIN_PASSWORD, Some(totp_code(&secret, SystemTime::now())?)).await?;
    Credential::bearer(&token).http_client()
}

/// Creates a tenant and a user with `roles` in it (as the system administrator).
pub(crate) async fn tenant_user(http: &str, admin: &reqwest::Client, tenant: &str, kind: &str, username: &str, roles: &[&str]) -> anyhow::Result<()> {
    let body = json!({"id": tenant, "kind": kind, "name": format!("brain-load {kind} {tenant}")});
    call(admin, reqwest::Method::POST, &format!("{http}/api/v1/identity/tenants"), Some(&body), &[201, 409]).await?;
    let body = json!({"username": username, "display_name": format!("brain-load {username}"), "password": USER_PASSWORD, "roles": roles});
    call(admin, reqwest::Method::POST, &format!("{http}/api/v1/identity/tenants/{tenant}/users"), Some(&body), &[201]).await?;
    Ok(())
}

/// Registers the dataset, ingests every record over REST and waits until the warehouse holds them.
async fn load_dataset(client: &reqwest::Client, http: &str, data: &LoadData) -> anyhow::Result<()> {
    let spec = textile::dataset_spec(DATASET, DATASET, &data.tenant).ok_or_else(|| anyhow!("no spec for {DATASET}"))?;
    clients::register_dataset(client, http, &data.tenant, &spec).await?;
    let url = format!("{http}/api/v1/tenants/{}/datasets/{DATASET}/records", data.tenant);
    let total = data.records.len();
    for seq in (0..total).step_by(LOAD_BATCH) {
        let n = LOAD_BATCH.min(total - seq);
        let response = clients::post_retrying(client, &url, &data.rest_body(seq as u64, n)).await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "ingesting records answered {status}: {}", text.chars().take(500).collect::<String>());
        let ack: Value = serde_json::from_str(&text)?;
        ensure!(ack["accepted"].as_u64() == Some(n as u64), "ingestion accepted {} of {n} records", ack["accepted"]);
    }
    clients::wait_landed(client, http, &data.tenant, DATASET, total as u64, Duration::from_secs(120)).await?;
    Ok(())
}

/// Reads once and checks the answer holds `page_size` records, as every measured read will.
async fn probe_rest(client: &reqwest::Client, url: &str, page_size: u32) -> anyhow::Result<()> {
    let page = call(client, reqwest::Method::GET, url, None, &[200]).await?;
    let got = page["records"].as_array().map_or(0, Vec::len);
    ensure!(got == page_size as usize, "GET {url} answered {got} records, not {page_size}");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The two brains

/// What a brain serves to the readers.
struct Target {
    brain: Brain,
    enforce: bool,
    /// The owner's credentials (none on the off brain).
    jwt: Credential,
    api_key: Credential,
    /// The consumer's credential and the grant it reads under (on brain, unless --no-grant).
    grant: Option<(Credential, String)>,
}

async fn spawn(binary: &Path, name: &str, enforce: bool, work: &Path) -> anyhow::Result<Brain> {
    let data_dir = work.join(name);
    std::fs::create_dir_all(&data_dir)?;
    let data_dir = data_dir.display().to_string();
    let env = [
        ("BRAIN_TRUST__ENFORCE".to_owned(), enforce.to_string()),
        ("BRAIN_TRUST__BOOTSTRAP_ADMIN_PASSWORD".to_owned(), ADMIN_PASSWORD.to_owned()),
    ];
    let args = ["up", "--data-dir", &data_dir, "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"];
    Brain::spawn(binary, name, &args, &env, work).await
}

/// The baseline brain: no identities, the dataset loaded by an anonymous caller.
async fn prepare_off(brain: Brain, data: &LoadData) -> anyhow::Result<Target> {
    load_dataset(&Credential::none().http_client()?, &brain.http, data).await?;
    Ok(Target { brain, enforce: false, jwt: Credential::none(), api_key: Credential::none(), grant: None })
}

/// The brain under test: the platform administrator with TOTP creates the owner enterprise
/// and its administrator, who loads the dataset and issues an API key; with `grant`, a
/// government tenant's analyst asks for access to a product of the dataset, and the owner approves.
async fn prepare_on(brain: Brain, data: &LoadData, grant: bool, notes: &mut Vec<String>) -> anyhow::Result<Target> {
    let http = brain.http.clone();
    let admin = platform_admin(&http).await.context("signing in the platform administrator with TOTP")?;
    tenant_user(&http, &admin, OWNER_TENANT, "enterprise", OWNER_USER, &["enterprise-admin"]).await?;
    let jwt = Credential::bearer(&sign_in(&http, OWNER_TENANT, OWNER_USER, USER_PASSWORD, None).await?);
    let owner = jwt.http_client()?;
    load_dataset(&owner, &http, data).await?;
    let body = json!({"name": "brain-load", "roles": ["enterprise-admin"]});
    let key = call(&owner, reqwest::Method::POST, &format!("{http}/api/v1/identity/tenants/{OWNER_TENANT}/api-keys"), Some(&body), &[201]).await?;
    let api_key = Credential::api_key(&text_of(&key, "secret", "API key")?);
    let grant = if grant {
        match grant_for_consumer(&http, &admin, &owner).await {
            Ok(grant_id) => Some((Credential::bearer(&sign_in(&http, CONSUMER_TENANT, CONSUMER_USER, USER_PASSWORD, None).await?), grant_id)),
            Err(e) => {
                notes.push(format!("grant read skipped: setting up the grant failed: {e:#}"));
                None
            }
        }
    } else {
        None
    };
    Ok(Target { brain, enforce: true, jwt, api_key, grant })
}

/// Registers the dataset as a product (every field, no filters, grade cap `high` so that
/// nothing is masked), has the consumer ask for all of it and the owner approve; the grant id.
async fn grant_for_consumer(http: &str, admin: &reqwest::Client, owner: &reqwest::Client) -> anyhow::Result<String> {
    tenant_user(http, admin, CONSUMER_TENANT, "government", CONSUMER_USER, &["gov-analyst"]).await?;
    let consumer = Credential::bearer(&sign_in(http, CONSUMER_TENANT, CONSUMER_USER, USER_PASSWORD, None).await?).http_client()?;
    let spec = textile::dataset_spec(DATASET, DATASET, OWNER_TENANT).ok_or_else(|| anyhow!("no spec for {DATASET}"))?;
    let fields: Vec<Value> = spec["fields"].as_array().map(|f| f.iter().map(|f| f["name"].clone()).collect()).unwrap_or_default();
    let registration = json!({
        "dataset": DATASET, "title": "日产量 Daily output (brain-load)", "fields": fields, "filters": [],
        "max_grade": "high", "terms": "benchmark only", "price_fen": 0,
    });
    let product = call(owner, reqwest::Method::POST, &format!("{http}/api/v1/products"), Some(&registration), &[201]).await?;
    let product_id = text_of(&product, "id", "product registration")?;
    let now = chrono::Utc::now();
    let request = json!({
        "product_id": product_id, "purpose": "产业运行监测 monitoring of the cluster's output (brain-load)", "fields": fields,
        "data_period": {"start": (now - chrono::Days::new(3650 * 2)).to_rfc3339(), "end": (now + chrono::Days::new(1)).to_rfc3339()},
        "expires_at": (now + chrono::Days::new(30)).to_rfc3339(),
    });
    let grant = call(&consumer, reqwest::Method::POST, &format!("{http}/api/v1/grants"), Some(&request), &[201]).await?;
    let grant_id = text_of(&grant, "id", "access request")?;
    call(owner, reqwest::Method::POST, &format!("{http}/api/v1/grants/{grant_id}/decision"), Some(&json!({"approve": true, "reason": "brain-load"})), &[200]).await?;
    Ok(grant_id)
}

/// Access tokens live 15 minutes: sign the owner and the consumer in again before each round.
async fn refresh_tokens(target: &mut Target) -> anyhow::Result<()> {
    if !target.enforce {
        return Ok(());
    }
    let http = target.brain.http.clone();
    target.jwt = Credential::bearer(&sign_in(&http, OWNER_TENANT, OWNER_USER, USER_PASSWORD, None).await?);
    if let Some((credential, _)) = &mut target.grant {
        *credential = Credential::bearer(&sign_in(&http, CONSUMER_TENANT, CONSUMER_USER, USER_PASSWORD, None).await?);
    }
    Ok(())
}

/// Everything a phase needs besides the brain.
struct Plan {
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    page_size: u32,
    tenant: String,
}

/// Measures one system on its brain.
async fn measure(plan: &Plan, system: System, target: &Target, watched: &[(&str, u32)]) -> anyhow::Result<Phase> {
    let http = &target.brain.http;
    let credential = match system.credential {
        CredentialKind::None => Credential::none(),
        CredentialKind::Jwt if system.api == Api::Grant => target.grant.as_ref().map(|(c, _)| c.clone()).ok_or_else(|| anyhow!("no grant"))?,
        CredentialKind::Jwt => target.jwt.clone(),
        CredentialKind::ApiKey => target.api_key.clone(),
    };
    let under_test = target.brain.name.as_str();
    match system.api {
        Api::Rest | Api::Grant => {
            let url = match (system.api, &target.grant) {
                (Api::Grant, Some((_, grant_id))) => format!("{http}/api/v1/grants/{grant_id}/records?page_size={}", plan.page_size),
                (Api::Grant, None) => bail!("no grant to read under"),
                _ => format!("{http}/api/v1/tenants/{}/datasets/{DATASET}/records?page_size={}", plan.tenant, plan.page_size),
            };
            let mut readers = Vec::with_capacity(plan.concurrency);
            for _ in 0..plan.concurrency {
                readers.push(RestReader { client: credential.http_client()?, url: url.clone() });
            }
            if let Some(first) = readers.first() {
                probe_rest(&first.client, &url, plan.page_size).await.with_context(|| format!("probing {}", system.id()))?;
            }
            closed_loop(readers, plan.warmup, plan.duration, watched, under_test).await
        }
        Api::Grpc => {
            let request = QueryRecordsRequest {
                r#ref: Some(DatasetRef { tenant_id: plan.tenant.clone(), dataset: DATASET.to_owned() }),
                range: None,
                page: Some(PageRequest { page_size: plan.page_size, page_token: String::new() }),
            };
            let mut readers = Vec::with_capacity(plan.concurrency);
            for _ in 0..plan.concurrency {
                // One channel (one HTTP/2 connection) per client, like independent clients.
                let channel = clients::grpc_channel(&target.brain.grpc).await?;
                let client = WarehouseServiceClient::with_interceptor(channel, credential.interceptor()?);
                readers.push(GrpcReader { client, request: request.clone(), expect: plan.page_size as usize });
            }
            if let Some(first) = readers.first_mut() {
                first.read().await.with_context(|| format!("probing {}", system.id()))?;
            }
            closed_loop(readers, plan.warmup, plan.duration, watched, under_test).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// The run

/// The systems of one round. Each API's off, JWT and API-key phases run back to back, so
/// that a ratio compares phases minutes apart at most; odd rounds run them off → on and even
/// rounds on → off (ABBA), so that a drift of the machine favours neither side. The read under
/// a grant comes last: the usage events it publishes keep the brain busy for a while.
fn round_order(round_no: usize, with_grant: bool) -> Vec<System> {
    let mut order = Vec::with_capacity(7);
    for mut group in [[REST_OFF, REST_JWT, REST_KEY], [GRPC_OFF, GRPC_JWT, GRPC_KEY]] {
        if round_no.is_multiple_of(2) {
            group.reverse();
        }
        order.extend(group);
    }
    if with_grant {
        order.push(GRANT_JWT);
    }
    order
}

/// Waits until neither brain works in the background any more (below 0.05 of a core over
/// half a second), at most a minute: evaluation consumes the usage events the grant reads
/// published, and that must not land in the next phase. Returns how long it waited, and
/// whether the brains were idle by then.
async fn settle(watched: &[(&str, u32)]) -> (Duration, bool) {
    const IDLE_CORES: f64 = 0.05;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let snapshot = cpu::snapshot(watched);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let usage = snapshot.usage();
        let busy = usage.cores.iter().filter(|(name, _)| watched.iter().any(|(w, _)| w == name)).any(|(_, c)| *c >= IDLE_CORES);
        if !busy {
            return (started.elapsed(), true);
        }
    }
    (started.elapsed(), false)
}


/// A system's phases over the rounds.
struct Measured {
    system: System,
    phases: Vec<Phase>,
}

impl Measured {
    /// The round with the most reads/s.
    fn best(&self) -> Option<(usize, &Phase)> {
        self.phases.iter().enumerate().max_by(|a, b| a.1.reads_per_s().total_cmp(&b.1.reads_per_s()))
    }
}

pub async fn run(args: TrustArgs) -> anyhow::Result<()> {
    ensure!(args.concurrency > 0 && args.duration > 0 && args.rounds > 0, "--concurrency, --duration and --rounds must be positive");
    ensure!(args.page_size > 0 && u64::from(args.page_size) <= args.records, "--page-size must be between 1 and --records");
    let binary = args.run.binary()?;
    let dir = args.run.dir();
    let filesystem = filesystem_of(&dir);
    let work = tempfile::Builder::new().prefix("brain-load-trust-").tempdir_in(&dir).with_context(|| format!("temp dir in {}", dir.display()))?;
    let data = LoadData::production_output(args.records, args.seed, OWNER_TENANT, chrono::Utc::now().date_naive())?;
    let plan = Plan {
        concurrency: args.concurrency,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.duration),
        page_size: args.page_size,
        tenant: OWNER_TENANT.to_owned(),
    };
    let mut notes: Vec<String> = Vec::new();
    if filesystem.as_ref().is_some_and(|f| f.fstype == "tmpfs") {
        notes.push(format!("{} is on tmpfs: the ledger's commits cost nothing there, pass --dir on a disk", dir.display()));
    }

    eprintln!("brain-load: starting two brains (trust off, trust on) in {} …", work.path().display());
    let off = spawn(&binary, "brain-off", false, work.path()).await?;
    let on = spawn(&binary, "brain-on", true, work.path()).await?;
    eprintln!("brain-load: loading {} records into each …", args.records);
    let off = prepare_off(off, &data).await.context("preparing the trust-off brain")?;
    let mut on = prepare_on(on, &data, !args.no_grant, &mut notes).await.context("preparing the trust-on brain")?;
    let watched = [("brain-off", off.brain.pid()), ("brain-on", on.brain.pid())];

    let with_grant = on.grant.is_some();
    let mut measured: Vec<Measured> =
        [REST_OFF, REST_JWT, REST_KEY, GRPC_OFF, GRPC_JWT, GRPC_KEY, GRANT_JWT].into_iter().filter(|s| with_grant || *s != GRANT_JWT).map(|system| Measured { system, phases: Vec::new() }).collect();
    for round_no in 1..=args.rounds {
        refresh_tokens(&mut on).await?;
        for system in round_order(round_no, with_grant) {
            let Some(m) = measured.iter_mut().find(|m| m.system == system) else { continue };
            let (waited, idle) = settle(&watched).await;
            if !idle {
                notes.push(format!("round {round_no}, {}: the brains were still busy after {:.0} s of waiting; measured anyway", system.id(), waited.as_secs_f64()));
            }
            eprintln!("brain-load: round {round_no}/{}: {} (waited {:.1} s for idle brains) …", args.rounds, system.id(), waited.as_secs_f64());
            let target = if system.enforce { &on } else { &off };
            let phase = measure(&plan, system, target, &watched).await.with_context(|| format!("round {round_no}, {}", system.id()))?;
            m.phases.push(phase);
        }
    }

    let stopped = [off.brain.stop().await.context("stopping the trust-off brain"), on.brain.stop().await.context("stopping the trust-on brain")];
    if args.run.keep {
        notes.push(format!("kept {}", work.keep().display()));
    }

    let fs_text = filesystem.as_ref().map_or_else(|| "unknown fs".to_owned(), |f| format!("{} on {}", f.fstype, f.device));
    println!(
        "brain-load trust: concurrency={} duration={} s warmup={} s page_size={} records={} rounds={} cpus={}",
        args.concurrency,
        args.duration,
        args.warmup,
        args.page_size,
        args.records,
        args.rounds,
        cpus()
    );
    println!("dir: {} ({fs_text}); brain: {}; order: per API off, JWT, API key in odd rounds and the reverse in even rounds, grant read last; best round of each", dir.display(), binary.display());
    println!();
    print!("{}", table(&measured));
    println!();
    for line in round_notes(&measured).iter().chain(cpu_notes(&measured).iter()).chain(&notes) {
        println!("note: {line}");
    }
    let params = json!({
        "concurrency": args.concurrency, "duration_s": args.duration, "warmup_s": args.warmup, "page_size": args.page_size,
        "records": args.records, "rounds": args.rounds, "seed": args.seed, "grant": !args.no_grant,
        "owner_tenant": OWNER_TENANT, "dataset": DATASET,
    });
    let environment = json!({
        "dir": dir.display().to_string(),
        "fstype": filesystem.as_ref().map(|f| f.fstype.clone()),
        "device": filesystem.as_ref().map(|f| f.device.clone()),
        "cpus": cpus(),
        "brain": binary.display().to_string(),
        "notes": notes,
    });
    println!("{}", json_line(params, environment, &measured));
    for result in stopped {
        result?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Output

fn best_of(measured: &[Measured], system: System) -> Option<&Phase> {
    measured.iter().find(|m| m.system == system).and_then(Measured::best).map(|(_, p)| p)
}

/// Reads/s of `m`'s best round over its baseline's best round, with the goal.
fn ratio_of(measured: &[Measured], m: &Measured) -> Option<(f64, Option<f64>)> {
    let (baseline, goal) = m.system.baseline()?;
    let base = best_of(measured, baseline)?;
    let (_, best) = m.best()?;
    Some((best.reads_per_s() / base.reads_per_s().max(1e-9), goal))
}

fn read_label(api: Api) -> &'static str {
    match api {
        Api::Rest => "REST GET …/records",
        Api::Grpc => "gRPC QueryRecords",
        Api::Grant => "grant read GET /grants/…/records",
    }
}

fn table(measured: &[Measured]) -> String {
    let mut out = String::new();
    let header = format!(
        "{:<33} {:<5} {:<8} {:>9} {:>7} {:>7} {:>6} {:>8} {:>6}  {}\n",
        "read", "trust", "cred.", "reads/s", "p50 ms", "p99 ms", "cores", "CPU us/r", "ratio", "goal"
    );
    out.push_str(&header);
    out.push_str(&"-".repeat(header.chars().count() + 12));
    out.push('\n');
    let mut last_api = None;
    for m in measured {
        let Some((_, best)) = m.best() else { continue };
        let label = if last_api == Some(m.system.api) { "" } else { read_label(m.system.api) };
        last_api = Some(m.system.api);
        let (ratio, verdict) = match ratio_of(measured, m) {
            Some((ratio, Some(goal))) if ratio >= goal => (format!("{ratio:.2}"), format!(">={goal:.2} met")),
            Some((ratio, Some(goal))) => (format!("{ratio:.2}"), format!(">={goal:.2} MISSED by {:.2}", goal - ratio)),
            Some((ratio, None)) => (format!("{ratio:.2}"), "of the owner's REST JWT read (no goal)".to_owned()),
            None => (String::new(), String::new()),
        };
        let ms = |us: u64| format!("{:.2}", us as f64 / 1000.0);
        let line = format!(
            "{:<33} {:<5} {:<8} {:>9.0} {:>7} {:>7} {:>6} {:>8} {:>6}  {}",
            label,
            if m.system.enforce { "on" } else { "off" },
            m.system.credential.label(),
            best.reads_per_s(),
            ms(best.sample.p50_us()),
            ms(best.sample.p99_us()),
            best.brain_cores.map_or_else(String::new, |c| format!("{c:.2}")),
            best.cpu_us_per_read().map_or_else(String::new, |c| format!("{c:.0}")),
            ratio,
            verdict
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Each round's reads/s over the same round's baseline.
fn round_ratios(measured: &[Measured], m: &Measured) -> Vec<f64> {
    let Some(base) = m.system.baseline().and_then(|(b, _)| measured.iter().find(|x| x.system == b)) else { return Vec::new() };
    m.phases.iter().zip(&base.phases).map(|(p, b)| p.reads_per_s() / b.reads_per_s().max(1e-9)).collect()
}

/// Reads/s of every round, with each round's ratio against the same round's baseline and
/// their median: a second reading of the ratio, less sensitive to one lucky round.
fn round_notes(measured: &[Measured]) -> Vec<String> {
    let mut out = Vec::new();
    for m in measured {
        let ratios = round_ratios(measured, m);
        let rounds: Vec<String> = m
            .phases
            .iter()
            .enumerate()
            .map(|(i, p)| match ratios.get(i) {
                Some(r) => format!("{:.0} ({r:.2})", p.reads_per_s()),
                None => format!("{:.0}", p.reads_per_s()),
            })
            .collect();
        let best = m.best().map_or(0, |(i, _)| i + 1);
        let med = median(&ratios).map_or_else(String::new, |r| format!(", median ratio {r:.2}"));
        out.push(format!("rounds {}: reads/s {} (ratio in the same round); best round {best}{med}", m.system.id(), rounds.join(", ")));
    }
    out
}

/// Where the CPU went in each system's best round; "others" is what the rest of the machine
/// (anything but the two brains and brain-load) took, which on a shared VM is the noise.
fn cpu_notes(measured: &[Measured]) -> Vec<String> {
    let cores = cpus() as f64;
    measured
        .iter()
        .filter_map(|m| {
            let (i, p) = m.best()?;
            let others = p.usage.machine_busy.map(|busy| busy * cores - p.usage.cores.iter().map(|(_, c)| c).sum::<f64>());
            let others = others.map_or_else(String::new, |o| format!(", others {:.2}", o.max(0.0)));
            Some(format!("cpu {} (round {}): {}{others}", m.system.id(), i + 1, p.usage.text()))
        })
        .collect()
}

fn json_line(params: Value, environment: Value, measured: &[Measured]) -> String {
    let systems: Vec<Value> = measured
        .iter()
        .map(|m| {
            let best = m.best();
            let ratio = ratio_of(measured, m);
            let base_cpu = m.system.baseline().and_then(|(b, _)| best_of(measured, b)).and_then(Phase::cpu_us_per_read);
            json!({
                "system": m.system.id(),
                "api": format!("{:?}", m.system.api).to_lowercase(),
                "enforce": m.system.enforce,
                "credential": m.system.credential.label(),
                "compared_with": m.system.baseline().map(|(b, _)| b.id()),
                "best_round": best.map(|(i, _)| i + 1),
                "best": best.map(|(i, p)| p.to_json(i + 1)),
                "ratio": ratio.map(|(r, _)| round(r, 3)),
                "ratio_per_round": round_ratios(measured, m).iter().map(|r| round(*r, 3)).collect::<Vec<_>>(),
                "ratio_median": median(&round_ratios(measured, m)).map(|r| round(r, 3)),
                "goal_ratio": ratio.and_then(|(_, g)| g),
                "goal_met": ratio.and_then(|(r, g)| g.map(|g| r >= g)),
                "ratio_cpu_per_read": match (best.and_then(|(_, p)| p.cpu_us_per_read()), base_cpu) {
                    (Some(c), Some(b)) if m.system.baseline().is_some() => Some(round(c / b.max(1e-9), 3)),
                    _ => None,
                },
                "rounds": m.phases.iter().enumerate().map(|(i, p)| p.to_json(i + 1)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "benchmark": "trust",
        "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "params": params,
        "environment": environment,
        "systems": systems,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforced_systems_compare_with_their_baseline() {
        assert_eq!(REST_JWT.baseline(), Some((REST_OFF, Some(GOAL))));
        assert_eq!(GRPC_KEY.baseline(), Some((GRPC_OFF, Some(GOAL))));
        assert_eq!(GRANT_JWT.baseline(), Some((REST_JWT, None)));
        assert_eq!(REST_OFF.baseline(), None);
        assert_eq!(GRANT_JWT.id(), "grant-read-jwt");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[0.9, 0.7, 0.8]), Some(0.8));
        assert_eq!(median(&[1.0, 0.5]), Some(0.75));
    }

    #[test]
    fn rounds_alternate_the_order_of_off_and_on() {
        assert_eq!(round_order(1, true), vec![REST_OFF, REST_JWT, REST_KEY, GRPC_OFF, GRPC_JWT, GRPC_KEY, GRANT_JWT]);
        assert_eq!(round_order(2, false), vec![REST_KEY, REST_JWT, REST_OFF, GRPC_KEY, GRPC_JWT, GRPC_OFF]);
    }

    #[test]
    fn credentials_become_headers_and_metadata() {
        assert!(Credential::none().interceptor().is_ok_and(|a| a.0.is_none()));
        let Ok(Attach(Some((name, value)))) = Credential::bearer("abc").interceptor() else { panic!("no metadata") };
        assert_eq!((name, value.to_str().ok()), ("authorization", Some("Bearer abc")));
        assert!(Credential::api_key("bk_1_x").http_client().is_ok());
    }
}
