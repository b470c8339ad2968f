//! Queries for facilities, loans, pledges and margin calls. A facility or loan is visible to
//! its lender, its supplier and the platform; to anyone else it does not exist.

use super::model::{CollateralHold, FacilityRow, LoanRow, LtvPoint, MarginCall, PledgeRow};
use crate::auth::{OrgKind, Principal};
use crate::db::locks::{LockOrder, Rank};
use crate::db::prepared::{Cache, prepared};
use crate::db::schema::{facilities, liquidations, loan_ltv_history, loans, margin_calls, pledges};
use crate::domain::lending::Allocation;
use crate::domain::states::LoanStatus;
use crate::lots::store as lots;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Whose facilities and loans a caller sees.
#[derive(Clone, Copy, Debug)]
pub enum Party {
    All,
    Lender(Uuid),
    Supplier(Uuid),
    Nobody,
}

impl Party {
    pub fn of(principal: &Principal) -> Self {
        match principal.kind {
            OrgKind::Platform => Party::All,
            OrgKind::Lender => Party::Lender(principal.org_id),
            OrgKind::Supplier => Party::Supplier(principal.org_id),
            OrgKind::WarehouseOperator | OrgKind::Buyer | OrgKind::Inspector => Party::Nobody,
        }
    }
}

pub async fn find_facility(
    conn: &mut AsyncPgConnection,
    party: Party,
    id: Uuid,
) -> QueryResult<Option<FacilityRow>> {
    let mut query = facilities::table
        .filter(facilities::id.eq(id))
        .select(FacilityRow::as_select())
        .into_boxed();
    query = match party {
        Party::All => query,
        Party::Lender(org) => query.filter(facilities::lender_org_id.eq(org)),
        Party::Supplier(org) => query.filter(facilities::supplier_org_id.eq(org)),
        Party::Nobody => query.filter(facilities::id.is_null()),
    };
    query.first(conn).await.optional()
}

