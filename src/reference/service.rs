//! Reference data use cases: registering commodities, warehouses (with their storage rates)
//! and voyages, and moving a voyage along. Each runs in the caller's transaction and records
//! its change in the audit log.

use super::model::*;
use super::store;
use crate::auth::{OrgKind, Principal};
use crate::db::locks::LockOrder;
use crate::domain::inputs::{Celsius, UnitInterval};
use crate::domain::states::VoyageStatus;
use crate::error::{ApiError, ApiResult};
use crate::http::validate;
use crate::integrity::{self, Change, to_json};
use crate::orgs::store as org_store;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

/// A commodity as checked at the edge: code and name trimmed, defaults applied, grade factors
/// parsed.
pub struct CheckedCommodity {
    code: String,
    name: String,
    end_freshness_factor: Decimal,
    grades: serde_json::Map<String, serde_json::Value>,
}

/// Everything about a new commodity that can be checked without the database.
pub fn check_commodity(new: &NewCommodity) -> ApiResult<CheckedCommodity> {
    let code = validate::commodity_code("code", &new.code)?;
    let name = validate::text("name", &new.name, 200)?;
    if !(1..=3650).contains(&new.shelf_life_days) {
        return Err(ApiError::invalid(
            "shelf_life_days",
            "shelf_life_days must be 1 to 3650",
        ));
    }
    if new.fresh_days < 0 || new.fresh_days > new.shelf_life_days {
        return Err(ApiError::invalid(
            "fresh_days",
            "fresh_days must be 0 to shelf_life_days",
        ));
    }
    let end_freshness_factor = new
        .end_freshness_factor
        .map_or(Decimal::new(5, 1), UnitInterval::value);
    if end_freshness_factor < Decimal::ZERO || end_freshness_factor > Decimal::ONE {
        return Err(ApiError::invalid(
            "end_freshness_factor",
            "end_freshness_factor must be 0 to 1",
        ));
    }
    check_range(
        new.temperature_min_c.map(Celsius::value),
        new.temperature_max_c.map(Celsius::value),
    )?;
    Ok(CheckedCommodity {
        code,
        name,
        end_freshness_factor,
        grades: check_grades(new)?,
    })
}

/// One to twenty grades, each a short name with a factor above 0 and at most 2.
fn check_grades(new: &NewCommodity) -> ApiResult<serde_json::Map<String, serde_json::Value>> {
    if new.grades.is_empty() || new.grades.len() > 20 {
        return Err(ApiError::invalid("grades", "give 1 to 20 grades"));
    }
    let mut grades = serde_json::Map::new();
    for (grade, factor) in &new.grades {
        let field = format!("grades.{grade}");
        if grade.is_empty() || grade.len() > 16 {
            return Err(ApiError::invalid(
                &field,
                "a grade name is 1 to 16 characters",
            ));
        }
        let factor: Decimal = factor.parse().map_err(|_| {
            ApiError::invalid(
                &field,
                "a grade factor is a decimal string such as \"0.85\"",
            )
        })?;
        if factor <= Decimal::ZERO || factor > Decimal::from(2) {
            return Err(ApiError::invalid(
                &field,
                "a grade factor is above 0 and at most 2",
            ));
        }
        grades.insert(grade.clone(), json!(factor.normalize().to_string()));
    }
    Ok(grades)
}

/// A temperature range within -100 to 100 °C, its minimum not above its maximum.
pub fn check_range(min: Option<Decimal>, max: Option<Decimal>) -> ApiResult<()> {
    for (field, value) in [("temperature_min_c", min), ("temperature_max_c", max)] {
        if value.is_some_and(|v| v < Decimal::from(-100) || v > Decimal::from(100)) {
            return Err(ApiError::invalid(field, "a temperature is -100 to 100 °C"));
        }
    }
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        return Err(ApiError::invalid(
            "temperature_max_c",
            "temperature_max_c must not be below temperature_min_c",
        ));
    }
    Ok(())
}

/// Register a commodity; its code must be new.
pub async fn create_commodity(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewCommodity,
) -> ApiResult<Commodity> {
    let checked = check_commodity(new)?;
    if store::find_commodity(conn, &checked.code).await?.is_some() {
        return Err(
            ApiError::conflict("commodity_exists", "a commodity with this code exists")
                .with("field", "code"),
        );
    }
    let row = store::insert_commodity(
        conn,
        store::CommodityValues {
            code: &checked.code,
            name: &checked.name,
            unit: new.unit.as_str(),
            shelf_life_days: new.shelf_life_days,
            fresh_days: new.fresh_days,
            end_freshness_factor: checked.end_freshness_factor,
            grades: serde_json::Value::Object(checked.grades),
            temperature_min_c: new.temperature_min_c.map(Celsius::value),
            temperature_max_c: new.temperature_max_c.map(Celsius::value),
        },
    )
    .await?;
    let commodity = Commodity::from(row);
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "commodity.created",
            object_kind: "commodity",
            object_id: checked.code,
            org_ids: vec![principal.org_id],
            before: None,
            after: Some(to_json(&commodity)?),
        },
    )
    .await?;
    Ok(commodity)
}

