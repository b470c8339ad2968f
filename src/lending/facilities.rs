//! Facilities: a lender's credit line to one supplier. `POST /v1/facilities`,
//! `GET /v1/facilities`, `GET /v1/facilities/{id}` with utilisation and borrowing base.

use super::model::FacilityRow;
use super::model::facility_not_found;
use super::store::{self, Party};
use crate::auth::{OrgKind, Principal};
use crate::db::schema::facilities;
use crate::domain::lending::lending_value;
use crate::domain::valuation::{at_minor_unit, minor_units};
use crate::error::{ApiError, ApiResult};
use crate::http::validate::money;
use crate::http::{Page, PageQuery, ValidJson, validate};
use crate::integrity::to_json;
use crate::integrity::{self, Change};
use crate::orgs::store as orgs;
use crate::reference::store as reference;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFacility {
    pub supplier_org_id: Uuid,
    pub currency: String,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub limit: Decimal,
    /// Share of collateral value lent (default 0.50).
    #[serde(default, with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub advance_rate: Option<Decimal>,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub annual_interest_rate: Decimal,
    /// Above this LTV a margin call opens (default 0.65).
    #[serde(default, with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub margin_call_ltv: Option<Decimal>,
    /// Above this LTV the loan defaults at once (default 0.80).
    #[serde(default, with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub liquidation_ltv: Option<Decimal>,
    /// Days a margin call may stay open (default 3).
    pub cure_period_days: Option<i32>,
    pub max_tenor_days: i32,
    pub eligible_commodities: Vec<String>,
    /// Approval needs a second lender user (maker-checker).
    #[serde(default)]
    pub second_approver_required: bool,
    /// Charged on disbursement as a share of principal, paid first by repayments (default 0).
    #[serde(default, with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub arrangement_fee_rate: Option<Decimal>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Facility {
    pub id: Uuid,
    pub lender_org_id: Uuid,
    pub supplier_org_id: Uuid,
    pub currency: String,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub limit: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub advance_rate: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub annual_interest_rate: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub margin_call_ltv: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub liquidation_ltv: Decimal,
    pub cure_period_days: i32,
    pub max_tenor_days: i32,
    pub eligible_commodities: Vec<String>,
    pub second_approver_required: bool,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub arrangement_fee_rate: Decimal,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// Outstanding principal of disbursed loans.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub drawn: Decimal,
    /// Principal of requested and approved loans, held against the limit.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub committed: Decimal,
    /// limit − drawn − committed.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub available: Decimal,
    /// Market value of the goods pledged to disbursed loans, at the last revaluation.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub collateral_value: Decimal,
    /// collateral value × advance rate: what that collateral supports.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub borrowing_base: Decimal,
}

pub async fn present(conn: &mut AsyncPgConnection, row: FacilityRow) -> ApiResult<Facility> {
    let (drawn, committed) = store::usage(conn, row.id).await?;
    let collateral_value = store::collateral_value(conn, row.id).await?;
    let places = minor_units(&row.currency);
    let money = |value: Decimal| at_minor_unit(value, &row.currency);
    Ok(Facility {
        id: row.id,
        lender_org_id: row.lender_org_id,
        supplier_org_id: row.supplier_org_id,
        available: money((row.limit_amount - drawn - committed).max(Decimal::ZERO)),
        drawn: money(drawn),
        committed: money(committed),
        borrowing_base: money(lending_value(collateral_value, row.advance_rate, places)),
        collateral_value: money(collateral_value),
        currency: row.currency,
        limit: row.limit_amount,
        advance_rate: row.advance_rate,
        annual_interest_rate: row.annual_interest_rate,
        margin_call_ltv: row.margin_call_ltv,
        liquidation_ltv: row.liquidation_ltv,
        cure_period_days: row.cure_period_days,
        max_tenor_days: row.max_tenor_days,
        eligible_commodities: row.eligible_commodities,
        second_approver_required: row.second_approver_required,
        arrangement_fee_rate: row.arrangement_fee_rate,
        status: row.status,
        created_at: row.created_at,
    })
}

fn rate(field: &str, value: Decimal, low: Decimal, high: Decimal) -> ApiResult<Decimal> {
    if value <= low || value > high || value.normalize().scale() > 6 {
        return Err(ApiError::invalid(
            field,
            format!(
                "{field} must be above {low} and at most {high}, with at most 6 decimal places"
            ),
        ));
    }
    Ok(value)
}

fn defaulted(value: Option<Decimal>, default: &str) -> Decimal {
    value.unwrap_or_else(|| default.parse().unwrap_or(Decimal::ZERO))
}

