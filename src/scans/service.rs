//! One scan of a lot: read the code (a lot code or a GS1-128 string), lock the lot, ask the
//! custody state machine (`domain::custody`) whether the action applies, then do it: receive,
//! load, unload, transfer, count or release. Every change is one movement, written through
//! `lots::store::record_movement` from `MovementChange::of`, and one audit event.
//!
//! Only staff of the warehouse holding the lot (or the carrier of its voyage) may scan it;
//! goods leave only against a release order.

use super::model::{ScanRequest, ScanResult};
use super::store::{self, StockCount};
use crate::auth::Principal;
use crate::calendar::business_date;
use crate::db::locks::LockOrder;
use crate::domain::custody::{self, Refusal, Step};
use crate::domain::gs1::{self, Gs1Scan};
use crate::domain::lot_code::LotCode;
use crate::domain::quantity::Quantity;
use crate::domain::quantity::Unit;
use crate::domain::states::{LotStatus, ScanAction, VoyageStatus};
use crate::domain::valuation;
use crate::error::{ApiError, ApiResult};
use crate::http::validate::quantity as parse_quantity;
use crate::incidents::model::Incident;
use crate::incidents::service as incidents;
use crate::integrity::{self, Change, to_json};
use crate::lots::model::{Lot, LotRow, Movement, lot_not_found};
use crate::lots::service::present;
use crate::lots::store::{self as lots, MovementChange, Receipt, Viewer};
use crate::reference::model::Voyage;
use crate::reference::service as reference_service;
use crate::reference::store as reference;
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

/// What the scanned text named.
pub struct Scanned {
    code: LotCode,
    gs1: Option<Gs1Scan>,
}

impl Scanned {
    /// The lot code the scan names.
    pub fn lot_code(&self) -> &str {
        self.code.as_str()
    }
}

/// Reads a scanned code: a GS1-128 element string (whose (10) is the lot code) or a lot code.
/// A malformed scan is a 422 naming the element at fault.
pub fn read_code(text: &str) -> ApiResult<Scanned> {
    if gs1::looks_like_gs1(text) {
        let scan = gs1::parse(text, Utc::now().date_naive())
            .map_err(|e| ApiError::invalid("code", e.to_string()).with("element", &e.element))?;
        let batch = scan.batch.clone().ok_or_else(|| {
            ApiError::invalid(
                "code",
                "the GS1 string has no (10) batch element holding the lot code",
            )
            .with("element", "(10)")
        })?;
        let code = LotCode::parse(&batch).map_err(|e| {
            ApiError::invalid("code", format!("(10) is not a lot code: {e}"))
                .with("element", "(10)")
        })?;
        return Ok(Scanned {
            code,
            gs1: Some(scan),
        });
    }
    let code = LotCode::parse(text).map_err(|e| ApiError::invalid("code", e.to_string()))?;
    Ok(Scanned { code, gs1: None })
}

/// The quantity a scan states: the request's, else a GS1 net weight in the lot's unit.
fn stated_quantity(
    request: &ScanRequest,
    gs1: Option<&Gs1Scan>,
    lot: &LotRow,
) -> ApiResult<Option<Decimal>> {
    let from_weight = match gs1.and_then(|g| g.net_weight_kg) {
        Some(kg) => Some(
            Unit::parse(&lot.unit)
                .and_then(|unit| unit.from_kg(kg))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "code",
                        format!("a net weight cannot count a lot measured in {}", lot.unit),
                    )
                    .with("element", "(310n)")
                })?,
        ),
        None => None,
    };
    let stated = match (request.quantity, from_weight) {
        (Some(given), Some(weight)) if given.value().normalize() != weight.normalize() => {
            return Err(ApiError::invalid(
                "quantity",
                "the quantity disagrees with the GS1 net weight",
            ));
        }
        (Some(given), _) => Some(given.value()),
        (None, weight) => weight,
    };
    stated
        .map(|q| parse_quantity("quantity", q, &lot.unit))
        .transpose()
}

