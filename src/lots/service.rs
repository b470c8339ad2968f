//! Lot use cases: announcing goods, splitting a lot, asking for goods back, and the lot as a
//! viewer may see it.

use super::model::{
    Lot, LotRow, Movement, NewLot, ReleaseOrderEntry, ReleaseOrderQuery, SplitResult, Withdrawal,
    WithdrawalRequest, lot_not_found,
};
use super::store::{self, MovementChange, Viewer};
use crate::auth::Principal;
use crate::db::locks::LockOrder;
use crate::domain::lot_code::{LotCode, LotCodeError};
use crate::domain::quantity::Quantity;
use crate::domain::states::{LotStatus, MovementKind, VoyageStatus};
use crate::error::{ApiError, ApiResult};
use crate::http::validate::quantity;
use crate::http::{Page, PageQuery};
use crate::integrity::{self, Change, to_json};
use crate::reference::model::CommodityRow;
use crate::reference::service as reference_service;
use crate::reference::store as reference;
use chrono::{Days, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

/// The lot as this viewer may see it.
pub async fn present(conn: &mut AsyncPgConnection, viewer: Viewer, row: LotRow) -> ApiResult<Lot> {
    let held = store::on_hold(conn, &row).await?;
    Ok(Lot::from_row(row, held, viewer.sees_money()))
}

/// What can be said of an announcement without the database: one place, a sane insurer
/// (trimmed), goods already packed.
pub fn check_new_lot(mut new: NewLot, today: NaiveDate) -> ApiResult<NewLot> {
    if new.warehouse_id.is_some() == new.voyage_id.is_some() {
        return Err(ApiError::invalid(
            "warehouse_id",
            "give exactly one of warehouse_id and voyage_id",
        ));
    }
    new.insurer = match &new.insurer {
        Some(text) => Some(crate::http::validate::text("insurer", text, 200)?),
        None => None,
    };
    if new.packed_on > today {
        return Err(ApiError::invalid(
            "packed_on",
            "packed_on cannot be in the future",
        ));
    }
    Ok(new)
}

/// Reads a code as printed: any case, spaces and hyphens forgiven. 422 naming `code` when it
/// cannot be a lot code at all (length, characters); `None` when its check character fails.
pub fn read_code(text: &str) -> ApiResult<Option<LotCode>> {
    if text.len() > 40 {
        return Err(ApiError::invalid("code", "a lot code is 9 characters"));
    }
    match LotCode::parse(text) {
        Ok(code) => Ok(Some(code)),
        Err(LotCodeError::Check) => Ok(None),
        Err(error) => Err(ApiError::invalid("code", error.to_string())),
    }
}

/// The lot with the code printed on its label, for a caller who may see it: 404
/// `lot_code_mistyped` when its check character fails.
pub async fn by_code(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    text: &str,
) -> ApiResult<Lot> {
    let code = read_code(text)?.ok_or_else(|| {
        ApiError::not_found(
            "lot_code_mistyped",
            "no lot has this code: its check character does not match, so it is mistyped",
        )
    })?;
    let viewer = Viewer::of(principal);
    let row = store::find_visible_by_code(conn, viewer, code.as_str())
        .await?
        .ok_or_else(lot_not_found)?;
    present(conn, viewer, row).await
}

/// The release orders a query asks for, on lots the caller may see (`GET /v1/release-orders`).
pub async fn release_orders(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: ReleaseOrderQuery,
) -> ApiResult<Page<ReleaseOrderEntry>> {
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let offset = after.unwrap_or(0);
    let rows = store::release_orders_visible(
        conn,
        Viewer::of(principal),
        query.lot_id,
        query.warehouse_id,
        query.status,
        offset,
        limit + 1,
    )
    .await?;
    let entries = rows
        .into_iter()
        .map(|(order, lot_code, unit, warehouse_id)| {
            let left = order.quantity.value() - order.quantity_released.value();
            ReleaseOrderEntry {
                order: order.in_unit(&unit),
                quantity_left: Quantity::at(left, &unit),
                lot_code,
                unit,
                warehouse_id,
            }
        })
        .collect();
    Ok(Page::at_offset(entries, offset, limit))
}

/// Announce a lot for the caller's org: checks the commodity, grade, quantity, shelf life and
/// place, gives the lot a fresh code and records the announcement.
pub async fn announce(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: NewLot,
) -> ApiResult<Lot> {
    let today = Utc::now().date_naive();
    let new = check_new_lot(new, today)?;
    crate::http::validate::commodity_code("commodity_code", &new.commodity_code)?;
    let commodity = reference::find_commodity(conn, &new.commodity_code)
        .await?
        .ok_or_else(|| ApiError::unknown_reference("commodity_code", "no such commodity"))?;
    if commodity.grade_factor(&new.grade).is_none() {
        return Err(ApiError::invalid(
            "grade",
            format!("`{}` is not a grade of {}", new.grade, commodity.code),
        ));
    }
    let quantity = quantity("quantity", new.quantity.value(), &commodity.unit)?;
    let expires_on = new
        .packed_on
        .checked_add_days(Days::new(commodity.shelf_life_days as u64))
        .ok_or_else(|| ApiError::invalid("packed_on", "date out of range"))?;
    if expires_on <= today {
        return Err(ApiError::invalid(
            "packed_on",
            "these goods are already past their shelf life",
        ));
    }
    check_place(conn, &new).await?;
    if let Some(warehouse) = new.warehouse_id {
        reference_service::storage_rate_for(conn, warehouse, &commodity.code).await?;
    }
    let row = insert_with_fresh_code(
        conn,
        principal.org_id,
        &commodity,
        &new,
        quantity,
        expires_on,
    )
    .await?;
    let (row, _) = store::record_movement(
        conn,
        MovementChange {
            details: json!({"quantity_announced": Quantity::at(quantity, &commodity.unit).to_string()}),
            ..MovementChange::of(
                &row,
                MovementKind::Announce,
                LotStatus::Announced,
                Some(principal.user_id),
            )
        },
    )
    .await?;
    let lot = Lot::from_row(row, false, true);
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "lot.announced",
            object_kind: "lot",
            object_id: lot.id.to_string(),
            org_ids: vec![principal.org_id],
            before: None,
            after: Some(to_json(&lot)?),
        },
    )
    .await?;
    Ok(lot)
}

