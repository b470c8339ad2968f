//! Handlers for commodities, warehouses and voyages.

use super::model::*;
use super::store;
use crate::auth::{OrgKind, Principal};
use crate::db::locks::LockOrder;
use crate::domain::states::VoyageStatus;
use crate::error::{ApiError, ApiResult};
use crate::http::ValidJson;
use crate::http::validate;
use crate::integrity::{self, Change};
use crate::orgs::store as org_store;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use diesel_async::AsyncConnection;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

fn to_json(value: &impl serde::Serialize) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

/// Register a commodity with its grades, shelf life and temperature range.
#[utoipa::path(post, path = "/v1/commodities", tag = "reference", request_body = NewCommodity,
    responses((status = 201, body = Commodity), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_commodity(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewCommodity>,
) -> ApiResult<HttpResponse> {
    let new = &body.value;
    let code = new.code.trim().to_owned();
    if code.len() < 2
        || code.len() > 32
        || !code.starts_with(|c: char| c.is_ascii_uppercase())
        || !code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(ApiError::invalid(
            "code",
            "a commodity code is 2 to 32 upper-case letters, digits or `_`, starting with a letter",
        ));
    }
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
    let end_factor = new.end_freshness_factor.unwrap_or(Decimal::new(5, 1));
    if end_factor < Decimal::ZERO || end_factor > Decimal::ONE {
        return Err(ApiError::invalid(
            "end_freshness_factor",
            "end_freshness_factor must be 0 to 1",
        ));
    }
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
    check_range(new.temperature_min_c, new.temperature_max_c)?;
    let mut conn = state.pool.get().await?;
    let row = conn
        .transaction::<_, ApiError, _>(async |conn| {
            if store::find_commodity(conn, &code).await?.is_some() {
                return Err(ApiError::conflict(
                    "commodity_exists",
                    "a commodity with this code exists",
                )
                .with("field", "code"));
            }
            let row = store::insert_commodity(
                conn,
                store::CommodityValues {
                    code: &code,
                    name: &name,
                    unit: new.unit.as_str(),
                    shelf_life_days: new.shelf_life_days,
                    fresh_days: new.fresh_days,
                    end_freshness_factor: end_factor,
                    grades: serde_json::Value::Object(grades),
                    temperature_min_c: new.temperature_min_c,
                    temperature_max_c: new.temperature_max_c,
                },
            )
            .await?;
            let commodity = Commodity::from(row.clone());
            integrity::record(
                conn,
                Some(&principal),
                Change {
                    action: "commodity.created",
                    object_kind: "commodity",
                    object_id: code.clone(),
                    org_ids: vec![principal.org_id],
                    before: None,
                    after: Some(to_json(&commodity)?),
                },
            )
            .await?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(Commodity::from(row)))
}

fn check_range(min: Option<Decimal>, max: Option<Decimal>) -> ApiResult<()> {
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

/// Every commodity.
#[utoipa::path(get, path = "/v1/commodities", tag = "reference",
    responses((status = 200, body = Vec<Commodity>)), security(("bearer" = [])))]
pub async fn list_commodities(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let rows = store::list_commodities(&mut conn).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"items": rows.into_iter().map(Commodity::from).collect::<Vec<_>>()})))
}

/// Register a warehouse, its operator and its storage rates.
#[utoipa::path(post, path = "/v1/warehouses", tag = "reference", request_body = NewWarehouse,
    responses((status = 201, body = Warehouse), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_warehouse(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewWarehouse>,
) -> ApiResult<HttpResponse> {
    let new = &body.value;
    let name = validate::text("name", &new.name, 200)?;
    let address = validate::text("address", &new.address, 500)?;
    check_range(new.temperature_min_c, new.temperature_max_c)?;
    let grace = new.breach_grace_minutes.unwrap_or(30);
    if !(0..=10_080).contains(&grace) {
        return Err(ApiError::invalid(
            "breach_grace_minutes",
            "breach_grace_minutes must be 0 to 10080",
        ));
    }
    let kind = match new.kind {
        WarehouseKind::ColdStorage => "cold_storage",
        WarehouseKind::Ambient => "ambient",
    };
    for (index, rate) in new.storage_rates.iter().enumerate() {
        if rate.rate_per_unit_day <= Decimal::ZERO {
            return Err(ApiError::invalid(
                &format!("storage_rates[{index}].rate_per_unit_day"),
                "a storage rate is above zero",
            ));
        }
        validate::currency(&format!("storage_rates[{index}].currency"), &rate.currency)?;
    }
    let mut conn = state.pool.get().await?;
    let warehouse = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let operator = org_store::find_org(conn, new.operator_org_id).await?;
            if operator.is_none_or(|org| org.kind != OrgKind::WarehouseOperator.as_str()) {
                return Err(ApiError::invalid(
                    "operator_org_id",
                    "the operator must be an existing warehouse_operator organisation",
                ));
            }
            let row = store::insert_warehouse(
                conn,
                store::WarehouseValues {
                    name: &name,
                    operator_org_id: new.operator_org_id,
                    address: &address,
                    kind,
                    temperature_min_c: new.temperature_min_c,
                    temperature_max_c: new.temperature_max_c,
                    breach_grace_minutes: grace,
                },
            )
            .await?;
            for (index, rate) in new.storage_rates.iter().enumerate() {
                if store::find_commodity(conn, &rate.commodity_code)
                    .await?
                    .is_none()
                {
                    return Err(ApiError::invalid(
                        &format!("storage_rates[{index}].commodity_code"),
                        "no such commodity",
                    ));
                }
                store::insert_storage_rate(conn, row.id, rate)
                    .await
                    .map_err(|e| match e {
                        diesel::result::Error::DatabaseError(
                            diesel::result::DatabaseErrorKind::UniqueViolation,
                            _,
                        ) => ApiError::invalid(
                            &format!("storage_rates[{index}].commodity_code"),
                            "one rate per commodity",
                        ),
                        other => other.into(),
                    })?;
            }
            let rates = store::rates_of(conn, row.id).await?;
            let warehouse = Warehouse::from_row(row, rates);
            integrity::record(
                conn,
                Some(&principal),
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
        })
        .await?;
    Ok(HttpResponse::Created().json(warehouse))
}

