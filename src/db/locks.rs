//! The one lock order. Every service that changes goods or money carries one [`LockOrder`]
//! through its transaction and hands it to every store function that takes a row lock, which
//! notes the lock in it. Locks are taken in this order, and within a kind by ascending id:
//!
//! 1. the sale
//! 2. the facility
//! 3. loans, by id
//! 4. lots, by id
//! 5. the voyage
//! 6. release orders
//!
//! Two transactions that take locks in one order cannot wait on each other in a cycle, so
//! they cannot deadlock on these rows. Taking again a lock already held is free. A service
//! that takes a new lock out of order is a bug: debug builds (and so the tests) stop on it,
//! release builds log it.
//!
//! Updates that lock rows implicitly (a revaluation updating the loans it values, a pledge
//! updating its lot) touch only rows the service already holds.

use std::collections::BTreeSet;
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

/// The row locks one transaction holds.
#[derive(Debug, Default)]
pub struct LockOrder {
    held: BTreeSet<(Rank, Uuid)>,
    /// Loans held with the lots of every pledge they had when locked: no pledge can be added
    /// to a locked loan, so releasing their pledges needs no lot read or lock.
    pledged_lots_held: BTreeSet<Uuid>,
}

impl LockOrder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes a lock on `(rank, id)`, about to be taken: it must come after every lock held,
    /// unless it is held already.
    pub fn take(&mut self, rank: Rank, id: Uuid) {
        let key = (rank, id);
        if self.held.contains(&key) {
            return;
        }
        if let Some(last) = self.held.last()
            && key < *last
        {
            debug_assert!(false, "lock {rank:?} {id} taken after {last:?}");
            tracing::error!(?rank, %id, ?last, "lock taken out of order");
        }
        self.held.insert(key);
    }

    /// Whether this transaction holds the lock on `(rank, id)` already.
    pub fn holds(&self, rank: Rank, id: Uuid) -> bool {
        self.held.contains(&(rank, id))
    }

    /// Notes that the transaction holds the loan and the lots of all its live pledges.
    pub fn hold_pledged_lots_of(&mut self, loan: Uuid) {
        debug_assert!(self.holds(Rank::Loan, loan), "loan {loan} not held");
        self.pledged_lots_held.insert(loan);
    }

    /// Whether the transaction holds the loan and the lots of all its live pledges.
    pub fn holds_pledged_lots_of(&self, loan: Uuid) -> bool {
        self.pledged_lots_held.contains(&loan)
    }

    /// Notes locks on rows of one kind, taken together in id order.
    pub fn take_all(&mut self, rank: Rank, ids: &[Uuid]) {
        let mut ids = ids.to_vec();
        ids.sort();
        for id in ids {
            self.take(rank, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_in_the_documented_order_pass() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut order = LockOrder::new();
        order.take(Rank::Sale, b);
        order.take_all(Rank::Loan, &[b, a]);
        order.take(Rank::Lot, a);
        order.take(Rank::Lot, b);
        // Held already: free, whatever came since.
        order.take(Rank::Lot, a);
        order.take(Rank::Loan, a);
        order.take(Rank::ReleaseOrder, a);
    }

    #[test]
    #[should_panic(expected = "taken after")]
    fn a_loan_after_a_lot_is_caught() {
        let mut order = LockOrder::new();
        order.take(Rank::Lot, Uuid::from_u128(1));
        order.take(Rank::Loan, Uuid::from_u128(2));
    }

    #[test]
    #[should_panic(expected = "taken after")]
    fn lots_out_of_id_order_are_caught() {
        let mut order = LockOrder::new();
        order.take(Rank::Lot, Uuid::from_u128(2));
        order.take(Rank::Lot, Uuid::from_u128(1));
    }
}
