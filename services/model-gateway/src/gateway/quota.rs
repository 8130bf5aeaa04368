//! Request rates and token budgets per tenant and per API key (`model_gateway.limits`).
//!
//! Counted in the brain's [`Cache`]: on Redis every gateway process shares the counters
//! (distributed mode), on `memory://` they live in the process (embedded mode).
//!
//! # What is counted
//! - **Requests per minute**: fixed calendar minutes, one counter per scope and minute.
//! - **Tokens per day and per month**: calendar days and months in China Standard Time (the
//!   platform's reporting calendar, see `brain_core::calendar`), one counter per scope and period,
//!   e.g. `quota:tokens:day:<tenant>:2026-11-22` or `quota:tokens:month:<tenant>/<key id>:2026-11`.
//!   Each counter lives until its period ends plus [`KEY_GRACE`], so a request settled just after
//!   midnight still finds the counter it was charged to.
//!
//! A scope is the tenant (all its credentials together) and, when the request came with an API
//! key, that key. A limit of 0 is unlimited and costs nothing: no counter is touched for it.
//!
//! # Exactness
//! [`Quota::admit`] reserves the request's largest possible cost (the prompt's tokens plus its
//! `max_tokens`, computed by the caller) with the cache's atomic check-and-add
//! ([`Cache::try_consume`]: a Lua script on Redis, a mutex in memory), so concurrent requests
//! can never reserve more than a budget holds. [`Quota::settle`] then replaces the reservation
//! by what the upstream reported: it refunds the difference, or charges the excess when the
//! upstream used more than reserved — the only way a counter can pass its limit, by at most the
//! excess of the requests in flight when the budget ran out (zero when the caller reserves an
//! upper bound of the prompt's tokens plus `max_tokens`).
//!
//! Each counter is atomic on its own; several counters (tenant and key, day and month, rate
//! and tokens) are not updated in one transaction. Admission takes them one stage after the
//! other (rates, then budgets) and gives back what earlier counters took when a later one
//! refuses. Between the take and the give-back, another request may see a counter higher than it
//! will end up: at worst that request is refused although it would have fitted — never an
//! overspend. The same holds for failures: a give-back that cannot reach the cache, an admission
//! cancelled halfway, or a reservation dropped without [`Quota::settle`] leave tokens charged
//! (budget unused, never overspent). A cache that cannot be reached refuses requests
//! ([`QuotaError::Unavailable`], HTTP 503): limits fail closed.

use std::sync::Arc;
use std::time::Duration;

use brain_cache::{Cache, CacheError, Consumption};
use brain_config::{GatewayLimits, LimitSettings, MAX_TOKEN_BUDGET};
use brain_core::{ErrorCode, ServiceError};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use futures::future::join_all;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Value, json};

/// How long a counter outlives its period: settlements of requests that were admitted just
/// before the period ended still reach the counter they were charged to.
pub const KEY_GRACE: Duration = Duration::from_secs(3600);

/// How long a request-rate counter outlives its minute (give-backs happen within an admission).
const RATE_KEY_GRACE: Duration = Duration::from_secs(60);

/// China Standard Time: UTC+8 all year.
const CST_OFFSET: TimeDelta = TimeDelta::hours(8);

/// The limits of one scope (a tenant, or an API key); 0 = unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub requests_per_minute: u32,
    pub tokens_per_day: u64,
    pub tokens_per_month: u64,
}

impl Limits {
    pub const UNLIMITED: Self = Self { requests_per_minute: 0, tokens_per_day: 0, tokens_per_month: 0 };

    pub fn is_unlimited(&self) -> bool {
        *self == Self::UNLIMITED
    }

    fn tokens(&self, period: Period) -> u64 {
        match period {
            Period::Day => self.tokens_per_day,
            Period::Month => self.tokens_per_month,
        }
    }
}

impl From<LimitSettings> for Limits {
    fn from(settings: LimitSettings) -> Self {
        Self {
            requests_per_minute: settings.requests_per_minute,
            tokens_per_day: settings.tokens_per_day,
            tokens_per_month: settings.tokens_per_month,
        }
    }
}