/// Asks the state machine; a refusal is a 409 naming the lot's status.
fn allowed(lot: &LotRow, action: ScanAction, announced_aboard: bool) -> ApiResult<Step> {
    custody::scan(lot.status, action, announced_aboard).map_err(|refusal| match refusal {
        Refusal::NotInThisStatus => ApiError::conflict(
            "lot_status",
            format!("{action} is not allowed for a lot that is {}", lot.status),
        )
        .with("status", lot.status),
        Refusal::CarrierLoadsIt => ApiError::conflict(
            "wrong_action",
            "this lot was announced for a voyage: the carrier loads it",
        )
        .with("status", lot.status),
    })
}

/// A scan as a request sends it (the API's and the scan station's alike): the code read and
/// the reason checked before anything is locked, then the scan in one transaction under its
/// `Idempotency-Key`, its answer stored with it and replayed to a retry.
pub async fn scan_keyed(
    pool: &crate::db::DbPool,
    principal: Principal,
    body_sha256: [u8; 32],
    request: ScanRequest,
    idem: crate::http::idempotency::KeyRequired,
) -> ApiResult<actix_web::HttpResponse> {
    let scanned = read_code(&request.code)?;
    if let Some(reason) = &request.reason {
        crate::http::validate::text("reason", reason, 500)?;
    }
    idem.run(
        pool,
        principal.user_id,
        &body_sha256,
        actix_web::http::StatusCode::OK,
        move |conn| Box::pin(async move { scan(conn, &principal, request, scanned).await }),
    )
    .await
}

/// The scan, for the caller, in its transaction.
pub async fn scan(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    request: ScanRequest,
    scanned: Scanned,
) -> ApiResult<ScanResult> {
    let viewer = Viewer::of(principal);
    let mut order = LockOrder::new();
    let claims = match request.action {
        ScanAction::Count => {
            incidents::lock_claims(conn, &mut order, viewer, scanned.code.as_str()).await?
        }
        _ => incidents::Claims::default(),
    };
    let lot = lots::lock_visible_by_code(conn, &mut order, viewer, scanned.code.as_str())
        .await?
        .ok_or_else(lot_not_found)?;
    let quantity = stated_quantity(&request, scanned.gs1.as_ref(), &lot)?;
    let mut details = json!({});
    if let Some(gs1) = &scanned.gs1 {
        details["gs1"] = gs1_details(gs1);
    }
    let scan = Scan {
        principal,
        lot: &lot,
        request: &request,
        details,
    };
    let mut incident = None;
    let changed = match request.action {
        ScanAction::Receive => receive(conn, scan, quantity).await?,
        ScanAction::Load => load(conn, &mut order, scan, quantity).await?,
        ScanAction::Unload => unload(conn, &mut order, scan).await?,
        ScanAction::Transfer => transfer(conn, scan).await?,
        ScanAction::Count => {
            let (changed, found) = count(conn, (&mut order, &claims), scan, quantity).await?;
            incident = found;
            changed
        }
        ScanAction::Release => release(conn, &mut order, scan, quantity).await?,
    };
    // Every action's last write to the lot is its movement, which answers the row as it is now.
    let (after, movement) = match changed {
        Some((row, movement)) => (row, Some(movement)),
        None => (lot.clone(), None),
    };
    let result = ScanResult {
        action: request.action,
        lot: present(conn, viewer, after).await?,
        movement,
        incident,
    };
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: match request.action {
                ScanAction::Receive => "lot.received",
                ScanAction::Release => "lot.released",
                ScanAction::Count => "lot.counted",
                ScanAction::Load => "lot.loaded",
                ScanAction::Unload => "lot.unloaded",
                ScanAction::Transfer => "lot.transferred",
            },
            object_kind: "lot",
            object_id: lot.id.to_string(),
            org_ids: vec![lot.owner_org_id, principal.org_id],
            before: Some(to_json(&Lot::from_row(lot.clone(), false, false))?),
            after: Some(to_json(&result)?),
        },
    )
    .await?;
    Ok(result)
}

