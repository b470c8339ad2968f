//! Handlers for listings and offers.

use super::model::*;
use super::{auction, group, service};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::{KeyRequired, NO_BODY};
use crate::http::query::ValidQuery;
use crate::http::{Page, ValidJson};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel_async::AsyncConnection;
use uuid::Uuid;

/// List goods for sale: a supplier its own lot (in custody or in transit), a lender the goods
/// of its liquidating loan (`loan_id`). At a fixed asking price; buyers then make offers.
#[utoipa::path(post, path = "/v1/listings", tag = "market", request_body = NewListing,
    params(("Idempotency-Key" = String, Header, description = "required; replays the first response")),
    responses((status = 201, body = Listing), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewListing>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let new = body.value;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { service::create_listing(conn, &principal, &new).await }),
    )
    .await
}

/// Listings, ranked by seller tier, then freshness, then age. A buyer sees open listings once
/// its tier's time has come (platinum at once, gold after 2 h, silver after 6 h, bronze after
/// 24 h); a seller its own; the platform all.
#[utoipa::path(get, path = "/v1/listings", tag = "market", params(ListingQuery),
    responses((status = 200, body = Page<Listing>), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: ValidQuery<ListingQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::listings(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One listing with what the platform verified about its goods.
#[utoipa::path(get, path = "/v1/listings/{id}", tag = "market",
    responses((status = 200, body = Listing), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(service::listing(&mut conn, &principal, *id).await?))
}

/// The seller withdraws an open listing; its open offers are rejected.
#[utoipa::path(post, path = "/v1/listings/{id}/withdraw", tag = "market",
    params(("Idempotency-Key" = String, Header, description = "required; replays the first response")),
    responses((status = 200, body = Listing), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn withdraw(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    idem.run(
        &state.pool,
        principal.user_id,
        &NO_BODY,
        StatusCode::OK,
        move |conn| Box::pin(async move { service::withdraw(conn, &principal, id).await }),
    )
    .await
}

/// A buyer offers a quantity at a price on an open fixed-price listing (standing 48 hours
/// unless `valid_hours` says otherwise).
#[utoipa::path(post, path = "/v1/listings/{id}/offers", tag = "market", request_body = NewOffer,
    params(("Idempotency-Key" = String, Header, description = "required; replays the first response")),
    responses((status = 201, body = Offer), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn offer(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<NewOffer>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let body_sha256 = body.body_sha256;
    let new = body.value;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { service::make_offer(conn, &principal, id, &new).await }),
    )
    .await
}

/// Offers: a buyer's own, or those on the caller's listings; oldest first.
#[utoipa::path(get, path = "/v1/offers", tag = "market", params(OfferQuery),
    responses((status = 200, body = Page<Offer>)), security(("bearer" = [])))]
pub async fn offers(
    state: web::Data<AppState>,
    principal: Principal,
    query: ValidQuery<OfferQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = service::offers(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The seller accepts an open offer: a sale to the buyer at its price and quantity.
#[utoipa::path(post, path = "/v1/offers/{id}/accept", tag = "market",
    params(("Idempotency-Key" = String, Header, description = "required; replays the first response")),
    responses((status = 201, body = Accepted), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn accept(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    idem.run(
        &state.pool,
        principal.user_id,
        &NO_BODY,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { service::accept(conn, &principal, id).await }),
    )
    .await
}

/// The seller rejects an open offer, optionally with a `reason`.
#[utoipa::path(post, path = "/v1/offers/{id}/reject", tag = "market", request_body = Rejection,
    responses((status = 200, body = Offer), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn reject(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<Rejection>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let offer = conn
        .transaction::<_, ApiError, _>(async |conn| {
            service::reject(conn, &principal, *id, &body.value).await
        })
        .await?;
    Ok(HttpResponse::Ok().json(offer))
}

/// A buyer bids a price per unit on an open auction its tier sees. Its first bid on the
/// listing moves its deposit from its market funds into escrow; a bid in the last
/// `extension_minutes` moves the end (at most `max_extensions` times). Refused (409) with the
/// reason: `bid_too_low` (with `minimum_bid`), `auction_not_started`, `auction_ended`,
/// `insufficient_funds` (with `deposit` and `funds_available`).
#[utoipa::path(post, path = "/v1/listings/{id}/bids", tag = "market", request_body = NewBid,
    params(("Idempotency-Key" = String, Header, description = "required; replays the first response")),
    responses((status = 201, body = PlacedBid), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn bid(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<NewBid>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let body_sha256 = body.body_sha256;
    let new = body.value;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { auction::bid(conn, &principal, id, &new).await }),
    )
    .await
}

/// An auction's bids, oldest first: every price and time; who bid and the deposits only to the
/// bidder itself, the seller and the platform.
#[utoipa::path(get, path = "/v1/listings/{id}/bids", tag = "market", params(BidQuery),
    responses((status = 200, body = Page<Bid>), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn bids(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    query: ValidQuery<BidQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let page = auction::bids(&mut conn, &principal, *id, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// A buyer's market funds per currency: what is free to bid with, and what deposits hold.
#[utoipa::path(get, path = "/v1/funds", tag = "market",
    responses((status = 200, body = Vec<Funds>)), security(("bearer" = [])))]
pub async fn funds(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(auction::funds(&mut conn, &principal).await?))
}

/// Money into a buyer's market funds from its cash (a buyer its own; the platform, recording a
/// transfer it received, names `org_id`).
#[utoipa::path(post, path = "/v1/funds", tag = "market", request_body = FundsMove,
    params(("Idempotency-Key" = String, Header, description = "required; replays the first response")),
    responses((status = 201, body = Funds), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn add_funds(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<FundsMove>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    move_funds(state, principal, body, idem, false).await
}

/// Free market funds back to the buyer's cash (409 `insufficient_funds` beyond what is free).
#[utoipa::path(post, path = "/v1/funds/withdrawals", tag = "market", request_body = FundsMove,
    params(("Idempotency-Key" = String, Header, description = "required; replays the first response")),
    responses((status = 201, body = Funds), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn withdraw_funds(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<FundsMove>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    move_funds(state, principal, body, idem, true).await
}

async fn move_funds(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<FundsMove>,
    idem: KeyRequired,
    withdraw: bool,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let request = body.value;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move { auction::move_funds(conn, &principal, &request, withdraw).await })
        },
    )
    .await
}

/// A buyer joins an open group buy with a quantity, paying it in full (at the group price)
/// from its market funds into escrow. At the deadline every member's sale settles if the
/// minimum was reached; otherwise every payment returns. Refused (409): `group_closed`,
/// `quantity_not_available`, `already_joined`, `insufficient_funds`.
#[utoipa::path(post, path = "/v1/listings/{id}/join", tag = "market", request_body = NewJoin,
    params(("Idempotency-Key" = String, Header, description = "required; replays the first response")),
    responses((status = 201, body = Joined), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn join(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<NewJoin>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let body_sha256 = body.body_sha256;
    let new = body.value;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { group::join(conn, &principal, id, &new).await }),
    )
    .await
}
