//! REST routes of the trust service: `/api/v1/auth/*` (sessions), `/api/v1/identity/*`
//! (tenants, users, API keys), `/api/v1/products`, `/api/v1/grants` (authorized use of data).

use crate::domain::grants::{AccessRequest, Narrowing};
use crate::domain::products::Registration;
use crate::domain::{Grant, GrantStatus, Product};
use crate::identity::SignedIn;
use crate::operations::{NewApiKey, Trust, page_limit};
use crate::sharing::GrantedPage;
use crate::store::{ApiKeyRow, Side, TenantRow, UserRow};
use crate::TrustError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use brain_auth::{AuthMethod, KeyScope, Principal, Role, Subject, TenantKind};
use brain_core::Problem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const TAG: &str = "trust";

pub(crate) fn router(trust: Trust) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(refresh))
        .routes(routes!(sign_out))
        .routes(routes!(who_am_i))
        .routes(routes!(jwks))
        .routes(routes!(enroll_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(create_user, list_users))
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(revoke_api_key))
        .routes(routes!(register_product, list_products))
        .routes(routes!(get_product))
        .routes(routes!(withdraw_product))
        .routes(routes!(request_access, list_grants))
        .routes(routes!(decide_access))
        .routes(routes!(revoke_grant))
        .routes(routes!(read_granted))
        .merge(super::rest_evidence::router())
        .with_state(trust)
}

pub(crate) type ApiResult<T> = Result<T, Problem>;

