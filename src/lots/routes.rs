//! Handlers for lots: announce, list, read, movements, split, label, withdrawals, and the
//! reconciliation check.

use super::model::*;
use super::store::{self, LotFilter, MovementChange, Viewer};
use crate::auth::Principal;
use crate::db::locks::LockOrder;
use crate::domain::lot_code::LotCode;
use crate::domain::states::{LotStatus, MovementKind, VoyageStatus};
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::{KeyOptional, KeyRequired};
use crate::http::{Page, PageQuery, ValidJson};
use crate::integrity::{self, Change};
use crate::reference::store as reference;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{Days, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use super::service::present;
use crate::http::validate::quantity;
use crate::integrity::to_json;

/// Announce a lot: the supplier says goods are coming to a warehouse (or onto a voyage).
/// Holdfast assigns the lot's scannable code.
#[utoipa::path(post, path = "/v1/lots", tag = "lots", request_body = NewLot,
    responses((status = 201, body = Lot), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn announce(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewLot>,
    idem: KeyOptional,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let new = body.value;
    if new.warehouse_id.is_some() == new.voyage_id.is_some() {
        return Err(ApiError::invalid(
            "warehouse_id",
            "give exactly one of warehouse_id and voyage_id",
        ));
    }
    let insurer = match &new.insurer {
        Some(text) => Some(crate::http::validate::text("insurer", text, 200)?),
        None => None,
    };
    let today = Utc::now().date_naive();
    if new.packed_on > today {
        return Err(ApiError::invalid(
            "packed_on",
            "packed_on cannot be in the future",
        ));
    }
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move {
                let commodity = reference::find_commodity(conn, &new.commodity_code)
                    .await?
                    .ok_or_else(|| ApiError::invalid("commodity_code", "no such commodity"))?;
                if commodity.grade_factor(&new.grade).is_none() {
                    return Err(ApiError::invalid(
                        "grade",
                        format!("`{}` is not a grade of {}", new.grade, commodity.code),
                    ));
                }
                let quantity = quantity("quantity", new.quantity, &commodity.unit)?;
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
                if let Some(warehouse) = new.warehouse_id
                    && reference::find_warehouse(conn, warehouse).await?.is_none()
                {
                    return Err(ApiError::invalid("warehouse_id", "no such warehouse"));
                }
                if let Some(voyage) = new.voyage_id {
                    let voyage = reference::find_voyage(conn, voyage)
                        .await?
                        .ok_or_else(|| ApiError::invalid("voyage_id", "no such voyage"))?;
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
                let id = Uuid::new_v4();
                let mut row = None;
                // A clash of random codes is rare (30^8 codes); try a few before giving up.
                for _ in 0..5 {
                    let code = LotCode::generate();
                    let values = store::NewLotValues {
                        id,
                        code: code.as_str(),
                        owner_org_id: principal.org_id,
                        commodity_code: &commodity.code,
                        grade: &new.grade,
                        unit: &commodity.unit,
                        status: LotStatus::Announced,
                        quantity_announced: quantity,
                        warehouse_id: new.warehouse_id,
                        voyage_id: new.voyage_id,
                        packed_on: new.packed_on,
                        expires_on,
                        parent_lot_id: None,
                        insurer: insurer.as_deref(),
                    };
                    match store::insert(conn, values).await {
                        Ok(inserted) => {
                            row = Some(inserted);
                            break;
                        }
                        Err(diesel::result::Error::DatabaseError(
                            diesel::result::DatabaseErrorKind::UniqueViolation,
                            info,
                        )) if info.constraint_name() == Some("lots_code_key") => continue,
                        Err(other) => return Err(other.into()),
                    }
                }
                let row =
                    row.ok_or_else(|| ApiError::internal("could not find a free lot code"))?;
                let (row, _) = store::record_movement(
                    conn,
                    MovementChange {
                        details: json!({"quantity_announced": quantity.to_string()}),
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
                    Some(&principal),
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
            })
        },
    )
    .await
}

/// Lots the caller may see: a supplier its own, warehouse staff those in their warehouses or
/// on their voyages, the platform all.
#[utoipa::path(get, path = "/v1/lots", tag = "lots", params(LotQuery),
    responses((status = 200, body = Page<Lot>), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<LotQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    if let Some(status) = &query.status
        && LotStatus::parse(status).is_none()
    {
        return Err(ApiError::invalid(
            "status",
            "status is announced, in_custody, in_transit or released",
        ));
    }
    let viewer = Viewer::of(&principal);
    let filter = LotFilter {
        status: query.status,
        warehouse_id: query.warehouse_id,
        voyage_id: query.voyage_id,
        commodity_code: query.commodity_code,
        expiring_before: query.expiring_before,
    };
    let mut conn = state.pool.get().await?;
    let rows = store::list(&mut conn, viewer, filter, after, limit).await?;
    let warehouses: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.status == LotStatus::InCustody)
        .filter_map(|r| r.warehouse_id)
        .collect();
    let held = store::held_warehouses(&mut conn, &warehouses).await?;
    let page = Page::from_rows(rows, limit, |row| row.seq);
    let items = page
        .items
        .into_iter()
        .map(|row| {
            let on_hold = row.status == LotStatus::InCustody
                && row.warehouse_id.is_some_and(|w| held.contains(&w));
            Lot::from_row(row, on_hold, viewer.sees_money())
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// One lot.
#[utoipa::path(get, path = "/v1/lots/{id}", tag = "lots",
    responses((status = 200, body = Lot), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let viewer = Viewer::of(&principal);
    let mut conn = state.pool.get().await?;
    let row = store::find_visible(&mut conn, viewer, *id)
        .await?
        .ok_or_else(lot_not_found)?;
    Ok(HttpResponse::Ok().json(present(&mut conn, viewer, row).await?))
}

/// The lot's movement history, oldest first.
#[utoipa::path(get, path = "/v1/lots/{id}/movements", tag = "lots", params(PageQuery),
    responses((status = 200, body = Page<Movement>), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn movements(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let limit = query.limit()?;
    let after = query.after()?;
    let mut conn = state.pool.get().await?;
    store::find_visible(&mut conn, Viewer::of(&principal), *id)
        .await?
        .ok_or_else(lot_not_found)?;
    let rows = store::movements_of(&mut conn, *id, after, limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |m| m.id)))
}

/// A printable label: QR code of the lot code, the code, commodity, grade, quantity, dates.
#[utoipa::path(get, path = "/v1/lots/{id}/label.svg", tag = "lots",
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn label(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let row = store::find_visible(&mut conn, Viewer::of(&principal), *id)
        .await?
        .ok_or_else(lot_not_found)?;
    let commodity = reference::find_commodity(&mut conn, &row.commodity_code)
        .await?
        .ok_or_else(|| ApiError::internal("lot without commodity"))?;
    let svg = super::label::svg(&row, &commodity.name).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok().content_type("image/svg+xml").body(svg))
}

/// Split part of a lot off into a new lot with its own code, in the same place.
#[utoipa::path(post, path = "/v1/lots/{id}/split", tag = "lots", request_body = SplitRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = SplitResult), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn split(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<SplitRequest>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let id = id.into_inner();
    let requested = body.value.quantity;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move {
                let viewer = Viewer::of(&principal);
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
                        parent.quantity_free().normalize().to_string(),
                    ));
                }
                let child_id = Uuid::new_v4();
                let code = LotCode::generate();
                store::insert(
                    conn,
                    store::NewLotValues {
                        id: child_id,
                        code: code.as_str(),
                        owner_org_id: parent.owner_org_id,
                        commodity_code: &parent.commodity_code,
                        grade: &parent.grade,
                        unit: &parent.unit,
                        status: parent.status,
                        quantity_announced: quantity,
                        warehouse_id: parent.warehouse_id,
                        voyage_id: parent.voyage_id,
                        packed_on: parent.packed_on,
                        expires_on: parent.expires_on,
                        parent_lot_id: Some(parent.id),
                        insurer: parent.insurer.as_deref(),
                    },
                )
                .await?;
                copy_receipt(conn, &parent, child_id).await?;
                let (parent_after, _) = store::record_movement(
                    conn,
                    MovementChange {
                        quantity_change: -quantity,
                        related_lot_id: Some(child_id),
                        ..MovementChange::of(
                            &parent,
                            MovementKind::SplitOut,
                            parent.status,
                            Some(principal.user_id),
                        )
                    },
                )
                .await?;
                let (child, _) = store::record_movement(
                    conn,
                    MovementChange {
                        lot_id: child_id,
                        kind: MovementKind::SplitIn,
                        quantity_change: quantity,
                        status: parent.status,
                        warehouse_id: parent.warehouse_id,
                        voyage_id: parent.voyage_id,
                        release_order_id: None,
                        related_lot_id: Some(parent.id),
                        reason: None,
                        details: json!({}),
                        actor_user_id: Some(principal.user_id),
                    },
                )
                .await?;
                let result = SplitResult {
                    parent: present(conn, viewer, parent_after).await?,
                    child: present(conn, viewer, child).await?,
                };
                integrity::record(
                    conn,
                    Some(&principal),
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
            })
        },
    )
    .await
}

