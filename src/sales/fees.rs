//! Fee schedules and fee quotes: `POST /v1/fee-schedules`, `GET /v1/fee-schedules`,
//! `GET /v1/fee-quote`. The fee on released goods is found per sale line from the most
//! specific current schedule (warehouse, then commodity, then currency; the default of design
//! §1 otherwise), summed unrounded, multiplied by the supplier's tier factor and rounded
//! half-even to the minor unit once (`domain::settlement`).

use crate::auth::Principal;
use crate::db::schema::fee_schedules;
use crate::domain::lending::round_half_even;
use crate::domain::settlement::{self, FeeMethod};
use crate::domain::valuation::{at_minor_unit, minor_units};
use crate::error::{ApiError, ApiResult};
use crate::http::validate::quantity;
use crate::http::{ValidJson, validate};
use crate::integrity::to_json;
use crate::integrity::{self, Change};
use crate::lots::model::LotRow;
use crate::lots::model::lot_not_found;
use crate::lots::store::{self as lots, Viewer};
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

pub const STORAGE_DAYS_EQUIVALENT: &str = "storage_days_equivalent";
pub const PERCENT_OF_VALUE: &str = "percent_of_value";

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = fee_schedules)]
pub struct FeeSchedule {
    pub id: Uuid,
    #[serde(skip)]
    pub seq: i64,
    /// The warehouse it applies to (none: every warehouse).
    pub warehouse_id: Option<Uuid>,
    /// The commodity it applies to (none: every commodity).
    pub commodity_code: Option<String>,
    /// The sale currency it applies to (none: every currency).
    pub currency: Option<String>,
    /// `storage_days_equivalent` or `percent_of_value`.
    pub method: String,
    pub days: Option<i32>,
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub percent: Option<Decimal>,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub minimum_fee: Decimal,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub superseded_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeeSchedule {
    pub warehouse_id: Option<Uuid>,
    pub commodity_code: Option<String>,
    pub currency: Option<String>,
    /// `storage_days_equivalent` (needs `days`, default 30) or `percent_of_value` (needs
    /// `percent`, a fraction: 0.015 for 1.5 %).
    pub method: String,
    pub days: Option<i32>,
    #[serde(default, with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub percent: Option<Decimal>,
    /// In `currency`, which it then requires (default 0).
    #[serde(default, with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub minimum_fee: Option<Decimal>,
}

/// A key that serialises changes of the fee schedules (a rare, admin-only write).
const SCHEDULE_LOCK: i64 = 0x686f_6c64_6665_6573;

/// Set the fee schedule for a scope (platform, `reference:write`); the current schedule of the
/// same scope is superseded and kept.
#[utoipa::path(post, path = "/v1/fee-schedules", tag = "sales", request_body = NewFeeSchedule,
    responses((status = 201, body = FeeSchedule), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewFeeSchedule>,
) -> ApiResult<HttpResponse> {
    let new = body.value;
    let currency = new
        .currency
        .as_deref()
        .map(|c| validate::currency("currency", c))
        .transpose()?;
    let (days, percent) = match new.method.as_str() {
        STORAGE_DAYS_EQUIVALENT => {
            if new.percent.is_some() {
                return Err(ApiError::invalid(
                    "percent",
                    "percent belongs to percent_of_value",
                ));
            }
            let days = new.days.unwrap_or(30);
            if !(1..=365).contains(&days) {
                return Err(ApiError::invalid("days", "days is 1 to 365"));
            }
            (Some(days), None)
        }
        PERCENT_OF_VALUE => {
            if new.days.is_some() {
                return Err(ApiError::invalid(
                    "days",
                    "days belongs to storage_days_equivalent",
                ));
            }
            let percent = new
                .percent
                .ok_or_else(|| ApiError::invalid("percent", "percent_of_value needs percent"))?;
            if percent <= Decimal::ZERO
                || percent >= Decimal::ONE
                || percent.normalize().scale() > 6
            {
                return Err(ApiError::invalid(
                    "percent",
                    "percent is a fraction above 0 and below 1 (0.015 for 1.5 %), at most 6 decimal places",
                ));
            }
            (None, Some(percent))
        }
        _ => {
            return Err(ApiError::invalid(
                "method",
                "method is storage_days_equivalent or percent_of_value",
            ));
        }
    };
    let minimum = new.minimum_fee.unwrap_or(Decimal::ZERO);
    if minimum < Decimal::ZERO {
        return Err(ApiError::invalid(
            "minimum_fee",
            "minimum_fee is not negative",
        ));
    }
    if minimum > Decimal::ZERO {
        let currency = currency.as_deref().ok_or_else(|| {
            ApiError::invalid("currency", "a minimum fee needs the currency it is in")
        })?;
        if minimum.normalize().scale() > minor_units(currency) {
            return Err(ApiError::invalid(
                "minimum_fee",
                format!("minimum_fee is finer than the minor unit of {currency}"),
            ));
        }
    }
    let mut conn = state.pool.get().await?;
    let schedule = conn
        .transaction::<_, ApiError, _>(async |conn| {
            if let Some(warehouse) = new.warehouse_id
                && reference::find_warehouse(conn, warehouse).await?.is_none()
            {
                return Err(ApiError::invalid("warehouse_id", "no such warehouse"));
            }
            if let Some(code) = &new.commodity_code
                && reference::find_commodity(conn, code).await?.is_none()
            {
                return Err(ApiError::invalid(
                    "commodity_code",
                    format!("no commodity `{code}`"),
                ));
            }
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(SCHEDULE_LOCK)
                .execute(conn)
                .await?;
            let before: Option<FeeSchedule> = same_scope(
                new.warehouse_id,
                new.commodity_code.as_deref(),
                currency.as_deref(),
            )
            .select(FeeSchedule::as_select())
            .first(conn)
            .await
            .optional()?;
            if let Some(old) = &before {
                diesel::update(fee_schedules::table.find(old.id))
                    .set(fee_schedules::superseded_at.eq(Utc::now()))
                    .execute(conn)
                    .await?;
            }
            let schedule: FeeSchedule = diesel::insert_into(fee_schedules::table)
                .values((
                    fee_schedules::id.eq(Uuid::new_v4()),
                    fee_schedules::warehouse_id.eq(new.warehouse_id),
                    fee_schedules::commodity_code.eq(&new.commodity_code),
                    fee_schedules::currency.eq(&currency),
                    fee_schedules::method.eq(&new.method),
                    fee_schedules::days.eq(days),
                    fee_schedules::percent.eq(percent),
                    fee_schedules::minimum_fee.eq(minimum),
                    fee_schedules::created_by.eq(principal.user_id),
                ))
                .returning(FeeSchedule::as_returning())
                .get_result(conn)
                .await?;
            integrity::record(
                conn,
                Some(&principal),
                Change {
                    action: "fee_schedule.set",
                    object_kind: "fee_schedule",
                    object_id: schedule.id.to_string(),
                    org_ids: vec![principal.org_id],
                    before: before.as_ref().map(to_json).transpose()?,
                    after: Some(to_json(&schedule)?),
                },
            )
            .await?;
            Ok(schedule)
        })
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(schedule))
}

