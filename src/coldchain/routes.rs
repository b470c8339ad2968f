//! Handlers for temperature readings and breaches.

use super::store::{self, Breach, Reading};
use crate::auth::{OrgKind, Principal};
use crate::db::locks::LockOrder;
use crate::domain::states::MovementKind;
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, PageQuery, ValidJson};
use crate::integrity::to_json;
use crate::integrity::{self, Change};
use crate::lots::store::{self as lot_store, MovementChange};
use crate::reference::store as reference;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The most readings one batch may carry.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingIn {
    pub warehouse_id: Uuid,
    pub sensor_id: String,
    pub recorded_at: DateTime<Utc>,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub celsius: Decimal,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingBatch {
    /// 1 to 1,000 readings, in any order; repeats are ignored.
    pub readings: Vec<ReadingIn>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadingsAccepted {
    /// New readings stored.
    pub accepted: usize,
    /// Readings already stored before (same warehouse, sensor and time).
    pub duplicates: usize,
    /// The breaches these readings opened, extended or ended.
    pub breaches: Vec<Breach>,
}

/// Record a batch of temperature readings from the caller's warehouses. Breaches are found
/// (or revised) at once.
#[utoipa::path(post, path = "/v1/temperature-readings", tag = "cold chain", request_body = ReadingBatch,
    responses((status = 200, body = ReadingsAccepted), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn record_readings(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<ReadingBatch>,
) -> ApiResult<HttpResponse> {
    let batch = &body.value.readings;
    if batch.is_empty() || batch.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "readings",
            format!("send 1 to {MAX_BATCH} readings"),
        ));
    }
    let latest_allowed = Utc::now() + Duration::minutes(5);
    let mut parsed = Vec::with_capacity(batch.len());
    for (index, reading) in batch.iter().enumerate() {
        let field = |name: &str| format!("readings[{index}].{name}");
        let sensor = reading.sensor_id.trim();
        if sensor.is_empty() || sensor.len() > 64 {
            return Err(ApiError::invalid(
                &field("sensor_id"),
                "a sensor id is 1 to 64 characters",
            ));
        }
        if reading.celsius < Decimal::from(-100) || reading.celsius > Decimal::from(100) {
            return Err(ApiError::invalid(
                &field("celsius"),
                "a reading is -100 to 100 °C",
            ));
        }
        if reading.recorded_at > latest_allowed {
            return Err(ApiError::invalid(
                &field("recorded_at"),
                "a reading cannot come from the future",
            ));
        }
        parsed.push(Reading {
            warehouse_id: reading.warehouse_id,
            sensor_id: sensor.to_owned(),
            recorded_at: reading.recorded_at,
            celsius: reading.celsius.round_dp(2),
        });
    }
    let mut conn = state.pool.get().await?;
    let outcome = conn
        .transaction::<_, ApiError, _>(async |conn| {
            // Every warehouse named must be one the caller operates.
            let mut warehouses = BTreeMap::new();
            for (index, reading) in parsed.iter().enumerate() {
                if warehouses.contains_key(&reading.warehouse_id) {
                    continue;
                }
                let warehouse = reference::find_warehouse(conn, reading.warehouse_id)
                    .await?
                    .filter(|w| w.operator_org_id == principal.org_id)
                    .ok_or_else(|| {
                        ApiError::not_found("warehouse_not_found", "no such warehouse among yours")
                            .with("field", format!("readings[{index}].warehouse_id"))
                    })?;
                warehouses.insert(reading.warehouse_id, warehouse);
            }
            let accepted = store::insert_readings(conn, &parsed).await?;
            // The earliest reading per sensor bounds what must be recomputed.
            let mut earliest: BTreeMap<(Uuid, String), DateTime<Utc>> = BTreeMap::new();
            for reading in &parsed {
                let entry = earliest
                    .entry((reading.warehouse_id, reading.sensor_id.clone()))
                    .or_insert(reading.recorded_at);
                *entry = (*entry).min(reading.recorded_at);
            }
            let mut touched = Vec::new();
            for ((warehouse_id, sensor), from) in earliest {
                let warehouse = &warehouses[&warehouse_id];
                let grace = Duration::minutes(i64::from(warehouse.breach_grace_minutes));
                let breaches = store::recompute(
                    conn,
                    warehouse_id,
                    &sensor,
                    from,
                    warehouse.temperature_min_c,
                    warehouse.temperature_max_c,
                    grace,
                )
                .await?;
                touched.extend(breaches);
            }
            for (breach, _) in touched.iter().filter(|(_, new)| *new) {
                integrity::record(
                    conn,
                    Some(&principal),
                    Change {
                        action: "breach.detected",
                        object_kind: "breach",
                        object_id: breach.id.to_string(),
                        org_ids: vec![principal.org_id],
                        before: None,
                        after: Some(to_json(breach)?),
                    },
                )
                .await?;
            }
            let breaches = touched.into_iter().map(|(breach, _)| breach).collect();
            Ok(ReadingsAccepted {
                accepted,
                duplicates: parsed.len() - accepted,
                breaches,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(outcome))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BreachQuery {
    pub warehouse_id: Option<Uuid>,
    /// Only breaches not yet acknowledged.
    pub open: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The warehouses whose breaches the caller sees: all for the platform, its own for an operator.
async fn visible_warehouses(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
) -> ApiResult<Option<Vec<Uuid>>> {
    match principal.kind {
        OrgKind::Platform => Ok(None),
        _ => Ok(Some(reference::operated_by(conn, principal.org_id).await?)),
    }
}

/// Temperature breaches, oldest first.
#[utoipa::path(get, path = "/v1/breaches", tag = "cold chain", params(BreachQuery),
    responses((status = 200, body = Page<Breach>)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<BreachQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let mut conn = state.pool.get().await?;
    let mut scope = visible_warehouses(&mut conn, &principal).await?;
    if let Some(warehouse) = query.warehouse_id {
        scope = Some(match scope {
            Some(own) => own.into_iter().filter(|w| *w == warehouse).collect(),
            None => vec![warehouse],
        });
    }
    let rows = store::list(
        &mut conn,
        scope.as_deref(),
        query.open.unwrap_or(false),
        after,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |b| b.seq)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// What was found and done.
    pub comment: String,
    /// A grade to downgrade the goods in the warehouse to, where their commodity has it and
    /// it is lower than their grade now.
    #[serde(default)]
    pub grade_downgrade: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Downgrade {
    pub lot_id: Uuid,
    pub code: String,
    pub from_grade: String,
    pub to_grade: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Acknowledged {
    pub breach: Breach,
    pub downgraded: Vec<Downgrade>,
}

/// Acknowledge a breach with a comment, optionally downgrading the goods. Lots in the
/// warehouse come off quality hold once no breach there is unacknowledged.
#[utoipa::path(post, path = "/v1/breaches/{id}/acknowledge", tag = "cold chain", request_body = Acknowledgement,
    responses((status = 200, body = Acknowledged), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn acknowledge(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<Acknowledgement>,
) -> ApiResult<HttpResponse> {
    let comment = crate::http::validate::text("comment", &body.comment, 2000)?;
    let downgrade_to = match &body.grade_downgrade {
        Some(grade) => Some(crate::http::validate::text("grade_downgrade", grade, 16)?),
        None => None,
    };
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let outcome = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let own = reference::operated_by(conn, principal.org_id).await?;
            let breach = store::lock(conn, id)
                .await?
                .filter(|b| own.contains(&b.warehouse_id))
                .ok_or_else(|| ApiError::not_found("breach_not_found", "no such breach"))?;
            if breach.acknowledged_at.is_some() {
                return Err(ApiError::conflict(
                    "breach_acknowledged",
                    "this breach was already acknowledged",
                ));
            }
            let mut downgraded = Vec::new();
            if let Some(to_grade) = &downgrade_to {
                downgraded = downgrade(conn, &principal, &breach, to_grade, &comment).await?;
            }
            let after = store::acknowledge(conn, id, principal.user_id, &comment).await?;
            let outcome = Acknowledged {
                breach: after,
                downgraded,
            };
            integrity::record(
                conn,
                Some(&principal),
                Change {
                    action: "breach.acknowledged",
                    object_kind: "breach",
                    object_id: id.to_string(),
                    org_ids: vec![principal.org_id],
                    before: Some(to_json(&breach)?),
                    after: Some(to_json(&outcome)?),
                },
            )
            .await?;
            Ok(outcome)
        })
        .await?;
    Ok(HttpResponse::Ok().json(outcome))
}

async fn downgrade(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    breach: &Breach,
    to_grade: &str,
    reason: &str,
) -> ApiResult<Vec<Downgrade>> {
    let held =
        lot_store::lock_in_custody_at(conn, &mut LockOrder::new(), breach.warehouse_id).await?;
    let mut done = Vec::new();
    let mut grade_exists = held.is_empty();
    for lot in held {
        let commodity = reference::find_commodity(conn, &lot.commodity_code)
            .await?
            .ok_or_else(|| ApiError::internal("lot without commodity"))?;
        let (Some(target), Some(current)) = (
            commodity.grade_factor(to_grade),
            commodity.grade_factor(&lot.grade),
        ) else {
            continue;
        };
        grade_exists = true;
        if target >= current {
            continue;
        }
        lot_store::set_grade(conn, lot.id, to_grade).await?;
        let details =
            json!({"from_grade": lot.grade, "to_grade": to_grade, "breach_id": breach.id});
        let regrade = MovementChange {
            reason: Some(reason),
            details,
            ..MovementChange::of(
                &lot,
                MovementKind::Regrade,
                lot.status,
                Some(principal.user_id),
            )
        };
        lot_store::record_movement(conn, regrade).await?;
        done.push(Downgrade {
            lot_id: lot.id,
            code: lot.code.clone(),
            from_grade: lot.grade.clone(),
            to_grade: to_grade.to_owned(),
        });
    }
    if !grade_exists {
        return Err(ApiError::invalid(
            "grade_downgrade",
            format!("no goods in this warehouse have a grade `{to_grade}`"),
        ));
    }
    Ok(done)
}
