//! `POST /v1/scans`: one scan of a lot code or GS1-128 string, with an action.

use super::model::{ScanRequest, ScanResult};
use super::service;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::http::ValidJson;
use crate::http::idempotency::KeyRequired;
use crate::state::AppState;
use actix_web::{HttpResponse, web};

/// Scan a lot. Only staff of the warehouse holding the lot (or the carrier of its voyage) may
/// scan it; goods leave only against a release order.
#[utoipa::path(post, path = "/v1/scans", tag = "scans", request_body = ScanRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses(
        (status = 200, body = ScanResult),
        (status = 404, body = crate::error::ErrorBody, description = "lot_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "wrong status, quantity not authorised, no release order"),
        (status = 422, body = crate::error::ErrorBody, description = "malformed code or GS1 element"),
    ), security(("bearer" = [])))]
pub async fn scan(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<ScanRequest>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    service::scan_keyed(&state.pool, principal, body.body_sha256, body.value, idem).await
}
