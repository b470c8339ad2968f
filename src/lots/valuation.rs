//! `GET /v1/lots/{id}/valuation`: what a lot is worth as collateral today (or on `as_of`), every
//! factor shown, and why it is not eligible when it is not.

use super::model::lot_not_found;
use super::model::{Lot, LotRow};
use super::store::{self, Viewer};
use crate::auth::Principal;
use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use crate::domain::states::LotStatus;
use crate::domain::valuation::{self, Facts, Ineligible, Inspection};
use crate::error::{ApiError, ApiResult};
use crate::reference::model::CommodityRow;
use crate::reference::prices::{self, Price};
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
    let price = prices::latest(
        conn,
        &lot.commodity_code,
        terms.map(|t| t.currency),
        end_of(as_of)?,
    )
    .await?;
    let on_hold = store::on_hold(conn, lot).await?;
    Ok(value_of(
        lot,
        as_of,
        quantity,
        &commodity,
        price.as_ref(),
        on_hold,
        terms,
    ))
}

/// The last moment of a business date.
fn end_of(as_of: NaiveDate) -> ApiResult<chrono::DateTime<Utc>> {
    as_of
        .and_hms_opt(23, 59, 59)
        .map(|t| t.and_utc())
        .ok_or_else(|| ApiError::invalid("as_of", "date out of range"))
}

/// The valuation from what was read: the commodity, its latest price, the lot's hold.
fn value_of(
    lot: &LotRow,
    as_of: NaiveDate,
    quantity: Decimal,
    commodity: &CommodityRow,
    price: Option<&Price>,
    on_hold: bool,
    terms: Option<&Terms<'_>>,
) -> Valuation {
    let grade_factor = commodity.grade_factor(&lot.grade).unwrap_or(Decimal::ZERO);
    let freshness = valuation::freshness_factor(
        lot.packed_on,
        as_of,
        commodity.fresh_days,
        commodity.shelf_life_days,
        commodity.end_freshness_factor,
    );
    let market_value = price.map(|p| {
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
        price_age_days: price.map(|p| (as_of - p.as_of.date_naive()).num_days()),
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
    Valuation {
        lot_id: lot.id,
        as_of,
        quantity: Quantity::at(quantity, &lot.unit),
        unit: lot.unit.clone(),
        unit_price: price.map(|p| p.price_per_unit),
        currency: price.map(|p| p.currency.clone()),
        price_as_of: price.map(|p| p.as_of),
        grade_factor,
        freshness_factor: freshness,
        market_value: market_value
            .zip(price)
            .map(|(value, p)| Money::at(value, &p.currency)),
        eligible: reasons.is_empty(),
        ineligible_reasons: reasons,
    }
}

/// A lot the caller owns as its portfolio shows it: the lot, its whole quantity on hand
/// valued, and the value of what is still free to pledge.
pub struct Holding {
    pub lot: Lot,
    pub valuation: Valuation,
    pub free: Quantity,
    pub free_value: Option<Money>,
}

/// The caller's lots (announced, in custody, in transit; the first `limit`), each valued today,
/// in a fixed number of statements whatever their number: the lots, the commodities, the
/// latest price of each commodity held, the holds of their warehouses.
pub async fn portfolio(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    limit: i64,
) -> ApiResult<Vec<Holding>> {
    let as_of = crate::calendar::business_date(conn).await?;
    let viewer = Viewer::of(principal);
    let rows: Vec<LotRow> = store::list(conn, viewer, store::LotFilter::default(), None, limit)
        .await?
        .into_iter()
        .filter(|row| row.status != LotStatus::Released)
        .collect();
    let commodities: std::collections::HashMap<String, CommodityRow> =
        reference::list_commodities(conn)
            .await?
            .into_iter()
            .map(|c| (c.code.clone(), c))
            .collect();
    let mut latest: std::collections::HashMap<String, Option<Price>> =
        std::collections::HashMap::new();
    for row in &rows {
        if !latest.contains_key(&row.commodity_code) {
            let price = prices::latest(conn, &row.commodity_code, None, end_of(as_of)?).await?;
            latest.insert(row.commodity_code.clone(), price);
        }
    }
    let mut warehouses: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.status == LotStatus::InCustody)
        .filter_map(|r| r.warehouse_id)
        .collect();
    warehouses.sort_unstable();
    warehouses.dedup();
    let holds = store::holds(conn, &warehouses).await?;
    let mut holdings = Vec::with_capacity(rows.len());
    for row in rows {
        let commodity = commodities
            .get(&row.commodity_code)
            .ok_or_else(|| ApiError::internal("lot without commodity"))?;
        let price = latest.get(&row.commodity_code).and_then(Option::as_ref);
        let on_hold = row.status == LotStatus::InCustody && holds.hold(&row);
        let valuation = value_of(
            &row,
            as_of,
            row.quantity_on_hand,
            commodity,
            price,
            on_hold,
            None,
        );
        let free = row.quantity_free();
        let free_value = value_of(&row, as_of, free, commodity, price, on_hold, None).market_value;
        let free = Quantity::at(free, &row.unit);
        holdings.push(Holding {
            lot: Lot::from_row(row, on_hold, true),
            valuation,
            free,
            free_value,
        });
    }
    Ok(holdings)
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
