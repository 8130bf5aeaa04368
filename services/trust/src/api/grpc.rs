//! gRPC services of the trust layer: thin translations onto the operations shared with REST.
//! The ledger and report services are in [`super::grpc_evidence`].

use super::convert::{grant_to, period_from, product_to, registration_from, tenant_kind_from, tenant_to, user_to};
use crate::TrustError;
use crate::domain::grants::{AccessRequest, Narrowing};
use crate::operations::{NewApiKey, Trust, page_limit};
use crate::store::Side;
use brain_auth::proto::{role_from, role_to, time, timestamp};
use brain_auth::{AuthError, KeyScope, grpc_principal};
use brain_core::grpc_status;
use brain_proto::common::v1::PageResponse;
use brain_proto::trust::v1::access_service_server::{AccessService, AccessServiceServer};
use brain_proto::trust::v1::identity_service_server::{IdentityService, IdentityServiceServer};
use brain_proto::trust::v1::product_service_server::{ProductService, ProductServiceServer};
use brain_proto::trust::v1::*;
use tonic::{Request, Response, Status};

pub(crate) const SERVICE_NAMES: [&str; 5] = [
    "brain.trust.v1.IdentityService",
    "brain.trust.v1.AccessService",
    "brain.trust.v1.ProductService",
    "brain.trust.v1.LedgerService",
    "brain.trust.v1.ReportService",
];

pub(crate) fn add(routes: &mut tonic::service::RoutesBuilder, trust: &Trust) {
    routes
        .add_service(IdentityServiceServer::new(trust.clone()))
        .add_service(AccessServiceServer::new(trust.clone()))
        .add_service(ProductServiceServer::new(trust.clone()));
    super::grpc_evidence::add(routes, trust);
}

pub(crate) fn status(error: TrustError) -> Status {
    grpc_status(error)
}

fn invalid(reason: impl Into<String>) -> Status {
    grpc_status(AuthError::bad_input(reason))
}

pub(crate) fn page_of(page: Option<&brain_proto::common::v1::PageRequest>) -> (String, i64) {
    let size = page.map(|p| p.page_size).filter(|s| *s > 0);
    (page.map(|p| p.page_token.clone()).unwrap_or_default(), page_limit(size))
}

pub(crate) fn next_page(ids: Vec<String>, limit: i64) -> Option<PageResponse> {
    let full = i64::try_from(ids.len()).unwrap_or(i64::MAX) >= limit;
    Some(PageResponse { next_page_token: if full { ids.last().cloned().unwrap_or_default() } else { String::new() } })
}

fn session_to(signed_in: crate::identity::SignedIn) -> Session {
    Session {
        access_token: signed_in.access.token,
        access_token_expires_at: Some(timestamp(signed_in.access.expires_at)),
        refresh_token: signed_in.refresh.as_str().to_owned(),
        session_id: signed_in.principal.session_id.clone().unwrap_or_default(),
        identity: Some(identity_to(&signed_in.principal)),
    }
}

fn identity_to(principal: &brain_auth::Principal) -> Identity {
    let body = super::rest::identity_of(principal);
    Identity {
        tenant_id: body.tenant_id,
        subject: body.subject,
        display_name: body.display_name,
        roles: principal.roles.iter().map(|r| role_to(*r) as i32).collect(),
        methods: body.methods,
    }
}

fn roles_from(values: &[i32]) -> Result<Vec<brain_auth::Role>, Status> {
    values.iter().map(|v| role_from(*v).map_err(invalid)).collect()
}

fn api_key_to(row: crate::store::ApiKeyRow) -> Result<ApiKey, Status> {
    let created_at = row.created_at;
    let record = crate::keys::record_of(row).map_err(grpc_status)?;
    Ok(brain_auth::proto::api_key_to(&record, created_at))
}

