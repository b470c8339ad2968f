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

/// What a shortage takes off a lot's commitments so that they fit what is left.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cuts {
    /// Off pending sales (their lines shrink).
    pub sold: Decimal,
    /// Off the pledges of loans not yet paid out.
    pub pledged_pending: Decimal,
    /// Off the pledges of live loans (revalued at once).
    pub pledged_live: Decimal,
    /// Off open release orders (goods already paid for or withdrawn, not yet let out).
    pub orders: Decimal,
}

impl Commitments {
    /// The commitments after `cuts`.
    pub fn after(&self, cuts: &Cuts) -> Commitments {
        Commitments {
            pledged_pending: self.pledged_pending - cuts.pledged_pending,
            pledged_live: self.pledged_live - cuts.pledged_live,
            sold: self.sold - cuts.sold,
            reserved: self.reserved - cuts.sold - cuts.orders,
        }
    }
}

/// A count found only `counted` of a lot: the least taken off its commitments, in order, for
/// them to fit. Free goods go first (nothing is cut while the commitments fit); then pending
/// sales of unpledged goods (at most `sold_cuttable`: a sale is not cut below what its buyer
/// has paid); then pledges of loans not yet paid out; then pledges of live loans beyond what
/// is sold; then goods both pledged and sold, which cuts the pledge and the sale together; and
/// last open release orders. `Err` carries what no cut could cover (a paid sale's goods).
pub fn shortage(
    c: &Commitments,
    counted: Decimal,
    sold_cuttable: Decimal,
) -> Result<Cuts, Decimal> {
    let mut need = (c.total() - counted).max(Decimal::ZERO);
    let mut cuts = Cuts::default();
    let mut cuttable = sold_cuttable.min(c.sold);
    let take = |need: &mut Decimal, available: Decimal| {
        let x = (*need).min(available).max(Decimal::ZERO);
        *need -= x;
        x
    };
    let overlap = c.pledged_live.min(c.sold);
    let sold_only = take(&mut need, (c.sold - overlap).min(cuttable));
    cuts.sold += sold_only;
    cuttable -= sold_only;
    cuts.pledged_pending = take(&mut need, c.pledged_pending);
    cuts.pledged_live = take(&mut need, c.pledged_live - overlap);
    // Goods both pledged and sold are gone from both claims at once.
    let both = take(&mut need, overlap.min(cuttable));
    cuts.pledged_live += both;
    cuts.sold += both;
    cuts.orders = take(&mut need, c.reserved - c.sold);
    if need > Decimal::ZERO {
        return Err(need);
    }
    Ok(cuts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use LotStatus::*;
    use MovementKind as M;
    use ScanAction as A;

    fn d(v: i64) -> Decimal {
        Decimal::from(v)
    }

    #[test]
    fn a_shortage_takes_free_goods_then_sales_then_pledges_then_orders() {
        let c = Commitments {
            pledged_pending: d(100),
            pledged_live: d(400),
            sold: d(300),
            reserved: d(350),
        };
        // 100 pending + max(400, 300) + 50 orders = 550 committed of 1000: 450 free.
        assert_eq!(c.total(), d(550));
        assert_eq!(shortage(&c, d(600), d(300)), Ok(Cuts::default()));
        // 50 short of the commitments: the sale of unpledged goods? None is (300 ≤ 400), so
        // the pending pledge gives 50.
        let cuts = shortage(&c, d(500), d(300)).unwrap();
        assert_eq!(cuts.pledged_pending, d(50));
        assert_eq!(cuts.sold, d(0));
        // 300 short: pending 100, then the live pledge beyond the sale (100), then 100 of
        // goods both pledged and sold.
        let cuts = shortage(&c, d(250), d(300)).unwrap();
        assert_eq!(
            (
                cuts.pledged_pending,
                cuts.pledged_live,
                cuts.sold,
                cuts.orders
            ),
            (d(100), d(200), d(100), d(0))
        );
        assert_eq!(c.after(&cuts).total(), d(250));
        // Everything gone: the orders go last.
        let cuts = shortage(&c, d(0), d(300)).unwrap();
        assert_eq!(cuts.orders, d(50));
        assert_eq!(c.after(&cuts).total(), d(0));
        // A sale paid for in full cannot shrink: the goods it holds are not covered.
        assert_eq!(shortage(&c, d(0), d(0)), Err(d(300)));
    }

    #[test]
    fn a_sale_of_unpledged_goods_shrinks_before_any_pledge() {
        let c = Commitments {
            pledged_pending: d(0),
            pledged_live: d(100),
            sold: d(300),
            reserved: d(300),
        };
        let cuts = shortage(&c, d(200), d(300)).unwrap();
        assert_eq!(
            cuts,
            Cuts {
                sold: d(100),
                ..Cuts::default()
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn the_cuts_fit_what_was_counted_and_cut_nothing_more(
            pending in 0i64..100, live in 0i64..100, sold in 0i64..100, orders in 0i64..100,
            counted in 0i64..400, paid in 0i64..100,
        ) {
            let c = Commitments { pledged_pending: d(pending), pledged_live: d(live), sold: d(sold), reserved: d(sold + orders) };
            let cuttable = d(sold - paid.min(sold));
            match shortage(&c, d(counted), cuttable) {
                Ok(cuts) => {
                    let after = c.after(&cuts);
                    proptest::prop_assert!(after.fit(d(counted)));
                    proptest::prop_assert!(cuts.sold <= cuttable);
                    for part in [after.pledged_pending, after.pledged_live, after.sold, after.reserved - after.sold] {
                        proptest::prop_assert!(part >= Decimal::ZERO);
                    }
                    // No more than needed: the commitments end at what was counted, or untouched.
                    if c.fit(d(counted)) {
                        proptest::prop_assert_eq!(cuts, Cuts::default());
                    } else {
                        proptest::prop_assert_eq!(after.total(), d(counted));
                    }
                }
                Err(left) => proptest::prop_assert!(left > Decimal::ZERO),
            }
        }
    }

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
