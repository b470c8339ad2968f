//! Cold-chain use cases: taking a batch of readings (and finding the breaches in them), and
//! staff acknowledging a breach, optionally downgrading the goods it touched.

use super::model::*;
use super::store::{self, Reading};
use crate::auth::{OrgKind, Principal};
use crate::db::locks::LockOrder;
use crate::domain::cold_chain;
use crate::error::{ApiError, ApiResult};
use crate::integrity::{self, Change, to_json};
use crate::lots::model::LotRow;
use crate::lots::store as lot_store;
use crate::reference::model::WarehouseRow;
use crate::reference::store as reference;
use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde_json::{Value, json};
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

/// A page of the breaches in the warehouses the caller sees, oldest first.
pub async fn breaches(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: BreachQuery,
) -> ApiResult<crate::http::Page<store::Breach>> {
    let (limit, after) = crate::http::PageQuery::bounds(query.limit, query.cursor)?;
    let mut scope = visible_warehouses(conn, principal).await?;
    if let Some(warehouse) = query.warehouse_id {
        scope = Some(match scope {
            Some(own) => own.into_iter().filter(|w| *w == warehouse).collect(),
            None => vec![warehouse],
        });
    }
    let rows = store::list(
        conn,
        scope.as_deref(),
        query.open.unwrap_or(false),
        after,
        limit,
    )
    .await?;
    Ok(crate::http::Page::from_rows(rows, limit, |b| b.seq))
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
    // The goods that were in the warehouse while the breach lasted, locked.
    let held: Vec<LotRow> =
        lot_store::lock_in_custody_at(conn, &mut LockOrder::new(), breach.warehouse_id)
            .await?
            .into_iter()
            .filter(|lot| cold_chain::holds(breach.ended_at, lot.warehouse_since))
            .collect();
    let downgraded = match downgrade_to {
        Some(to_grade) => downgrade(conn, principal, &breach, &held, to_grade, comment).await?,
        None => Vec::new(),
    };
    let after = store::acknowledge(conn, id, principal.user_id, comment).await?;
    let still = lot_store::holds(conn, &[breach.warehouse_id]).await?;
    let lifted: Vec<&LotRow> = held.iter().filter(|lot| !still.hold(lot)).collect();
    let outcome = Acknowledged {
        breach: after,
        downgraded,
        holds_lifted: lifted.iter().map(|lot| lot.id).collect(),
    };
    tell_lenders(conn, principal, &outcome, &lifted).await?;
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

/// Each lender whose loan has goods this acknowledgement took off hold is told, once per loan:
/// which lots, the staff's comment and any downgrade (the supplier too).
async fn tell_lenders(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    outcome: &Acknowledged,
    lifted: &[&LotRow],
) -> ApiResult<()> {
    let ids: Vec<Uuid> = lifted.iter().map(|lot| lot.id).collect();
    let pledges = lot_store::live_pledges_on(conn, &ids).await?;
    let mut loans: BTreeMap<Uuid, (Uuid, Uuid, Vec<Value>)> = BTreeMap::new();
    for (loan, lender, supplier, lot_id) in pledges {
        let lot = lifted.iter().find(|l| l.id == lot_id);
        let entry = loans
            .entry(loan)
            .or_insert_with(|| (lender, supplier, Vec::new()));
        entry.2.push(json!({
            "lot_id": lot_id,
            "code": lot.map(|l| l.code.as_str()),
            "downgraded": outcome.downgraded.iter().find(|d| d.lot_id == lot_id),
        }));
    }
    for (loan, (lender, supplier, lots)) in loans {
        integrity::record(
            conn,
            Some(principal),
            Change {
                action: "loan.collateral_hold_lifted",
                object_kind: "loan",
                object_id: loan.to_string(),
                org_ids: vec![lender, supplier],
                before: None,
                after: Some(json!({
                    "loan_id": loan,
                    "breach_id": outcome.breach.id,
                    "warehouse_id": outcome.breach.warehouse_id,
                    "comment": outcome.breach.comment,
                    "lifted_at": outcome.breach.acknowledged_at,
                    "lifted_by": outcome.breach.acknowledged_by,
                    "lots": lots,
                })),
            },
        )
        .await?;
    }
    Ok(())
}

/// Downgrade the goods held by the breach (`held`, locked) to `to_grade`, where their
/// commodity has that grade and it is lower than theirs.
async fn downgrade(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    breach: &Breach,
    held: &[LotRow],
    to_grade: &str,
    reason: &str,
) -> ApiResult<Vec<Downgrade>> {
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
        lot_store::record_regrade(conn, lot, principal.user_id, reason, details).await?;
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