fn same_scope<'a>(
    warehouse: Option<Uuid>,
    commodity: Option<&'a str>,
    currency: Option<&'a str>,
) -> fee_schedules::BoxedQuery<'a, diesel::pg::Pg> {
    let mut query = fee_schedules::table
        .filter(fee_schedules::superseded_at.is_null())
        .into_boxed();
    query = match warehouse {
        Some(w) => query.filter(fee_schedules::warehouse_id.eq(w)),
        None => query.filter(fee_schedules::warehouse_id.is_null()),
    };
    query = match commodity {
        Some(c) => query.filter(fee_schedules::commodity_code.eq(c)),
        None => query.filter(fee_schedules::commodity_code.is_null()),
    };
    match currency {
        Some(c) => query.filter(fee_schedules::currency.eq(c)),
        None => query.filter(fee_schedules::currency.is_null()),
    }
}

/// The current fee schedules, most general first.
#[utoipa::path(get, path = "/v1/fee-schedules", tag = "sales",
    responses((status = 200, body = Vec<FeeSchedule>)), security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let schedules: Vec<FeeSchedule> = fee_schedules::table
        .filter(fee_schedules::superseded_at.is_null())
        .order(fee_schedules::seq)
        .select(FeeSchedule::as_select())
        .load(&mut conn)
        .await?;
    Ok(HttpResponse::Ok().json(schedules))
}