/// The warehouse exists, or the voyage exists and has not sailed.
async fn check_place(conn: &mut AsyncPgConnection, new: &NewLot) -> ApiResult<()> {
    if let Some(warehouse) = new.warehouse_id
        && reference::find_warehouse(conn, warehouse).await?.is_none()
    {
        return Err(ApiError::unknown_reference(
            "warehouse_id",
            "no such warehouse",
        ));
    }
    if let Some(voyage) = new.voyage_id {
        let voyage = reference::find_voyage(conn, voyage)
            .await?
            .ok_or_else(|| ApiError::unknown_reference("voyage_id", "no such voyage"))?;
        if voyage.status != VoyageStatus::Planned {
            return Err(ApiError::invalid(
                "voyage_id",
                format!(
                    "the voyage is {}; goods are announced for planned voyages",
                    voyage.status
                ),
            ));
        }
    }
    Ok(())
}

/// Insert the announced lot under a fresh code ([`insert_under_fresh_code`]).
async fn insert_with_fresh_code(
    conn: &mut AsyncPgConnection,
    owner: Uuid,
    commodity: &CommodityRow,
    new: &NewLot,
    quantity: Decimal,
    expires_on: NaiveDate,
) -> ApiResult<LotRow> {
    let id = Uuid::new_v4();
    insert_under_fresh_code(
        conn,
        &store::NewLotValues {
            id,
            owner_org_id: owner,
            commodity_code: &commodity.code,
            grade: &new.grade,
            declared_grade: &new.grade,
            unit: &commodity.unit,
            status: LotStatus::Announced,
            quantity_announced: quantity,
            warehouse_id: new.warehouse_id,
            voyage_id: new.voyage_id,
            packed_on: new.packed_on,
            expires_on,
            parent_lot_id: None,
            warehouse_since: None,
            insurer: new.insurer.as_deref(),
        },
    )
    .await
}

