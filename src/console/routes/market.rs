//! The market's handlers: browsing (a buyer), listing and deciding on offers (a seller),
//! offering (a buyer). Forms are read as the API reads the same calls; money-moving and
//! sale-making forms carry their own idempotency key.

use super::flash;
use crate::console::forms::{self, Fields, Json, Posted, Session};
use crate::console::i18n::Lang;
use crate::console::pages::{self, market::Search};
use crate::console::service::{self, Keyed};
use crate::console::view;
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::KeyRequired;
use crate::market::model::ListingQuery;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize, Default)]
pub struct MarketQuery {
    #[serde(default)]
    commodity_code: String,
    #[serde(default)]
    grade: String,
    #[serde(default)]
    warehouse_id: String,
    #[serde(default)]
    min_quantity: String,
    #[serde(default)]
    max_price: String,
    done: Option<String>,
}

const DONE: &[(&str, &str)] = &[
    ("listed", "done-listed"),
    ("offered", "done-offered"),
    ("accepted", "done-offer-accepted"),
    ("rejected", "done-offer-rejected"),
    ("withdrawn", "done-listing-withdrawn"),
    ("bid", "done-bid"),
    ("funded", "done-funded"),
    ("joined", "done-joined"),
];

pub async fn market(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<MarketQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let q = query.into_inner();
    let search = Search {
        commodity_code: q.commodity_code.trim().to_owned(),
        grade: q.grade.trim().to_owned(),
        warehouse_id: q.warehouse_id.trim().to_owned(),
        min_quantity: q.min_quantity.trim().to_owned(),
        max_price: q.max_price.trim().to_owned(),
    };
    let parsed: Result<ListingQuery, ApiError> = forms::as_api(vec![
        ("commodity_code", Json::Text(&search.commodity_code)),
        ("grade", Json::Text(&search.grade)),
        ("warehouse_id", Json::Text(&search.warehouse_id)),
        ("min_quantity", Json::Text(&search.min_quantity)),
        ("max_price", Json::Text(&search.max_price)),
    ]);
    let (listing_query, problem) = match parsed {
        Ok(query) => (query, None),
        Err(error) => (ListingQuery::default(), Some(error)),
    };
    let mut conn = state.pool.get().await?;
    let page = service::market(&mut conn, &session.0.principal, listing_query).await?;
    let note = match &problem {
        Some(error) => Some(view::problem(lang, error)),
        None => flash(lang, q.done.as_deref(), DONE),
    };
    let markup = pages::market::market(lang, &session.0, &page, &search, note);
    Ok(match problem {
        Some(error) => view::respond_at(error.status, markup),
        None => view::respond(markup),
    })
}

/// The market page with a refusal on it, at the refusal's status.
async fn refused(
    req: &HttpRequest,
    state: &AppState,
    session: &crate::auth::browser::BrowserSession,
    error: ApiError,
) -> ApiResult<HttpResponse> {
    if !error.status.is_client_error() {
        return Err(error);
    }
    let lang = Lang::of(req);
    let mut conn = state.pool.get().await?;
    let page = service::market(&mut conn, &session.principal, ListingQuery::default()).await?;
    let markup = pages::market::market(
        lang,
        session,
        &page,
        &Search::default(),
        Some(view::problem(lang, &error)),
    );
    Ok(view::respond_at(error.status, markup))
}

/// The auction terms of a listing form: reserve, increment, and how many hours it runs from
/// now (`hours`, else 24).
fn auction_terms(f: &Fields) -> serde_json::Value {
    let hours = f
        .get("hours")
        .parse::<i64>()
        .unwrap_or(24)
        .clamp(1, 24 * 30);
    let mut terms = serde_json::json!({
        "ends_at": chrono::Utc::now() + chrono::Duration::hours(hours),
    });
    for field in ["reserve_price", "min_increment"] {
        if !f.get(field).is_empty() {
            terms[field] = serde_json::Value::String(f.get(field).to_owned());
        }
    }
    terms
}

/// The group terms of a listing form: the price typed as the group price, the minimum, and
/// the deadline `hours` from now (else 24).
fn group_terms(f: &Fields) -> serde_json::Value {
    let hours = f
        .get("hours")
        .parse::<i64>()
        .unwrap_or(24)
        .clamp(1, 24 * 30);
    let mut terms = serde_json::json!({
        "deadline": chrono::Utc::now() + chrono::Duration::hours(hours),
    });
    for (field, from) in [
        ("group_price", "unit_price"),
        ("min_total_quantity", "min_total_quantity"),
    ] {
        if !f.get(from).is_empty() {
            terms[field] = serde_json::Value::String(f.get(from).to_owned());
        }
    }
    terms
}