pub(crate) fn problem(error: TrustError) -> Problem {
    Problem::from(&error)
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct PageParams {
    pub(crate) page_size: Option<u32>,
    /// The last id of the previous page.
    page_token: Option<String>,
}

impl PageParams {
    pub(crate) fn after(&self) -> &str {
        self.page_token.as_deref().unwrap_or("")
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Page<T> {
    items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

pub(crate) fn page<T, F: Fn(&T) -> String>(items: Vec<T>, limit: i64, last_id: F) -> Page<T> {
    let full = i64::try_from(items.len()).unwrap_or(i64::MAX) >= limit;
    let next_page_token = if full { items.last().map(last_id) } else { None };
    Page { items, next_page_token }
}

// ---- sessions ------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub(crate) struct SignInBody {
    tenant_id: String,
    username: String,
    password: String,
    /// Required once the account enrolled TOTP (administrators must, for their operations).
    totp_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct IdentityBody {
    pub(crate) tenant_id: String,
    /// `user:<id>`, `api-key:<id>` or `service:<name>`.
    pub(crate) subject: String,
    pub(crate) display_name: String,
    pub(crate) roles: Vec<String>,
    /// How the caller authenticated: `pwd`, `otp`, …
    pub(crate) methods: Vec<String>,
}

pub(crate) fn identity_of(principal: &Principal) -> IdentityBody {
    let display_name = match &principal.subject {
        Subject::User { name, .. } | Subject::ApiKey { name, .. } | Subject::Service { name } => name.clone(),
    };
    let methods = match principal.method {
        AuthMethod::ApiKey => vec!["api-key".to_owned()],
        method => method.amr(),
    };
    IdentityBody { tenant_id: principal.tenant.clone(), subject: principal.subject.actor(), display_name, roles: principal.roles.iter().map(|r| r.as_str().to_owned()).collect(), methods }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SessionBody {
    access_token: String,
    token_type: &'static str,
    access_token_expires_at: DateTime<Utc>,
    refresh_token: String,
    identity: IdentityBody,
}

fn session_of(signed_in: SignedIn) -> SessionBody {
    SessionBody {
        access_token: signed_in.access.token,
        token_type: "Bearer",
        access_token_expires_at: signed_in.access.expires_at,
        refresh_token: signed_in.refresh.as_str().to_owned(),
        identity: identity_of(&signed_in.principal),
    }
}

/// Sign in with a password (and a TOTP code once enrolled); answers an access token and a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/sign-in", tag = TAG, request_body = SignInBody,
    responses((status = 200, body = SessionBody), (status = 401, description = "Unknown user or wrong password (which one is not told), or a missing TOTP code", body = Problem), (status = 429, description = "Locked after repeated failures", body = Problem)))]
async fn sign_in(State(trust): State<Trust>, Json(body): Json<SignInBody>) -> ApiResult<Json<SessionBody>> {
    let signed_in = trust.sign_in(&body.tenant_id, &body.username, &body.password, body.totp_code.as_deref()).await.map_err(problem)?;
    Ok(Json(session_of(signed_in)))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct RefreshBody {
    refresh_token: String,
}

/// Trade a refresh token for new tokens; a token used twice ends the whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = TAG, request_body = RefreshBody, responses((status = 200, body = SessionBody), (status = 401, body = Problem)))]
async fn refresh(State(trust): State<Trust>, Json(body): Json<RefreshBody>) -> ApiResult<Json<SessionBody>> {
    Ok(Json(session_of(trust.refresh(&body.refresh_token).await.map_err(problem)?)))
}

/// End the session the refresh token belongs to.
#[utoipa::path(post, path = "/api/v1/auth/sign-out", tag = TAG, request_body = RefreshBody, responses((status = 204, description = "Signed out")))]
async fn sign_out(State(trust): State<Trust>, Json(body): Json<RefreshBody>) -> ApiResult<StatusCode> {
    trust.sign_out(&body.refresh_token).await.map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the caller is, as the platform sees it.
#[utoipa::path(get, path = "/api/v1/auth/whoami", tag = TAG, responses((status = 200, body = IdentityBody), (status = 401, body = Problem)))]
async fn who_am_i(principal: Principal) -> Json<IdentityBody> {
    Json(identity_of(&principal))
}

/// The public keys access tokens are signed with (JWK set, RFC 7517).
#[utoipa::path(get, path = "/api/v1/auth/jwks", tag = TAG, responses((status = 200, description = "JWK set")))]
async fn jwks(State(trust): State<Trust>) -> Json<serde_json::Value> {
    Json(trust.jwks())
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TotpEnrollmentBody {
    /// For an authenticator app; shown once.
    otpauth_uri: String,
    secret_base32: String,
}

/// Start TOTP enrolment: a new secret, confirmed with a code from the authenticator app.
#[utoipa::path(post, path = "/api/v1/auth/totp/enroll", tag = TAG, responses((status = 200, body = TotpEnrollmentBody)))]
async fn enroll_totp(State(trust): State<Trust>, principal: Principal) -> ApiResult<Json<TotpEnrollmentBody>> {
    let (secret, otpauth_uri) = trust.enroll_totp(&principal).map_err(problem)?;
    Ok(Json(TotpEnrollmentBody { otpauth_uri, secret_base32: secret.to_base32() }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ConfirmTotpBody {
    secret_base32: String,
    code: String,
}

/// Finish TOTP enrolment; from the next sign-in on, the code is required.
#[utoipa::path(post, path = "/api/v1/auth/totp/confirm", tag = TAG, request_body = ConfirmTotpBody, responses((status = 200, body = UserBody), (status = 401, body = Problem)))]
async fn confirm_totp(State(trust): State<Trust>, principal: Principal, Json(body): Json<ConfirmTotpBody>) -> ApiResult<Json<UserBody>> {
    Ok(Json(user_of(trust.confirm_totp(&principal, &body.secret_base32, &body.code).await.map_err(problem)?)))
}

// ---- tenants, users, API keys ------------------------------------------------------------------

#[derive(Deserialize, Serialize, ToSchema)]
pub(crate) struct TenantBody {
    /// An enterprise's id is its unified social credit code.
    id: String,
    /// `government`, `enterprise`, `service-provider`, `bank` (or `platform`).
    #[schema(value_type = String)]
    kind: TenantKind,
    name: String,
    #[serde(default, skip_deserializing)]
    created_at: Option<DateTime<Utc>>,
}

fn tenant_of(row: TenantRow) -> TenantBody {
    let kind = serde_json::from_value(serde_json::Value::String(row.kind)).unwrap_or(TenantKind::Enterprise);
    TenantBody { id: row.id, kind, name: row.name, created_at: Some(row.created_at) }
}

/// Create a tenant (system administrator, signed in with TOTP).
#[utoipa::path(post, path = "/api/v1/identity/tenants", tag = TAG, request_body = TenantBody, responses((status = 201, body = TenantBody), (status = 403, body = Problem), (status = 409, body = Problem)))]
async fn create_tenant(State(trust): State<Trust>, principal: Principal, Json(body): Json<TenantBody>) -> ApiResult<(StatusCode, Json<TenantBody>)> {
    let row = trust.create_tenant(&principal, &body.id, body.kind, &body.name).await.map_err(problem)?;
    Ok((StatusCode::CREATED, Json(tenant_of(row))))
}

/// Tenants: all of them for platform administrators and the auditor, one's own otherwise.
#[utoipa::path(get, path = "/api/v1/identity/tenants", tag = TAG, params(PageParams), responses((status = 200, body = Page<TenantBody>)))]
async fn list_tenants(State(trust): State<Trust>, principal: Principal, Query(params): Query<PageParams>) -> ApiResult<Json<Page<TenantBody>>> {
    let limit = page_limit(params.page_size);
    let rows = trust.list_tenants(&principal, params.after(), limit).await.map_err(problem)?;
    Ok(Json(page(rows.into_iter().map(tenant_of).collect(), limit, |t| t.id.clone())))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NewUserBody {
    username: String,
    display_name: String,
    password: String,
    #[schema(value_type = Vec<String>)]
    roles: Vec<Role>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct UserBody {
    id: String,
    tenant_id: String,
    username: String,
    display_name: String,
    roles: Vec<String>,
    totp_enabled: bool,
    locked_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

fn user_of(row: UserRow) -> UserBody {
    UserBody {
        id: row.id,
        tenant_id: row.tenant,
        username: row.username,
        display_name: row.display_name,
        roles: row.roles,
        totp_enabled: row.totp_secret.is_some(),
        locked_until: row.locked_until,
        created_at: row.created_at,
    }
}

/// Create a user in a tenant.
#[utoipa::path(post, path = "/api/v1/identity/tenants/{tenant}/users", tag = TAG, params(("tenant" = String, Path)), request_body = NewUserBody,
    responses((status = 201, body = UserBody), (status = 400, description = "Weak password or conflicting administrator roles", body = Problem), (status = 403, body = Problem)))]
async fn create_user(State(trust): State<Trust>, principal: Principal, Path(tenant): Path<String>, Json(body): Json<NewUserBody>) -> ApiResult<(StatusCode, Json<UserBody>)> {
    let row = trust.create_user(&principal, &tenant, &body.username, &body.display_name, &body.password, &body.roles).await.map_err(problem)?;
    Ok((StatusCode::CREATED, Json(user_of(row))))
}

/// A tenant's users.
#[utoipa::path(get, path = "/api/v1/identity/tenants/{tenant}/users", tag = TAG, params(("tenant" = String, Path), PageParams), responses((status = 200, body = Page<UserBody>), (status = 403, body = Problem)))]
async fn list_users(State(trust): State<Trust>, principal: Principal, Path(tenant): Path<String>, Query(params): Query<PageParams>) -> ApiResult<Json<Page<UserBody>>> {
    let limit = page_limit(params.page_size);
    let rows = trust.list_users(&principal, &tenant, params.after(), limit).await.map_err(problem)?;
    Ok(Json(page(rows.into_iter().map(user_of).collect(), limit, |u| u.id.clone())))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct NewApiKeyBody {
    name: String,
    #[schema(value_type = Vec<String>)]
    roles: Vec<Role>,
    /// Services and datasets the key may reach (empty lists: all).
    #[serde(default)]
    #[schema(value_type = Object)]
    scope: KeyScope,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ApiKeyBody {
    id: String,
    tenant_id: String,
    name: String,
    #[schema(value_type = Object)]
    scope: serde_json::Value,
    roles: Vec<String>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

fn key_of(row: ApiKeyRow) -> ApiKeyBody {
    ApiKeyBody { id: row.id, tenant_id: row.tenant, name: row.name, scope: row.scope, roles: row.roles, created_at: row.created_at, expires_at: row.expires_at, revoked_at: row.revoked_at }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedKeyBody {
    key: ApiKeyBody,
    /// `bk_<id>_<secret>`: shown this once, stored only as a hash. Send it as `x-api-key`.
    secret: String,
}

/// Issue an API key for a system of the tenant.
#[utoipa::path(post, path = "/api/v1/identity/tenants/{tenant}/api-keys", tag = TAG, params(("tenant" = String, Path)), request_body = NewApiKeyBody,
    responses((status = 201, body = CreatedKeyBody), (status = 403, body = Problem)))]
async fn create_api_key(State(trust): State<Trust>, principal: Principal, Path(tenant): Path<String>, Json(body): Json<NewApiKeyBody>) -> ApiResult<(StatusCode, Json<CreatedKeyBody>)> {
    let new = NewApiKey { name: body.name, roles: body.roles, scope: body.scope, expires_at: body.expires_at };
    let created = trust.create_api_key(&principal, &tenant, new).await.map_err(problem)?;
    Ok((StatusCode::CREATED, Json(CreatedKeyBody { key: key_of(created.row), secret: created.secret })))
}

/// A tenant's API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/identity/tenants/{tenant}/api-keys", tag = TAG, params(("tenant" = String, Path), PageParams), responses((status = 200, body = Page<ApiKeyBody>)))]
async fn list_api_keys(State(trust): State<Trust>, principal: Principal, Path(tenant): Path<String>, Query(params): Query<PageParams>) -> ApiResult<Json<Page<ApiKeyBody>>> {
    let limit = page_limit(params.page_size);
    let rows = trust.list_api_keys(&principal, &tenant, params.after(), limit).await.map_err(problem)?;
    Ok(Json(page(rows.into_iter().map(key_of).collect(), limit, |k| k.id.clone())))
}

/// Revoke an API key; it stops working within the authentication cache's lifetime (≤ 5 s).
#[utoipa::path(post, path = "/api/v1/identity/tenants/{tenant}/api-keys/{key_id}/revoke", tag = TAG, params(("tenant" = String, Path), ("key_id" = String, Path)),
    responses((status = 200, body = ApiKeyBody), (status = 404, body = Problem)))]
async fn revoke_api_key(State(trust): State<Trust>, principal: Principal, Path((tenant, key_id)): Path<(String, String)>) -> ApiResult<Json<ApiKeyBody>> {
    Ok(Json(key_of(trust.revoke_api_key(&principal, &tenant, &key_id).await.map_err(problem)?)))
}

// ---- products ------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub(crate) struct ProductBody {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    product: Product,
    #[serde(skip_serializing_if = "Option::is_none")]
    ledger_seq: Option<u64>,
}

/// Register a data product of the caller's tenant (登记): only registered products circulate.
#[utoipa::path(post, path = "/api/v1/products", tag = TAG, request_body(content = Object, description = "dataset, title, fields, filters (`field op value`), max_grade, terms, price_fen"),
    responses((status = 201, body = ProductBody), (status = 400, body = Problem), (status = 403, body = Problem)))]
async fn register_product(State(trust): State<Trust>, principal: Principal, Json(body): Json<Registration>) -> ApiResult<(StatusCode, Json<ProductBody>)> {
    let (product, seq) = trust.sharing.register_product(&principal, body).await.map_err(problem)?;
    Ok((StatusCode::CREATED, Json(ProductBody { product, ledger_seq: Some(seq) })))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ProductParams {
    /// Only this owner's products.
    owner: Option<String>,
    page_size: Option<u32>,
    page_token: Option<String>,
}

/// The circulation catalog: registered products of every tenant, or of one owner.
#[utoipa::path(get, path = "/api/v1/products", tag = TAG, params(ProductParams), responses((status = 200, body = Page<ProductBody>)))]
async fn list_products(State(trust): State<Trust>, _principal: Principal, Query(params): Query<ProductParams>) -> ApiResult<Json<Page<ProductBody>>> {
    let limit = page_limit(params.page_size);
    let products = trust.sharing.products(params.owner.as_deref(), params.page_token.as_deref().unwrap_or(""), limit).await.map_err(problem)?;
    let items = products.into_iter().map(|product| ProductBody { product, ledger_seq: None }).collect();
    Ok(Json(page(items, limit, |p: &ProductBody| p.product.id.clone())))
}

#[utoipa::path(get, path = "/api/v1/products/{product_id}", tag = TAG, params(("product_id" = String, Path)), responses((status = 200, body = ProductBody), (status = 404, body = Problem)))]
async fn get_product(State(trust): State<Trust>, _principal: Principal, Path(id): Path<String>) -> ApiResult<Json<ProductBody>> {
    Ok(Json(ProductBody { product: trust.sharing.product(&id).await.map_err(problem)?, ledger_seq: None }))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ReasonBody {
    #[serde(default)]
    reason: String,
}

/// Withdraw a product: reads under its grants stop at once.
#[utoipa::path(post, path = "/api/v1/products/{product_id}/withdraw", tag = TAG, params(("product_id" = String, Path)), request_body = ReasonBody, responses((status = 200, body = ProductBody), (status = 403, body = Problem)))]
async fn withdraw_product(State(trust): State<Trust>, principal: Principal, Path(id): Path<String>, Json(body): Json<ReasonBody>) -> ApiResult<Json<ProductBody>> {
    Ok(Json(ProductBody { product: trust.sharing.withdraw_product(&principal, &id, &body.reason).await.map_err(problem)?, ledger_seq: None }))
}

// ---- grants --------------------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub(crate) struct AccessRequestBody {
    product_id: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    ask: AccessRequest,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct GrantBody {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    grant: Grant,
}

fn grant_body(grant: Grant) -> GrantBody {
    GrantBody { grant }
}

/// Ask for access to a registered product: purpose, fields, data period, expiry.
#[utoipa::path(post, path = "/api/v1/grants", tag = TAG, request_body = AccessRequestBody, responses((status = 201, body = GrantBody), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn request_access(State(trust): State<Trust>, principal: Principal, Json(body): Json<AccessRequestBody>) -> ApiResult<(StatusCode, Json<GrantBody>)> {
    let grant = trust.sharing.request_access(&principal, &body.product_id, body.ask).await.map_err(problem)?;
    Ok((StatusCode::CREATED, Json(grant_body(grant))))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct GrantParams {
    /// `granted` (the caller's tenant owns the data) or `received` (it consumes); default `received`.
    side: Option<String>,
    /// `requested`, `active`, `denied`, `revoked`.
    #[param(value_type = Option<String>)]
    status: Option<GrantStatus>,
    page_size: Option<u32>,
    page_token: Option<String>,
}

/// The caller's tenant's grants, on one side.
#[utoipa::path(get, path = "/api/v1/grants", tag = TAG, params(GrantParams), responses((status = 200, body = Page<GrantBody>), (status = 400, body = Problem)))]
async fn list_grants(State(trust): State<Trust>, principal: Principal, Query(params): Query<GrantParams>) -> ApiResult<Json<Page<GrantBody>>> {
    let side = match params.side.as_deref() {
        None | Some("received") => Side::Received,
        Some("granted") => Side::Granted,
        Some(other) => return Err(Problem::from(&brain_auth::AuthError::bad_input(format!("side must be `granted` or `received`, not {other:?}")))),
    };
    let limit = page_limit(params.page_size);
    let grants = trust.sharing.grants(&principal, side, params.status, params.page_token.as_deref().unwrap_or(""), limit).await.map_err(problem)?;
    Ok(Json(page(grants.into_iter().map(grant_body).collect(), limit, |g: &GrantBody| g.grant.id.clone())))
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct DecisionBody {
    approve: bool,
    /// On approval, narrow the request: fewer fields, a lower grade cap, a shorter period, an earlier expiry.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    narrowing: Narrowing,
    reason: Option<String>,
}

/// The owner approves (possibly narrowed) or denies a request.
#[utoipa::path(post, path = "/api/v1/grants/{grant_id}/decision", tag = TAG, params(("grant_id" = String, Path)), request_body = DecisionBody,
    responses((status = 200, body = GrantBody), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn decide_access(State(trust): State<Trust>, principal: Principal, Path(id): Path<String>, Json(body): Json<DecisionBody>) -> ApiResult<Json<GrantBody>> {
    Ok(Json(grant_body(trust.sharing.decide(&principal, &id, body.approve, body.narrowing, body.reason).await.map_err(problem)?)))
}

/// The owner revokes a grant; the next read under it is refused.
#[utoipa::path(post, path = "/api/v1/grants/{grant_id}/revoke", tag = TAG, params(("grant_id" = String, Path)), request_body = ReasonBody, responses((status = 200, body = GrantBody), (status = 404, body = Problem)))]
async fn revoke_grant(State(trust): State<Trust>, principal: Principal, Path(id): Path<String>, Json(body): Json<ReasonBody>) -> ApiResult<Json<GrantBody>> {
    Ok(Json(grant_body(trust.sharing.revoke(&principal, &id, body.reason).await.map_err(problem)?)))
}

#[derive(Deserialize, IntoParams)]
pub(crate) struct ReadParams {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    page_size: Option<u32>,
    page_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct GrantedRecordBody {
    id: String,
    event_time: DateTime<Utc>,
    #[schema(value_type = Object)]
    fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct GrantedPageBody {
    records: Vec<GrantedRecordBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
    /// The ledger entry that records this read.
    ledger_seq: u64,
    /// SHA-256 of the returned records' canonical JSON, one per line.
    content_sha256: String,
    /// The signed trusted-status report of this read (`/api/v1/reports/{id}`).
    report_id: String,
}

fn granted_page(page: GrantedPage) -> GrantedPageBody {
    GrantedPageBody {
        records: page.records.into_iter().map(|r| GrantedRecordBody { id: r.id, event_time: r.event_time, fields: r.fields }).collect(),
        next_page_token: page.next_page_token,
        ledger_seq: page.ledger_seq,
        content_sha256: page.content_hash,
        report_id: page.report_id,
    }
}

/// Read another tenant's data under an active grant: granted fields only, rows of the granted
/// period and the product's filters, fields graded above the grant masked. Metered and audited.
#[utoipa::path(get, path = "/api/v1/grants/{grant_id}/records", tag = TAG, params(("grant_id" = String, Path), ReadParams),
    responses((status = 200, body = GrantedPageBody), (status = 403, description = "The grant is not active (revoked, expired, denied) or its product was withdrawn", body = Problem), (status = 404, body = Problem)))]
async fn read_granted(State(trust): State<Trust>, principal: Principal, Path(id): Path<String>, Query(params): Query<ReadParams>) -> ApiResult<Json<GrantedPageBody>> {
    let page = trust.sharing.read(&principal, &id, params.from, params.to, params.page_size, params.page_token).await.map_err(problem)?;
    Ok(Json(granted_page(page)))
}
