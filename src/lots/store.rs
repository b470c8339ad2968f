//! Queries for lots, their movements and release orders. Every change of a lot's quantity,
//! place or status goes through `record_movement`, which updates the lot and appends the
//! movement in the caller's transaction, so the lot row always equals its movements.

use super::model::{LotRow, Movement, ReleaseOrder, ReleaseOrderWritten};
use crate::auth::{OrgKind, Principal};
use crate::db::locks::{LockOrder, Rank};
use crate::db::prepared::{Cache, prepared};
use crate::db::schema::{
    breaches, loans, lots, movements, pledges, release_orders, voyages, warehouse_inspectors,
    warehouses,
};
use crate::domain::custody::Commitments;
use crate::domain::states::{LoanStatus, LotStatus, MovementKind, ReleaseOrderStatus};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

/// Whose lots a caller sees.
#[derive(Clone, Copy, Debug)]
pub enum Viewer {
    All,
    /// The supplier that owns them.
    Owner(Uuid),
    /// The operator of the warehouse holding them, the carrier of their voyage, or the
    /// operator of the warehouse that voyage is bound for.
    Custodian(Uuid),
    /// A lender: lots pledged (now or before) to its loans.
    Lender(Uuid),
    /// An inspection company: lots in the warehouses the platform assigned it to.
    Inspector(Uuid),
    Nobody,
}

impl Viewer {
    pub fn of(principal: &Principal) -> Self {
        match principal.kind {
            OrgKind::Platform => Viewer::All,
            OrgKind::Supplier => Viewer::Owner(principal.org_id),
            OrgKind::WarehouseOperator => Viewer::Custodian(principal.org_id),
            OrgKind::Lender => Viewer::Lender(principal.org_id),
            OrgKind::Buyer => Viewer::Nobody,
            OrgKind::Inspector => Viewer::Inspector(principal.org_id),
        }
    }

    /// Warehouse operators and inspectors do not see what goods are worth.
    pub fn sees_money(self) -> bool {
        !matches!(self, Viewer::Custodian(_) | Viewer::Inspector(_))
    }
}

fn scoped(viewer: Viewer) -> lots::BoxedQuery<'static, Pg> {
    let query = lots::table.into_boxed();
    match viewer {
        Viewer::All => query,
        Viewer::Owner(org) => query.filter(lots::owner_org_id.eq(org)),
        Viewer::Custodian(org) => {
            let operated = || {
                warehouses::table
                    .filter(warehouses::operator_org_id.eq(org))
                    .select(warehouses::id.nullable())
            };
            // Lots in its warehouses, on its vessels, or on vessels bound for its warehouses.
            let voyages_involved = voyages::table
                .filter(
                    voyages::carrier_org_id
                        .eq(org)
                        .or(voyages::destination_warehouse_id.eq_any(operated())),
                )
                .select(voyages::id.nullable());
            query.filter(
                lots::warehouse_id
                    .eq_any(operated())
                    .or(lots::voyage_id.eq_any(voyages_involved)),
            )
        }
        Viewer::Lender(org) => query.filter(
            lots::id.eq_any(
                pledges::table
                    .inner_join(loans::table)
                    .filter(loans::lender_org_id.eq(org))
                    .select(pledges::lot_id),
            ),
        ),
        Viewer::Inspector(org) => query.filter(
            lots::warehouse_id.eq_any(
                warehouse_inspectors::table
                    .filter(warehouse_inspectors::inspector_org_id.eq(org))
                    .select(warehouse_inspectors::warehouse_id.nullable()),
            ),
        ),
        Viewer::Nobody => query.filter(lots::id.is_null()),
    }
}