#[tonic::async_trait]
impl IdentityService for Trust {
    async fn sign_in(&self, request: Request<SignInRequest>) -> Result<Response<Session>, Status> {
        let r = request.into_inner();
        let code = Some(r.totp_code.as_str()).filter(|c| !c.is_empty());
        Ok(Response::new(session_to(Trust::sign_in(self, &r.tenant_id, &r.username, &r.password, code).await.map_err(status)?)))
    }

    async fn refresh(&self, request: Request<RefreshRequest>) -> Result<Response<Session>, Status> {
        Ok(Response::new(session_to(Trust::refresh(self, &request.into_inner().refresh_token).await.map_err(status)?)))
    }

    async fn sign_out(&self, request: Request<SignOutRequest>) -> Result<Response<SignOutResponse>, Status> {
        Trust::sign_out(self, &request.into_inner().refresh_token).await.map_err(status)?;
        Ok(Response::new(SignOutResponse {}))
    }

    async fn who_am_i(&self, request: Request<WhoAmIRequest>) -> Result<Response<Identity>, Status> {
        Ok(Response::new(identity_to(&grpc_principal(&request)?)))
    }

    async fn create_tenant(&self, request: Request<CreateTenantRequest>) -> Result<Response<brain_proto::common::v1::Tenant>, Status> {
        let caller = grpc_principal(&request)?;
        let tenant = request.into_inner().tenant.ok_or_else(|| invalid("tenant is required"))?;
        let kind = tenant_kind_from(tenant.kind).map_err(invalid)?;
        let row = Trust::create_tenant(self, &caller, &tenant.id, kind, &tenant.name).await.map_err(status)?;
        Ok(Response::new(tenant_to(row)))
    }

    async fn list_tenants(&self, request: Request<ListTenantsRequest>) -> Result<Response<ListTenantsResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let (after, limit) = page_of(request.get_ref().page.as_ref());
        let rows = Trust::list_tenants(self, &caller, &after, limit).await.map_err(status)?;
        let page = next_page(rows.iter().map(|t| t.id.clone()).collect(), limit);
        Ok(Response::new(ListTenantsResponse { tenants: rows.into_iter().map(tenant_to).collect(), page }))
    }

    async fn create_user(&self, request: Request<CreateUserRequest>) -> Result<Response<User>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let roles = roles_from(&r.roles)?;
        let row = Trust::create_user(self, &caller, &r.tenant_id, &r.username, &r.display_name, &r.password, &roles).await.map_err(status)?;
        Ok(Response::new(user_to(row)))
    }

    async fn list_users(&self, request: Request<ListUsersRequest>) -> Result<Response<ListUsersResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let (after, limit) = page_of(request.get_ref().page.as_ref());
        let rows = Trust::list_users(self, &caller, &request.get_ref().tenant_id, &after, limit).await.map_err(status)?;
        let page = next_page(rows.iter().map(|u| u.id.clone()).collect(), limit);
        Ok(Response::new(ListUsersResponse { users: rows.into_iter().map(user_to).collect(), page }))
    }

    async fn set_user_roles(&self, _request: Request<SetUserRolesRequest>) -> Result<Response<User>, Status> {
        Err(Status::unimplemented("SetUserRoles is not built yet"))
    }

    async fn enroll_totp(&self, request: Request<EnrollTotpRequest>) -> Result<Response<TotpEnrollment>, Status> {
        let (secret, otpauth_uri) = Trust::enroll_totp(self, &grpc_principal(&request)?).map_err(status)?;
        Ok(Response::new(TotpEnrollment { otpauth_uri, secret_base32: secret.to_base32() }))
    }

    async fn confirm_totp(&self, request: Request<ConfirmTotpRequest>) -> Result<Response<User>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        Ok(Response::new(user_to(Trust::confirm_totp(self, &caller, &r.secret_base32, &r.code).await.map_err(status)?)))
    }

    async fn create_api_key(&self, request: Request<CreateApiKeyRequest>) -> Result<Response<CreatedApiKey>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let scope = r.scope.unwrap_or_default();
        let new = NewApiKey { name: r.name, roles: roles_from(&r.roles)?, scope: KeyScope { services: scope.services, datasets: scope.datasets }, expires_at: time(r.expires_at.as_ref()) };
        let created = Trust::create_api_key(self, &caller, &r.tenant_id, new).await.map_err(status)?;
        Ok(Response::new(CreatedApiKey { key: Some(api_key_to(created.row)?), secret: created.secret }))
    }

    async fn list_api_keys(&self, request: Request<ListApiKeysRequest>) -> Result<Response<ListApiKeysResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let (after, limit) = page_of(request.get_ref().page.as_ref());
        let rows = Trust::list_api_keys(self, &caller, &request.get_ref().tenant_id, &after, limit).await.map_err(status)?;
        let page = next_page(rows.iter().map(|k| k.id.clone()).collect(), limit);
        Ok(Response::new(ListApiKeysResponse { keys: rows.into_iter().map(api_key_to).collect::<Result<_, _>>()?, page }))
    }

    async fn revoke_api_key(&self, request: Request<RevokeApiKeyRequest>) -> Result<Response<ApiKey>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        Ok(Response::new(api_key_to(Trust::revoke_api_key(self, &caller, &r.tenant_id, &r.key_id).await.map_err(status)?)?))
    }

    async fn resolve_api_key(&self, request: Request<ResolveApiKeyRequest>) -> Result<Response<ResolvedApiKey>, Status> {
        let caller = grpc_principal(&request)?;
        let row = Trust::resolve_api_key(self, &caller, &request.get_ref().key_id).await.map_err(status)?;
        let hash_hex = row.key_hash.clone();
        Ok(Response::new(ResolvedApiKey { key: Some(api_key_to(row)?), hash_hex }))
    }

    async fn get_token_keys(&self, _request: Request<GetTokenKeysRequest>) -> Result<Response<TokenKeys>, Status> {
        Ok(Response::new(TokenKeys { jwks_json: self.jwks().to_string(), issuer: self.issuer().to_owned() }))
    }
}

