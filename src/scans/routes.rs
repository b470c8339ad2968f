//! `POST /v1/scans`: one scan of a lot code or GS1-128 string, with an action.

use super::model::{ScanRequest, ScanResult};
use super::service;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::http::ValidJson;
use crate::http::idempotency::KeyRequired;
use crate::http::validate;
use crate::state::AppState;
use actix_web::http::StatusCode;
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
    let body_sha256 = body.body_sha256;
    let request = body.value;
    let scanned = service::read_code(&request.code)?;
    if let Some(reason) = &request.reason {
        validate::text("reason", reason, 500)?;
    }
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::OK,
        move |conn| {
            Box::pin(async move { service::scan(conn, &principal, request, scanned).await })
        },
    )
    .await
}
