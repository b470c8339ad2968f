//! `GET /v1/lots/{id}/valuation`: what a lot is worth as collateral today (or on `as_of`), every
//! factor shown, and why it is not eligible when it is not.

use super::model::LotRow;
use super::model::lot_not_found;
use super::store::{self, Viewer};
use crate::auth::Principal;
use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use crate::domain::states::LotStatus;
use crate::domain::valuation::{self, Facts, Ineligible, Inspection};
use crate::error::{ApiError, ApiResult};
use crate::reference::prices;
use crate::reference::store as reference;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use chrono::{NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ValuationQuery {
    /// The valuation date (default: the business date).
    pub as_of: Option<NaiveDate>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Valuation {
    pub lot_id: Uuid,
    pub as_of: NaiveDate,
    pub quantity: Quantity,
    pub unit: String,
    /// The latest price of the reference grade on or before `as_of`; `null` without one.
    #[serde(with = "crate::domain::decimal::price_option")]
    #[schema(value_type = Option<String>)]
    pub unit_price: Option<Decimal>,
    pub currency: Option<String>,
    pub price_as_of: Option<chrono::DateTime<Utc>>,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub grade_factor: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub freshness_factor: Decimal,
    /// quantity × unit price × grade factor × freshness factor, in the price's currency.
    pub market_value: Option<Money>,
    pub eligible: bool,
    pub ineligible_reasons: Vec<Ineligible>,
}

/// What a lender's facility adds to the valuation: its currency and the commodities it takes.
pub struct Terms<'a> {
    pub currency: &'a str,
    pub eligible_commodities: &'a [String],
}

/// Values `quantity` of `lot` on `as_of`, with every factor and every reason it is not
/// eligible. With `terms`, the price is taken in the facility's currency and the commodity
/// must be one the facility accepts.
pub async fn appraise(
    conn: &mut AsyncPgConnection,
    lot: &LotRow,
    as_of: NaiveDate,
    quantity: Decimal,
    terms: Option<&Terms<'_>>,
) -> ApiResult<Valuation> {
    let commodity = reference::find_commodity(conn, &lot.commodity_code)
        .await?
        .ok_or_else(|| ApiError::internal("lot without commodity"))?;
    let end_of_day = as_of
        .and_hms_opt(23, 59, 59)
        .map(|t| t.and_utc())
        .ok_or_else(|| ApiError::invalid("as_of", "date out of range"))?;
    let price = prices::latest(
        conn,
        &lot.commodity_code,
        terms.map(|t| t.currency),
        end_of_day,
    )
    .await?;
    let on_hold = store::on_hold(conn, lot).await?;
    let grade_factor = commodity.grade_factor(&lot.grade).unwrap_or(Decimal::ZERO);
    let freshness = valuation::freshness_factor(
        lot.packed_on,
        as_of,
        commodity.fresh_days,
        commodity.shelf_life_days,
        commodity.end_freshness_factor,
    );
    let market_value = price.as_ref().map(|p| {
        valuation::market_value(
            quantity,
            p.price_per_unit,
            grade_factor,
            freshness,
            valuation::minor_units(&p.currency),
        )
    });
    let reasons = valuation::ineligible_reasons(&Facts {
        status_in_custody_or_transit: lot.status == LotStatus::InCustody
            || lot.status == LotStatus::InTransit,
        on_hold,
        expired: as_of >= lot.expires_on,
        price_age_days: price
            .as_ref()
            .map(|p| (as_of - p.as_of.date_naive()).num_days()),
        quantity_free_is_zero: lot.quantity_on_hand > Decimal::ZERO
            && lot.quantity_free().is_zero(),
        commodity_allowed: terms
            .is_none_or(|t| t.eligible_commodities.contains(&lot.commodity_code)),
        inspection: Inspection::of(
            commodity.inspection_required,
            lot.last_inspected_at.is_some(),
            lot.inspection_due_on,
            as_of,
        ),
    });
    Ok(Valuation {
        lot_id: lot.id,
        as_of,
        quantity: Quantity::at(quantity, &lot.unit),
        unit: lot.unit.clone(),
        unit_price: price.as_ref().map(|p| p.price_per_unit),
        currency: price.as_ref().map(|p| p.currency.clone()),
        price_as_of: price.as_ref().map(|p| p.as_of),
        grade_factor,
        freshness_factor: freshness,
        market_value: market_value
            .zip(price.as_ref())
            .map(|(value, p)| Money::at(value, &p.currency)),
        eligible: reasons.is_empty(),
        ineligible_reasons: reasons,
    })
}

/// Value a lot as collateral.
#[utoipa::path(get, path = "/v1/lots/{id}/valuation", tag = "lots", params(ValuationQuery),
    responses((status = 200, body = Valuation), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn valuation(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    query: crate::http::query::ValidQuery<ValuationQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let as_of = match query.as_of {
        Some(date) => date,
        None => crate::calendar::business_date(&mut conn).await?,
    };
    let lot = store::find_visible(&mut conn, Viewer::of(&principal), *id)
        .await?
        .ok_or_else(lot_not_found)?;
    let quantity = lot.quantity_on_hand;
    Ok(HttpResponse::Ok().json(appraise(&mut conn, &lot, as_of, quantity, None).await?))
}