#[tonic::async_trait]
impl AccessService for Trust {
    async fn request_access(&self, request: Request<RequestAccessRequest>) -> Result<Response<Grant>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let ask = AccessRequest {
            purpose: r.purpose,
            fields: r.fields,
            data_period: period_from(r.data_period.as_ref()).ok_or_else(|| invalid("data_period needs a start and an end"))?,
            expires_at: time(r.expires_at.as_ref()).ok_or_else(|| invalid("expires_at is required"))?,
        };
        Ok(Response::new(grant_to(self.sharing.request_access(&caller, &r.product_id, ask).await.map_err(status)?)))
    }

    async fn decide_access(&self, request: Request<DecideAccessRequest>) -> Result<Response<Grant>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let narrowing = Narrowing {
            fields: Some(r.fields).filter(|f| !f.is_empty()),
            max_grade: brain_governance::domain::Grade::from_proto(r.max_grade),
            data_period: period_from(r.data_period.as_ref()),
            expires_at: time(r.expires_at.as_ref()),
        };
        let reason = Some(r.reason).filter(|r| !r.is_empty());
        Ok(Response::new(grant_to(self.sharing.decide(&caller, &r.grant_id, r.approve, narrowing, reason).await.map_err(status)?)))
    }

    async fn revoke_grant(&self, request: Request<RevokeGrantRequest>) -> Result<Response<Grant>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        Ok(Response::new(grant_to(self.sharing.revoke(&caller, &r.grant_id, r.reason).await.map_err(status)?)))
    }

    async fn list_grants(&self, request: Request<ListGrantsRequest>) -> Result<Response<ListGrantsResponse>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let side = match r.side.as_str() {
            "" | "received" => Side::Received,
            "granted" => Side::Granted,
            other => return Err(invalid(format!("side must be `granted` or `received`, not {other:?}"))),
        };
        let status_filter = super::convert::grant_status_from(r.status);
        let (after, limit) = page_of(r.page.as_ref());
        let grants = self.sharing.grants(&caller, side, status_filter, &after, limit).await.map_err(status)?;
        let page = next_page(grants.iter().map(|g| g.id.clone()).collect(), limit);
        Ok(Response::new(ListGrantsResponse { grants: grants.into_iter().map(grant_to).collect(), page }))
    }

    async fn check_access(&self, request: Request<CheckAccessRequest>) -> Result<Response<AccessDecision>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let dataset = r.dataset.unwrap_or_default();
        match self.sharing.check_access(&caller, &r.consumer_tenant_id, &dataset.tenant_id, &dataset.dataset).await {
            Ok((grant, product, _)) => Ok(Response::new(AccessDecision { allowed: true, grant: Some(grant_to(grant)), product: Some(product_to(product, 0)), reason: String::new() })),
            Err(TrustError::Grant(refusal)) => Ok(Response::new(AccessDecision { allowed: false, grant: None, product: None, reason: refusal.to_string() })),
            Err(error) => Err(status(error)),
        }
    }

    async fn read_granted(&self, request: Request<ReadGrantedRequest>) -> Result<Response<GrantedRecords>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        let range = r.range.unwrap_or_default();
        let (from, to) = (time(range.start.as_ref()), time(range.end.as_ref()));
        let (page_size, page_token) = r.page.map_or((None, None), |p| (Some(p.page_size).filter(|s| *s > 0), Some(p.page_token).filter(|t| !t.is_empty())));
        let page = self.sharing.read(&caller, &r.grant_id, from, to, page_size, page_token).await.map_err(status)?;
        let records = page
            .records
            .into_iter()
            .map(|record| GrantedRecord {
                id: record.id,
                event_time: Some(timestamp(record.event_time)),
                fields_json: serde_json::to_vec(&record.fields).unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(GrantedRecords {
            records,
            page: Some(PageResponse { next_page_token: page.next_page_token.unwrap_or_default() }),
            ledger_seq: page.ledger_seq,
            content_sha256_hex: page.content_hash,
            report_id: page.report_id,
        }))
    }
}