/// Every warehouse, with its storage rates.
#[utoipa::path(get, path = "/v1/warehouses", tag = "reference",
    responses((status = 200, body = Vec<Warehouse>)), security(("bearer" = [])))]
pub async fn list_warehouses(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let rows = store::list_warehouses(&mut conn).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let rates = store::rates_of(&mut conn, row.id).await?;
        items.push(Warehouse::from_row(row, rates));
    }
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

/// One warehouse.
#[utoipa::path(get, path = "/v1/warehouses/{id}", tag = "reference",
    responses((status = 200, body = Warehouse), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_warehouse(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let row = store::find_warehouse(&mut conn, *id)
        .await?
        .ok_or_else(|| ApiError::not_found("warehouse_not_found", "no such warehouse"))?;
    let rates = store::rates_of(&mut conn, row.id).await?;
    Ok(HttpResponse::Ok().json(Warehouse::from_row(row, rates)))
}

/// Register a voyage: a vessel of a carrier taking goods from origin to destination.
#[utoipa::path(post, path = "/v1/voyages", tag = "reference", request_body = NewVoyage,
    responses((status = 201, body = Voyage), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn create_voyage(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewVoyage>,
) -> ApiResult<HttpResponse> {
    let new = &body.value;
    let vessel = validate::text("vessel_name", &new.vessel_name, 200)?;
    let origin = validate::text("origin", &new.origin, 200)?;
    let destination = validate::text("destination", &new.destination, 200)?;
    if new.eta <= new.departs_at {
        return Err(ApiError::invalid("eta", "eta must be after departs_at"));
    }
    let mut conn = state.pool.get().await?;
    let voyage = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let carrier = org_store::find_org(conn, new.carrier_org_id).await?;
            if carrier.is_none_or(|org| org.kind != OrgKind::WarehouseOperator.as_str()) {
                return Err(ApiError::invalid(
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
                    vessel_name: &vessel,
                    carrier_org_id: new.carrier_org_id,
                    origin: &origin,
                    destination: &destination,
                    destination_warehouse_id: new.destination_warehouse_id,
                    departs_at: new.departs_at,
                    eta: new.eta,
                },
            )
            .await?;
            integrity::record(
                conn,
                Some(&principal),
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
        })
        .await?;
    Ok(HttpResponse::Created().json(voyage))
}

/// The platform and the carrier see a voyage; others see it when their lots are aboard
/// (through the lot), not here.
fn may_see_voyage(principal: &Principal, voyage: &Voyage) -> bool {
    principal.is_platform() || principal.org_id == voyage.carrier_org_id
}

/// One voyage.
#[utoipa::path(get, path = "/v1/voyages/{id}", tag = "reference",
    responses((status = 200, body = Voyage), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get_voyage(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let voyage = store::find_voyage(&mut conn, *id)
        .await?
        .filter(|v| may_see_voyage(&principal, v))
        .ok_or_else(voyage_not_found)?;
    Ok(HttpResponse::Ok().json(voyage))
}

fn voyage_not_found() -> ApiError {
    ApiError::not_found("voyage_not_found", "no such voyage")
}

async fn move_voyage(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    from: VoyageStatus,
    to: VoyageStatus,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let voyage = conn
        .transaction::<_, ApiError, _>(async |conn| {
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
        })
        .await?;
    Ok(HttpResponse::Ok().json(voyage))
}

/// The vessel has left: `planned` → `underway`.
#[utoipa::path(post, path = "/v1/voyages/{id}/depart", tag = "reference",
    responses((status = 200, body = Voyage), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn depart_voyage(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    move_voyage(
        &state,
        &principal,
        *id,
        VoyageStatus::Planned,
        VoyageStatus::Underway,
    )
    .await
}

/// The vessel has arrived: `underway` → `arrived`; its goods may now be unloaded.
#[utoipa::path(post, path = "/v1/voyages/{id}/arrive", tag = "reference",
    responses((status = 200, body = Voyage), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn arrive_voyage(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    move_voyage(
        &state,
        &principal,
        *id,
        VoyageStatus::Underway,
        VoyageStatus::Arrived,
    )
    .await
}
