//! `GET /v1/ledger/accounts`, `/entries`, `/check`: balances, entries, and the proof that
//! the books balance. An org sees its own accounts and the entries touching them; the platform
//! sees all.

use super::model::{Account, JournalEntry, LedgerCheck};
use super::store;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, PageQuery};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

/// The org whose books the caller reads: its own, or any for the platform.
fn books_of(principal: &Principal, asked: Option<Uuid>) -> ApiResult<Option<Uuid>> {
    match asked {
        Some(org) if principal.is_platform() || org == principal.org_id => Ok(Some(org)),
        Some(_) => Err(ApiError::not_found("org_not_found", "no such organisation")),
        None if principal.is_platform() => Ok(None),
        None => Ok(Some(principal.org_id)),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccountsQuery {
    /// Platform only: one org's accounts (others always read their own).
    pub org_id: Option<Uuid>,
    #[param(pattern = r"^[A-Z]{3}$")]
    pub currency: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// Account balances, summed from the journal lines.
#[utoipa::path(get, path = "/v1/ledger/accounts", tag = "ledger", params(AccountsQuery),
    responses((status = 200, body = Page<Account>)), security(("bearer" = [])))]
pub async fn accounts(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<AccountsQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let org = books_of(&principal, query.org_id)?;
    if let Some(currency) = &query.currency {
        crate::http::validate::currency("currency", currency)?;
    }
    let mut conn = state.pool.get().await?;
    let rows = store::accounts(&mut conn, org, query.currency.as_deref(), after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |a| a.id)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntriesQuery {
    /// Entries of one loan, including the settlements of sales that repaid it.
    pub loan_id: Option<Uuid>,
    /// Entries of one sale: its payments and its settlement.
    pub sale_id: Option<Uuid>,
    /// Platform only: entries touching one org's accounts.
    pub org_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// Journal entries, oldest first, each with all its lines.
#[utoipa::path(get, path = "/v1/ledger/entries", tag = "ledger", params(EntriesQuery),
    responses((status = 200, body = Page<JournalEntry>)), security(("bearer" = [])))]
pub async fn entries(
    state: web::Data<AppState>,
    principal: Principal,
    query: crate::http::query::ValidQuery<EntriesQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let org = books_of(&principal, query.org_id)?;
    let mut conn = state.pool.get().await?;
    let filter = store::EntryFilter {
        org,
        loan_id: query.loan_id,
        sale_id: query.sale_id,
    };
    let page = store::entries(&mut conn, filter, after, limit).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Proves the books balance: each entry, and each currency overall. The platform checks the
/// whole ledger; an org checks every entry that touches its accounts.
#[utoipa::path(get, path = "/v1/ledger/check", tag = "ledger",
    responses((status = 200, body = LedgerCheck)), security(("bearer" = [])))]
pub async fn check(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let org = books_of(&principal, None)?;
    let mut conn = state.pool.get().await?;
    Ok(HttpResponse::Ok().json(store::check(&mut conn, org).await?))
}