/// Everything about a new warehouse that can be checked without the database.
pub fn check_warehouse(new: &NewWarehouse) -> ApiResult<()> {
    validate::text("name", &new.name, 200)?;
    validate::text("address", &new.address, 500)?;
    check_range(
        new.temperature_min_c.map(Celsius::value),
        new.temperature_max_c.map(Celsius::value),
    )?;
    if !(0..=10_080).contains(&new.breach_grace_minutes.unwrap_or(30)) {
        return Err(ApiError::invalid(
            "breach_grace_minutes",
            "breach_grace_minutes must be 0 to 10080",
        ));
    }
    for (index, rate) in new.storage_rates.iter().enumerate() {
        validate::unit_price(
            &format!("storage_rates[{index}].rate_per_unit_day"),
            rate.rate_per_unit_day,
            8,
        )?;
        validate::currency(&format!("storage_rates[{index}].currency"), &rate.currency)?;
    }
    Ok(())
}

/// Register a warehouse run by a warehouse operator, with one storage rate per commodity.
pub async fn create_warehouse(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewWarehouse,
) -> ApiResult<Warehouse> {
    check_warehouse(new)?;
    let operator = org_store::find_org(conn, new.operator_org_id).await?;
    if operator.is_none_or(|org| org.kind != OrgKind::WarehouseOperator.as_str()) {
        return Err(ApiError::unknown_reference(
            "operator_org_id",
            "the operator must be an existing warehouse_operator organisation",
        ));
    }
    let row = store::insert_warehouse(
        conn,
        store::WarehouseValues {
            name: new.name.trim(),
            operator_org_id: new.operator_org_id,
            address: new.address.trim(),
            kind: match new.kind {
                WarehouseKind::ColdStorage => "cold_storage",
                WarehouseKind::Ambient => "ambient",
            },
            temperature_min_c: new.temperature_min_c.map(Celsius::value),
            temperature_max_c: new.temperature_max_c.map(Celsius::value),
            breach_grace_minutes: new.breach_grace_minutes.unwrap_or(30),
        },
    )
    .await?;
    for (index, rate) in new.storage_rates.iter().enumerate() {
        let field = || format!("storage_rates[{index}].commodity_code");
        if store::find_commodity(conn, &rate.commodity_code)
            .await?
            .is_none()
        {
            return Err(ApiError::unknown_reference(&field(), "no such commodity"));
        }
        store::insert_storage_rate(conn, row.id, rate)
            .await
            .map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => ApiError::invalid(&field(), "one rate per commodity"),
                other => other.into(),
            })?;
    }
    let rates = store::rates_of(conn, row.id).await?;
    let warehouse = Warehouse::from_row(row, rates);
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "warehouse.created",
            object_kind: "warehouse",
            object_id: warehouse.id.to_string(),
            org_ids: vec![principal.org_id, warehouse.operator_org_id],
            before: None,
            after: Some(to_json(&warehouse)?),
        },
    )
    .await?;
    Ok(warehouse)
}

/// Everything about a new voyage that can be checked without the database.
pub fn check_voyage(new: &NewVoyage) -> ApiResult<()> {
    validate::text("vessel_name", &new.vessel_name, 200)?;
    validate::text("origin", &new.origin, 200)?;
    validate::text("destination", &new.destination, 200)?;
    if new.eta <= new.departs_at {
        return Err(ApiError::invalid("eta", "eta must be after departs_at"));
    }
    Ok(())
}

/// Register a voyage of a carrier (a warehouse operator), optionally bound for a warehouse.
pub async fn create_voyage(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewVoyage,
) -> ApiResult<Voyage> {
    check_voyage(new)?;
    let carrier = org_store::find_org(conn, new.carrier_org_id).await?;
    if carrier.is_none_or(|org| org.kind != OrgKind::WarehouseOperator.as_str()) {
        return Err(ApiError::unknown_reference(
            "carrier_org_id",
            "the carrier must be an existing warehouse_operator organisation",
        ));
    }
    if let Some(warehouse) = new.destination_warehouse_id
        && store::find_warehouse(conn, warehouse).await?.is_none()
    {
        return Err(ApiError::invalid(
            "destination_warehouse_id",
            "no such warehouse",
        ));
    }
    let voyage = store::insert_voyage(
        conn,
        store::VoyageValues {
            vessel_name: new.vessel_name.trim(),
            carrier_org_id: new.carrier_org_id,
            origin: new.origin.trim(),
            destination: new.destination.trim(),
            destination_warehouse_id: new.destination_warehouse_id,
            departs_at: new.departs_at,
            eta: new.eta,
        },
    )
    .await?;
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "voyage.created",
            object_kind: "voyage",
            object_id: voyage.id.to_string(),
            org_ids: vec![principal.org_id, voyage.carrier_org_id],
            before: None,
            after: Some(to_json(&voyage)?),
        },
    )
    .await?;
    Ok(voyage)
}

