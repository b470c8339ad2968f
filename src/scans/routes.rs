//! `POST /v1/scans`: one scan of a lot code or GS1-128 string, with an action.

use crate::auth::Principal;
use crate::db::schema::stock_counts;
use crate::domain::gs1::{self, Gs1Scan};
use crate::domain::lot_code::LotCode;
use crate::domain::quantity::Unit;
use crate::error::{ApiError, ApiResult};
use crate::http::ValidJson;
use crate::http::idempotency::KeyRequired;
use crate::http::validate::quantity as parse_quantity;
use crate::integrity::to_json;
use crate::integrity::{self, Change};
use crate::lots::model::lot_not_found;
use crate::lots::model::{Lot, LotRow, Movement};
use crate::lots::service::present;
use crate::lots::store::{self, MovementChange, Viewer};
use crate::reference::store as reference;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanAction {
    Receive,
    Release,
    Count,
    Load,
    Unload,
    Transfer,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// A lot code, or a GS1-128 element string whose (10) is the lot code.
    pub code: String,
    pub action: ScanAction,
    /// In the lot's unit. Defaults: the announced quantity (receive), what the release order
    /// still allows (release); required for count. A GS1 (310n) net weight counts as given.
    #[serde(default, with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Decimal>,
    /// Where the scan happens: the receiving, unloading or transfer-destination warehouse.
    #[serde(default)]
    pub warehouse_id: Option<Uuid>,
    /// The voyage to load onto.
    #[serde(default)]
    pub voyage_id: Option<Uuid>,
    /// The release order a release consumes.
    #[serde(default)]
    pub release_order_id: Option<Uuid>,
    /// Why a count differs from the book.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScanResult {
    pub action: ScanAction,
    pub lot: Lot,
    /// The movement written; `null` for a count that matched the book.
    pub movement: Option<Movement>,
}

/// What the scanned text named.
struct Scanned {
    code: LotCode,
    gs1: Option<Gs1Scan>,
}

fn read_code(text: &str) -> ApiResult<Scanned> {
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
        (Some(given), Some(weight)) if given.normalize() != weight.normalize() => {
            return Err(ApiError::invalid(
                "quantity",
                "the quantity disagrees with the GS1 net weight",
            ));
        }
        (Some(given), _) => Some(given),
        (None, weight) => weight,
    };
    stated
        .map(|q| parse_quantity("quantity", q, &lot.unit))
        .transpose()
}

fn status_conflict(lot: &LotRow, action: ScanAction) -> ApiError {
    ApiError::conflict(
        "lot_status",
        format!("{action:?} is not allowed for a lot that is {}", lot.status).to_lowercase(),
    )
    .with("status", &lot.status)
}

/// Scan a lot. Only staff of the warehouse holding the lot (or the carrier of its voyage) may
/// scan it; goods leave only against a release order.
#[utoipa::path(post, path = "/v1/scans", tag = "scans", request_body = ScanRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses(
        (status = 200, body = ScanResult),
        (status = 404, body = crate::error::ErrorBody, description = "lot_not_found"),
        (status = 409, body = crate::error::ErrorBody, description = "wrong status, quantity not authorised, no release order"),
        (status = 422, body = crate::error::ErrorBody, description = "malformed code or GS1 element"),
    ), security(("bearer" = [])))]
