//! The demo's inspections: quality rules for apples (inspection required, every 14 days in
//! cold storage) and boards (measured on arrival, not required), every apple lot inspected
//! at intake — the 8 t declared A measured B, with two photos the demo draws — a boards lot
//! inspected on arrival at the Rizhao yard, and one apple lot whose re-inspection is overdue.

use super::{DemoLot, demo_lot, demo_principal, fail};
use crate::auth::Principal;
use crate::db::DbPool;
use crate::domain::inputs::Measurement;
use crate::domain::photo;
use crate::inspections::model::{NewInspection, QualityIn};
use crate::inspections::service;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Sets the rules of both demo commodities.
pub(super) async fn quality_rules(
    conn: &mut AsyncPgConnection,
    admin: &Principal,
) -> anyhow::Result<()> {
    let apples = json!({
        "parameters": [
            {"name": "firmness_kgf", "unit": "kgf", "min": "0", "max": "20"},
            {"name": "brix", "unit": "°Brix", "min": "0", "max": "30"},
            {"name": "defects_pct", "unit": "%", "min": "0", "max": "100"},
            {"name": "size_mm", "unit": "mm", "min": "40", "max": "120"}
        ],
        "grades": [
            {"grade": "A", "ranges": {"firmness_kgf": {"min": "7"}, "brix": {"min": "13"},
                                      "defects_pct": {"max": "3"}, "size_mm": {"min": "80"}}},
            {"grade": "B", "ranges": {"firmness_kgf": {"min": "6"}, "defects_pct": {"max": "8"},
                                      "size_mm": {"min": "70"}}}
        ],
        "inspection_required": true,
        "reinspect_days": 14
    });
    let boards = json!({
        "parameters": [
            {"name": "moisture_pct", "unit": "%", "min": "0", "max": "100"},
            {"name": "thickness_mm", "unit": "mm", "min": "1", "max": "100"},
            {"name": "defects_pct", "unit": "%", "min": "0", "max": "100"}
        ],
        "grades": [
            {"grade": "A", "ranges": {"moisture_pct": {"max": "12"}, "thickness_mm": {"min": "17.5", "max": "18.5"},
                                      "defects_pct": {"max": "2"}}}
        ],
        "inspection_required": false,
        "reinspect_days": null
    });
    for (code, rules) in [("APPLE_FUJI", apples), ("EUCALYPTUS_BOARD", boards)] {
        let rules: QualityIn = serde_json::from_value(rules)?;
        service::set_quality(conn, admin, code, rules)
            .await
            .map_err(fail)?;
    }
    Ok(())
}

/// What the demo's inspectors measure for a grade of each commodity.
fn results(commodity: &str, grade: &str) -> BTreeMap<String, Measurement> {
    let pairs: &[(&str, &str)] = match (commodity, grade) {
        ("APPLE_FUJI", "A") => &[
            ("firmness_kgf", "7.6"),
            ("brix", "14.1"),
            ("defects_pct", "1.8"),
            ("size_mm", "84"),
        ],
        ("APPLE_FUJI", "B") => &[
            ("firmness_kgf", "6.3"),
            ("brix", "13.4"),
            ("defects_pct", "6.5"),
            ("size_mm", "82"),
        ],
        ("APPLE_FUJI", _) => &[
            ("firmness_kgf", "5.1"),
            ("brix", "11.8"),
            ("defects_pct", "14"),
            ("size_mm", "71"),
        ],
        (_, "A") => &[
            ("moisture_pct", "10.8"),
            ("thickness_mm", "18.0"),
            ("defects_pct", "1.2"),
        ],
        _ => &[
            ("moisture_pct", "15.5"),
            ("thickness_mm", "17.2"),
            ("defects_pct", "4.5"),
        ],
    };
    pairs
        .iter()
        .filter_map(|(name, value)| {
            Some((
                (*name).to_owned(),
                Measurement::from(value.parse::<Decimal>().ok()?),
            ))
        })
        .collect()
}

/// The intake inspection of a lot just received, where its commodity has quality rules; a
/// lot measured below what was declared gets two photos of the fruit.
pub(super) async fn at_intake(
    conn: &mut AsyncPgConnection,
    worker: &Principal,
    lot_id: Uuid,
    commodity: &str,
    grade: &str,
) -> anyhow::Result<()> {
    if crate::inspections::store::quality(conn, commodity, None)
        .await?
        .is_none()
    {
        return Ok(());
    }
    let new = NewInspection {
        sample_size: if commodity == "APPLE_FUJI" { 40 } else { 12 },
        results: results(commodity, grade),
        notes: Some(if commodity == "APPLE_FUJI" {
            "40 fruit drawn from 8 bins at intake".to_owned()
        } else {
            "12 boards from 4 bundles, moisture meter and calipers".to_owned()
        }),
        grade_override: None,
    };
    let checked = service::check_inspection(&new).map_err(fail)?;
    let done = service::inspect(conn, worker, lot_id, checked)
        .await
        .map_err(fail)?;
    if done.regraded {
        for cut in [false, true] {
            let png = apple_photo(320, 240, cut);
            let cleaned = service::check_photo(Some("image/png"), &png).map_err(fail)?;
            service::add_photo(conn, worker, done.inspection.id, cleaned)
                .await
                .map_err(fail)?;
        }
    }
    Ok(())
}

