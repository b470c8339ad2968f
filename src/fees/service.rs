//! Fee use cases: setting a scope's schedule, the fee of releasing a sale line, a sale's fee
//! with the tier factor, and a quote for goods not yet sold.

use super::model::*;
use super::store::{self, ScheduleValues};
use crate::auth::Principal;
use crate::domain::inputs::{AmountOrZero, Fraction};
use crate::domain::lending::round_half_even;
use crate::domain::money::Money;
use crate::domain::quantity::Quantity;
use crate::domain::settlement::{self, FeeMethod};
use crate::domain::valuation::{at_minor_unit, minor_units};
use crate::error::{ApiError, ApiResult};
use crate::http::validate::{self, quantity};
use crate::integrity::{self, Change, to_json};
use crate::lots::model::{LotRow, lot_not_found};
use crate::lots::store::{self as lots, Viewer};
use crate::reference::store as reference;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

/// A schedule as checked at the edge: its currency, days or percent by method, and minimum.
pub struct CheckedSchedule {
    currency: Option<String>,
    days: Option<i32>,
    percent: Option<Decimal>,
    minimum_fee: Decimal,
}

/// Everything about a new schedule that can be checked without the database.
pub fn check_schedule(new: &NewFeeSchedule) -> ApiResult<CheckedSchedule> {
    let currency = new
        .currency
        .as_deref()
        .map(|c| validate::currency("currency", c))
        .transpose()?;
    let (days, percent) = method_terms(new)?;
    let minimum_fee = new.minimum_fee.map_or(Decimal::ZERO, AmountOrZero::value);
    if minimum_fee < Decimal::ZERO || minimum_fee > Decimal::from(validate::MAX_MONEY) {
        return Err(ApiError::invalid(
            "minimum_fee",
            format!("minimum_fee is 0 to {}", validate::MAX_MONEY),
        ));
    }
    if minimum_fee > Decimal::ZERO {
        let currency = currency.as_deref().ok_or_else(|| {
            ApiError::invalid("currency", "a minimum fee needs the currency it is in")
        })?;
        if minimum_fee.normalize().scale() > minor_units(currency) {
            return Err(ApiError::invalid(
                "minimum_fee",
                format!("minimum_fee is finer than the minor unit of {currency}"),
            ));
        }
    }
    Ok(CheckedSchedule {
        currency,
        days,
        percent,
        minimum_fee,
    })
}

/// The days (storage-days method, default 30) or the percent (percent-of-value method) the
/// schedule's method needs, and not the other.
fn method_terms(new: &NewFeeSchedule) -> ApiResult<(Option<i32>, Option<Decimal>)> {
    match new.method.as_str() {
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
            Ok((Some(days), None))
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
                .map(Fraction::value)
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
            Ok((None, Some(percent)))
        }
        _ => Err(ApiError::invalid(
            "method",
            "method is storage_days_equivalent or percent_of_value",
        )),
    }
}

/// The current fee schedules, most general first.
pub async fn schedules(conn: &mut AsyncPgConnection) -> ApiResult<Vec<FeeSchedule>> {
    let current = store::current(conn).await?;
    Ok(current.into_iter().map(FeeSchedule::shown).collect())
}