/// The schedule that applies to goods of `commodity` leaving `warehouse`, sold in `currency`.
pub async fn resolve(
    conn: &mut AsyncPgConnection,
    warehouse: Option<Uuid>,
    commodity: &str,
    currency: &str,
) -> ApiResult<FeeSchedule> {
    let mut query = fee_schedules::table
        .filter(fee_schedules::superseded_at.is_null())
        .filter(
            fee_schedules::commodity_code
                .is_null()
                .or(fee_schedules::commodity_code.eq(commodity)),
        )
        .filter(
            fee_schedules::currency
                .is_null()
                .or(fee_schedules::currency.eq(currency)),
        )
        .into_boxed();
    query = match warehouse {
        Some(w) => query.filter(
            fee_schedules::warehouse_id
                .is_null()
                .or(fee_schedules::warehouse_id.eq(w)),
        ),
        None => query.filter(fee_schedules::warehouse_id.is_null()),
    };
    query
        .order((
            fee_schedules::warehouse_id.is_not_null().desc(),
            fee_schedules::commodity_code.is_not_null().desc(),
            fee_schedules::currency.is_not_null().desc(),
        ))
        .select(FeeSchedule::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| {
            ApiError::conflict(
                "no_fee_schedule",
                "no fee schedule applies to these goods; the platform must set one",
            )
        })
}

/// The fee of one sale line, before the tier and before rounding.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineFee {
    pub lot_id: Uuid,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    pub schedule_id: Uuid,
    pub method: String,
    /// The warehouse whose storage rate and schedule apply: where the goods are, or where
    /// their voyage is bound.
    pub warehouse_id: Option<Uuid>,
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub storage_rate_per_unit_day: Option<Decimal>,
    pub days: Option<i32>,
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub percent: Option<Decimal>,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub sale_value: Decimal,
    /// The method's amount.
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub base: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub minimum_fee: Decimal,
    pub minimum_applied: bool,
    /// max(base, minimum fee).
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub charge: Decimal,
}

/// Where goods leave from, for the fee: their warehouse, or their voyage's destination.
async fn leaving_from(conn: &mut AsyncPgConnection, lot: &LotRow) -> ApiResult<Option<Uuid>> {
    if lot.warehouse_id.is_some() {
        return Ok(lot.warehouse_id);
    }
    match lot.voyage_id {
        Some(voyage) => Ok(reference::find_voyage(conn, voyage)
            .await?
            .and_then(|v| v.destination_warehouse_id)),
        None => Ok(None),
    }
}