/// The lot with this code (as [`crate::domain::lot_code::LotCode`] writes it), if the viewer
/// may see it.
pub async fn find_visible_by_code(
    conn: &mut AsyncPgConnection,
    viewer: Viewer,
    code: &str,
) -> QueryResult<Option<LotRow>> {
    scoped(viewer)
        .filter(lots::code.eq(code))
        .select(LotRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    viewer: Viewer,
    id: Uuid,
) -> QueryResult<Option<LotRow>> {
    scoped(viewer)
        .filter(lots::id.eq(id))
        .select(LotRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The lot, locked for the rest of the transaction, if the viewer may see it.
pub async fn lock_visible(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    viewer: Viewer,
    id: Uuid,
) -> QueryResult<Option<LotRow>> {
    if find_visible(conn, viewer, id).await?.is_none() {
        return Ok(None);
    }
    lock(conn, order, id).await.map(Some)
}

/// The lot, locked for the rest of the transaction.
pub async fn lock(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    id: Uuid,
) -> QueryResult<LotRow> {
    order.take(Rank::Lot, id);
    lots::table
        .find(id)
        .select(LotRow::as_select())
        .for_update()
        .first(conn)
        .await
}

/// Locks these lots in id order, in one statement.
pub async fn lock_ids(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    ids: &[Uuid],
) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    order.take_all(Rank::Lot, ids);
    let _: Vec<Uuid> = lots::table
        .filter(lots::id.eq_any(ids))
        .order(lots::id)
        .select(lots::id)
        .for_update()
        .load(conn)
        .await?;
    Ok(())
}

pub async fn lock_visible_by_code(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    viewer: Viewer,
    code: &str,
) -> QueryResult<Option<LotRow>> {
    // One round trip: the visibility scope and the row lock in the same statement.
    let visible = scoped(viewer).filter(lots::code.eq(code)).select(lots::id);
    let found: Option<LotRow> = lots::table
        .filter(lots::code.eq(code))
        .filter(lots::id.eq_any(visible))
        .select(LotRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    if let Some(lot) = &found {
        order.take(Rank::Lot, lot.id);
    }
    Ok(found)
}

#[derive(Default)]
pub struct LotFilter {
    pub code: Option<String>,
    pub status: Option<String>,
    pub warehouse_id: Option<Uuid>,
    pub voyage_id: Option<Uuid>,
    pub commodity_code: Option<String>,
    pub expiring_before: Option<NaiveDate>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    viewer: Viewer,
    filter: LotFilter,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<LotRow>> {
    let mut query = scoped(viewer)
        .select(LotRow::as_select())
        .order(lots::seq)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(lots::seq.gt(after));
    }
    if let Some(code) = filter.code {
        query = query.filter(lots::code.eq(code));
    }
    if let Some(status) = filter.status {
        query = query.filter(lots::status.eq(status));
    }
    if let Some(warehouse) = filter.warehouse_id {
        query = query.filter(lots::warehouse_id.eq(warehouse));
    }
    if let Some(voyage) = filter.voyage_id {
        query = query.filter(lots::voyage_id.eq(voyage));
    }
    if let Some(commodity) = filter.commodity_code {
        query = query.filter(lots::commodity_code.eq(commodity));
    }
    if let Some(date) = filter.expiring_before {
        query = query.filter(lots::expires_on.lt(date));
    }
    query.load(conn).await
}

/// The unacknowledged temperature breaches of these warehouses: when each ended (`None`: going
/// on). Goods that were in one while it lasted are on quality hold ([`Holds::hold`]).
pub async fn holds(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Holds> {
    if ids.is_empty() {
        return Ok(Holds(Vec::new()));
    }
    let open: Vec<(Uuid, Option<DateTime<Utc>>)> = breaches::table
        .filter(breaches::warehouse_id.eq_any(ids))
        .filter(breaches::acknowledged_at.is_null())
        .select((breaches::warehouse_id, breaches::ended_at))
        .load(conn)
        .await?;
    Ok(Holds(open))
}

/// Unacknowledged breaches: (warehouse, when it ended).
pub struct Holds(Vec<(Uuid, Option<DateTime<Utc>>)>);

impl Holds {
    /// Whether the lot is on quality hold: in custody in a warehouse with an unacknowledged
    /// breach that went on while the lot was there.
    pub fn hold(&self, lot: &LotRow) -> bool {
        lot.status == LotStatus::InCustody
            && self.0.iter().any(|(warehouse, ended)| {
                Some(*warehouse) == lot.warehouse_id
                    && crate::domain::cold_chain::holds(*ended, lot.warehouse_since)
            })
    }
}

/// Whether a lot is on quality hold right now.
pub async fn on_hold(conn: &mut AsyncPgConnection, lot: &LotRow) -> QueryResult<bool> {
    match (lot.status, lot.warehouse_id) {
        (LotStatus::InCustody, Some(warehouse)) => Ok(holds(conn, &[warehouse]).await?.hold(lot)),
        _ => Ok(false),
    }
}

/// A new lot but for its code, which [`insert`] takes on its own.
pub struct NewLotValues<'a> {
    pub id: Uuid,
    pub owner_org_id: Uuid,
    pub commodity_code: &'a str,
    pub grade: &'a str,
    /// What the supplier declared (a split keeps its parent's).
    pub declared_grade: &'a str,
    pub unit: &'a str,
    pub status: LotStatus,
    pub quantity_announced: Decimal,
    pub warehouse_id: Option<Uuid>,
    pub voyage_id: Option<Uuid>,
    pub packed_on: NaiveDate,
    pub expires_on: NaiveDate,
    pub parent_lot_id: Option<Uuid>,
    pub insurer: Option<&'a str>,
    /// A split keeps its parent's arrival in the warehouse.
    pub warehouse_since: Option<DateTime<Utc>>,
}

impl<'a> NewLotValues<'a> {
    /// A lot `id` of `quantity` split off `parent`: the same owner, goods, grade, place,
    /// arrival and insurer, and the same status.
    pub fn split_off(parent: &'a LotRow, id: Uuid, quantity: Decimal) -> Self {
        Self {
            id,
            owner_org_id: parent.owner_org_id,
            commodity_code: &parent.commodity_code,
            grade: &parent.grade,
            declared_grade: &parent.declared_grade,
            unit: &parent.unit,
            status: parent.status,
            quantity_announced: quantity,
            warehouse_id: parent.warehouse_id,
            voyage_id: parent.voyage_id,
            packed_on: parent.packed_on,
            expires_on: parent.expires_on,
            parent_lot_id: Some(parent.id),
            warehouse_since: parent.warehouse_since,
            insurer: parent.insurer.as_deref(),
        }
    }
}

/// Inserts the lot under `code` unless the code is taken, in which case nothing is written and
/// the answer is `None` (`ON CONFLICT (code) DO NOTHING`): a clash is not an error, so the
/// caller's transaction stays usable and it can try another code in it.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    code: &str,
    lot: &NewLotValues<'_>,
) -> QueryResult<Option<LotRow>> {
    use diesel::OptionalExtension;
    diesel::insert_into(lots::table)
        .values((
            lots::id.eq(lot.id),
            lots::code.eq(code),
            lots::owner_org_id.eq(lot.owner_org_id),
            lots::commodity_code.eq(lot.commodity_code),
            lots::grade.eq(lot.grade),
            lots::declared_grade.eq(lot.declared_grade),
            lots::unit.eq(lot.unit),
            lots::status.eq(lot.status),
            lots::quantity_announced.eq(lot.quantity_announced),
            lots::warehouse_id.eq(lot.warehouse_id),
            lots::voyage_id.eq(lot.voyage_id),
            lots::packed_on.eq(lot.packed_on),
            lots::expires_on.eq(lot.expires_on),
            lots::parent_lot_id.eq(lot.parent_lot_id),
            lots::insurer.eq(lot.insurer),
            lots::warehouse_since.eq(lot.warehouse_since),
        ))
        .on_conflict(lots::code)
        .do_nothing()
        .returning(LotRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// One movement: the change of quantity on hand and where the lot is, and in which status,
/// afterwards.
pub struct MovementChange<'a> {
    pub lot_id: Uuid,
    pub kind: MovementKind,
    pub quantity_change: Decimal,
    pub status: LotStatus,
    pub warehouse_id: Option<Uuid>,
    pub voyage_id: Option<Uuid>,
    pub release_order_id: Option<Uuid>,
    pub related_lot_id: Option<Uuid>,
    pub reason: Option<&'a str>,
    pub details: Value,
    pub actor_user_id: Option<Uuid>,
    /// Set when the movement is the lot's receipt (received at a warehouse, or aboard): stamped
    /// in the same `UPDATE` as the movement.
    pub receipt: Option<Receipt>,
}

/// What a lot's receipt stamps on it: the storage rate where it is kept (none aboard a
/// vessel), the market value at deposit when a price exists, and when an inspection falls due.
pub struct Receipt {
    pub rate: Option<crate::reference::model::StorageRate>,
    pub deposit: Option<(Decimal, String)>,
    pub inspection_due_on: Option<NaiveDate>,
}

impl<'a> MovementChange<'a> {
    /// A movement of `lot` that leaves its quantity and place as they are; callers name what
    /// changes (`MovementChange { quantity_change, ..MovementChange::of(..) }`).
    pub fn of(
        lot: &LotRow,
        kind: MovementKind,
        status: LotStatus,
        actor_user_id: Option<Uuid>,
    ) -> Self {
        Self {
            lot_id: lot.id,
            kind,
            quantity_change: Decimal::ZERO,
            status,
            warehouse_id: lot.warehouse_id,
            voyage_id: lot.voyage_id,
            release_order_id: None,
            related_lot_id: None,
            reason: None,
            details: Value::Object(Default::default()),
            actor_user_id,
            receipt: None,
        }
    }
}

/// Updates the lot's projection and appends the movement, in the caller's transaction.
pub async fn record_movement(
    conn: &mut AsyncPgConnection,
    change: MovementChange<'_>,
) -> QueryResult<(LotRow, Movement)> {
    // Static SQL text, chosen by the kind: an arrival starts the lot's time in the warehouse.
    let since = diesel::dsl::sql::<Nullable<Timestamptz>>(if change.kind.arrives() {
        "now()"
    } else {
        "warehouse_since"
    });
    let now = Utc::now();
    let moved = (
        lots::quantity_on_hand.eq(lots::quantity_on_hand + change.quantity_change),
        lots::status.eq(change.status),
        lots::warehouse_id.eq(change.warehouse_id),
        lots::voyage_id.eq(change.voyage_id),
        lots::updated_at.eq(now),
        lots::warehouse_since.eq(since),
    );
    // The lot's `UPDATE` and the movement's `INSERT` are sent together (one round trip); the
    // movement reads the quantity on hand the update left. A receipt is stamped by the
    // movement's own `UPDATE`: one row version.
    let (mut update_on, mut insert_on) = (&*conn, &*conn);
    let update = async {
        match &change.receipt {
            None => {
                diesel::update(lots::table.find(change.lot_id))
                    .set(moved)
                    .returning(LotRow::as_returning())
                    .cached()
                    .get_result::<LotRow>(&mut update_on)
                    .await
            }
            Some(receipt) => {
                let (value, currency) = receipt.deposit.clone().unzip();
                let rate = receipt.rate.as_ref();
                diesel::update(lots::table.find(change.lot_id))
                    .set((
                        moved,
                        (
                            lots::received_at.eq(now),
                            lots::storage_rate_per_unit_day.eq(rate.map(|r| r.rate_per_unit_day)),
                            lots::storage_currency.eq(rate.map(|r| r.currency.clone())),
                            lots::market_value_at_deposit.eq(value),
                            lots::deposit_currency.eq(currency),
                            lots::inspection_due_on.eq(receipt.inspection_due_on),
                        ),
                    ))
                    .returning(LotRow::as_returning())
                    .cached()
                    .get_result::<LotRow>(&mut update_on)
                    .await
            }
        }
    };
    let on_hand_after = lots::table
        .find(change.lot_id)
        .select(lots::quantity_on_hand)
        .single_value()
        .assume_not_null();
    let insert = diesel::insert_into(movements::table)
        .values((
            movements::lot_id.eq(change.lot_id),
            movements::kind.eq(change.kind),
            movements::quantity_change.eq(change.quantity_change),
            movements::quantity_after.eq(on_hand_after),
            movements::status_after.eq(change.status),
            movements::warehouse_id.eq(change.warehouse_id),
            movements::voyage_id.eq(change.voyage_id),
            movements::release_order_id.eq(change.release_order_id),
            movements::related_lot_id.eq(change.related_lot_id),
            movements::reason.eq(change.reason),
            movements::details.eq(&change.details),
            movements::actor_user_id.eq(change.actor_user_id),
        ))
        .returning(Movement::as_returning())
        .get_result::<Movement>(&mut insert_on);
    let (lot, movement) = crate::db::pipeline::together(update, insert).await?;
    let movement = movement.in_unit(&lot.unit);
    Ok((lot, movement))
}

/// What holds a locked lot's goods: its pledges (those of loans not yet paid out apart) and
/// reservations. Check `Commitments::fit` against what will be on hand before changing either.
pub async fn commitments(conn: &mut AsyncPgConnection, lot: &LotRow) -> QueryResult<Commitments> {
    let pending: Vec<Decimal> = pledges::table
        .inner_join(loans::table)
        .filter(pledges::lot_id.eq(lot.id))
        .filter(loans::status.eq_any(LoanStatus::PENDING))
        .select(pledges::quantity)
        .load(conn)
        .await?;
    let pledged_pending: Decimal = pending.into_iter().sum();
    Ok(Commitments {
        pledged_pending,
        pledged_live: lot.quantity_pledged - pledged_pending,
        sold: lot.quantity_sold,
        reserved: lot.quantity_reserved,
    })
}

/// A pending sale reserves `delta` of the lot (negative: a cancelled sale gives it back).
pub async fn reserve_for_sale(
    conn: &mut AsyncPgConnection,
    lot_id: Uuid,
    delta: Decimal,
) -> QueryResult<LotRow> {
    diesel::update(lots::table.find(lot_id))
        .set((
            lots::quantity_reserved.eq(lots::quantity_reserved + delta),
            lots::quantity_sold.eq(lots::quantity_sold + delta),
            lots::updated_at.eq(Utc::now()),
        ))
        .returning(LotRow::as_returning())
        .cached()
        .get_result(conn)
        .await
}

/// The settled sale `sale`'s goods (`sold`: lot and quantity) leave the lots' sold quantity
/// for a release order each (of `kind`, by `created_by`), in one statement: the sale's
/// reservation carries over to its release orders, still reserved, no longer sold (the
/// pledges it took were released first). Answers the release orders as written.
pub async fn release_sold(
    conn: &mut AsyncPgConnection,
    sale: Uuid,
    kind: &str,
    created_by: Uuid,
    sold: &[(Uuid, Decimal)],
) -> QueryResult<Vec<ReleaseOrderWritten>> {
    use diesel::sql_types::{Array, Numeric, Text, Uuid as SqlUuid};
    prepared(
        "WITH l AS (SELECT * FROM unnest($1::uuid[], $2::numeric[]) WITH ORDINALITY AS l(lot_id, quantity, n)), \
              sold AS (UPDATE lots SET quantity_sold = lots.quantity_sold - s.quantity, updated_at = now() \
                       FROM (SELECT lot_id, sum(quantity) AS quantity FROM l GROUP BY lot_id) s \
                       WHERE lots.id = s.lot_id) \
         INSERT INTO release_orders (id, lot_id, kind, quantity, created_by, sale_id) \
         SELECT gen_random_uuid(), lot_id, $3, quantity, $4, $5 FROM l ORDER BY n \
         RETURNING id, lot_id, quantity, quantity_released, status",
    )
    .bind::<Array<SqlUuid>, _>(sold.iter().map(|s| s.0).collect::<Vec<_>>())
    .bind::<Array<Numeric>, _>(sold.iter().map(|s| s.1).collect::<Vec<_>>())
    .bind::<Text, _>(kind)
    .bind::<SqlUuid, _>(created_by)
    .bind::<SqlUuid, _>(sale)
    .load(conn)
    .await
}

/// Changes the reserved quantity (release orders).
pub async fn add_reserved(
    conn: &mut AsyncPgConnection,
    lot_id: Uuid,
    delta: Decimal,
) -> QueryResult<LotRow> {
    diesel::update(lots::table.find(lot_id))
        .set((
            lots::quantity_reserved.eq(lots::quantity_reserved + delta),
            lots::updated_at.eq(Utc::now()),
        ))
        .returning(LotRow::as_returning())
        .cached()
        .get_result(conn)
        .await
}

/// A page of the lot's movements, oldest first, shown in the lot's unit.
pub async fn movements_of(
    conn: &mut AsyncPgConnection,
    lot: &LotRow,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Movement>> {
    let mut query = movements::table
        .filter(movements::lot_id.eq(lot.id))
        .order(movements::id)
        .limit(limit + 1)
        .select(Movement::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(movements::id.gt(after));
    }
    let rows: Vec<Movement> = query.load(conn).await?;
    Ok(rows.into_iter().map(|m| m.in_unit(&lot.unit)).collect())
}

/// The latest movements at the given warehouses since `since` (at most `limit`, newest
/// first), each with its lot's code, commodity and unit.
pub async fn movements_at(
    conn: &mut AsyncPgConnection,
    warehouses: &[Uuid],
    since: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<(Movement, String, String, String)>> {
    let rows: Vec<(Movement, String, String, String)> = movements::table
        .inner_join(lots::table.on(lots::id.eq(movements::lot_id)))
        .filter(movements::warehouse_id.eq_any(warehouses))
        .filter(movements::created_at.ge(since))
        .order(movements::id.desc())
        .limit(limit)
        .select((
            Movement::as_select(),
            lots::code,
            lots::commodity_code,
            lots::unit,
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(m, code, commodity, unit)| (m.in_unit(&unit), code, commodity, unit))
        .collect())
}

pub async fn create_release_order(
    conn: &mut AsyncPgConnection,
    lot_id: Uuid,
    kind: &str,
    quantity: Decimal,
    created_by: Uuid,
    sale_id: Option<Uuid>,
) -> QueryResult<ReleaseOrder> {
    diesel::insert_into(release_orders::table)
        .values((
            release_orders::id.eq(Uuid::new_v4()),
            release_orders::lot_id.eq(lot_id),
            release_orders::kind.eq(kind),
            release_orders::quantity.eq(quantity),
            release_orders::created_by.eq(created_by),
            release_orders::sale_id.eq(sale_id),
        ))
        .returning(ReleaseOrder::as_returning())
        .get_result(conn)
        .await
}

/// Release orders on lots the viewer may see, oldest first, with their lot's code, unit and
/// warehouse; `offset` and `limit` page them.
pub async fn release_orders_visible(
    conn: &mut AsyncPgConnection,
    viewer: Viewer,
    lot_id: Option<Uuid>,
    warehouse_id: Option<Uuid>,
    status: Option<ReleaseOrderStatus>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<(ReleaseOrder, String, String, Option<Uuid>)>> {
    let visible = scoped(viewer).select(lots::id);
    let mut query = release_orders::table
        .inner_join(lots::table)
        .filter(release_orders::lot_id.eq_any(visible))
        .select((
            ReleaseOrder::as_select(),
            lots::code,
            lots::unit,
            lots::warehouse_id,
        ))
        .order((release_orders::created_at.asc(), release_orders::id.asc()))
        .offset(offset)
        .limit(limit)
        .into_boxed();
    if let Some(lot) = lot_id {
        query = query.filter(release_orders::lot_id.eq(lot));
    }
    if let Some(warehouse) = warehouse_id {
        query = query.filter(lots::warehouse_id.eq(warehouse));
    }
    if let Some(status) = status {
        query = query.filter(release_orders::status.eq(status.as_str()));
    }
    query.load(conn).await
}

/// The open release orders of a lot: what a release scan may consume.
pub async fn open_release_orders(
    conn: &mut AsyncPgConnection,
    lot_id: Uuid,
) -> QueryResult<Vec<ReleaseOrder>> {
    release_orders::table
        .filter(release_orders::lot_id.eq(lot_id))
        .filter(release_orders::status.eq(ReleaseOrderStatus::Open.as_str()))
        .select(ReleaseOrder::as_select())
        .order(release_orders::created_at.asc())
        .limit(20)
        .load(conn)
        .await
}

pub async fn lock_release_order(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    id: Uuid,
) -> QueryResult<Option<ReleaseOrder>> {
    order.take(Rank::ReleaseOrder, id);
    release_orders::table
        .find(id)
        .select(ReleaseOrder::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Counts `quantity` as released against the order, completing it when nothing is left.
pub async fn consume_release_order(
    conn: &mut AsyncPgConnection,
    order: &ReleaseOrder,
    quantity: Decimal,
) -> QueryResult<ReleaseOrder> {
    let released = order.quantity_released.value() + quantity;
    let completed = released >= order.quantity.value();
    diesel::update(release_orders::table.find(order.id))
        .set((
            release_orders::quantity_released.eq(released),
            release_orders::status.eq(if completed {
                ReleaseOrderStatus::Completed
            } else {
                ReleaseOrderStatus::Open
            }),
            release_orders::completed_at.eq(completed.then(Utc::now)),
        ))
        .returning(ReleaseOrder::as_returning())
        .cached()
        .get_result(conn)
        .await
}

#[derive(Debug, QueryableByName, serde::Serialize, utoipa::ToSchema)]
pub struct Discrepancy {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub lot_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub code: String,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub quantity_on_hand: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub quantity_from_movements: Decimal,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub status: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub status_from_movements: Option<String>,
}

/// Every lot whose row disagrees with its movements.
pub async fn reconciliation(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Discrepancy>> {
    prepared(
        "SELECT lot_id, code, quantity_on_hand, quantity_from_movements, status, status_from_movements \
         FROM lot_reconciliation ORDER BY code LIMIT 1000",
    )
    .load(conn)
    .await
}

/// Sets the storage rate of a lot that arrived by sea at its first warehouse.
pub async fn set_storage_rate(
    conn: &mut AsyncPgConnection,
    lot_id: Uuid,
    rate: Option<&crate::reference::model::StorageRate>,
) -> QueryResult<()> {
    diesel::update(lots::table.find(lot_id))
        .set((
            lots::storage_rate_per_unit_day.eq(rate.map(|r| r.rate_per_unit_day)),
            lots::storage_currency.eq(rate.map(|r| r.currency.clone())),
        ))
        .cached()
        .execute(conn)
        .await
        .map(|_| ())
}

pub async fn add_pledged(
    conn: &mut AsyncPgConnection,
    lot_id: Uuid,
    delta: Decimal,
) -> QueryResult<LotRow> {
    diesel::update(lots::table.find(lot_id))
        .set((
            lots::quantity_pledged.eq(lots::quantity_pledged + delta),
            lots::updated_at.eq(Utc::now()),
        ))
        .returning(LotRow::as_returning())
        .cached()
        .get_result(conn)
        .await
}

/// The code, commodity and unit of each lot, to name them beside a quantity.
pub async fn labels(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, String, String, String)>> {
    lots::table
        .filter(lots::id.eq_any(ids))
        .select((lots::id, lots::code, lots::commodity_code, lots::unit))
        .load(conn)
        .await
}

/// The lots in custody at `warehouse`, locked in id order (see `db::locks`).
pub async fn lock_in_custody_at(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    warehouse: Uuid,
) -> QueryResult<Vec<LotRow>> {
    let held: Vec<LotRow> = lots::table
        .filter(lots::warehouse_id.eq(warehouse))
        .filter(lots::status.eq(LotStatus::InCustody))
        .order(lots::id)
        .select(LotRow::as_select())
        .for_update()
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = held.iter().map(|l| l.id).collect();
    order.take_all(Rank::Lot, &ids);
    Ok(held)
}

/// The loans with money out that these lots are pledged to: (loan, lender, supplier, lot).
pub async fn live_pledges_on(
    conn: &mut AsyncPgConnection,
    lot_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, Uuid, Uuid, Uuid)>> {
    if lot_ids.is_empty() {
        return Ok(Vec::new());
    }
    pledges::table
        .inner_join(loans::table)
        .filter(pledges::lot_id.eq_any(lot_ids))
        .filter(pledges::quantity.gt(Decimal::ZERO))
        .filter(loans::status.eq_any(LoanStatus::LIVE))
        .order((loans::id, pledges::lot_id))
        .select((
            loans::id,
            loans::lender_org_id,
            loans::supplier_org_id,
            pledges::lot_id,
        ))
        .load(conn)
        .await
}

/// The `regrade` movement of a (locked) lot whose grade the caller has just changed: no
/// quantity or place changes; `details` say from what to what, and why.
pub async fn record_regrade(
    conn: &mut AsyncPgConnection,
    lot: &LotRow,
    actor_user_id: Uuid,
    reason: &str,
    details: Value,
) -> QueryResult<()> {
    let regrade = MovementChange {
        reason: Some(reason),
        details,
        ..MovementChange::of(lot, MovementKind::Regrade, lot.status, Some(actor_user_id))
    };
    record_movement(conn, regrade).await.map(|_| ())
}

/// Regrades the (locked) lot; the caller records the movement.
pub async fn set_grade(conn: &mut AsyncPgConnection, lot_id: Uuid, grade: &str) -> QueryResult<()> {
    diesel::update(lots::table.find(lot_id))
        .set((lots::grade.eq(grade), lots::updated_at.eq(Utc::now())))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// The child of a split carries its parent's receipt (storage rate, currencies, received
/// time) and its inspection (the same goods, measured together).
pub async fn copy_receipt(
    conn: &mut AsyncPgConnection,
    parent: &LotRow,
    child: Uuid,
) -> QueryResult<()> {
    diesel::update(lots::table.find(child))
        .set((
            lots::storage_rate_per_unit_day.eq(parent.storage_rate_per_unit_day),
            lots::storage_currency.eq(&parent.storage_currency),
            lots::deposit_currency.eq(&parent.deposit_currency),
            lots::received_at.eq(parent.received_at),
            lots::last_inspection_id.eq(parent.last_inspection_id),
            lots::last_inspected_at.eq(parent.last_inspected_at),
            lots::inspection_due_on.eq(parent.inspection_due_on),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// An open release order that a shortage leaves `cut` less to let out: done when what was
/// released is all there is, cancelled when nothing was; the lot's reservation shrinks too.
pub async fn shrink_release_order(
    conn: &mut AsyncPgConnection,
    order: &ReleaseOrder,
    cut: Decimal,
) -> QueryResult<()> {
    let quantity = order.quantity.value();
    let released = order.quantity_released.value();
    let key = release_orders::table.find(order.id);
    if quantity - cut > released {
        diesel::update(key)
            .set(release_orders::quantity.eq(quantity - cut))
            .cached()
            .execute(conn)
            .await?;
    } else if released > Decimal::ZERO {
        diesel::update(key)
            .set((
                release_orders::quantity.eq(released),
                release_orders::status.eq(ReleaseOrderStatus::Completed.as_str()),
                release_orders::completed_at.eq(Utc::now()),
            ))
            .cached()
            .execute(conn)
            .await?;
    } else {
        diesel::update(key)
            .set(release_orders::status.eq(ReleaseOrderStatus::Cancelled.as_str()))
            .cached()
            .execute(conn)
            .await?;
    }
    add_reserved(conn, order.lot_id, -cut).await?;
    Ok(())
}

/// The lot's open release orders, newest first, locked.
pub async fn lock_open_orders(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    lot_id: Uuid,
) -> QueryResult<Vec<ReleaseOrder>> {
    let orders: Vec<ReleaseOrder> = release_orders::table
        .filter(release_orders::lot_id.eq(lot_id))
        .filter(release_orders::status.eq(ReleaseOrderStatus::Open.as_str()))
        .order(release_orders::created_at.desc())
        .select(ReleaseOrder::as_select())
        .for_update()
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    order.take_all(Rank::ReleaseOrder, &ids);
    Ok(orders)
}

/// Tells (an audit event and an outbox event, `lot.inspection_overdue`) the owner, the
/// warehouse operator and every lender with a pledge on each lot whose inspection fell overdue
/// on `day` (due the day before), in one statement. Answers how many lots.
pub async fn flag_overdue_inspections(
    conn: &mut AsyncPgConnection,
    day: NaiveDate,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Count = prepared(
        "WITH changed AS ( \
             SELECT lot.id, lot.code, lot.commodity_code, lot.warehouse_id, lot.voyage_id, lot.grade, \
                    lot.last_inspected_at, lot.inspection_due_on, \
                    CASE WHEN lot.last_inspected_at IS NULL THEN 'not_inspected' ELSE 'inspection_overdue' END AS reason, \
                    array_remove(ARRAY[lot.owner_org_id, w.operator_org_id] || coalesce( \
                        (SELECT array_agg(DISTINCT ln.lender_org_id) FROM pledges p JOIN loans ln ON ln.id = p.loan_id \
                         WHERE p.lot_id = lot.id AND p.quantity > 0 \
                           AND ln.status IN ('requested', 'approved', 'active', 'defaulted', 'liquidating')), \
                        '{}'), NULL) AS org_ids \
             FROM lots lot JOIN commodities c ON c.code = lot.commodity_code AND c.inspection_required \
             LEFT JOIN warehouses w ON w.id = lot.warehouse_id \
             WHERE lot.inspection_due_on = $1::date - 1 AND lot.status IN ('in_custody', 'in_transit')), \
         audit AS ( \
             INSERT INTO audit_events (org_ids, action, object_kind, object_id, after) \
             SELECT org_ids, 'lot.inspection_overdue', 'lot', id::text, to_jsonb(changed) - 'org_ids' \
             FROM changed RETURNING 1), \
         feed AS ( \
             INSERT INTO outbox_events (org_ids, event_type, payload) \
             SELECT org_ids, 'lot.inspection_overdue', \
                    jsonb_build_object('object_kind', 'lot', 'object_id', id, 'actor_user_id', NULL, \
                                       'data', to_jsonb(changed) - 'org_ids') \
             FROM changed RETURNING 1) \
         SELECT count(*) AS n FROM feed",
    )
    .bind::<diesel::sql_types::Date, _>(day)
    .get_result(conn)
    .await?;
    Ok(row.n)
}
