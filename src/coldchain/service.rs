//! Cold-chain use cases: taking a batch of readings (and finding the breaches in them), and
//! staff acknowledging a breach, optionally downgrading the goods it touched.

use super::model::*;
use super::store::{self, Reading};
use crate::auth::{OrgKind, Principal};
use crate::db::locks::LockOrder;
use crate::domain::states::MovementKind;
use crate::error::{ApiError, ApiResult};
use crate::integrity::{self, Change, to_json};
use crate::lots::store::{self as lot_store, MovementChange};
use crate::reference::model::WarehouseRow;
use crate::reference::store as reference;
use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// A batch's readings checked at the edge: 1 to [`MAX_BATCH`], sensor ids trimmed, readings
/// within -100 to 100 °C (kept to 0.01 °C) and not more than five minutes ahead of `now`.
pub fn check_readings(batch: &[ReadingIn], now: DateTime<Utc>) -> ApiResult<Vec<Reading>> {
    if batch.is_empty() || batch.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            "readings",
            format!("send 1 to {MAX_BATCH} readings"),
        ));
    }
    let latest_allowed = now + Duration::minutes(5);
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
        if reading.celsius.value() < Decimal::from(-100)
            || reading.celsius.value() > Decimal::from(100)
        {
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
            celsius: reading.celsius.value().round_dp(2),
        });
    }
    Ok(parsed)
}

/// Store checked readings from the caller's warehouses and recompute each sensor's breaches
/// from its earliest new reading on; new breaches go into the audit log.
pub async fn record_readings(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    parsed: Vec<Reading>,
) -> ApiResult<ReadingsAccepted> {
    let warehouses = own_warehouses(conn, principal, &parsed).await?;
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
        let range = (warehouse.temperature_min_c, warehouse.temperature_max_c);
        touched.extend(store::recompute(conn, warehouse_id, &sensor, from, range, grace).await?);
    }
    for (breach, _) in touched.iter().filter(|(_, new)| *new) {
        integrity::record(
            conn,
            Some(principal),
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
    Ok(ReadingsAccepted {
        accepted,
        duplicates: parsed.len() - accepted,
        breaches: touched.into_iter().map(|(breach, _)| breach).collect(),
    })
}

/// Every warehouse a reading names, each one the caller operates (else 404 naming the field).
async fn own_warehouses(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    readings: &[Reading],
) -> ApiResult<BTreeMap<Uuid, WarehouseRow>> {
    let mut warehouses = BTreeMap::new();
    for (index, reading) in readings.iter().enumerate() {
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
    Ok(warehouses)
}

/// The warehouses whose breaches the caller sees: all for the platform (`None`), its own for
/// an operator.
pub async fn visible_warehouses(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
) -> ApiResult<Option<Vec<Uuid>>> {
    match principal.kind {
        OrgKind::Platform => Ok(None),
        _ => Ok(Some(reference::operated_by(conn, principal.org_id).await?)),
    }
}

/// The acknowledgement's comment and the grade to downgrade to, trimmed and bounded.
pub fn check_acknowledgement(body: &Acknowledgement) -> ApiResult<(String, Option<String>)> {
    let comment = crate::http::validate::text("comment", &body.comment, 2000)?;
    let downgrade_to = match &body.grade_downgrade {
        Some(grade) => Some(crate::http::validate::text("grade_downgrade", grade, 16)?),
        None => None,
    };
    Ok((comment, downgrade_to))
}

/// Acknowledge an open breach in one of the caller's warehouses, downgrading the goods there
/// when asked.
pub async fn acknowledge(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    comment: &str,
    downgrade_to: Option<&str>,
) -> ApiResult<Acknowledged> {
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
    let downgraded = match downgrade_to {
        Some(to_grade) => downgrade(conn, principal, &breach, to_grade, comment).await?,
        None => Vec::new(),
    };
    let after = store::acknowledge(conn, id, principal.user_id, comment).await?;
    let outcome = Acknowledged {
        breach: after,
        downgraded,
    };
    integrity::record(
        conn,
        Some(principal),
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
}

/// Downgrade the goods in custody at the breach's warehouse to `to_grade`, where their
/// commodity has that grade and it is lower than theirs.
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