/// `model_gateway.limits` resolved once: the limits of every tenant and of its API keys.
#[derive(Clone, Debug, Default)]
pub struct LimitTable {
    defaults: (Limits, Limits),
    tenants: std::collections::HashMap<String, (Limits, Limits)>,
}

impl LimitTable {
    pub fn new(config: &GatewayLimits) -> Self {
        let pair = |(tenant, key): (LimitSettings, LimitSettings)| (Limits::from(tenant), Limits::from(key));
        Self {
            defaults: pair((config.tenant, config.api_key)),
            tenants: config.tenants.keys().map(|id| (id.clone(), pair(config.resolve(id)))).collect(),
        }
    }

    /// The limits of `tenant` and of each of its API keys, for [`Quota::admit`].
    pub fn for_tenant(&self, tenant: &str) -> (&Limits, &Limits) {
        let (tenant, key) = self.tenants.get(tenant).unwrap_or(&self.defaults);
        (tenant, key)
    }
}

/// Whose limit: the tenant's (all its credentials together) or one API key's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Tenant,
    ApiKey,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::ApiKey => "api_key",
        }
    }

    fn whose(self) -> &'static str {
        match self {
            Self::Tenant => "the tenant's",
            Self::ApiKey => "this API key's",
        }
    }
}

/// The calendar period of a token budget, in China Standard Time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    Day,
    Month,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    fn adjective(self) -> &'static str {
        match self {
            Self::Day => "daily",
            Self::Month => "monthly",
        }
    }
}

/// Why a request was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// Too many requests in the current minute.
    #[error(
        "Rate limit reached: {} limit is {limit} requests per minute. Retry after {} s (the minute ends at {}).",
        .scope.whose(), whole_seconds(*.retry_after), cst_text(*.resets_at)
    )]
    RateLimited { scope: Scope, limit: u32, retry_after: Duration, resets_at: DateTime<Utc> },

    /// The budget has not enough tokens left for this request's reservation in this period.
    #[error(
        "Token budget exhausted: {} {} budget is {limit} tokens, {used} are used or reserved, and this request reserves {requested} (prompt plus max_tokens). The budget resets at {}; retry after {} s.",
        .scope.whose(), .period.adjective(), cst_text(*.resets_at), whole_seconds(*.retry_after)
    )]
    BudgetExhausted {
        scope: Scope,
        period: Period,
        limit: u64,
        used: u64,
        requested: u64,
        retry_after: Duration,
        resets_at: DateTime<Utc>,
    },

    /// The request alone reserves more than a whole budget: retrying cannot help.
    #[error(
        "This request reserves {requested} tokens (prompt plus max_tokens), more than {} whole {} budget of {limit} tokens: lower max_tokens or shorten the prompt.",
        .scope.whose(), .period.adjective()
    )]
    ExceedsBudget { scope: Scope, period: Period, limit: u64, requested: u64 },

    /// The cache holding the counters failed: the request is refused (limits fail closed).
    #[error("Budgets and rate limits cannot be checked right now, so the request was not sent; retry shortly.")]
    Unavailable {
        #[source]
        source: CacheError,
    },

    /// `now` is outside the calendar chrono can count in (years beyond ±262,000).
    #[error("time {now} is outside the calendar that budgets are counted in")]
    OutOfRange { now: DateTime<Utc> },
}

impl ServiceError for QuotaError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::RateLimited { .. } | Self::BudgetExhausted { .. } | Self::ExceedsBudget { .. } => ErrorCode::ResourceExhausted,
            Self::Unavailable { .. } => ErrorCode::Unavailable,
            Self::OutOfRange { .. } => ErrorCode::Internal,
        }
    }
}

/// Retry hint of an [`QuotaError::Unavailable`] answer.
const UNAVAILABLE_RETRY: Duration = Duration::from_secs(1);

impl QuotaError {
    /// HTTP status: 429 when a limit refused the request, 503 when the counters are unreachable.
    pub fn status(&self) -> StatusCode {
        self.code().http_status()
    }