#[tonic::async_trait]
impl ProductService for Trust {
    async fn register_product(&self, request: Request<RegisterProductRequest>) -> Result<Response<DataProduct>, Status> {
        let caller = grpc_principal(&request)?;
        let product = request.into_inner().product.ok_or_else(|| invalid("product is required"))?;
        let registration = registration_from(product).map_err(invalid)?;
        let (product, seq) = self.sharing.register_product(&caller, registration).await.map_err(status)?;
        Ok(Response::new(product_to(product, seq)))
    }

    async fn get_product(&self, request: Request<GetProductRequest>) -> Result<Response<DataProduct>, Status> {
        grpc_principal(&request)?;
        Ok(Response::new(product_to(self.sharing.product(&request.get_ref().product_id).await.map_err(status)?, 0)))
    }

    async fn list_products(&self, request: Request<ListProductsRequest>) -> Result<Response<ListProductsResponse>, Status> {
        grpc_principal(&request)?;
        let r = request.into_inner();
        let (after, limit) = page_of(r.page.as_ref());
        let owner = Some(r.owner_tenant_id.as_str()).filter(|o| !o.is_empty());
        let products = self.sharing.products(owner, &after, limit).await.map_err(status)?;
        let page = next_page(products.iter().map(|p| p.id.clone()).collect(), limit);
        Ok(Response::new(ListProductsResponse { products: products.into_iter().map(|p| product_to(p, 0)).collect(), page }))
    }

    async fn withdraw_product(&self, request: Request<WithdrawProductRequest>) -> Result<Response<DataProduct>, Status> {
        let caller = grpc_principal(&request)?;
        let r = request.into_inner();
        Ok(Response::new(product_to(self.sharing.withdraw_product(&caller, &r.product_id, &r.reason).await.map_err(status)?, 0)))
    }
}