pub async fn scan(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<ScanRequest>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let request = body.value;
    let scanned = read_code(&request.code)?;
    if let Some(reason) = &request.reason {
        crate::http::validate::text("reason", reason, 500)?;
    }
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::OK,
        move |conn| {
            Box::pin(async move {
                let viewer = Viewer::of(&principal);
                let lot = store::lock_visible_by_code(conn, viewer, scanned.code.as_str())
                    .await?
                    .ok_or_else(lot_not_found)?;
                let quantity = stated_quantity(&request, scanned.gs1.as_ref(), &lot)?;
                let mut details = json!({});
                if let Some(gs1) = &scanned.gs1 {
                    details["gs1"] = gs1_details(gs1);
                }
                let movement = match request.action {
                    ScanAction::Receive => {
                        receive(conn, &principal, &lot, &request, quantity, details).await?
                    }
                    ScanAction::Load => {
                        load(conn, &principal, &lot, &request, quantity, details).await?
                    }
                    ScanAction::Unload => unload(conn, &principal, &lot, &request, details).await?,
                    ScanAction::Transfer => {
                        transfer(conn, &principal, &lot, &request, details).await?
                    }
                    ScanAction::Count => {
                        count(conn, &principal, &lot, &request, quantity, details).await?
                    }
                    ScanAction::Release => {
                        release(conn, &principal, &lot, &request, quantity, details).await?
                    }
                };
                let after = store::find_visible(conn, Viewer::All, lot.id)
                    .await?
                    .ok_or_else(lot_not_found)?;
                let result = ScanResult {
                    action: request.action,
                    lot: present(conn, viewer, after).await?,
                    movement,
                };
                integrity::record(
                    conn,
                    Some(&principal),
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
            })
        },
    )
    .await
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

/// Stamps the receipt: the storage rate of `warehouse` (none aboard a vessel) and, when a price
/// exists, the market value of `quantity` at deposit.
async fn stamp_receipt(
    conn: &mut AsyncPgConnection,
    lot: &LotRow,
    warehouse: Option<Uuid>,
    quantity: Decimal,
) -> ApiResult<()> {
    let rate = match warehouse {
        Some(w) => reference::storage_rate(conn, w, &lot.commodity_code).await?,
        None => None,
    };
    store::stamp_receipt(conn, lot.id, rate.as_ref()).await?;
    let now = Utc::now();
    if let (Some(price), Some(commodity)) = (
        crate::prices::store::latest(conn, &lot.commodity_code, None, now).await?,
        reference::find_commodity(conn, &lot.commodity_code).await?,
    ) {
        use crate::domain::valuation;
        let freshness = valuation::freshness_factor(
            lot.packed_on,
            now.date_naive(),
            commodity.fresh_days,
            commodity.shelf_life_days,
            commodity.end_freshness_factor,
        );
        let grade = commodity.grade_factor(&lot.grade).unwrap_or(Decimal::ZERO);
        let value = valuation::market_value(
            quantity,
            price.price_per_unit,
            grade,
            freshness,
            valuation::minor_units(&price.currency),
        );
        store::stamp_deposit_value(conn, lot.id, value, &price.currency).await?;
    }
    Ok(())
}

fn with_variance(mut details: Value, announced: Decimal, received: Decimal) -> Value {
    details["quantity_announced"] = json!(announced.normalize().to_string());
    details["quantity_received"] = json!(received.normalize().to_string());
    details["variance"] = json!((received - announced).normalize().to_string());
    details
}

async fn receive(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot: &LotRow,
    request: &ScanRequest,
    quantity: Option<Decimal>,
    details: Value,
) -> ApiResult<Option<Movement>> {
    if lot.status != "announced" {
        return Err(status_conflict(lot, ScanAction::Receive));
    }
    let Some(destination) = lot.warehouse_id else {
        return Err(ApiError::conflict(
            "wrong_action",
            "this lot was announced for a voyage: the carrier loads it",
        )
        .with("status", &lot.status));
    };
    if request.warehouse_id.is_some_and(|w| w != destination) {
        return Err(ApiError::conflict(
            "wrong_warehouse",
            "this lot was announced for another warehouse",
        )
        .with("field", "warehouse_id"));
    }
    let received = quantity.unwrap_or(lot.quantity_announced);
    stamp_receipt(conn, lot, Some(destination), received).await?;
    let (_, movement) = store::record_movement(
        conn,
        MovementChange {
            quantity_change: received,
            warehouse_id: Some(destination),
            voyage_id: None,
            reason: request.reason.as_deref(),
            details: with_variance(details, lot.quantity_announced, received),
            ..MovementChange::of(lot, "receive", "in_custody", Some(principal.user_id))
        },
    )
    .await?;
    Ok(Some(movement))
}

async fn load(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot: &LotRow,
    request: &ScanRequest,
    quantity: Option<Decimal>,
    details: Value,
) -> ApiResult<Option<Movement>> {
    let voyage_id = request
        .voyage_id
        .ok_or_else(|| ApiError::invalid("voyage_id", "loading needs the voyage_id"))?;
    let voyage = reference::lock_voyage(conn, voyage_id)
        .await?
        .ok_or_else(|| ApiError::invalid("voyage_id", "no such voyage"))?;
    if voyage.status != "planned" {
        return Err(ApiError::conflict(
            "voyage_status",
            format!(
                "the voyage is {}; goods are loaded before departure",
                voyage.status
            ),
        )
        .with("status", &voyage.status));
    }
    let (change, details) = match lot.status.as_str() {
        // Goods announced straight onto a voyage are received aboard by the carrier.
        "announced" if lot.voyage_id == Some(voyage_id) => {
            if voyage.carrier_org_id != principal.org_id {
                return Err(lot_not_found());
            }
            let received = quantity.unwrap_or(lot.quantity_announced);
            stamp_receipt(conn, lot, None, received).await?;
            (
                received,
                with_variance(details, lot.quantity_announced, received),
            )
        }
        "in_custody" => {
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
                    lot.quantity_on_hand.normalize().to_string(),
                ));
            }
            (Decimal::ZERO, details)
        }
        _ => return Err(status_conflict(lot, ScanAction::Load)),
    };
    let (_, movement) = store::record_movement(
        conn,
        MovementChange {
            lot_id: lot.id,
            kind: "load",
            quantity_change: change,
            status: "in_transit",
            warehouse_id: None,
            voyage_id: Some(voyage_id),
            release_order_id: None,
            related_lot_id: None,
            reason: request.reason.as_deref(),
            details,
            actor_user_id: Some(principal.user_id),
        },
    )
    .await?;
    Ok(Some(movement))
}