/// The platform and the carrier see a voyage; others see it when their lots are aboard
/// (through the lot), not here.
/// The voyages a query asks for: all for the platform, a carrier's own, or those a supplier's
/// goods are on (`GET /v1/voyages`).
/// Every commodity, by code.
/// Checks and registers a commodity, a warehouse (with its storage rates) or a voyage in a
/// transaction of its own: the API's handlers and the platform's page both call these.
pub async fn register_commodity(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewCommodity,
) -> ApiResult<Commodity> {
    check_commodity(new)?;
    conn.transaction::<_, ApiError, _>(async |conn| create_commodity(conn, principal, new).await)
        .await
}

pub async fn register_warehouse(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewWarehouse,
) -> ApiResult<Warehouse> {
    check_warehouse(new)?;
    conn.transaction::<_, ApiError, _>(async |conn| create_warehouse(conn, principal, new).await)
        .await
}

pub async fn register_voyage(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewVoyage,
) -> ApiResult<Voyage> {
    check_voyage(new)?;
    conn.transaction::<_, ApiError, _>(async |conn| create_voyage(conn, principal, new).await)
        .await
}

pub async fn commodities(conn: &mut AsyncPgConnection) -> ApiResult<Vec<Commodity>> {
    Ok(store::list_commodities(conn)
        .await?
        .into_iter()
        .map(Commodity::from)
        .collect())
}

/// Every warehouse, with its storage rates.
pub async fn warehouses(conn: &mut AsyncPgConnection) -> ApiResult<Vec<Warehouse>> {
    let rows = store::list_warehouses(conn).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let rates = store::rates_of(conn, row.id).await?;
        items.push(Warehouse::from_row(row, rates));
    }
    Ok(items)
}

pub async fn voyages(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: VoyageQuery,
) -> ApiResult<crate::http::Page<Voyage>> {
    let (limit, after) = crate::http::PageQuery::bounds(query.limit, query.cursor)?;
    let scope = match principal.kind {
        OrgKind::Platform => store::VoyageScope::All,
        OrgKind::WarehouseOperator => store::VoyageScope::Carrier(principal.org_id),
        _ => store::VoyageScope::GoodsOf(principal.org_id),
    };
    let offset = after.unwrap_or(0);
    let rows = store::voyages(conn, scope, query.status, offset, limit + 1).await?;
    Ok(crate::http::Page::at_offset(rows, offset, limit))
}

pub fn may_see_voyage(principal: &Principal, voyage: &Voyage) -> bool {
    principal.is_platform() || principal.org_id == voyage.carrier_org_id
}

pub fn voyage_not_found() -> ApiError {
    ApiError::not_found("voyage_not_found", "no such voyage")
}

/// Move a voyage the caller may see from one status to the next (`planned` → `underway` →
/// `arrived`).
pub async fn move_voyage(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    from: VoyageStatus,
    to: VoyageStatus,
) -> ApiResult<Voyage> {
    let before = store::lock_voyage(conn, &mut LockOrder::new(), id)
        .await?
        .filter(|v| may_see_voyage(principal, v))
        .ok_or_else(voyage_not_found)?;
    if before.status != from {
        return Err(ApiError::conflict(
            "voyage_status",
            format!("the voyage is {}, not {from}", before.status),
        )
        .with("status", before.status));
    }
    let after = store::set_voyage_status(conn, id, to).await?;
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: if to == VoyageStatus::Underway {
                "voyage.departed"
            } else {
                "voyage.arrived"
            },
            object_kind: "voyage",
            object_id: id.to_string(),
            org_ids: vec![after.carrier_org_id, principal.org_id],
            before: Some(to_json(&before)?),
            after: Some(to_json(&after)?),
        },
    )
    .await?;
    Ok(after)
}

/// The warehouse's storage rate for the commodity, which goods need before they go into it:
/// their transaction fee is priced from it. Without one: 409 `no_storage_rate`, naming the
/// warehouse and the commodity (the platform adds the rate to the warehouse first).
pub async fn storage_rate_for(
    conn: &mut AsyncPgConnection,
    warehouse: Uuid,
    commodity: &str,
) -> ApiResult<StorageRate> {
    store::storage_rate(conn, warehouse, commodity)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "no_storage_rate",
                format!(
                    "the warehouse has no storage rate for {commodity}, so goods in it could not \
                     be priced or sold; the platform adds one to the warehouse first"
                ),
            )
            .with("field", "warehouse_id")
            .with("warehouse_id", warehouse)
            .with("commodity_code", commodity)
        })
}