/// One scan being carried out: who, which locked lot, what was asked, what the scanner read.
struct Scan<'a> {
    principal: &'a Principal,
    lot: &'a LotRow,
    request: &'a ScanRequest,
    details: Value,
}

impl<'a> Scan<'a> {
    /// The movement of this scan, as the state machine's `step` says, before the changes
    /// each action adds.
    fn movement(&self, step: Step) -> MovementChange<'a> {
        MovementChange {
            reason: self.request.reason.as_deref(),
            details: self.details.clone(),
            ..MovementChange::of(
                self.lot,
                step.movement,
                step.status_after,
                Some(self.principal.user_id),
            )
        }
    }
}

fn gs1_details(scan: &Gs1Scan) -> Value {
    json!({
        "sscc": scan.sscc,
        "gtin": scan.gtin,
        "production_date": scan.production_date,
        "packaging_date": scan.packaging_date,
        "best_before": scan.best_before,
        "expiry": scan.expiry,
        "net_weight_kg": scan.net_weight_kg.map(|w| w.normalize().to_string()),
    })
}

async fn operates(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    warehouse: Uuid,
) -> ApiResult<bool> {
    Ok(reference::find_warehouse(conn, warehouse)
        .await?
        .is_some_and(|w| w.operator_org_id == principal.org_id))
}

/// The receipt the movement stamps: the storage rate of `warehouse` (none aboard a vessel),
/// when a price exists the market value of `quantity` at deposit, and when an inspection falls
/// due.
async fn receipt(
    conn: &mut AsyncPgConnection,
    lot: &LotRow,
    warehouse: Option<Uuid>,
    quantity: Decimal,
) -> ApiResult<Receipt> {
    let now = Utc::now();
    let facts = reference::intake_facts(conn, warehouse, &lot.commodity_code, now)
        .await?
        .ok_or_else(|| ApiError::internal("lot without commodity"))?;
    let rate = facts.storage_rate(&lot.commodity_code);
    let deposit = match (facts.price_per_unit, facts.price_currency.clone()) {
        (Some(price), Some(currency)) => {
            let freshness = valuation::freshness_factor(
                lot.packed_on,
                now.date_naive(),
                facts.fresh_days,
                facts.shelf_life_days,
                facts.end_freshness_factor,
            );
            let grade = facts.grade_factor(&lot.grade).unwrap_or(Decimal::ZERO);
            let value = valuation::market_value(
                quantity,
                price,
                grade,
                freshness,
                valuation::minor_units(&currency),
            );
            Some((value, currency))
        }
        _ => None,
    };
    // Where the commodity requires inspection, goods never inspected are due on the day
    // they come in.
    let inspection_due_on = if facts.inspection_required && lot.last_inspected_at.is_none() {
        Some(now.date_naive())
    } else {
        lot.inspection_due_on
    };
    Ok(Receipt {
        rate,
        deposit,
        inspection_due_on,
    })
}

fn with_variance(
    mut details: Value,
    (announced, received): (Decimal, Decimal),
    unit: &str,
) -> Value {
    let at = |q: Decimal| json!(Quantity::at(q, unit).to_string());
    details["quantity_announced"] = at(announced);
    details["quantity_received"] = at(received);
    details["variance"] = at(received - announced);
    details
}