/// A picture of an apple on the grading table with a bruise (or, `cut`, halved with browned
/// flesh under the bruise), beside a 10 cm scale: drawn pixel by pixel.
fn apple_photo(width: u32, height: u32, cut: bool) -> Vec<u8> {
    let (w, h) = (width as i64, height as i64);
    let (cx, cy, r) = (w * 45 / 100, h / 2, h * 36 / 100);
    let (bx, by, br) = (cx + r / 3, cy - r / 4, r / 4);
    let mut rgb = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let d2 = (x - cx).pow(2) + (y - cy).pow(2);
            let b2 = (x - bx).pow(2) + (y - by).pow(2);
            let table = [236, 232, 222];
            let pixel = if d2 <= r * r {
                let shade = 255 - (d2 * 60 / (r * r)) as u8;
                if b2 <= br * br {
                    if cut { [150, 105, 60] } else { [120, 60, 40] }
                } else if cut {
                    let core = (x - cx).pow(2) + (y - cy).pow(2) <= (r / 5).pow(2);
                    if core {
                        [200, 180, 120]
                    } else {
                        [250, 240, shade / 2 + 60]
                    }
                } else {
                    [shade, 40, 35]
                }
            } else if (w * 82 / 100..w * 84 / 100).contains(&x) && (h / 8..h * 7 / 8).contains(&y) {
                // The scale: black with a tick every centimetre.
                [30, 30, 30]
            } else if (w * 84 / 100..w * 87 / 100).contains(&x)
                && (h / 8..h * 7 / 8).contains(&y)
                && (y - h / 8) % (h * 3 / 40).max(1) == 0
            {
                [30, 30, 30]
            } else {
                table
            };
            rgb.extend_from_slice(&pixel);
        }
    }
    photo::png_rgb(width, height, &rgb)
}

/// The last step: the inspection company assigned to the cold store, a boards lot inspected
/// on arrival at the Rizhao yard, and the 15 t of B
/// apples last inspected 16 days ago, so their 14-day re-inspection is overdue (as if
/// received then). Runs once.
pub(super) async fn load(pool: &DbPool) -> anyhow::Result<()> {
    use crate::db::schema::{lots, warehouses};
    use diesel::{ExpressionMethods, QueryDsl};
    let mut conn = pool.get().await?;
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let yard: Uuid = warehouses::table
            .filter(warehouses::name.eq("Rizhao Timber Yard"))
            .select(warehouses::id)
            .first(conn)
            .await?;
        let arrived: i64 = lots::table
            .filter(lots::warehouse_id.eq(yard))
            .count()
            .get_result(conn)
            .await?;
        if arrived > 0 {
            return Ok(());
        }
        // The inspection company works in the cold store beside the warehouse's own staff.
        let admin = demo_principal(conn, "owner@platform.demo.holdfast").await?;
        let inspector = demo_principal(conn, "owner@inspector.demo.holdfast").await?;
        let cold_store: Uuid = warehouses::table
            .filter(warehouses::name.eq(super::COLD_STORE))
            .select(warehouses::id)
            .first(conn)
            .await?;
        service::assign(conn, &admin, cold_store, inspector.org_id)
            .await
            .map_err(fail)?;
        let supplier = demo_principal(conn, "owner@supplier.demo.holdfast").await?;
        let today = crate::calendar::business_date(conn).await?;
        demo_lot(
            conn,
            &supplier,
            DemoLot {
                commodity: "EUCALYPTUS_BOARD",
                grade: "A",
                measured: None,
                quantity: Decimal::from(60),
                days_ago: 30,
                warehouse: Some(yard),
                voyage: None,
            },
            today,
        )
        .await?;
        diesel::sql_query(
            "WITH lot AS (SELECT id FROM lots WHERE owner_org_id = $1 AND commodity_code = 'APPLE_FUJI' \
                          AND quantity_announced = 15000 ORDER BY seq LIMIT 1), \
             aged AS (UPDATE inspections SET inspected_at = now() - interval '16 days' \
                      WHERE lot_id IN (SELECT id FROM lot) RETURNING lot_id) \
             UPDATE lots SET last_inspected_at = now() - interval '16 days', \
                    received_at = now() - interval '16 days', warehouse_since = now() - interval '16 days', \
                    inspection_due_on = $2::date - 2 \
             WHERE id IN (SELECT lot_id FROM aged)",
        )
        .bind::<diesel::sql_types::Uuid, _>(supplier.org_id)
        .bind::<diesel::sql_types::Date, _>(today)
        .execute(conn)
        .await?;
        Ok(())
    })
    .await
}