async fn unload(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot: &LotRow,
    request: &ScanRequest,
    details: Value,
) -> ApiResult<Option<Movement>> {
    if lot.status != "in_transit" {
        return Err(status_conflict(lot, ScanAction::Unload));
    }
    let voyage_id = lot
        .voyage_id
        .ok_or_else(|| ApiError::internal("in-transit lot without a voyage"))?;
    let voyage = reference::lock_voyage(conn, voyage_id)
        .await?
        .ok_or_else(|| ApiError::internal("missing voyage"))?;
    if voyage.status != "arrived" {
        return Err(ApiError::conflict(
            "voyage_status",
            format!(
                "the voyage is {}; goods are unloaded on arrival",
                voyage.status
            ),
        )
        .with("status", &voyage.status));
    }
    let warehouse = request
        .warehouse_id
        .or(voyage.destination_warehouse_id)
        .ok_or_else(|| {
            ApiError::invalid(
                "warehouse_id",
                "unloading needs the warehouse_id the goods go into",
            )
        })?;
    if reference::find_warehouse(conn, warehouse).await?.is_none() {
        return Err(ApiError::invalid("warehouse_id", "no such warehouse"));
    }
    if !operates(conn, principal, warehouse).await? && voyage.carrier_org_id != principal.org_id {
        return Err(
            ApiError::forbidden("only the carrier or the receiving warehouse unloads")
                .with("field", "warehouse_id"),
        );
    }
    if lot.storage_rate_per_unit_day.is_none() {
        let rate = reference::storage_rate(conn, warehouse, &lot.commodity_code).await?;
        store::set_storage_rate(conn, lot.id, rate.as_ref()).await?;
    }
    let (_, movement) = store::record_movement(
        conn,
        MovementChange {
            lot_id: lot.id,
            kind: "unload",
            quantity_change: Decimal::ZERO,
            status: "in_custody",
            warehouse_id: Some(warehouse),
            voyage_id: None,
            release_order_id: None,
            related_lot_id: None,
            reason: request.reason.as_deref(),
            details,
            actor_user_id: Some(principal.user_id),
        },
    )
    .await?;
    Ok(Some(movement))
}