/// Open a facility for a supplier (lender with `credit:write`).
#[utoipa::path(post, path = "/v1/facilities", tag = "lending", request_body = NewFacility,
    responses((status = 201, body = Facility), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewFacility>,
) -> ApiResult<HttpResponse> {
    let new = body.value;
    let currency = validate::currency("currency", &new.currency)?;
    let limit = money("limit", new.limit, &currency)?;
    let one = Decimal::ONE;
    let advance_rate = rate(
        "advance_rate",
        defaulted(new.advance_rate, "0.50"),
        Decimal::ZERO,
        one,
    )?;
    let interest = new.annual_interest_rate;
    if interest < Decimal::ZERO || interest > one || interest.normalize().scale() > 6 {
        return Err(ApiError::invalid(
            "annual_interest_rate",
            "annual_interest_rate is a fraction from 0 to 1 (0.085 for 8.5 %), at most 6 decimal places",
        ));
    }
    let margin_call_ltv = rate(
        "margin_call_ltv",
        defaulted(new.margin_call_ltv, "0.65"),
        advance_rate,
        one,
    )?;
    let liquidation_ltv = rate(
        "liquidation_ltv",
        defaulted(new.liquidation_ltv, "0.80"),
        margin_call_ltv,
        Decimal::new(15, 1),
    )?;
    let cure_period_days = new.cure_period_days.unwrap_or(3);
    if !(0..=90).contains(&cure_period_days) {
        return Err(ApiError::invalid(
            "cure_period_days",
            "cure_period_days is 0 to 90",
        ));
    }
    if !(1..=3650).contains(&new.max_tenor_days) {
        return Err(ApiError::invalid(
            "max_tenor_days",
            "max_tenor_days is 1 to 3650",
        ));
    }
    let fee_rate = defaulted(new.arrangement_fee_rate, "0");
    if fee_rate < Decimal::ZERO || fee_rate >= one || fee_rate.normalize().scale() > 6 {
        return Err(ApiError::invalid(
            "arrangement_fee_rate",
            "arrangement_fee_rate is a fraction from 0 to below 1",
        ));
    }
    if new.eligible_commodities.is_empty() {
        return Err(ApiError::invalid(
            "eligible_commodities",
            "name at least one commodity the facility lends against",
        ));
    }
    let mut conn = state.pool.get().await?;
    let facility = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let supplier = orgs::find_org(conn, new.supplier_org_id)
                .await?
                .filter(|org| org.kind == OrgKind::Supplier.as_str())
                .ok_or_else(|| ApiError::invalid("supplier_org_id", "no such supplier"))?;
            for (i, code) in new.eligible_commodities.iter().enumerate() {
                if reference::find_commodity(conn, code).await?.is_none() {
                    return Err(ApiError::invalid(
                        &format!("eligible_commodities[{i}]"),
                        format!("no commodity `{code}`"),
                    ));
                }
            }
            let row: FacilityRow = diesel::insert_into(facilities::table)
                .values((
                    facilities::id.eq(Uuid::new_v4()),
                    facilities::lender_org_id.eq(principal.org_id),
                    facilities::supplier_org_id.eq(supplier.id),
                    facilities::currency.eq(&currency),
                    facilities::limit_amount.eq(limit),
                    facilities::advance_rate.eq(advance_rate),
                    facilities::annual_interest_rate.eq(interest),
                    facilities::margin_call_ltv.eq(margin_call_ltv),
                    facilities::liquidation_ltv.eq(liquidation_ltv),
                    facilities::cure_period_days.eq(cure_period_days),
                    facilities::max_tenor_days.eq(new.max_tenor_days),
                    facilities::eligible_commodities.eq(&new.eligible_commodities),
                    facilities::second_approver_required.eq(new.second_approver_required),
                    facilities::arrangement_fee_rate.eq(fee_rate),
                    facilities::created_by.eq(principal.user_id),
                ))
                .returning(FacilityRow::as_returning())
                .get_result(conn)
                .await?;
            let facility = present(conn, row).await?;
            integrity::record(
                conn,
                Some(&principal),
                Change {
                    action: "facility.opened",
                    object_kind: "facility",
                    object_id: facility.id.to_string(),
                    org_ids: vec![facility.lender_org_id, facility.supplier_org_id],
                    before: None,
                    after: Some(to_json(&facility)?),
                },
            )
            .await?;
            Ok(facility)
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(facility))
}

/// A facility with its utilisation and borrowing base (its lender, its supplier, the platform).
#[utoipa::path(get, path = "/v1/facilities/{id}", tag = "lending",
    responses((status = 200, body = Facility), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let row = store::find_facility(&mut conn, Party::of(&principal), *id)
        .await?
        .ok_or_else(facility_not_found)?;
    Ok(HttpResponse::Ok().json(present(&mut conn, row).await?))
}

/// The facilities the caller's org lends or borrows under, oldest first.
#[utoipa::path(get, path = "/v1/facilities", tag = "lending", params(PageQuery),
    responses((status = 200, body = Page<Facility>)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let limit = page.limit()?;
    let mut conn = state.pool.get().await?;
    let rows =
        store::list_facilities(&mut conn, Party::of(&principal), page.after()?, limit).await?;
    let page = Page::from_rows(rows, limit, |r| r.seq);
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        items.push(present(&mut conn, row).await?);
    }
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}