async fn receive(
    conn: &mut AsyncPgConnection,
    scan: Scan<'_>,
    quantity: Option<Decimal>,
) -> ApiResult<Option<(LotRow, Movement)>> {
    let lot = scan.lot;
    let step = allowed(lot, ScanAction::Receive, lot.warehouse_id.is_none())?;
    let destination = lot
        .warehouse_id
        .ok_or_else(|| ApiError::internal("a lot announced for a warehouse without one"))?;
    if scan.request.warehouse_id.is_some_and(|w| w != destination) {
        return Err(ApiError::conflict(
            "wrong_warehouse",
            "this lot was announced for another warehouse",
        )
        .with("field", "warehouse_id"));
    }
    let received = quantity.unwrap_or(lot.quantity_announced);
    let stamped = receipt(conn, lot, Some(destination), received).await?;
    let change = MovementChange {
        quantity_change: received,
        warehouse_id: Some(destination),
        receipt: Some(stamped),
        voyage_id: None,
        details: with_variance(
            scan.details.clone(),
            (lot.quantity_announced, received),
            &lot.unit,
        ),
        ..scan.movement(step)
    };
    Ok(Some(lots::record_movement(conn, change).await?))
}

/// The voyage a load names, locked: it must exist and not have sailed.
async fn voyage_to_load(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    request: &ScanRequest,
) -> ApiResult<Voyage> {
    let voyage_id = request
        .voyage_id
        .ok_or_else(|| ApiError::invalid("voyage_id", "loading needs the voyage_id"))?;
    let voyage = reference::lock_voyage(conn, order, voyage_id)
        .await?
        .ok_or_else(|| ApiError::unknown_reference("voyage_id", "no such voyage"))?;
    if voyage.status != VoyageStatus::Planned {
        return Err(ApiError::conflict(
            "voyage_status",
            format!(
                "the voyage is {}; goods are loaded before departure",
                voyage.status
            ),
        )
        .with("status", voyage.status));
    }
    Ok(voyage)
}

async fn load(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    scan: Scan<'_>,
    quantity: Option<Decimal>,
) -> ApiResult<Option<(LotRow, Movement)>> {
    let (lot, principal) = (scan.lot, scan.principal);
    let voyage = voyage_to_load(conn, order, scan.request).await?;
    let step = allowed(lot, ScanAction::Load, lot.voyage_id == Some(voyage.id))?;
    let (change, details, stamped) = if lot.status == LotStatus::Announced {
        // Goods announced straight onto a voyage are received aboard by the carrier.
        if voyage.carrier_org_id != principal.org_id {
            return Err(lot_not_found());
        }
        let received = quantity.unwrap_or(lot.quantity_announced);
        let stamped = receipt(conn, lot, None, received).await?;
        let details = with_variance(
            scan.details.clone(),
            (lot.quantity_announced, received),
            &lot.unit,
        );
        (received, details, Some(stamped))
    } else {
        let at_own_warehouse = match lot.warehouse_id {
            Some(w) => operates(conn, principal, w).await?,
            None => false,
        };
        if !at_own_warehouse && voyage.carrier_org_id != principal.org_id {
            return Err(lot_not_found());
        }
        if quantity.is_some_and(|q| q != lot.quantity_on_hand) {
            return Err(ApiError::conflict(
                "quantity_mismatch",
                "a lot is loaded whole; split it first to load part of it",
            )
            .with(
                "quantity_on_hand",
                Quantity::at(lot.quantity_on_hand, &lot.unit),
            ));
        }
        (Decimal::ZERO, scan.details.clone(), None)
    };
    let change = MovementChange {
        quantity_change: change,
        warehouse_id: None,
        voyage_id: Some(voyage.id),
        details,
        receipt: stamped,
        ..scan.movement(step)
    };
    Ok(Some(lots::record_movement(conn, change).await?))
}