/// Goods listed at a fixed price (`unit_price`), by auction (`reserve_price`,
/// `min_increment`, `hours`), for group buying (`unit_price` is the group price,
/// `min_total_quantity`, `hours` to the deadline) or forward (`unit_price`): `lot_id`,
/// `quantity`, `currency`, `mode`, and a lender's `loan_id`.
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let f = &posted.form;
    let answer = async {
        let mode = match f.get("mode") {
            "auction" | "group" | "forward" => f.get("mode"),
            _ => "fixed",
        };
        let terms = match mode {
            "auction" => Json::Value(auction_terms(f)),
            "group" => Json::Value(group_terms(f)),
            _ => Json::Text(""),
        };
        let priced = matches!(mode, "fixed" | "forward");
        let new = forms::as_api(vec![
            ("lot_id", Json::Text(f.get("lot_id"))),
            ("quantity", Json::Text(f.get("quantity"))),
            ("mode", Json::Text(mode)),
            ("currency", Json::Text(f.get("currency"))),
            (
                "unit_price",
                Json::Text(if priced { f.get("unit_price") } else { "" }),
            ),
            ("loan_id", Json::Text(f.get("loan_id"))),
            (mode, terms),
        ])?;
        let mut conn = state.pool.get().await?;
        service::list_goods(&mut conn, &posted.session.principal, &new).await
    }
    .await;
    match answer {
        Ok(_) => Ok(forms::see_other("/market?done=listed")),
        Err(error) => refused(&req, &state, &posted.session, error).await,
    }
}

pub async fn offer(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let f = &posted.form;
    let new = match forms::as_api(vec![
        ("quantity", Json::Text(f.get("quantity"))),
        ("unit_price", Json::Text(f.get("unit_price"))),
    ]) {
        Ok(new) => new,
        Err(error) => return refused(&req, &state, &posted.session, error).await,
    };
    let idem = KeyRequired::from_form(&req, f.get("key"))?;
    match service::make_offer(&state.pool, &posted.session.principal, *id, new, idem).await? {
        Keyed::Done => Ok(forms::see_other("/market?done=offered")),
        Keyed::Refused(error) => refused(&req, &state, &posted.session, error).await,
    }
}

/// A buyer's bid: `unit_price`, under the form's key.
pub async fn bid(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let f = &posted.form;
    let new = match forms::as_api(vec![("unit_price", Json::Text(f.get("unit_price")))]) {
        Ok(new) => new,
        Err(error) => return refused(&req, &state, &posted.session, error).await,
    };
    let idem = KeyRequired::from_form(&req, f.get("key"))?;
    match service::place_bid(&state.pool, &posted.session.principal, *id, new, idem).await? {
        Keyed::Done => Ok(forms::see_other("/market?done=bid")),
        Keyed::Refused(error) => refused(&req, &state, &posted.session, error).await,
    }
}

/// A buyer joins a group buy: `quantity`, under the form's key.
pub async fn join(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let f = &posted.form;
    let new = match forms::as_api(vec![("quantity", Json::Text(f.get("quantity")))]) {
        Ok(new) => new,
        Err(error) => return refused(&req, &state, &posted.session, error).await,
    };
    let idem = KeyRequired::from_form(&req, f.get("key"))?;
    match service::join_group(&state.pool, &posted.session.principal, *id, new, idem).await? {
        Keyed::Done => Ok(forms::see_other("/market?done=joined")),
        Keyed::Refused(error) => refused(&req, &state, &posted.session, error).await,
    }
}

/// A buyer adds money to its market funds: `amount`, `currency`, under the form's key.
pub async fn funds(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let f = &posted.form;
    let request = match forms::as_api(vec![
        ("currency", Json::Text(f.get("currency"))),
        ("amount", Json::Text(f.get("amount"))),
    ]) {
        Ok(request) => request,
        Err(error) => return refused(&req, &state, &posted.session, error).await,
    };
    let idem = KeyRequired::from_form(&req, f.get("key"))?;
    match service::add_funds(&state.pool, &posted.session.principal, request, idem).await? {
        Keyed::Done => Ok(forms::see_other("/market?done=funded")),
        Keyed::Refused(error) => refused(&req, &state, &posted.session, error).await,
    }
}

pub async fn accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let idem = KeyRequired::from_form(&req, posted.form.get("key"))?;
    match service::accept_offer(&state.pool, &posted.session.principal, *id, idem).await? {
        Keyed::Done => Ok(forms::see_other("/market?done=accepted")),
        Keyed::Refused(error) => refused(&req, &state, &posted.session, error).await,
    }
}

pub async fn reject(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    match service::reject_offer(&mut conn, &posted.session.principal, *id).await {
        Ok(_) => Ok(forms::see_other("/market?done=rejected")),
        Err(error) => {
            drop(conn);
            refused(&req, &state, &posted.session, error).await
        }
    }
}

pub async fn withdraw(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    match service::withdraw_listing(&mut conn, &posted.session.principal, *id).await {
        Ok(_) => Ok(forms::see_other("/market?done=withdrawn")),
        Err(error) => {
            drop(conn);
            refused(&req, &state, &posted.session, error).await
        }
    }
}