async fn transfer(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot: &LotRow,
    request: &ScanRequest,
    details: Value,
) -> ApiResult<Option<Movement>> {
    if lot.status != "in_custody" {
        return Err(status_conflict(lot, ScanAction::Transfer));
    }
    let destination = request.warehouse_id.ok_or_else(|| {
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
        return Err(ApiError::invalid("warehouse_id", "no such warehouse"));
    }
    let (_, movement) = store::record_movement(
        conn,
        MovementChange {
            warehouse_id: Some(destination),
            voyage_id: None,
            reason: request.reason.as_deref(),
            details: {
                let mut details = details;
                details["from_warehouse_id"] = json!(lot.warehouse_id);
                details
            },
            ..MovementChange::of(lot, "transfer", "in_custody", Some(principal.user_id))
        },
    )
    .await?;
    Ok(Some(movement))
}

async fn count(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot: &LotRow,
    request: &ScanRequest,
    quantity: Option<Decimal>,
    details: Value,
) -> ApiResult<Option<Movement>> {
    if lot.status != "in_custody" {
        return Err(status_conflict(lot, ScanAction::Count));
    }
    let counted = quantity
        .ok_or_else(|| ApiError::invalid("quantity", "a count needs the counted quantity"))?;
    let difference = counted - lot.quantity_on_hand;
    // Every count is kept, clean or not: a supplier's tier counts the clean ones.
    let warehouse = lot
        .warehouse_id
        .ok_or_else(|| ApiError::internal("lot in custody without a warehouse"))?;
    diesel::insert_into(stock_counts::table)
        .values((
            stock_counts::lot_id.eq(lot.id),
            stock_counts::owner_org_id.eq(lot.owner_org_id),
            stock_counts::warehouse_id.eq(warehouse),
            stock_counts::quantity_book.eq(lot.quantity_on_hand),
            stock_counts::quantity_counted.eq(counted),
            stock_counts::counted_by.eq(principal.user_id),
            stock_counts::business_date.eq(crate::calendar::business_date(conn).await?),
        ))
        .execute(conn)
        .await?;
    if difference.is_zero() {
        return Ok(None);
    }
    let reason = request.reason.as_deref().ok_or_else(|| {
        ApiError::invalid(
            "reason",
            "a count that differs from the book needs a reason",
        )
    })?;
    if counted < lot.quantity_pledged || counted < lot.quantity_reserved {
        return Err(ApiError::conflict("count_below_commitments", "less was counted than is pledged or reserved; the lender or the supplier must release some first")
            .with("quantity_pledged", lot.quantity_pledged.normalize().to_string())
            .with("quantity_reserved", lot.quantity_reserved.normalize().to_string()));
    }
    let (_, movement) = store::record_movement(
        conn,
        MovementChange {
            quantity_change: difference,
            voyage_id: None,
            reason: Some(reason),
            details: {
                let mut details = details;
                details["quantity_book"] = json!(lot.quantity_on_hand.normalize().to_string());
                details["quantity_counted"] = json!(counted.normalize().to_string());
                details
            },
            ..MovementChange::of(
                lot,
                "count_adjustment",
                "in_custody",
                Some(principal.user_id),
            )
        },
    )
    .await?;
    Ok(Some(movement))
}

async fn release(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot: &LotRow,
    request: &ScanRequest,
    quantity: Option<Decimal>,
    details: Value,
) -> ApiResult<Option<Movement>> {
    if lot.status != "in_custody" {
        return Err(status_conflict(lot, ScanAction::Release));
    }
    let order_id = request.release_order_id.ok_or_else(|| {
        ApiError::conflict(
            "release_order_required",
            "goods leave only against a release order",
        )
        .with("field", "release_order_id")
    })?;
    let order = store::lock_release_order(conn, order_id)
        .await?
        .filter(|o| o.lot_id == lot.id)
        .ok_or_else(|| {
            ApiError::not_found(
                "release_order_not_found",
                "no such release order for this lot",
            )
        })?;
    if order.status != "open" {
        return Err(ApiError::conflict(
            "release_order_closed",
            format!("the release order is {}", order.status),
        )
        .with("status", &order.status));
    }
    let remaining = order.quantity - order.quantity_released;
    let released = quantity.unwrap_or(remaining);
    if released > remaining || released > lot.quantity_on_hand {
        return Err(ApiError::conflict(
            "quantity_not_authorised",
            "more than the release order still allows",
        )
        .with(
            "quantity_authorised",
            remaining.min(lot.quantity_on_hand).normalize().to_string(),
        ));
    }
    if lot.quantity_on_hand - released < lot.quantity_pledged {
        return Err(ApiError::conflict(
            "quantity_pledged",
            "pledged goods leave only through a settled sale or the lender's consent",
        )
        .with(
            "quantity_pledged",
            lot.quantity_pledged.normalize().to_string(),
        ));
    }
    // The order's quantity was reserved when it was made; what leaves is no longer reserved.
    store::add_reserved(conn, lot.id, -released).await?;
    store::consume_release_order(conn, &order, released).await?;
    let left = lot.quantity_on_hand - released;
    let (_, movement) = store::record_movement(
        conn,
        MovementChange {
            lot_id: lot.id,
            kind: "release",
            quantity_change: -released,
            status: if left.is_zero() {
                "released"
            } else {
                "in_custody"
            },
            warehouse_id: lot.warehouse_id,
            voyage_id: None,
            release_order_id: Some(order.id),
            related_lot_id: None,
            reason: request.reason.as_deref(),
            details,
            actor_user_id: Some(principal.user_id),
        },
    )
    .await?;
    Ok(Some(movement))
}