async fn unload(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    scan: Scan<'_>,
) -> ApiResult<Option<(LotRow, Movement)>> {
    let (lot, principal) = (scan.lot, scan.principal);
    let step = allowed(lot, ScanAction::Unload, false)?;
    let voyage_id = lot
        .voyage_id
        .ok_or_else(|| ApiError::internal("in-transit lot without a voyage"))?;
    let voyage = reference::lock_voyage(conn, order, voyage_id)
        .await?
        .ok_or_else(|| ApiError::internal("missing voyage"))?;
    if voyage.status != VoyageStatus::Arrived {
        return Err(ApiError::conflict(
            "voyage_status",
            format!(
                "the voyage is {}; goods are unloaded on arrival",
                voyage.status
            ),
        )
        .with("status", voyage.status));
    }
    let warehouse = scan
        .request
        .warehouse_id
        .or(voyage.destination_warehouse_id)
        .ok_or_else(|| {
            ApiError::invalid(
                "warehouse_id",
                "unloading needs the warehouse_id the goods go into",
            )
        })?;
    if reference::find_warehouse(conn, warehouse).await?.is_none() {
        return Err(ApiError::unknown_reference(
            "warehouse_id",
            "no such warehouse",
        ));
    }
    if !operates(conn, principal, warehouse).await? && voyage.carrier_org_id != principal.org_id {
        return Err(
            ApiError::forbidden("only the carrier or the receiving warehouse unloads")
                .with("field", "warehouse_id"),
        );
    }
    let rate = reference_service::storage_rate_for(conn, warehouse, &lot.commodity_code).await?;
    lots::set_storage_rate(conn, lot.id, Some(&rate)).await?;
    let change = MovementChange {
        warehouse_id: Some(warehouse),
        voyage_id: None,
        ..scan.movement(step)
    };
    Ok(Some(lots::record_movement(conn, change).await?))
}

async fn transfer(
    conn: &mut AsyncPgConnection,
    scan: Scan<'_>,
) -> ApiResult<Option<(LotRow, Movement)>> {
    let lot = scan.lot;
    let step = allowed(lot, ScanAction::Transfer, false)?;
    let destination = scan.request.warehouse_id.ok_or_else(|| {
        ApiError::invalid(
            "warehouse_id",
            "a transfer needs the destination warehouse_id",
        )
    })?;
    if Some(destination) == lot.warehouse_id {
        return Err(ApiError::invalid(
            "warehouse_id",
            "the lot is already in this warehouse",
        ));
    }
    if reference::find_warehouse(conn, destination)
        .await?
        .is_none()
    {
        return Err(ApiError::unknown_reference(
            "warehouse_id",
            "no such warehouse",
        ));
    }
    let rate = reference_service::storage_rate_for(conn, destination, &lot.commodity_code).await?;
    lots::set_storage_rate(conn, lot.id, Some(&rate)).await?;
    let mut details = scan.details.clone();
    details["from_warehouse_id"] = json!(lot.warehouse_id);
    let change = MovementChange {
        warehouse_id: Some(destination),
        voyage_id: None,
        details,
        ..scan.movement(step)
    };
    Ok(Some(lots::record_movement(conn, change).await?))
}

/// A stock count. Goods found missing beyond the lot's free goods come off its commitments
/// (`incidents::service::take_shortage`), and any loss is a custody incident.
async fn count(
    conn: &mut AsyncPgConnection,
    (order, claims): (&mut LockOrder, &incidents::Claims),
    scan: Scan<'_>,
    quantity: Option<Decimal>,
) -> ApiResult<(Option<(LotRow, Movement)>, Option<Incident>)> {
    let lot = scan.lot;
    let step = allowed(lot, ScanAction::Count, false)?;
    let counted = quantity
        .ok_or_else(|| ApiError::invalid("quantity", "a count needs the counted quantity"))?;
    let difference = counted - lot.quantity_on_hand;
    // Every count is kept, clean or not: a supplier's tier counts the clean ones.
    let warehouse = lot
        .warehouse_id
        .ok_or_else(|| ApiError::internal("lot in custody without a warehouse"))?;
    let business_date = business_date(conn).await?;
    store::insert_count(
        conn,
        StockCount {
            lot_id: lot.id,
            owner_org_id: lot.owner_org_id,
            warehouse_id: warehouse,
            quantity_book: lot.quantity_on_hand,
            quantity_counted: counted,
            counted_by: scan.principal.user_id,
            business_date,
        },
    )
    .await?;
    if difference.is_zero() {
        return Ok((None, None));
    }
    let reason = scan.request.reason.as_deref().ok_or_else(|| {
        ApiError::invalid(
            "reason",
            "a count that differs from the book needs a reason",
        )
    })?;
    let effects = if difference < Decimal::ZERO {
        Some(incidents::take_shortage(conn, (order, claims), lot, (counted, business_date)).await?)
    } else {
        None
    };
    let mut details = scan.details.clone();
    details["quantity_book"] = json!(Quantity::at(lot.quantity_on_hand, &lot.unit).to_string());
    details["quantity_counted"] = json!(Quantity::at(counted, &lot.unit).to_string());
    let change = MovementChange {
        quantity_change: difference,
        voyage_id: None,
        reason: Some(reason),
        details,
        ..scan.movement(step)
    };
    let (after, movement) = lots::record_movement(conn, change).await?;
    let incident = match effects {
        Some(effects) => {
            let recorded = incidents::record(
                conn,
                scan.principal,
                (lot, &movement),
                (-difference, business_date),
                reason,
                &effects,
            )
            .await?;
            Some(incidents::as_seen_by(scan.principal, recorded))
        }
        None => None,
    };
    Ok((Some((after, movement)), incident))
}