    /// When retrying can succeed: the end of the minute or budget period that refused the
    /// request. `None` when retrying the same request cannot help ([`QuotaError::ExceedsBudget`]).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::BudgetExhausted { retry_after, .. } => Some(*retry_after),
            Self::Unavailable { .. } => Some(UNAVAILABLE_RETRY),
            Self::ExceedsBudget { .. } | Self::OutOfRange { .. } => None,
        }
    }

    /// OpenAI's error `type`: `rate_limit_exceeded` (requests per minute), `insufficient_quota`
    /// (token budgets) or `api_error` (the gateway's fault).
    pub fn openai_type(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limit_exceeded",
            Self::BudgetExhausted { .. } | Self::ExceedsBudget { .. } => "insufficient_quota",
            Self::Unavailable { .. } | Self::OutOfRange { .. } => "api_error",
        }
    }

    /// OpenAI's error `code`: the limit that refused, named like its configuration key
    /// (`tenant_requests_per_minute`, `api_key_tokens_per_day`, …), or `quota_unavailable`.
    pub fn openai_code(&self) -> &'static str {
        match self {
            Self::RateLimited { scope: Scope::Tenant, .. } => "tenant_requests_per_minute",
            Self::RateLimited { scope: Scope::ApiKey, .. } => "api_key_requests_per_minute",
            Self::BudgetExhausted { scope, period, .. } | Self::ExceedsBudget { scope, period, .. } => match (scope, period) {
                (Scope::Tenant, Period::Day) => "tenant_tokens_per_day",
                (Scope::Tenant, Period::Month) => "tenant_tokens_per_month",
                (Scope::ApiKey, Period::Day) => "api_key_tokens_per_day",
                (Scope::ApiKey, Period::Month) => "api_key_tokens_per_month",
            },
            Self::Unavailable { .. } => "quota_unavailable",
            Self::OutOfRange { .. } => "internal_error",
        }
    }

    /// Response headers: `retry-after` (whole seconds, rounded up) and `retry-after-ms` (read
    /// first by OpenAI's client libraries), and `x-should-retry: false` when an automatic retry
    /// within seconds cannot succeed (an exhausted or too small budget), so those clients do not
    /// retry in vain.
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(retry_after) = self.retry_after() {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(whole_seconds(retry_after)));
            let millis = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX).max(1);
            headers.insert("retry-after-ms", HeaderValue::from(millis));
        }
        if matches!(self, Self::BudgetExhausted { .. } | Self::ExceedsBudget { .. }) {
            headers.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        headers
    }

    /// The whole answer of an OpenAI-compatible route: status, headers and
    /// `{"error": {"message", "type", "param": null, "code"}}`.
    pub fn openai_error(&self) -> (StatusCode, HeaderMap, Value) {
        let body = json!({
            "error": {
                "message": self.to_string(),
                "type": self.openai_type(),
                "param": null,
                "code": self.openai_code(),
            }
        });
        (self.status(), self.headers(), body)
    }

    /// The gRPC answer: `RESOURCE_EXHAUSTED` (or `UNAVAILABLE`) with the platform's problem as
    /// details and the retry hint in the `retry-after` metadata (whole seconds).
    pub fn grpc_status(&self) -> tonic::Status {
        let mut status: tonic::Status = brain_core::Problem::from(self).into();
        if let Some(retry_after) = self.retry_after() {
            status.metadata_mut().insert("retry-after", whole_seconds(retry_after).into());
        }
        status
    }
}

/// A duration as whole seconds for `retry-after`, rounded up and at least 1.
fn whole_seconds(duration: Duration) -> u64 {
    (duration.as_secs() + u64::from(duration.subsec_nanos() > 0)).max(1)
}

/// An instant as China Standard Time, e.g. `2026-11-22T00:00:00+08:00`.
fn cst_text(at: DateTime<Utc>) -> String {
    at.naive_utc()
        .checked_add_signed(CST_OFFSET)
        .map(|local| format!("{}+08:00", local.format("%Y-%m-%dT%H:%M:%S")))
        .unwrap_or_else(|| at.to_rfc3339())
}

/// A counting window: the calendar minute, day or month containing an instant.
#[derive(Clone, Debug)]
struct Window {
    /// Names the window in counter keys: `2026-11-22T00:30`, `2026-11-22`, `2026-11`.
    label: String,
    ends_at: DateTime<Utc>,
}

