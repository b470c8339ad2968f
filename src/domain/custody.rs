//! The custody state machine: what a warehouse worker's scan may do to a lot, given where the
//! lot stands. Pure: the scan service asks it before it touches anything, and the table test
//! below states every case.
//!
//! ```text
//! announced ──receive──▶ in_custody ──load──▶ in_transit ──unload──▶ in_custody
//! announced (aboard) ──load──▶ in_transit
//! in_custody ──count, transfer──▶ in_custody
//! in_custody ──release──▶ in_custody, or released when nothing is left
//! ```

use super::states::{LotStatus, MovementKind, ScanAction};
use rust_decimal::Decimal;

/// What a scan does: the movement it writes and the lot's status after it. A release that
/// leaves the lot empty ends `released` (see [`status_after_release`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub movement: MovementKind,
    pub status_after: LotStatus,
}

/// Why a scan is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The action does not apply to a lot in this status.
    NotInThisStatus,
    /// The lot was announced onto a voyage: the carrier loads it aboard, nobody receives it
    /// into a warehouse.
    CarrierLoadsIt,
}

/// What `action` does to a lot in `status`. `announced_aboard` says the lot was announced
/// straight onto a voyage (for a load, the voyage the scan names).
pub fn scan(
    status: LotStatus,
    action: ScanAction,
    announced_aboard: bool,
) -> Result<Step, Refusal> {
    use LotStatus::*;
    use ScanAction as A;
    let step = |movement, status_after| {
        Ok(Step {
            movement,
            status_after,
        })
    };
    match (status, action) {
        (Announced, A::Receive) if announced_aboard => Err(Refusal::CarrierLoadsIt),
        (Announced, A::Receive) => step(MovementKind::Receive, InCustody),
        (Announced, A::Load) if announced_aboard => step(MovementKind::Load, InTransit),
        (InCustody, A::Load) => step(MovementKind::Load, InTransit),
        (InTransit, A::Unload) => step(MovementKind::Unload, InCustody),
        (InCustody, A::Transfer) => step(MovementKind::Transfer, InCustody),
        (InCustody, A::Count) => step(MovementKind::CountAdjustment, InCustody),
        (InCustody, A::Release) => step(MovementKind::Release, InCustody),
        _ => Err(Refusal::NotInThisStatus),
    }
}

/// A release that leaves nothing on hand ends the lot's custody.
pub fn status_after_release(quantity_left: Decimal) -> LotStatus {
    if quantity_left.is_zero() {
        LotStatus::Released
    } else {
        LotStatus::InCustody
    }
}

/// What holds a lot's goods. A sale takes pledged goods first (settlement repays their loans),
/// so what pending sales reserve may overlap the pledges of live loans; it never overlaps the
/// pledges of loans not yet paid out, nor what open release orders are to let out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Commitments {
    /// Pledged to loans not yet disbursed (requested, approved).
    pub pledged_pending: Decimal,
    /// Pledged to live loans (active, defaulted, liquidating).
    pub pledged_live: Decimal,
    /// Reserved by pending sales.
    pub sold: Decimal,
    /// Reserved in all: pending sales and open release orders.
    pub reserved: Decimal,
}

impl Commitments {
    /// The goods the lot must hold for every commitment to be kept: the pending pledges,
    /// the larger of the live pledges and the sold quantity, and what release orders are
    /// still to let out. It never exceeds what is on hand.
    pub fn total(&self) -> Decimal {
        self.pledged_pending + self.pledged_live.max(self.sold) + (self.reserved - self.sold)
    }

