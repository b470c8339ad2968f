//! Two middlewares wrap every request: `observe` (request id, tracing span, one log line,
//! metrics) and `authorize` (the route's declared access, checked before any handler runs).

use crate::auth::Access;
use crate::auth::jwt::TokenRefusal;
use crate::error::ApiError;
use crate::http::route_table::{RouteTable, Surface};
use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the current request, from a sane `X-Request-Id` header or freshly made.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let method = method_label(req.method());
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    let result = next.call(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let response = match result {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => return Err(error),
    };
    let mut response = in_envelope(response);
    let status = response.status().as_u16();
    span.record("status", status);
    span.record("duration_ms", elapsed.as_secs_f64() * 1000.0);
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!("request failed");
        } else {
            tracing::info!("request finished");
        }
    });
    if let Some(state) = state {
        state
            .metrics
            .observe(&method, &route, status, elapsed.as_secs_f64());
        if state.is_draining() {
            // Shutting down: this answer is the connection's last, so no request is sent on
            // it after the server stops.
            response
                .response_mut()
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}

pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (Some(state), Some(routes)) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.app_data::<web::Data<RouteTable>>().cloned(),
    ) else {
        return Ok(req.error_response(ApiError::internal("application state missing")));
    };
    if let Some(parameter) = nul_in_query(req.query_string()) {
        return Ok(req.error_response(ApiError::invalid(
            &parameter,
            "a query parameter may not contain the NUL character",
        )));
    }
    // Unmatched paths fall through to the 404 handler.
    let Some(pattern) = req.match_pattern() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let (access, surface) = match routes.access(req.method(), &pattern) {
        Some(found) => found,
        // A known path with another method: the resource answers 405.
        None if routes.has_path(&pattern) => {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body);
        }
        // Anything undeclared is denied.
        None => {
            return Ok(
                req.error_response(ApiError::forbidden("this route declares no access rule"))
            );
        }
    };
    if access.is_public() {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    if surface == Surface::Page {
        return authorize_page(req, next, &state, access).await;
    }
    let mut principal = match caller(&state, bearer_token(&req)).await {
        Ok(principal) => principal,
        Err(refused) => return Ok(req.error_response(refused)),
    };
    if let Err(refused) = access.check(&principal) {
        return Ok(req.error_response(refused));
    }
    principal.request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    req.extensions_mut().insert(principal);
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// A console page: the caller is the browser session its cookie names. Without one, a page
/// asks the browser to sign in (and comes back after); a page the caller may not see is
/// "no such page", as the API's objects of other orgs are; an action it may not take is
/// refused.
async fn authorize_page(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    state: &AppState,
    access: crate::auth::Access,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let token = req
        .cookie(crate::auth::browser::COOKIE)
        .map(|c| c.value().to_owned());
    let found = match token {
        Some(token) if !token.is_empty() && token.len() <= 128 => {
            let mut conn = match state.pool.get().await {
                Ok(conn) => conn,
                Err(e) => return Ok(req.error_response(ApiError::from(e))),
            };
            match crate::auth::browser::find(&mut conn, &token).await {
                Ok(found) => found,
                Err(e) => return Ok(req.error_response(ApiError::from(e))),
            }
        }
        _ => None,
    };
    let Some(mut session) = found else {
        let back = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let target = if req.method() == Method::GET && back != "/" {
            format!(
                "/login?next={}",
                form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
            )
        } else {
            "/login".to_owned()
        };
        let response = actix_web::HttpResponse::SeeOther()
            .insert_header((actix_web::http::header::LOCATION, target))
            .finish();
        return Ok(req.into_response(response));
    };
    if access.check(&session.principal).is_err() {
        let status = if req.method() == Method::GET {
            actix_web::http::StatusCode::NOT_FOUND
        } else {
            actix_web::http::StatusCode::FORBIDDEN
        };
        return Ok(req.into_response(refusal_page(status)));
    }
    session.principal.request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    req.extensions_mut().insert(session.principal.clone());
    req.extensions_mut().insert(session);
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// A console refusal as a page in both languages, with the way back.
pub fn refusal_page(status: actix_web::http::StatusCode) -> actix_web::HttpResponse {
    let (zh, en) = if status == actix_web::http::StatusCode::NOT_FOUND {
        ("找不到此页", "No such page")
    } else {
        ("您无权执行此操作", "You may not do this")
    };
    let body = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{zh} · {en}</title><link rel=\"stylesheet\" href=\"/assets/console.css\"></head>\
         <body><main class=\"refusal\"><h1>{code} {zh}</h1><p lang=\"en\">{en}</p>\
         <p><a href=\"/\">Holdfast 首页 · Home</a></p></main></body></html>",
        code = status.as_u16()
    );
    actix_web::HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// Who sent a request, for the login throttle and the audit log: the peer's address and the
/// request's id.
pub fn client_of(req: &actix_web::HttpRequest) -> (String, Option<String>) {
    let address = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    (address, request_id)
}

/// The caller a bearer token names, if the token is ours, unexpired, and still honoured:
/// its login not ended and its user's token generation not moved on (logout, a reused refresh
/// token, a disabled user, changed permissions or password).
async fn caller(state: &AppState, token: Option<&str>) -> Result<crate::auth::Principal, ApiError> {
    let verified = match token {
        Some(token) => state.jwt.verify(token),
        None => Err(TokenRefusal::Invalid),
    };
    let verified = match verified {
        Ok(verified) => verified,
        Err(TokenRefusal::Expired) => {
            return Err(ApiError::unauthorized(
                "token_expired",
                "the access token has expired; get a new one with the refresh token",
            )
            .with("header", "Authorization"));
        }
        Err(TokenRefusal::Invalid) => {
            return Err(ApiError::unauthorized(
                "unauthenticated",
                "a valid bearer access token is required (missing, or not ours)",
            )
            .with("header", "Authorization"));
        }
    };
    let (user, session, generation) = (
        verified.principal.user_id,
        verified.session,
        verified.generation,
    );
    if crate::auth::honoured::recently_honoured(user, session, generation) {
        return Ok(verified.principal);
    }
    let asked = std::time::Instant::now();
    let mut conn = state.pool.get().await?;
    let honoured = crate::auth::store::token_honoured(&mut conn, user, session, generation).await?;
    drop(conn);
    if honoured {
        crate::auth::honoured::keep(user, session, generation, asked);
    } else {
        return Err(ApiError::unauthorized(
            "token_revoked",
            "this access token was ended (logout, or a change to the user); log in again",
        )
        .with("header", "Authorization"));
    }
    Ok(verified.principal)
}

/// The method as metrics and logs label it: from a fixed set, so invented methods cannot grow
/// the metrics.
fn method_label(method: &Method) -> String {
    match *method {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS => method.as_str().to_owned(),
        _ => "OTHER".to_owned(),
    }
}

/// An error answered by something other than a handler (the docs' file server, actix's own
/// refusals) in the API's JSON envelope, keeping its status and `Allow`/`Retry-After`.
fn in_envelope(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    use actix_web::ResponseError;
    use actix_web::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER};
    let status = response.status();
    // JSON is the API's envelope already; HTML is a console page's own refusal.
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status.as_u16() {
        400 => "bad_request",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        _ if status.is_server_error() => "internal_error",
        _ => "request_refused",
    };
    let message = status
        .canonical_reason()
        .unwrap_or("refused")
        .to_lowercase();
    let kept: Vec<_> = [ALLOW, RETRY_AFTER]
        .into_iter()
        .filter_map(|name| response.headers().get(&name).cloned().map(|v| (name, v)))
        .collect();
    let mut replacement = ApiError::new(status, code, message).error_response();
    for (name, value) in kept {
        replacement.headers_mut().insert(name, value);
    }
    response.into_response(replacement)
}

/// The first query parameter whose name or value holds an encoded NUL (`%00`).
fn nul_in_query(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let has_nul = |text: &str| text.to_ascii_lowercase().contains("%00");
        (has_nul(name) || has_nul(value)).then(|| {
            let clean = name.replace("%00", "");
            if clean.is_empty() {
                "query".to_owned()
            } else {
                clean
            }
        })
    })
}

fn bearer_token(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Route access as `Access` is checked: exported so tests and docs can list it.
pub fn describe(access: &Access) -> String {
    format!("{access:?}")
}