impl Window {
    fn minute(local: NaiveDateTime) -> Option<Self> {
        let start = local.with_second(0)?.with_nanosecond(0)?;
        Some(Self { label: start.format("%Y-%m-%dT%H:%M").to_string(), ends_at: utc(start.checked_add_signed(TimeDelta::minutes(1))?)? })
    }

    fn day(local: NaiveDateTime) -> Option<Self> {
        let day = local.date();
        Some(Self { label: day.format("%Y-%m-%d").to_string(), ends_at: utc(day.succ_opt()?.and_hms_opt(0, 0, 0)?)? })
    }

    fn month(local: NaiveDateTime) -> Option<Self> {
        let day = local.date();
        let next = if day.month() == 12 { NaiveDate::from_ymd_opt(day.year() + 1, 1, 1)? } else { NaiveDate::from_ymd_opt(day.year(), day.month() + 1, 1)? };
        Some(Self { label: day.format("%Y-%m").to_string(), ends_at: utc(next.and_hms_opt(0, 0, 0)?)? })
    }

    /// Time from `now` to the end of the window.
    fn left(&self, now: DateTime<Utc>) -> Duration {
        (self.ends_at - now).to_std().unwrap_or(Duration::ZERO)
    }
}

/// A China Standard Time wall-clock time as an instant.
fn utc(local: NaiveDateTime) -> Option<DateTime<Utc>> {
    Some(local.checked_sub_signed(CST_OFFSET)?.and_utc())
}

/// The calendar of one minute since the epoch (UTC).
type MinuteCalendar = (i64, Arc<Calendar>);

/// The minute, day and month containing `now`, in China Standard Time.
#[derive(Debug)]
struct Calendar {
    minute: Window,
    day: Window,
    month: Window,
}

impl Calendar {
    fn at(now: DateTime<Utc>) -> Result<Self, QuotaError> {
        let windows = || {
            let local = now.naive_utc().checked_add_signed(CST_OFFSET)?;
            Some(Self { minute: Window::minute(local)?, day: Window::day(local)?, month: Window::month(local)? })
        };
        windows().ok_or(QuotaError::OutOfRange { now })
    }

    fn period(&self, period: Period) -> &Window {
        match period {
            Period::Day => &self.day,
            Period::Month => &self.month,
        }
    }
}

/// A key part with the separators of counter keys escaped, so that no tenant or key id can
/// make its counter collide with another scope's.
fn escape(part: &str) -> std::borrow::Cow<'_, str> {
    if part.contains(['%', ':', '/']) {
        part.replace('%', "%25").replace(':', "%3A").replace('/', "%2F").into()
    } else {
        part.into()
    }
}

/// The counter subject of a scope: `<tenant>` or `<tenant>/<key id>`.
fn subject(tenant: &str, api_key: Option<&str>) -> String {
    match api_key {
        None => escape(tenant).into_owned(),
        Some(key) => format!("{}/{}", escape(tenant), escape(key)),
    }
}

fn rate_key(subject: &str, minute: &Window) -> String {
    format!("quota:requests:minute:{subject}:{}", minute.label)
}

fn token_key(subject: &str, period: Period, window: &Window) -> String {
    format!("quota:tokens:{}:{subject}:{}", period.as_str(), window.label)
}

/// What a counter limits.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Requests,
    Tokens(Period),
}

/// One limited counter an admission takes from.
#[derive(Clone, Debug)]
struct Check {
    key: String,
    scope: Scope,
    kind: Kind,
    limit: u64,
    /// TTL of a counter created by this check: the rest of its window plus a grace.
    ttl: Duration,
    /// Time left in the counted window, the retry hint.
    left: Duration,
    ends_at: DateTime<Utc>,
}

impl Check {
    fn new(key: String, scope: Scope, kind: Kind, limit: u64, window: &Window, now: DateTime<Utc>) -> Self {
        let left = window.left(now);
        let grace = if matches!(kind, Kind::Requests) { RATE_KEY_GRACE } else { KEY_GRACE };
        Self { key, scope, kind, limit, ttl: left + grace, left, ends_at: window.ends_at }
    }