async fn copy_receipt(conn: &mut AsyncPgConnection, parent: &LotRow, child: Uuid) -> ApiResult<()> {
    use crate::db::schema::lots;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    diesel::update(lots::table.find(child))
        .set((
            lots::storage_rate_per_unit_day.eq(parent.storage_rate_per_unit_day),
            lots::storage_currency.eq(&parent.storage_currency),
            lots::deposit_currency.eq(&parent.deposit_currency),
            lots::received_at.eq(parent.received_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Ask for unpledged goods back: a release order the warehouse scans the goods out against.
#[utoipa::path(post, path = "/v1/withdrawals", tag = "lots", request_body = WithdrawalRequest,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = Withdrawal), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn withdraw(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<WithdrawalRequest>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let request = body.value;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| {
            Box::pin(async move {
                let lot = store::lock_visible(
                    conn,
                    &mut LockOrder::new(),
                    Viewer::of(&principal),
                    request.lot_id,
                )
                .await?
                .ok_or_else(lot_not_found)?;
                let quantity = quantity("quantity", request.quantity, &lot.unit)?;
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
                    .with("quantity_free", lot.quantity_free().normalize().to_string()));
                }
                let order = store::create_release_order(
                    conn,
                    lot.id,
                    "withdrawal",
                    quantity,
                    principal.user_id,
                    None,
                )
                .await?;
                store::add_reserved(conn, lot.id, quantity).await?;
                integrity::record(
                    conn,
                    Some(&principal),
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
            })
        },
    )
    .await
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Reconciliation {
    /// True when every lot equals the sum of its movements.
    pub consistent: bool,
    pub discrepancies: Vec<store::Discrepancy>,
}

/// Lots whose quantity, status or place differs from their movement ledger (always none).
#[utoipa::path(get, path = "/v1/custody/reconciliation", tag = "lots",
    responses((status = 200, body = Reconciliation)), security(("bearer" = [])))]
pub async fn reconciliation(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let discrepancies = conn
        .transaction::<_, ApiError, _>(async |conn| Ok(store::reconciliation(conn).await?))
        .await?;
    Ok(HttpResponse::Ok().json(Reconciliation {
        consistent: discrepancies.is_empty(),
        discrepancies,
    }))
}