/// Inserts the lot under a random code, drawing another while the code is taken. Codes carry
/// about 39 random bits (30^8 codes): among a million lots a new code is taken about once in
/// 650,000 draws, so five draws all taken do not happen by chance.
async fn insert_under_fresh_code(
    conn: &mut AsyncPgConnection,
    lot: &store::NewLotValues<'_>,
) -> ApiResult<LotRow> {
    for _ in 0..5 {
        let code = LotCode::generate();
        if let Some(inserted) = store::insert(conn, code.as_str(), lot).await? {
            return Ok(inserted);
        }
    }
    Err(ApiError::internal("could not find a free lot code"))
}

/// Split part of a lot off into a new lot with its own code, in the same place, carrying the
/// parent's receipt.
pub async fn split(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    requested: Decimal,
) -> ApiResult<SplitResult> {
    let viewer = Viewer::of(principal);
    let parent = store::lock_visible(conn, &mut LockOrder::new(), viewer, id)
        .await?
        .ok_or_else(lot_not_found)?;
    let quantity = quantity("quantity", requested, &parent.unit)?;
    if parent.status != LotStatus::InCustody && parent.status != LotStatus::InTransit {
        return Err(ApiError::conflict(
            "lot_status",
            format!("a lot that is {} cannot be split", parent.status),
        )
        .with("status", parent.status));
    }
    if quantity >= parent.quantity_on_hand || quantity > parent.quantity_free() {
        return Err(ApiError::conflict(
            "quantity_not_free",
            "the split must leave something behind and take only free quantity",
        )
        .with(
            "quantity_free",
            Quantity::at(parent.quantity_free(), &parent.unit),
        ));
    }
    let (parent_after, child) = split_off(conn, &parent, quantity, principal.user_id).await?;
    let result = SplitResult {
        parent: present(conn, viewer, parent_after).await?,
        child: present(conn, viewer, child).await?,
    };
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "lot.split",
            object_kind: "lot",
            object_id: parent.id.to_string(),
            org_ids: vec![parent.owner_org_id],
            before: Some(to_json(&Lot::from_row(parent.clone(), false, true))?),
            after: Some(to_json(&result)?),
        },
    )
    .await?;
    Ok(result)
}

/// Move `quantity` of the locked `parent` into a new lot in the same place: the child row,
/// the parent's receipt on it, and the two movements.
async fn split_off(
    conn: &mut AsyncPgConnection,
    parent: &LotRow,
    quantity: Decimal,
    actor: Uuid,
) -> ApiResult<(LotRow, LotRow)> {
    let child_id = Uuid::new_v4();
    insert_under_fresh_code(
        conn,
        &store::NewLotValues::split_off(parent, child_id, quantity),
    )
    .await?;
    store::copy_receipt(conn, parent, child_id).await?;
    let (parent_after, _) = store::record_movement(
        conn,
        MovementChange {
            quantity_change: -quantity,
            related_lot_id: Some(child_id),
            ..MovementChange::of(parent, MovementKind::SplitOut, parent.status, Some(actor))
        },
    )
    .await?;
    let (child, _) = store::record_movement(
        conn,
        MovementChange {
            lot_id: child_id,
            kind: MovementKind::SplitIn,
            quantity_change: quantity,
            related_lot_id: Some(parent.id),
            ..MovementChange::of(parent, MovementKind::SplitIn, parent.status, Some(actor))
        },
    )
    .await?;
    Ok((parent_after, child))
}