    fn refusal(&self, consumption: &Consumption, amount: u64) -> QuotaError {
        match self.kind {
            Kind::Requests => QuotaError::RateLimited {
                scope: self.scope,
                limit: u32::try_from(self.limit).unwrap_or(u32::MAX),
                retry_after: self.left,
                resets_at: self.ends_at,
            },
            Kind::Tokens(period) => QuotaError::BudgetExhausted {
                scope: self.scope,
                period,
                limit: self.limit,
                used: u64::try_from(consumption.used).unwrap_or(0),
                requested: amount,
                retry_after: self.left,
                resets_at: self.ends_at,
            },
        }
    }
}

/// Tokens held for an admitted request until [`Quota::settle`] replaces them by the tokens the
/// upstream reported. Dropped without settling, the reservation stays charged in full.
#[derive(Debug)]
#[must_use = "settle the reservation with the tokens used; dropped, it stays charged in full"]
pub struct Reservation {
    reserved: u64,
    /// Token counters charged `reserved` (the limited budgets of the request's scopes).
    counters: Vec<String>,
}

impl Reservation {
    /// Tokens reserved: the requested reservation, at least 1 so that an exhausted budget
    /// refuses even a request that reserves nothing.
    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Whether any budget holds tokens for this request (false when every budget is unlimited).
    pub fn is_counted(&self) -> bool {
        !self.counters.is_empty()
    }
}

/// Counters of one scope in the current windows, as [`Quota::usage`] reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub requests_this_minute: u64,
    /// Tokens used or reserved today (China Standard Time).
    pub tokens_today: u64,
    pub tokens_this_month: u64,
}

/// Admission and settlement of requests against rate limits and token budgets.
#[derive(Clone)]
pub struct Quota {
    cache: Arc<dyn Cache>,
    /// The windows of the current minute, built once per minute rather than per request.
    current: Arc<std::sync::Mutex<Option<MinuteCalendar>>>,
}

impl std::fmt::Debug for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quota").field("cache", &self.cache.backend()).finish()
    }
}

