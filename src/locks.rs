//! The one lock order. Every service that changes goods or money takes its row locks through
//! a [`LockOrder`], in this order, and within a kind by ascending id:
//!
//! 1. the sale
//! 2. the facility
//! 3. loans, by id
//! 4. lots, by id
//! 5. the voyage
//! 6. release orders
//!
//! Two transactions that take locks in one order cannot wait on each other in a cycle, so
//! they cannot deadlock on these rows. A service that takes a lock out of order is a bug: debug
//! builds (and so the tests) stop on it, release builds log it.
//!
//! Updates that lock rows implicitly (a revaluation updating the loans it values, a pledge
//! updating its lot) touch only rows the service already holds.

use crate::error::ApiResult;
use crate::lending::model::{FacilityRow, LoanRow};
use crate::lending::store::{self as lending, Party};
use crate::lots::model::{LotRow, ReleaseOrder};
use crate::lots::store::{self as lots, Viewer};
use crate::reference::model::Voyage;
use crate::reference::store as reference;
use crate::sales::model::SaleRow;
use crate::sales::store as sales;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

/// The kinds of row in lock order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Sale,
    Facility,
    Loan,
    Lot,
    Voyage,
    ReleaseOrder,
}

/// The locks one transaction has taken so far: the last kind and id.
#[derive(Debug, Default)]
pub struct LockOrder {
    last: Option<(Rank, Uuid)>,
}

impl LockOrder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a lock on `(rank, id)`, checking it comes after every lock taken before.
    fn step(&mut self, rank: Rank, id: Uuid) {
        if let Some(last) = self.last
            && (rank, id) < last
        {
            debug_assert!(false, "lock {rank:?} {id} taken after {last:?}");
            tracing::error!(?rank, %id, ?last, "lock taken out of order");
        }
        self.last = Some((rank, id));
    }

    pub async fn sale(&mut self, conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<SaleRow> {
        self.step(Rank::Sale, id);
        Ok(sales::lock(conn, id).await?)
    }

    pub async fn facility(
        &mut self,
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> ApiResult<FacilityRow> {
        self.step(Rank::Facility, id);
        Ok(lending::lock_facility(conn, id).await?)
    }

    /// The loan, locked, if `party` may see it.
    pub async fn visible_loan(
        &mut self,
        conn: &mut AsyncPgConnection,
        party: Party,
        id: Uuid,
    ) -> ApiResult<Option<LoanRow>> {
        self.step(Rank::Loan, id);
        Ok(lending::lock_loan(conn, party, id).await?)
    }

    /// Locks the loans with these ids, in id order.
    pub async fn loans(&mut self, conn: &mut AsyncPgConnection, ids: &[Uuid]) -> ApiResult<()> {
        let mut ids = ids.to_vec();
        ids.sort();
        if let Some(first) = ids.first() {
            self.step(Rank::Loan, *first);
        }
        if let Some(last) = ids.last() {
            self.step(Rank::Loan, *last);
        }
        Ok(lending::lock_loans(conn, &ids).await?)
    }

    pub async fn lot(&mut self, conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<LotRow> {
        self.step(Rank::Lot, id);
        Ok(lots::lock(conn, id).await?)
    }

    /// The lot, locked, if it exists.
    pub async fn lot_if_any(
        &mut self,
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> ApiResult<Option<LotRow>> {
        use diesel::OptionalExtension;
        self.step(Rank::Lot, id);
        Ok(lots::lock(conn, id).await.optional()?)
    }

    /// The lot, locked, if `viewer` may see it.
    pub async fn visible_lot(
        &mut self,
        conn: &mut AsyncPgConnection,
        viewer: Viewer,
        id: Uuid,
    ) -> ApiResult<Option<LotRow>> {
        self.step(Rank::Lot, id);
        Ok(lots::lock_visible(conn, viewer, id).await?)
    }

    /// The lot with this printed code, locked, if `viewer` may see it.
    pub async fn visible_lot_by_code(
        &mut self,
        conn: &mut AsyncPgConnection,
        viewer: Viewer,
        code: &str,
    ) -> ApiResult<Option<LotRow>> {
        let lot = lots::lock_visible_by_code(conn, viewer, code).await?;
        if let Some(lot) = &lot {
            self.step(Rank::Lot, lot.id);
        }
        Ok(lot)
    }

    /// Locks the lots with these ids, in id order, and answers them in that order.
    pub async fn lots(
        &mut self,
        conn: &mut AsyncPgConnection,
        ids: &[Uuid],
    ) -> ApiResult<Vec<LotRow>> {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.lot(conn, id).await?);
        }
        Ok(out)
    }

    pub async fn voyage(
        &mut self,
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> ApiResult<Option<Voyage>> {
        self.step(Rank::Voyage, id);
        Ok(reference::lock_voyage(conn, id).await?)
    }

    pub async fn release_order(
        &mut self,
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> ApiResult<Option<ReleaseOrder>> {
        self.step(Rank::ReleaseOrder, id);
        Ok(lots::lock_release_order(conn, id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_in_the_documented_order_pass() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut order = LockOrder::new();
        order.step(Rank::Sale, b);
        order.step(Rank::Loan, a);
        order.step(Rank::Loan, b);
        order.step(Rank::Lot, a);
        order.step(Rank::Lot, a);
        order.step(Rank::ReleaseOrder, a);
    }

    #[test]
    #[should_panic(expected = "taken after")]
    fn a_loan_after_a_lot_is_caught() {
        let mut order = LockOrder::new();
        order.step(Rank::Lot, Uuid::from_u128(1));
        order.step(Rank::Loan, Uuid::from_u128(2));
    }

    #[test]
    #[should_panic(expected = "taken after")]
    fn lots_out_of_id_order_are_caught() {
        let mut order = LockOrder::new();
        order.step(Rank::Lot, Uuid::from_u128(2));
        order.step(Rank::Lot, Uuid::from_u128(1));
    }
}