/// Ask for unpledged goods back: reserve them and open a release order the warehouse scans
/// the goods out against.
pub async fn withdraw(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    request: WithdrawalRequest,
) -> ApiResult<Withdrawal> {
    let lot = store::lock_visible(
        conn,
        &mut LockOrder::new(),
        Viewer::of(principal),
        request.lot_id,
    )
    .await?
    .ok_or_else(lot_not_found)?;
    let quantity = quantity("quantity", request.quantity.value(), &lot.unit)?;
    if lot.status != LotStatus::InCustody {
        return Err(ApiError::conflict(
            "lot_status",
            format!(
                "goods are withdrawn from custody; this lot is {}",
                lot.status
            ),
        )
        .with("status", lot.status));
    }
    if quantity > lot.quantity_free() {
        return Err(ApiError::conflict(
            "quantity_not_free",
            "more than the unpledged, unreserved quantity",
        )
        .with(
            "quantity_free",
            Quantity::at(lot.quantity_free(), &lot.unit),
        ));
    }
    let order = store::create_release_order(
        conn,
        lot.id,
        "withdrawal",
        quantity,
        principal.user_id,
        None,
    )
    .await?
    .in_unit(&lot.unit);
    store::add_reserved(conn, lot.id, quantity).await?;
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "release_order.created",
            object_kind: "release_order",
            object_id: order.id.to_string(),
            org_ids: vec![lot.owner_org_id],
            before: None,
            after: Some(to_json(&order)?),
        },
    )
    .await?;
    Ok(Withdrawal {
        release_order_id: order.id,
        release_order: order,
    })
}

/// The names a label prints beside the lot: its commodity, owner and warehouse (or vessel).
async fn label_of(conn: &mut AsyncPgConnection, lot: &LotRow) -> ApiResult<String> {
    let commodity = reference::find_commodity(conn, &lot.commodity_code)
        .await?
        .ok_or_else(|| ApiError::internal("lot without commodity"))?;
    let owner = crate::orgs::store::find_org(conn, lot.owner_org_id)
        .await?
        .ok_or_else(|| ApiError::internal("lot without owner"))?;
    let place = match (lot.warehouse_id, lot.voyage_id) {
        (_, Some(voyage)) => reference::find_voyage(conn, voyage)
            .await?
            .map(|v| (v.vessel_name, format!("bound for {}", v.destination))),
        (Some(warehouse), None) => reference::find_warehouse(conn, warehouse)
            .await?
            .map(|w| (w.name, w.address)),
        (None, None) => None,
    };
    let names = super::label::Names {
        commodity: &commodity.name,
        owner: &owner.name,
        place: place.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
    };
    super::label::svg_element(lot, &names).map_err(ApiError::internal)
}

/// A lot's printable label, as an SVG document.
pub async fn label(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<String> {
    let lot = store::find_visible(conn, Viewer::of(principal), id)
        .await?
        .ok_or_else(lot_not_found)?;
    let svg = label_of(conn, &lot).await?;
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{svg}\n"
    ))
}

/// Labels of many lots (1 to 100, each one the caller may see) on one page to print.
pub async fn labels(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot_ids: &str,
) -> ApiResult<String> {
    let ids = lot_ids
        .split(',')
        .map(|id| Uuid::parse_str(id.trim()))
        .collect::<Result<Vec<Uuid>, _>>()
        .map_err(|_| ApiError::invalid("lot_ids", "lot_ids are lot ids separated by commas"))?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::invalid(
            "lot_ids",
            "label 1 to 100 lots at a time",
        ));
    }
    let mut labels = Vec::with_capacity(ids.len());
    for id in ids {
        let lot = store::find_visible(conn, Viewer::of(principal), id)
            .await?
            .ok_or_else(|| lot_not_found().with("lot_id", id))?;
        labels.push(label_of(conn, &lot).await?);
    }
    Ok(super::label::page(&labels))
}

/// A movement as the warehouse's day lists it: with its lot's code, commodity and unit.
pub struct DayMovement {
    pub movement: Movement,
    pub lot_code: String,
    pub commodity_code: String,
    pub unit: String,
}

/// What moved today (the business date, from midnight UTC) at the caller's warehouses: the
/// latest 500, newest first.
pub async fn movements_today(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
) -> ApiResult<Vec<DayMovement>> {
    let own = reference::operated_by(conn, principal.org_id).await?;
    let today = crate::calendar::business_date(conn).await?;
    let since = today
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .ok_or_else(|| ApiError::internal("business date out of range"))?;
    Ok(store::movements_at(conn, &own, since, 500)
        .await?
        .into_iter()
        .map(|(movement, lot_code, commodity_code, unit)| DayMovement {
            movement,
            lot_code,
            commodity_code,
            unit,
        })
        .collect())
}