    /// Whether `on_hand` keeps every commitment.
    pub fn fit(&self, on_hand: Decimal) -> bool {
        self.total() <= on_hand
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LotStatus::*;
    use MovementKind as M;
    use ScanAction as A;

    #[test]
    fn every_status_and_action() {
        let allowed = |movement, status_after| {
            Ok(Step {
                movement,
                status_after,
            })
        };
        let no = Err(Refusal::NotInThisStatus);
        // (status, action, announced aboard) → outcome; every other pair is refused.
        #[rustfmt::skip]
        let table = [
            (Announced, A::Receive, false, allowed(M::Receive, InCustody)),
            (Announced, A::Receive, true, Err(Refusal::CarrierLoadsIt)),
            (Announced, A::Load, true, allowed(M::Load, InTransit)),
            (Announced, A::Load, false, no),
            (Announced, A::Release, false, no),
            (Announced, A::Count, false, no),
            (Announced, A::Unload, false, no),
            (Announced, A::Transfer, false, no),
            (InCustody, A::Receive, false, no),
            (InCustody, A::Release, false, allowed(M::Release, InCustody)),
            (InCustody, A::Count, false, allowed(M::CountAdjustment, InCustody)),
            (InCustody, A::Load, false, allowed(M::Load, InTransit)),
            (InCustody, A::Unload, false, no),
            (InCustody, A::Transfer, false, allowed(M::Transfer, InCustody)),
            (InTransit, A::Receive, false, no),
            (InTransit, A::Release, false, no),
            (InTransit, A::Count, false, no),
            (InTransit, A::Load, false, no),
            (InTransit, A::Unload, false, allowed(M::Unload, InCustody)),
            (InTransit, A::Transfer, false, no),
            (Released, A::Receive, false, no),
            (Released, A::Release, false, no),
            (Released, A::Count, false, no),
            (Released, A::Load, false, no),
            (Released, A::Unload, false, no),
            (Released, A::Transfer, false, no),
        ];
        for (status, action, aboard, expected) in table {
            assert_eq!(
                scan(status, action, aboard),
                expected,
                "{status} × {action} (aboard: {aboard})"
            );
        }
        // The table covers every pair.
        for status in LotStatus::ALL {
            for action in ScanAction::ALL {
                assert!(
                    table.iter().any(|(s, a, _, _)| s == status && a == action),
                    "{status} × {action} missing from the table"
                );
            }
        }
    }

    #[test]
    fn only_goods_announced_aboard_are_different_for_being_aboard() {
        for status in [InCustody, InTransit, Released] {
            for action in ScanAction::ALL {
                assert_eq!(scan(status, *action, true), scan(status, *action, false));
            }
        }
    }

    #[test]
    fn a_release_of_everything_ends_custody() {
        assert_eq!(status_after_release(rust_decimal::Decimal::ZERO), Released);
        assert_eq!(status_after_release(rust_decimal::Decimal::ONE), InCustody);
    }

    fn c(pending: i64, live: i64, sold: i64, reserved: i64) -> Commitments {
        Commitments {
            pledged_pending: Decimal::from(pending),
            pledged_live: Decimal::from(live),
            sold: Decimal::from(sold),
            reserved: Decimal::from(reserved),
        }
    }

    #[test]
    fn a_sale_of_pledged_goods_needs_them_once() {
        // Receive 1000, pledge 600, sell 400: the 400 sold come out of the 600 pledged.
        assert_eq!(c(0, 600, 400, 400).total(), Decimal::from(600));
        assert!(c(0, 600, 400, 400).fit(Decimal::from(700)));
        // Sell 700: 600 pledged (all sold) + 100 free sold.
        assert_eq!(c(0, 600, 700, 700).total(), Decimal::from(700));
        // Once settled: 200 stay pledged, 400 wait to leave on a release order.
        assert_eq!(c(0, 200, 0, 400).total(), Decimal::from(600));
        assert!(!c(0, 200, 0, 400).fit(Decimal::from(599)));
    }

    #[test]
    fn pending_pledges_and_release_orders_never_overlap_a_sale() {
        // 300 pledged to a loan not paid out, 400 sold, 100 on a release order.
        assert_eq!(c(300, 0, 400, 500).total(), Decimal::from(800));
        assert!(!c(300, 0, 400, 500).fit(Decimal::from(799)));
        assert!(c(300, 200, 400, 500).fit(Decimal::from(800)));
        assert_eq!(c(0, 0, 0, 0).total(), Decimal::ZERO);
    }
}