async fn release(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    scan: Scan<'_>,
    quantity: Option<Decimal>,
) -> ApiResult<Option<(LotRow, Movement)>> {
    let lot = scan.lot;
    let step = allowed(lot, ScanAction::Release, false)?;
    let Some(order_id) = scan.request.release_order_id else {
        // Name the orders that would let the goods out, so the worker can choose one.
        let open: Vec<serde_json::Value> = lots::open_release_orders(conn, lot.id)
            .await?
            .into_iter()
            .map(|o| {
                let left = o.quantity.value() - o.quantity_released.value();
                json!({"id": o.id, "kind": o.kind,
                       "quantity_left": Quantity::at(left, &lot.unit)})
            })
            .collect();
        return Err(ApiError::conflict(
            "release_order_required",
            "goods leave only against a release order",
        )
        .with("field", "release_order_id")
        .with("open_release_orders", open));
    };
    let release_order = lots::lock_release_order(conn, order, order_id)
        .await?
        .filter(|o| o.lot_id == lot.id)
        .ok_or_else(|| {
            ApiError::not_found(
                "release_order_not_found",
                "no such release order for this lot",
            )
        })?;
    if release_order.status != crate::domain::states::ReleaseOrderStatus::Open {
        return Err(ApiError::conflict(
            "release_order_closed",
            format!("the release order is {}", release_order.status),
        )
        .with("status", release_order.status));
    }
    let remaining = release_order.quantity.value() - release_order.quantity_released.value();
    let released = quantity.unwrap_or(remaining);
    if released > remaining || released > lot.quantity_on_hand {
        return Err(ApiError::conflict(
            "quantity_not_authorised",
            "more than the release order still allows",
        )
        .with(
            "quantity_authorised",
            Quantity::at(remaining.min(lot.quantity_on_hand), &lot.unit),
        ));
    }
    if lot.quantity_on_hand - released < lot.quantity_pledged {
        return Err(ApiError::conflict(
            "quantity_pledged",
            "pledged goods leave only through a settled sale or the lender's consent",
        )
        .with(
            "quantity_pledged",
            Quantity::at(lot.quantity_pledged, &lot.unit),
        ));
    }
    // The order's quantity was reserved when it was made; what leaves is no longer reserved.
    lots::add_reserved(conn, lot.id, -released).await?;
    lots::consume_release_order(conn, &release_order, released).await?;
    let change = MovementChange {
        quantity_change: -released,
        status: custody::status_after_release(lot.quantity_on_hand - released),
        voyage_id: None,
        release_order_id: Some(release_order.id),
        ..scan.movement(step)
    };
    Ok(Some(lots::record_movement(conn, change).await?))
}