pub async fn lock_facility(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    id: Uuid,
) -> QueryResult<FacilityRow> {
    order.take(Rank::Facility, id);
    facilities::table
        .find(id)
        .select(FacilityRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn list_facilities(
    conn: &mut AsyncPgConnection,
    party: Party,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<FacilityRow>> {
    let mut query = facilities::table
        .select(FacilityRow::as_select())
        .order(facilities::seq)
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(facilities::seq.gt(after));
    }
    query = match party {
        Party::All => query,
        Party::Lender(org) => query.filter(facilities::lender_org_id.eq(org)),
        Party::Supplier(org) => query.filter(facilities::supplier_org_id.eq(org)),
        Party::Nobody => query.filter(facilities::id.is_null()),
    };
    query.load(conn).await
}

fn loans_of(party: Party) -> loans::BoxedQuery<'static, diesel::pg::Pg> {
    let query = loans::table.into_boxed();
    match party {
        Party::All => query,
        Party::Lender(org) => query.filter(loans::lender_org_id.eq(org)),
        Party::Supplier(org) => query.filter(loans::supplier_org_id.eq(org)),
        Party::Nobody => query.filter(loans::id.is_null()),
    }
}

pub async fn find_loan(
    conn: &mut AsyncPgConnection,
    party: Party,
    id: Uuid,
) -> QueryResult<Option<LoanRow>> {
    loans_of(party)
        .filter(loans::id.eq(id))
        .select(LoanRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The loan, locked for the rest of the transaction, if the party may see it.
pub async fn lock_loan(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    party: Party,
    id: Uuid,
) -> QueryResult<Option<LoanRow>> {
    if find_loan(conn, party, id).await?.is_none() {
        return Ok(None);
    }
    order.take(Rank::Loan, id);
    loans::table
        .find(id)
        .select(LoanRow::as_select())
        .for_update()
        .first(conn)
        .await
        .map(Some)
}

pub async fn reload_loan(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<LoanRow> {
    loans::table
        .find(id)
        .select(LoanRow::as_select())
        .first(conn)
        .await
}

pub struct LoanFilter {
    pub status: Option<LoanStatus>,
    pub facility_id: Option<Uuid>,
}

pub async fn list_loans(
    conn: &mut AsyncPgConnection,
    party: Party,
    filter: LoanFilter,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<LoanRow>> {
    let mut query = loans_of(party)
        .select(LoanRow::as_select())
        .order(loans::seq)
        .limit(limit + 1);
    if let Some(after) = after {
        query = query.filter(loans::seq.gt(after));
    }
    if let Some(status) = filter.status {
        query = query.filter(loans::status.eq(status));
    }
    if let Some(facility) = filter.facility_id {
        query = query.filter(loans::facility_id.eq(facility));
    }
    query.load(conn).await
}

/// What each of these facilities has lent (outstanding principal of live loans), holds for
/// pending requests (their principal) and holds as collateral (what revaluation last found
/// the live loans' pledges worth): (facility, drawn, committed, collateral value).
pub async fn usage(
    conn: &mut AsyncPgConnection,
    facility_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, Decimal, Decimal, Decimal)>> {
    let mut statuses = LoanStatus::PENDING.to_vec();
    statuses.extend_from_slice(LoanStatus::LIVE);
    let rows: Vec<(Uuid, LoanStatus, Decimal, Decimal, Decimal)> = loans::table
        .filter(loans::facility_id.eq_any(facility_ids))
        .filter(loans::status.eq_any(statuses))
        .select((
            loans::facility_id,
            loans::status,
            loans::principal,
            loans::outstanding_principal,
            loans::collateral_value,
        ))
        .load(conn)
        .await?;
    Ok(facility_ids
        .iter()
        .map(|id| {
            let mine = rows.iter().filter(|r| r.0 == *id);
            let (mut drawn, mut committed, mut value) =
                (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
            for (_, status, principal, outstanding, collateral) in mine {
                if status.is_live() {
                    drawn += *outstanding;
                    value += *collateral;
                } else {
                    committed += *principal;
                }
            }
            (*id, drawn, committed, value)
        })
        .collect())
}

/// What one facility has lent and holds for pending requests.
pub async fn usage_of(
    conn: &mut AsyncPgConnection,
    facility_id: Uuid,
) -> QueryResult<(Decimal, Decimal)> {
    let all = usage(conn, &[facility_id]).await?;
    Ok(<[_]>::first(&all).map_or((Decimal::ZERO, Decimal::ZERO), |u| (u.1, u.2)))
}

pub async fn pledges_of(
    conn: &mut AsyncPgConnection,
    loan_id: Uuid,
) -> QueryResult<Vec<PledgeRow>> {
    pledges::table
        .filter(pledges::loan_id.eq(loan_id))
        .filter(pledges::quantity.gt(Decimal::ZERO))
        .order(pledges::lot_id)
        .select(PledgeRow::as_select())
        .load(conn)
        .await
}

/// Pledges `quantity` more of the lot to the loan (lot already locked by the caller).
pub async fn pledge(
    conn: &mut AsyncPgConnection,
    loan_id: Uuid,
    lot_id: Uuid,
    quantity: Decimal,
) -> QueryResult<()> {
    diesel::insert_into(pledges::table)
        .values((
            pledges::loan_id.eq(loan_id),
            pledges::lot_id.eq(lot_id),
            pledges::quantity.eq(quantity),
        ))
        .on_conflict((pledges::loan_id, pledges::lot_id))
        .do_update()
        .set(pledges::quantity.eq(pledges::quantity + quantity))
        .execute(conn)
        .await?;
    lots::add_pledged(conn, lot_id, quantity).await?;
    Ok(())
}

/// Takes `quantity` of the lot out of the loan's pledge (lot already locked by the caller).
pub async fn unpledge(
    conn: &mut AsyncPgConnection,
    loan_id: Uuid,
    lot_id: Uuid,
    quantity: Decimal,
) -> QueryResult<()> {
    diesel::update(pledges::table.find((loan_id, lot_id)))
        .set(pledges::quantity.eq(pledges::quantity - quantity))
        .cached()
        .execute(conn)
        .await?;
    lots::add_pledged(conn, lot_id, -quantity).await?;
    Ok(())
}

/// Releases every pledge of the loan, locking in id order those of its lots the transaction
/// does not hold yet: at most three statements, however many lots; one when the transaction
/// holds them all already (a settlement does).
pub async fn release_all(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    loan_id: Uuid,
) -> QueryResult<()> {
    if !order.holds_pledged_lots_of(loan_id) {
        let pledged = pledges_of(conn, loan_id).await?;
        if pledged.is_empty() {
            return Ok(());
        }
        let unlocked: Vec<Uuid> = pledged
            .iter()
            .map(|p| p.lot_id)
            .filter(|lot| !order.holds(Rank::Lot, *lot))
            .collect();
        lots::lock_ids(conn, order, &unlocked).await?;
    }
    // Each pledge goes to zero and its lot's pledged quantity falls by what it held (the
    // self-join reads the pledge as it was before the update).
    prepared(
        "WITH released AS ( \
             UPDATE pledges p SET quantity = 0 FROM pledges was \
             WHERE p.loan_id = $1 AND p.quantity > 0 AND was.loan_id = p.loan_id AND was.lot_id = p.lot_id \
             RETURNING p.lot_id, was.quantity) \
         UPDATE lots l SET quantity_pledged = l.quantity_pledged - r.quantity, updated_at = now() \
         FROM released r WHERE l.id = r.lot_id",
    )
    .bind::<diesel::sql_types::Uuid, _>(loan_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn open_margin_call(
    conn: &mut AsyncPgConnection,
    loan_id: Uuid,
) -> QueryResult<Option<MarginCall>> {
    margin_calls::table
        .filter(margin_calls::loan_id.eq(loan_id))
        .filter(margin_calls::status.eq("open"))
        .select(MarginCall::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn latest_margin_call(
    conn: &mut AsyncPgConnection,
    loan_id: Uuid,
) -> QueryResult<Option<MarginCall>> {
    margin_calls::table
        .filter(margin_calls::loan_id.eq(loan_id))
        .order(margin_calls::seq.desc())
        .select(MarginCall::as_select())
        .first(conn)
        .await
        .optional()
}

/// Every margin call of one loan (at most `limit`), newest first.
pub async fn margin_calls_of(
    conn: &mut AsyncPgConnection,
    loan_id: Uuid,
    limit: i64,
) -> QueryResult<Vec<MarginCall>> {
    margin_calls::table
        .filter(margin_calls::loan_id.eq(loan_id))
        .order(margin_calls::seq.desc())
        .limit(limit)
        .select(MarginCall::as_select())
        .load(conn)
        .await
}

/// The loan's latest `limit` closing LTVs, oldest first.
pub async fn ltv_history(
    conn: &mut AsyncPgConnection,
    loan_id: Uuid,
    limit: i64,
) -> QueryResult<Vec<LtvPoint>> {
    let mut points: Vec<LtvPoint> = loan_ltv_history::table
        .filter(loan_ltv_history::loan_id.eq(loan_id))
        .order(loan_ltv_history::business_date.desc())
        .limit(limit)
        .select(LtvPoint::as_select())
        .load(conn)
        .await?;
    points.reverse();
    Ok(points)
}

pub async fn list_margin_calls(
    conn: &mut AsyncPgConnection,
    party: Party,
    status: Option<String>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<MarginCall>> {
    let visible = loans_of(party).select(loans::id);
    let mut query = margin_calls::table
        .filter(margin_calls::loan_id.eq_any(visible))
        .select(MarginCall::as_select())
        .order(margin_calls::seq)
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(margin_calls::seq.gt(after));
    }
    if let Some(status) = status {
        query = query.filter(margin_calls::status.eq(status));
    }
    query.load(conn).await
}

/// The terms of a new facility, checked by the service.
pub struct NewFacilityRow<'a> {
    pub lender_org_id: Uuid,
    pub supplier_org_id: Uuid,
    pub currency: &'a str,
    pub limit_amount: Decimal,
    pub advance_rate: Decimal,
    pub annual_interest_rate: Decimal,
    pub margin_call_ltv: Decimal,
    pub liquidation_ltv: Decimal,
    pub cure_period_days: i32,
    pub max_tenor_days: i32,
    pub eligible_commodities: &'a [String],
    pub second_approver_required: bool,
    pub arrangement_fee_rate: Decimal,
    pub created_by: Option<Uuid>,
}

pub async fn insert_facility(
    conn: &mut AsyncPgConnection,
    new: NewFacilityRow<'_>,
) -> QueryResult<FacilityRow> {
    diesel::insert_into(facilities::table)
        .values((
            facilities::id.eq(Uuid::new_v4()),
            facilities::lender_org_id.eq(new.lender_org_id),
            facilities::supplier_org_id.eq(new.supplier_org_id),
            facilities::currency.eq(new.currency),
            facilities::limit_amount.eq(new.limit_amount),
            facilities::advance_rate.eq(new.advance_rate),
            facilities::annual_interest_rate.eq(new.annual_interest_rate),
            facilities::margin_call_ltv.eq(new.margin_call_ltv),
            facilities::liquidation_ltv.eq(new.liquidation_ltv),
            facilities::cure_period_days.eq(new.cure_period_days),
            facilities::max_tenor_days.eq(new.max_tenor_days),
            facilities::eligible_commodities.eq(new.eligible_commodities),
            facilities::second_approver_required.eq(new.second_approver_required),
            facilities::arrangement_fee_rate.eq(new.arrangement_fee_rate),
            facilities::created_by.eq(new.created_by),
        ))
        .returning(FacilityRow::as_returning())
        .get_result(conn)
        .await
}

/// The facility's limit, rate and advance rate (checked by the caller, which holds its lock).
pub async fn change_facility(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    (limit, annual_interest_rate, advance_rate): (Decimal, Decimal, Decimal),
) -> QueryResult<FacilityRow> {
    diesel::update(facilities::table.find(id))
        .set((
            facilities::limit_amount.eq(limit),
            facilities::annual_interest_rate.eq(annual_interest_rate),
            facilities::advance_rate.eq(advance_rate),
        ))
        .returning(FacilityRow::as_returning())
        .cached()
        .get_result(conn)
        .await
}

/// The facility closed to new loans.
pub async fn close_facility(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<FacilityRow> {
    diesel::update(facilities::table.find(id))
        .set(facilities::status.eq("closed"))
        .returning(FacilityRow::as_returning())
        .cached()
        .get_result(conn)
        .await
}

/// A requested loan under `facility`, on the facility's currency and rate.
pub async fn insert_loan(
    conn: &mut AsyncPgConnection,
    facility: &FacilityRow,
    principal: Decimal,
    requested_by: Uuid,
) -> QueryResult<Uuid> {
    let id = Uuid::new_v4();
    diesel::insert_into(loans::table)
        .values((
            loans::id.eq(id),
            loans::facility_id.eq(facility.id),
            loans::lender_org_id.eq(facility.lender_org_id),
            loans::supplier_org_id.eq(facility.supplier_org_id),
            loans::currency.eq(&facility.currency),
            loans::principal.eq(principal),
            loans::outstanding_principal.eq(Decimal::ZERO),
            loans::annual_interest_rate.eq(facility.annual_interest_rate),
            loans::status.eq(LoanStatus::Requested),
            loans::requested_by.eq(requested_by),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// Records an approval by `user`: the first of two (`confirmed` false and a second approver
/// needed), a second approver's confirmation, or the only one needed.
pub async fn record_approval(
    conn: &mut AsyncPgConnection,
    loan_id: Uuid,
    user: Uuid,
    approval: Approval,
) -> QueryResult<()> {
    let now = chrono::Utc::now();
    let target = loans::table.find(loan_id);
    match approval {
        Approval::First => {
            diesel::update(target)
                .set((loans::approved_by.eq(user), loans::approved_at.eq(now)))
                .cached()
                .execute(conn)
                .await?
        }
        Approval::Confirmation => {
            diesel::update(target)
                .set((
                    loans::confirmed_by.eq(user),
                    loans::confirmed_at.eq(now),
                    loans::status.eq(LoanStatus::Approved),
                ))
                .cached()
                .execute(conn)
                .await?
        }
        Approval::Only => {
            diesel::update(target)
                .set((
                    loans::approved_by.eq(user),
                    loans::approved_at.eq(now),
                    loans::status.eq(LoanStatus::Approved),
                ))
                .cached()
                .execute(conn)
                .await?
        }
    };
    Ok(())
}

/// Which approval a lender user gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approval {
    /// The first of two: the loan stays `requested`.
    First,
    /// A second user confirms the first approval.
    Confirmation,
    /// The facility needs one approval.
    Only,
}

/// Ends a loan before disbursement: `rejected` (with the lender's reason) or `cancelled`.
pub async fn end_before_disbursement(
    conn: &mut AsyncPgConnection,
    loan_id: Uuid,
    status: LoanStatus,
    reason: Option<&str>,
) -> QueryResult<()> {
    diesel::update(loans::table.find(loan_id))
        .set((loans::status.eq(status), loans::decided_reason.eq(reason)))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// What a disbursement writes on the loan.
pub struct Disbursed {
    pub by: Uuid,
    pub on: chrono::NaiveDate,
    pub fees_due: Decimal,
    pub maturity_date: chrono::NaiveDate,
}

pub async fn mark_disbursed(
    conn: &mut AsyncPgConnection,
    loan: &LoanRow,
    disbursed: Disbursed,
) -> QueryResult<()> {
    diesel::update(loans::table.find(loan.id))
        .set((
            loans::status.eq(LoanStatus::Active),
            loans::outstanding_principal.eq(loan.principal),
            loans::fees_due.eq(disbursed.fees_due),
            loans::disbursed_by.eq(disbursed.by),
            loans::disbursed_at.eq(chrono::Utc::now()),
            loans::disbursed_on.eq(disbursed.on),
            loans::accrued_through.eq(disbursed.on),
            loans::maturity_date.eq(disbursed.maturity_date),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes a payment of `allocation` to the locked loan's balances. `accrued_after` is what
/// remains of the accrual (zero when the interest due was paid in full).
pub async fn apply_payment(
    conn: &mut AsyncPgConnection,
    loan: &LoanRow,
    allocation: &Allocation,
    accrued_after: Decimal,
) -> QueryResult<()> {
    diesel::update(loans::table.find(loan.id))
        .set((
            loans::fees_due.eq(loan.fees_due - allocation.fees),
            loans::fees_paid.eq(loan.fees_paid + allocation.fees),
            loans::accrued_interest.eq(accrued_after),
            loans::interest_paid.eq(loan.interest_paid + allocation.interest),
            loans::outstanding_principal.eq(loan.outstanding_principal - allocation.principal),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// The payment of everything `loan` owes, on business date `on`, in one statement: its debt
/// to zero, `status` (`repaid` or `closed`), and no collateral (its pledges are released
/// next), so its LTV is none.
pub async fn pay_off(
    conn: &mut AsyncPgConnection,
    loan: &LoanRow,
    allocation: &Allocation,
    status: LoanStatus,
    on: chrono::NaiveDate,
) -> QueryResult<()> {
    let now = chrono::Utc::now();
    diesel::update(loans::table.find(loan.id))
        .set((
            (
                loans::fees_due.eq(loan.fees_due - allocation.fees),
                loans::fees_paid.eq(loan.fees_paid + allocation.fees),
                loans::accrued_interest.eq(Decimal::ZERO),
                loans::interest_paid.eq(loan.interest_paid + allocation.interest),
                loans::outstanding_principal.eq(loan.outstanding_principal - allocation.principal),
            ),
            (
                loans::status.eq(status),
                loans::repaid_at.eq(now),
                loans::repaid_on.eq(on),
                loans::collateral_value.eq(Decimal::ZERO),
                loans::ltv.eq(None::<Decimal>),
                loans::revalued_at.eq(now),
            ),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a liquidation order of the loan's pledged goods (`lots`, as listed) and moves the
/// loan to `liquidating`. Returns when it was ordered.
pub async fn insert_liquidation(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    loan_id: Uuid,
    ordered_by: Uuid,
    lots: &serde_json::Value,
) -> QueryResult<chrono::DateTime<chrono::Utc>> {
    let ordered_at = diesel::insert_into(liquidations::table)
        .values((
            liquidations::id.eq(id),
            liquidations::loan_id.eq(loan_id),
            liquidations::ordered_by.eq(ordered_by),
            liquidations::lots.eq(lots),
        ))
        .returning(liquidations::ordered_at)
        .get_result(conn)
        .await?;
    diesel::update(loans::table.find(loan_id))
        .set(loans::status.eq(LoanStatus::Liquidating))
        .cached()
        .execute(conn)
        .await?;
    Ok(ordered_at)
}

/// Locks the loans with these ids, in id order (see `crate::locks`).
pub async fn lock_loans(
    conn: &mut AsyncPgConnection,
    order: &mut LockOrder,
    ids: &[Uuid],
) -> QueryResult<()> {
    order.take_all(Rank::Loan, ids);
    let _: Vec<Uuid> = loans::table
        .filter(loans::id.eq_any(ids))
        .order(loans::id)
        .select(loans::id)
        .for_update()
        .load(conn)
        .await?;
    Ok(())
}

/// The loans with these ids and their facilities' advance rates, oldest first.
pub async fn loans_with_advance_rate(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<(LoanRow, Decimal)>> {
    loans::table
        .inner_join(facilities::table)
        .filter(loans::id.eq_any(ids))
        .order(loans::seq)
        .select((LoanRow::as_select(), facilities::advance_rate))
        .load(conn)
        .await
}

/// The pledges of these loans that still hold goods, by loan and lot.
pub async fn live_pledges_of(
    conn: &mut AsyncPgConnection,
    loan_ids: &[Uuid],
) -> QueryResult<Vec<PledgeRow>> {
    pledges::table
        .filter(pledges::loan_id.eq_any(loan_ids))
        .filter(pledges::quantity.gt(Decimal::ZERO))
        .order((pledges::loan_id, pledges::lot_id))
        .select(PledgeRow::as_select())
        .load(conn)
        .await
}

/// The temperature breaches that held (or hold) these loans' pledged goods: in their
/// warehouse while they were there. Newest first, at most 20 a loan.
pub async fn holds_of(
    conn: &mut AsyncPgConnection,
    loan_ids: &[Uuid],
) -> QueryResult<Vec<CollateralHold>> {
    prepared(
        "SELECT loan_id, lot_id, lot_code, breach_id, kind, started_at, ended_at, lifted_at, lifted_by, comment \
         FROM (SELECT p.loan_id, lot.id AS lot_id, lot.code AS lot_code, br.id AS breach_id, br.kind, \
                      br.started_at, br.ended_at, br.acknowledged_at AS lifted_at, \
                      br.acknowledged_by AS lifted_by, br.comment, \
                      row_number() OVER (PARTITION BY p.loan_id ORDER BY br.started_at DESC, lot.id) AS n \
               FROM pledges p JOIN lots lot ON lot.id = p.lot_id \
               JOIN breaches br ON br.warehouse_id = lot.warehouse_id \
                AND (br.ended_at IS NULL OR lot.warehouse_since IS NULL OR lot.warehouse_since < br.ended_at) \
               WHERE p.loan_id = ANY($1) AND p.quantity > 0 AND lot.status = 'in_custody') h \
         WHERE n <= 20 ORDER BY loan_id, started_at DESC, lot_id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(loan_ids)
    .load(conn)
    .await
}

/// The latest margin call of each of these loans that has had one.
pub async fn latest_margin_calls(
    conn: &mut AsyncPgConnection,
    loan_ids: &[Uuid],
) -> QueryResult<Vec<MarginCall>> {
    margin_calls::table
        .filter(margin_calls::loan_id.eq_any(loan_ids))
        .distinct_on(margin_calls::loan_id)
        .order((margin_calls::loan_id, margin_calls::seq.desc()))
        .select(MarginCall::as_select())
        .load(conn)
        .await
}

/// The advance rate of each of these facilities.
pub async fn advance_rates(
    conn: &mut AsyncPgConnection,
    facility_ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, Decimal)>> {
    facilities::table
        .filter(facilities::id.eq_any(facility_ids))
        .select((facilities::id, facilities::advance_rate))
        .load(conn)
        .await
}

/// A pledge of one lot to a loan that is pending or live: (loan, lender, the loan's status,
/// quantity).
pub type PledgeOn = (Uuid, Uuid, LoanStatus, Decimal);

/// The pledges of one lot to pending or live loans, newest loan first.
pub async fn pledges_on(conn: &mut AsyncPgConnection, lot_id: Uuid) -> QueryResult<Vec<PledgeOn>> {
    let mut statuses = LoanStatus::PENDING.to_vec();
    statuses.extend_from_slice(LoanStatus::LIVE);
    pledges::table
        .inner_join(loans::table)
        .filter(pledges::lot_id.eq(lot_id))
        .filter(pledges::quantity.gt(Decimal::ZERO))
        .filter(loans::status.eq_any(statuses))
        .order(loans::seq.desc())
        .select((
            loans::id,
            loans::lender_org_id,
            loans::status,
            pledges::quantity,
        ))
        .load(conn)
        .await
}