impl Quota {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Self { cache, current: Arc::default() }
    }

    /// The windows containing `now`. China Standard Time is a whole number of minutes off UTC,
    /// so one UTC minute lies in one minute, day and month: the windows are kept per minute.
    fn calendar(&self, now: DateTime<Utc>) -> Result<Arc<Calendar>, QuotaError> {
        let minute = now.timestamp().div_euclid(60);
        let mut current = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, calendar)) = current.as_ref()
            && *at == minute
        {
            return Ok(calendar.clone());
        }
        let calendar = Arc::new(Calendar::at(now)?);
        *current = Some((minute, calendar.clone()));
        Ok(calendar)
    }

    /// Admits a request of `tenant` (made with the API key whose **id** is `api_key`, if any),
    /// counting it against the requests per minute of the tenant and of the key, then reserving
    /// `reserve_tokens` (the prompt's tokens plus the request's `max_tokens`) in the daily and
    /// monthly budgets of both. `limits` are the tenant's and its keys' ([`LimitTable::for_tenant`]);
    /// `now` decides the minute, day and month (China Standard Time) counted in.
    ///
    /// Either every limited counter took the request, or none keeps it: what earlier counters
    /// took is given back when a later one refuses (see the module's notes on exactness).
    pub async fn admit(
        &self,
        tenant: &str,
        api_key: Option<&str>,
        limits: (&Limits, &Limits),
        reserve_tokens: u64,
        now: DateTime<Utc>,
    ) -> Result<Reservation, QuotaError> {
        let reserve = reserve_tokens.max(1);
        let scopes: Vec<(Scope, &Limits, String)> = std::iter::once((Scope::Tenant, limits.0, subject(tenant, None)))
            .chain(api_key.map(|key| (Scope::ApiKey, limits.1, subject(tenant, Some(key)))))
            .filter(|(_, limits, _)| !limits.is_unlimited())
            .collect();
        if scopes.is_empty() {
            return Ok(Reservation { reserved: reserve, counters: Vec::new() });
        }
        // A request larger than a whole budget can never be admitted: refuse before counting.
        for (scope, limits, _) in &scopes {
            for period in [Period::Day, Period::Month] {
                let limit = limits.tokens(period);
                if limit > 0 && reserve > limit {
                    return Err(QuotaError::ExceedsBudget { scope: *scope, period, limit, requested: reserve_tokens });
                }
            }
        }
        let calendar = self.calendar(now)?;
        let rates: Vec<Check> = scopes
            .iter()
            .filter(|(_, limits, _)| limits.requests_per_minute > 0)
            .map(|(scope, limits, subject)| {
                let key = rate_key(subject, &calendar.minute);
                Check::new(key, *scope, Kind::Requests, u64::from(limits.requests_per_minute), &calendar.minute, now)
            })
            .collect();
        let budgets: Vec<Check> = scopes
            .iter()
            .flat_map(|(scope, limits, subject)| {
                let calendar = &*calendar;
                [Period::Day, Period::Month].into_iter().filter(|period| limits.tokens(*period) > 0).map(move |period| {
                    let window = calendar.period(period);
                    Check::new(token_key(subject, period, window), *scope, Kind::Tokens(period), limits.tokens(period), window, now)
                })
            })
            .collect();

        self.take(&rates, 1).await?;
        if let Err(refused) = self.take(&budgets, reserve).await {
            self.give_back(&rates, 1).await;
            return Err(refused);
        }
        Ok(Reservation { reserved: reserve, counters: budgets.into_iter().map(|check| check.key).collect() })
    }

    /// Replaces a reservation by the tokens the upstream reported (`actual_tokens`, prompt plus
    /// completion): refunds `reserved - actual`, or charges the excess when the upstream used
    /// more. Counters of the period the request was admitted in are adjusted, even after that
    /// period ended. When the upstream reported no usage, settle with
    /// [`Reservation::reserved`]; when the request failed before the upstream worked on it, with 0.
    ///
    /// A failure leaves the reservation charged (or the excess uncharged) and is reported for
    /// the logs; the request itself is over.
    pub async fn settle(&self, reservation: Reservation, actual_tokens: u64) -> Result<(), QuotaError> {
        let actual = i64::try_from(actual_tokens.min(MAX_TOKEN_BUDGET)).unwrap_or(i64::MAX);
        let reserved = i64::try_from(reservation.reserved).unwrap_or(i64::MAX);
        let delta = actual - reserved;
        if delta == 0 || reservation.counters.is_empty() {
            return Ok(());
        }
        let adjusted = join_all(reservation.counters.iter().map(|key| self.adjust(key, delta, KEY_GRACE))).await;
        match adjusted.into_iter().find_map(Result::err) {
            Some(source) => {
                tracing::warn!(error = %source, delta, "could not settle a token reservation; the reservation stays charged");
                Err(QuotaError::Unavailable { source })
            }
            None => Ok(()),
        }
    }

    /// The counters of a scope (the tenant, or one of its keys) at `now`. Only limited scopes
    /// are counted: an unlimited one reads 0.
    pub async fn usage(&self, tenant: &str, api_key: Option<&str>, now: DateTime<Utc>) -> Result<Usage, QuotaError> {
        let calendar = self.calendar(now)?;
        let subject = subject(tenant, api_key);
        let keys = [rate_key(&subject, &calendar.minute), token_key(&subject, Period::Day, &calendar.day), token_key(&subject, Period::Month, &calendar.month)];
        let mut values = [0u64; 3];
        for (value, key) in values.iter_mut().zip(&keys) {
            let stored = self.cache.get(key).await.map_err(|source| QuotaError::Unavailable { source })?;
            *value = stored.and_then(|bytes| std::str::from_utf8(&bytes).ok()?.parse::<i64>().ok()).map_or(0, |n| u64::try_from(n).unwrap_or(0));
        }
        let [requests_this_minute, tokens_today, tokens_this_month] = values;
        Ok(Usage { requests_this_minute, tokens_today, tokens_this_month })
    }

    /// Takes `amount` from every counter of `checks` at once; when one refuses or fails, gives
    /// back what the others took and reports the refusal that lasts longest (retrying before
    /// it ends cannot succeed), or the cache failure.
    async fn take(&self, checks: &[Check], amount: u64) -> Result<(), QuotaError> {
        if checks.is_empty() {
            return Ok(());
        }
        let signed = i64::try_from(amount).unwrap_or(i64::MAX);
        let outcomes = join_all(checks.iter().map(|check| {
            let limit = i64::try_from(check.limit).unwrap_or(i64::MAX);
            self.cache.try_consume(&check.key, signed, limit, check.ttl)
        }))
        .await;
        let mut taken = Vec::new();
        let mut refusal: Option<(&Check, Consumption)> = None;
        let mut failure = None;
        for (check, outcome) in checks.iter().zip(outcomes) {
            match outcome {
                Ok(consumption) if consumption.granted => taken.push(check.clone()),
                Ok(consumption) => {
                    if refusal.is_none_or(|(longest, _)| check.ends_at > longest.ends_at) {
                        refusal = Some((check, consumption));
                    }
                }
                Err(source) => {
                    tracing::error!(error = %source, key = %check.key, "quota counter unavailable; refusing the request");
                    failure.get_or_insert(source);
                }
            }
        }
        let error = match (failure, refusal) {
            (None, None) => return Ok(()),
            (Some(source), _) => QuotaError::Unavailable { source },
            (None, Some((check, consumption))) => check.refusal(&consumption, amount),
        };
        self.give_back(&taken, amount).await;
        Err(error)
    }

    /// Returns `amount` to each counter of `checks`. A give-back that fails leaves the amount
    /// taken: the budget is under-used, never overspent.
    async fn give_back(&self, checks: &[Check], amount: u64) {
        let delta = -i64::try_from(amount).unwrap_or(i64::MAX);
        let results = join_all(checks.iter().map(|check| self.adjust(&check.key, delta, check.ttl))).await;
        for (check, result) in checks.iter().zip(results) {
            if let Err(error) = result {
                tracing::warn!(%error, key = %check.key, amount, "could not give back a quota reservation; it stays taken until its window ends");
            }
        }
    }

    /// Adds `delta` to a counter. A counter that went below zero had been lost (evicted, or
    /// settled after its grace), and a negative count would let later requests overspend: it is
    /// brought back to zero.
    async fn adjust(&self, key: &str, delta: i64, ttl: Duration) -> Result<(), CacheError> {
        let count = self.cache.incr_window(key, delta, ttl).await?;
        if count.total < 0 {
            tracing::warn!(key, total = count.total, "quota counter below zero (it had expired or been evicted); reset to zero");
            self.cache.incr_window(key, -count.total, ttl).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn windows_are_calendar_periods_in_china_standard_time() {
        // 2026-11-30T15:59:30Z is 23:59:30 on the last day of November in Beijing.
        let calendar = Calendar::at(at("2026-11-30T15:59:30.250Z")).unwrap();
        assert_eq!(calendar.minute.label, "2026-11-30T23:59");
        assert_eq!(calendar.minute.ends_at, at("2026-11-30T16:00:00Z"));
        assert_eq!(calendar.day.label, "2026-11-30");
        assert_eq!(calendar.day.ends_at, at("2026-11-30T16:00:00Z"));
        assert_eq!(calendar.month.label, "2026-11");
        assert_eq!(calendar.month.ends_at, at("2026-11-30T16:00:00Z"));
        assert_eq!(calendar.day.left(at("2026-11-30T15:59:30.250Z")), Duration::from_millis(29_750));

        // Half a minute later it is December in Beijing, still November in UTC.
        let calendar = Calendar::at(at("2026-11-30T16:00:00Z")).unwrap();
        assert_eq!(calendar.day.label, "2026-12-01");
        assert_eq!(calendar.month.label, "2026-12");
        assert_eq!(calendar.month.ends_at, at("2026-12-31T16:00:00Z"));
        let calendar = Calendar::at(at("2026-12-31T16:00:00Z")).unwrap();
        assert_eq!(calendar.month.label, "2027-01");
        assert_eq!(calendar.day.ends_at, at("2027-01-01T16:00:00Z"));
        assert!(Calendar::at(DateTime::<Utc>::MAX_UTC).is_err());
    }

    #[test]
    fn keys_cannot_collide_across_scopes() {
        assert_eq!(subject("acme", None), "acme");
        assert_eq!(subject("acme", Some("k1")), "acme/k1");
        assert_ne!(subject("acme/k1", None), subject("acme", Some("k1")));
        assert_eq!(subject("a:b%", Some("c/d")), "a%3Ab%25/c%2Fd");
        let day = Calendar::at(at("2026-11-21T16:30:00Z")).unwrap().day;
        assert_eq!(token_key("acme", Period::Day, &day), "quota:tokens:day:acme:2026-11-22");
    }

    #[test]
    fn limit_table_resolves_overrides() {
        let config = GatewayLimits {
            tenant: LimitSettings { requests_per_minute: 10, tokens_per_day: 100, tokens_per_month: 1000 },
            api_key: LimitSettings { requests_per_minute: 5, ..LimitSettings::default() },
            tenants: [(
                "big".to_owned(),
                brain_config::TenantLimits {
                    tenant: brain_config::LimitOverride { tokens_per_day: Some(0), ..Default::default() },
                    api_key: brain_config::LimitOverride { tokens_per_month: Some(50), ..Default::default() },
                },
            )]
            .into(),
        };
        let table = LimitTable::new(&config);
        let (tenant, key) = table.for_tenant("small");
        assert_eq!((tenant.tokens_per_day, key.requests_per_minute), (100, 5));
        let (tenant, key) = table.for_tenant("big");
        assert_eq!(*tenant, Limits { requests_per_minute: 10, tokens_per_day: 0, tokens_per_month: 1000 });
        assert_eq!(*key, Limits { requests_per_minute: 5, tokens_per_day: 0, tokens_per_month: 50 });
        assert!(LimitTable::default().for_tenant("any").0.is_unlimited());
    }

    #[test]
    fn errors_speak_openai_and_grpc() {
        let refused = QuotaError::BudgetExhausted {
            scope: Scope::ApiKey,
            period: Period::Day,
            limit: 5000,
            used: 4950,
            requested: 100,
            retry_after: Duration::from_millis(29_750),
            resets_at: at("2026-11-30T16:00:00Z"),
        };
        let (status, headers, body) = refused.openai_error();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers["retry-after"], "30");
        assert_eq!(headers["retry-after-ms"], "29750");
        assert_eq!(headers["x-should-retry"], "false");
        assert_eq!(body["error"]["type"], "insufficient_quota");
        assert_eq!(body["error"]["code"], "api_key_tokens_per_day");
        assert!(body["error"]["param"].is_null());
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("this API key's daily budget is 5000 tokens, 4950 are used or reserved"), "{message}");
        assert!(message.contains("resets at 2026-12-01T00:00:00+08:00; retry after 30 s"), "{message}");

        let grpc = refused.grpc_status();
        assert_eq!(grpc.code(), tonic::Code::ResourceExhausted);
        assert_eq!(grpc.metadata().get("retry-after").unwrap(), "30");

        let rate = QuotaError::RateLimited { scope: Scope::Tenant, limit: 20, retry_after: Duration::from_secs(12), resets_at: at("2026-11-30T16:00:00Z") };
        let (status, headers, body) = rate.openai_error();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers["retry-after"], "12");
        assert!(headers.get("x-should-retry").is_none(), "clients may retry a rate limit");
        assert_eq!(body["error"]["type"], "rate_limit_exceeded");
        assert_eq!(body["error"]["code"], "tenant_requests_per_minute");

        let too_big = QuotaError::ExceedsBudget { scope: Scope::Tenant, period: Period::Month, limit: 10, requested: 11 };
        let (status, headers, body) = too_big.openai_error();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(headers.get("retry-after").is_none());
        assert_eq!(body["error"]["code"], "tenant_tokens_per_month");

        let down = QuotaError::Unavailable { source: CacheError::InvalidArgument { reason: "redis down".into() } };
        let (status, headers, body) = down.openai_error();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(body["error"]["type"], "api_error");
        assert!(!body["error"]["message"].as_str().unwrap().contains("redis"), "cache details stay in the logs");
        assert_eq!(down.grpc_status().code(), tonic::Code::Unavailable);
    }

    #[test]
    fn retry_hints_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(30)), 30);
        assert_eq!(whole_seconds(Duration::from_millis(30_001)), 31);
        assert_eq!(whole_seconds(Duration::ZERO), 1);
    }
}
