//! Queries for facilities, loans, pledges and margin calls. A facility or loan is visible to
//! its lender, its supplier and the platform; to anyone else it does not exist.

use super::model::{FacilityRow, LoanRow, MarginCall, PENDING, PledgeRow};
use crate::auth::{OrgKind, Principal};
use crate::db::schema::{facilities, loans, margin_calls, pledges};
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
            OrgKind::WarehouseOperator | OrgKind::Buyer => Party::Nobody,
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

pub async fn lock_facility(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<FacilityRow> {
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
    party: Party,
    id: Uuid,
) -> QueryResult<Option<LoanRow>> {
    if find_loan(conn, party, id).await?.is_none() {
        return Ok(None);
    }
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
    pub status: Option<String>,
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

/// What the facility has lent (outstanding principal of live loans) and what pending
/// requests hold of its limit.
pub async fn usage(
    conn: &mut AsyncPgConnection,
    facility_id: Uuid,
) -> QueryResult<(Decimal, Decimal)> {
    let rows: Vec<(String, Decimal, Decimal)> = loans::table
        .filter(loans::facility_id.eq(facility_id))
        .select((
            loans::status,
            loans::principal,
            loans::outstanding_principal,
        ))
        .load(conn)
        .await?;
    let drawn = rows
        .iter()
        .filter(|(status, _, _)| super::model::LIVE.contains(&status.as_str()))
        .map(|(_, _, outstanding)| *outstanding)
        .sum();
    let committed = rows
        .iter()
        .filter(|(status, _, _)| PENDING.contains(&status.as_str()))
        .map(|(_, principal, _)| *principal)
        .sum();
    Ok((drawn, committed))
}

/// The facility's collateral value: what revaluation last found the live loans' pledges worth.
pub async fn collateral_value(
    conn: &mut AsyncPgConnection,
    facility_id: Uuid,
) -> QueryResult<Decimal> {
    let values: Vec<Decimal> = loans::table
        .filter(loans::facility_id.eq(facility_id))
        .filter(loans::status.eq_any(super::model::LIVE))
        .select(loans::collateral_value)
        .load(conn)
        .await?;
    Ok(values.into_iter().sum())
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
        .execute(conn)
        .await?;
    lots::add_pledged(conn, lot_id, -quantity).await?;
    Ok(())
}

/// Releases every pledge of the loan, locking its lots in id order.
pub async fn release_all(conn: &mut AsyncPgConnection, loan_id: Uuid) -> QueryResult<()> {
    for pledge in pledges_of(conn, loan_id).await? {
        lots::lock(conn, pledge.lot_id).await?;
        unpledge(conn, loan_id, pledge.lot_id, pledge.quantity).await?;
    }
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