/// The fee of releasing `quantity` of `lot` sold for `sale_value` in `currency`.
pub async fn line_fee(
    conn: &mut AsyncPgConnection,
    lot: &LotRow,
    quantity: Decimal,
    sale_value: Decimal,
    currency: &str,
) -> ApiResult<LineFee> {
    let warehouse = leaving_from(conn, lot).await?;
    let schedule = resolve(conn, warehouse, &lot.commodity_code, currency).await?;
    let (method, rate) = match schedule.method.as_str() {
        STORAGE_DAYS_EQUIVALENT => {
            let rate = match warehouse {
                Some(w) => reference::storage_rate(conn, w, &lot.commodity_code).await?,
                None => None,
            }
            .ok_or_else(|| {
                ApiError::conflict(
                    "no_storage_rate",
                    "the fee is 30 days of storage, but the warehouse has no storage rate for this commodity",
                )
                .with("lot_id", lot.id)
            })?;
            if rate.currency != currency {
                return Err(ApiError::invalid(
                    "currency",
                    format!(
                        "the storage rate the fee is based on is in {}; sell in that currency",
                        rate.currency
                    ),
                )
                .with("lot_id", lot.id));
            }
            (
                FeeMethod::StorageDaysEquivalent {
                    rate_per_unit_day: rate.rate_per_unit_day,
                    days: schedule.days.unwrap_or(30) as u32,
                },
                Some(rate.rate_per_unit_day),
            )
        }
        _ => (
            FeeMethod::PercentOfValue {
                percent: schedule.percent.unwrap_or(Decimal::ZERO),
            },
            None,
        ),
    };
    let minimum = match &schedule.currency {
        Some(c) if c == currency => schedule.minimum_fee,
        _ => Decimal::ZERO,
    };
    let fee = settlement::fee(
        method,
        quantity,
        sale_value,
        minimum,
        Decimal::ONE,
        minor_units(currency),
    );
    Ok(LineFee {
        lot_id: lot.id,
        quantity: quantity.normalize(),
        schedule_id: schedule.id,
        method: schedule.method.clone(),
        warehouse_id: warehouse,
        storage_rate_per_unit_day: rate.map(|r| r.normalize()),
        days: schedule.days,
        percent: schedule.percent,
        sale_value,
        base: fee.base.normalize(),
        minimum_fee: minimum,
        minimum_applied: fee.minimum_applied,
        charge: fee.base.max(minimum).normalize(),
    })
}

/// The fee of a whole sale: every line's charge, summed, × the tier factor, rounded once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FeeBreakdown {
    pub lines: Vec<LineFee>,
    pub tier: String,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub tier_factor: Decimal,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub fee: Decimal,
    pub currency: String,
}

pub fn total(lines: Vec<LineFee>, tier: (String, Decimal), currency: &str) -> FeeBreakdown {
    let charges: Decimal = lines.iter().map(|l| l.charge).sum();
    let fee = at_minor_unit(
        round_half_even(charges * tier.1, minor_units(currency)),
        currency,
    );
    FeeBreakdown {
        lines,
        tier: tier.0,
        tier_factor: tier.1,
        fee,
        currency: currency.to_owned(),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QuoteQuery {
    pub lot_id: Uuid,
    #[param(value_type = String)]
    pub quantity: Decimal,
    /// The agreed price per unit; needed by `percent_of_value` schedules.
    #[param(value_type = Option<String>)]
    pub unit_price: Option<Decimal>,
    /// The sale currency (default: the currency of the warehouse's storage rate, else CNY).
    pub currency: Option<String>,
}

/// What releasing a quantity of a lot through a sale would cost its owner, and how the fee
/// is computed (the owner, lenders it is pledged to, the platform).
#[utoipa::path(get, path = "/v1/fee-quote", tag = "sales", params(QuoteQuery),
    responses((status = 200, body = FeeBreakdown), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn quote(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<QuoteQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let mut conn = state.pool.get().await?;
    let lot = lots::find_visible(&mut conn, Viewer::of(&principal), query.lot_id)
        .await?
        .ok_or_else(lot_not_found)?;
    let qty = quantity("quantity", query.quantity, &lot.unit)?;
    let currency = match &query.currency {
        Some(c) => validate::currency("currency", c)?,
        None => match leaving_from(&mut conn, &lot).await? {
            Some(w) => reference::storage_rate(&mut conn, w, &lot.commodity_code)
                .await?
                .map(|r| r.currency)
                .unwrap_or_else(|| "CNY".to_owned()),
            None => "CNY".to_owned(),
        },
    };
    let value = match query.unit_price {
        Some(price) if price > Decimal::ZERO => {
            round_half_even(qty * price, minor_units(&currency))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "unit_price",
                "unit_price must be above zero",
            ));
        }
        None => Decimal::ZERO,
    };
    let line = line_fee(&mut conn, &lot, qty, value, &currency).await?;
    if line.method == PERCENT_OF_VALUE && query.unit_price.is_none() {
        return Err(ApiError::invalid(
            "unit_price",
            "the fee here is a percent of the sale value: give the unit_price",
        ));
    }
    let tier = crate::tiers::of_org(&mut conn, lot.owner_org_id).await?;
    Ok(HttpResponse::Ok().json(total(vec![line], tier, &currency)))
}