/// Set the schedule of a scope; the scope's current schedule is superseded and kept.
pub async fn set_schedule(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewFeeSchedule,
) -> ApiResult<FeeSchedule> {
    let checked = check_schedule(new)?;
    if let Some(warehouse) = new.warehouse_id
        && reference::find_warehouse(conn, warehouse).await?.is_none()
    {
        return Err(ApiError::unknown_reference(
            "warehouse_id",
            "no such warehouse",
        ));
    }
    if let Some(code) = &new.commodity_code
        && reference::find_commodity(conn, code).await?.is_none()
    {
        return Err(ApiError::invalid(
            "commodity_code",
            format!("no commodity `{code}`"),
        ));
    }
    store::lock_schedules(conn).await?;
    let currency = checked.currency.as_deref();
    let commodity = new.commodity_code.as_deref();
    let before = store::current_of_scope(conn, new.warehouse_id, commodity, currency).await?;
    if let Some(old) = &before {
        store::supersede(conn, old.id).await?;
    }
    let schedule = store::insert(
        conn,
        ScheduleValues {
            warehouse_id: new.warehouse_id,
            commodity_code: commodity,
            currency,
            method: &new.method,
            days: checked.days,
            percent: checked.percent,
            minimum_fee: checked.minimum_fee,
            created_by: principal.user_id,
        },
    )
    .await?
    .shown();
    integrity::record(
        conn,
        Some(principal),
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
    let schedule = store::resolve(conn, warehouse, &lot.commodity_code, currency).await?;
    let (method, rate) = fee_method(conn, &schedule, warehouse, lot, currency).await?;
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
        quantity: Quantity::at(quantity, &lot.unit),
        schedule_id: schedule.id,
        method: schedule.method.clone(),
        warehouse_id: warehouse,
        storage_rate_per_unit_day: rate.map(|r| r.normalize()),
        days: schedule.days,
        percent: schedule.percent,
        sale_value: Money::at(sale_value, currency),
        base: fee.base.normalize(),
        minimum_fee: at_minor_unit(minimum, currency),
        minimum_applied: fee.minimum_applied,
        charge: fee.base.max(minimum).normalize(),
    })
}

/// The schedule's method for this lot: for the storage-days method, the warehouse's storage
/// rate for the commodity (which must exist, in the sale currency) is also answered.
async fn fee_method(
    conn: &mut AsyncPgConnection,
    schedule: &FeeSchedule,
    warehouse: Option<Uuid>,
    lot: &LotRow,
    currency: &str,
) -> ApiResult<(FeeMethod, Option<Decimal>)> {
    Ok(match schedule.method.as_str() {
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
    })
}

/// The fee of a whole sale: every line's charge, summed, × the tier factor, rounded once.
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
        fee: Money::held(fee),
        currency: currency.to_owned(),
    }
}

/// What releasing `quantity` of a lot the caller may see, sold at `unit_price` in `currency`,
/// would cost its owner. The currency defaults to the storage rate's, else CNY.
pub async fn quote(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: QuoteQuery,
) -> ApiResult<FeeBreakdown> {
    let lot = lots::find_visible(conn, Viewer::of(principal), query.lot_id)
        .await?
        .ok_or_else(lot_not_found)?;
    let qty = quantity("quantity", query.quantity.value(), &lot.unit)?;
    if qty > lot.quantity_on_hand {
        return Err(ApiError::conflict(
            "quantity_not_on_hand",
            "more than the lot holds: a fee is quoted for goods that can leave",
        )
        .with("field", "quantity")
        .with(
            "quantity_on_hand",
            crate::domain::quantity::Quantity::at(lot.quantity_on_hand, &lot.unit),
        ));
    }
    let currency = match &query.currency {
        Some(c) => validate::currency("currency", c)?,
        None => match leaving_from(conn, &lot).await? {
            Some(w) => reference::storage_rate(conn, w, &lot.commodity_code)
                .await?
                .map(|r| r.currency)
                .unwrap_or_else(|| "CNY".to_owned()),
            None => "CNY".to_owned(),
        },
    };
    let value = match query.unit_price {
        Some(price) => {
            let price = validate::unit_price("unit_price", price.value(), 6)?;
            round_half_even(
                validate::product("unit_price", qty, price)?,
                minor_units(&currency),
            )
        }
        None => Decimal::ZERO,
    };
    let line = line_fee(conn, &lot, qty, value, &currency).await?;
    if line.method == PERCENT_OF_VALUE && query.unit_price.is_none() {
        return Err(ApiError::invalid(
            "unit_price",
            "the fee here is a percent of the sale value: give the unit_price",
        ));
    }
    let tier = crate::tiers::of_org(conn, lot.owner_org_id).await?;
    Ok(total(vec![line], tier, &currency))
}
