//! Transaction fees and the split of a sale's proceeds: the fee first, then every loan secured
//! on the sold goods (fees, interest, principal — a cash sweep until the loan is repaid), then
//! the supplier; and which pledges a sale releases. Pure arithmetic; the sales service feeds
//! it from locked rows and writes what it answers.

use super::lending::{Allocation, Owed, allocate, lending_value, round_half_even};
use rust_decimal::Decimal;
use uuid::Uuid;

/// How a fee schedule computes the fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeeMethod {
    /// The warehouse's storage rate for the commodity × `days` × the released quantity.
    StorageDaysEquivalent {
        rate_per_unit_day: Decimal,
        days: u32,
    },
    /// `percent` of the sale value of the released quantity.
    PercentOfValue { percent: Decimal },
}

/// A fee and every step of how it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fee {
    /// The method's amount before the minimum and the tier, unrounded.
    pub base: Decimal,
    /// Whether the minimum fee replaced a smaller base.
    pub minimum_applied: bool,
    pub tier_factor: Decimal,
    /// max(base, minimum) × tier factor, rounded half-even to the minor unit once.
    pub fee: Decimal,
}

/// The fee for releasing `quantity` sold for `sale_value`.
pub fn fee(
    method: FeeMethod,
    quantity: Decimal,
    sale_value: Decimal,
    minimum: Decimal,
    tier_factor: Decimal,
    minor_units: u32,
) -> Fee {
    let base = match method {
        FeeMethod::StorageDaysEquivalent {
            rate_per_unit_day,
            days,
        } => rate_per_unit_day * Decimal::from(days) * quantity,
        FeeMethod::PercentOfValue { percent } => sale_value * percent,
    };
    let minimum_applied = base < minimum;
    Fee {
        base,
        minimum_applied,
        tier_factor,
        fee: round_half_even(base.max(minimum) * tier_factor, minor_units),
    }
}

/// A loan secured on sold goods, as settlement sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// What the loan owes now, in currency units.
    pub owed: Owed,
    /// The least the sale must pay this loan to settle without the lender's consent.
    pub required: Decimal,
}

/// What a loan's lender needs from a sale: everything owed when nothing stays pledged,
/// otherwise enough that the debt left is within the advance rate of the goods still pledged
/// (the rule of a lender's release consent). Never negative.
pub fn required_repayment(
    owed: Decimal,
    advance_rate: Decimal,
    value_left_pledged: Decimal,
    minor_units: u32,
) -> Decimal {
    (owed - lending_value(value_left_pledged, advance_rate, minor_units)).max(Decimal::ZERO)
}

/// One loan's pledge on one lot, at its last revaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pledge {
    pub loan_id: Uuid,
    pub lot_id: Uuid,
    pub quantity: Decimal,
    pub market_value: Decimal,
}

/// What a sale takes out of one loan's pledges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub loan_id: Uuid,
    /// (lot, quantity released from this loan's pledge on it), in the sale's line order.
    pub lots: Vec<(Uuid, Decimal)>,
    pub quantity: Decimal,
    /// The market value of what stays pledged to the loan after the sale.
    pub value_left: Decimal,
    /// Whether nothing at all stays pledged to the loan.
    pub everything: bool,
}

/// Which pledges a sale of `sold` (lot, quantity) releases. Sold quantity comes out of the
/// lot's pledges first, taking loans in the order of `loans` (oldest first; a liquidation
/// sale's own loan before any other), so a sale of pledged goods always pays their loans;
/// what is left of the line is the supplier's free stock. Answers the loans that give up
/// something, in the order of `loans`.
pub fn release_pledges(
    loans: &[Uuid],
    pledges: &[Pledge],
    sold: &[(Uuid, Decimal)],
) -> Vec<Release> {
    let pledge_of = |loan: Uuid, lot: Uuid| {
        pledges
            .iter()
            .find(|p| p.loan_id == loan && p.lot_id == lot && p.quantity > Decimal::ZERO)
    };
    let mut releases: Vec<(Release, Decimal)> = loans
        .iter()
        .map(|&loan_id| {
            let release = Release {
                loan_id,
                lots: Vec::new(),
                quantity: Decimal::ZERO,
                value_left: Decimal::ZERO,
                everything: false,
            };
            (release, Decimal::ZERO)
        })
        .collect();
    for &(lot, quantity) in sold {
        let mut left = quantity;
        for (release, value_released) in releases.iter_mut() {
            if left <= Decimal::ZERO {
                break;
            }
            if let Some(p) = pledge_of(release.loan_id, lot) {
                let take = left.min(p.quantity);
                left -= take;
                release.lots.push((lot, take));
                release.quantity += take;
                *value_released += p.market_value * take / p.quantity;
            }
        }
    }
    releases
        .into_iter()
        .filter(|(release, _)| !release.lots.is_empty())
        .map(|(mut release, value_released)| {
            let own: Vec<&Pledge> = pledges
                .iter()
                .filter(|p| p.loan_id == release.loan_id && p.quantity > Decimal::ZERO)
                .collect();
            let pledged: Decimal = own.iter().map(|p| p.market_value).sum();
            release.value_left = (pledged - value_released).max(Decimal::ZERO);
            release.everything = own.iter().all(|p| {
                release
                    .lots
                    .iter()
                    .any(|(lot, q)| *lot == p.lot_id && *q == p.quantity)
            });
            release
        })
        .collect()
}

/// How the proceeds of a sale are split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    pub fee: Decimal,
    /// One allocation per claim, in the claims' order.
    pub loans: Vec<Allocation>,
    pub to_supplier: Decimal,
    /// Indexes of the claims paid less than they require.
    pub short: Vec<usize>,
}

impl Split {
    pub fn repaid(&self) -> Decimal {
        self.loans.iter().map(Allocation::total).sum()
    }
}

/// Splits `gross`: the fee (never more than the gross), then each claim in order as far as
/// the money goes, then the supplier.
pub fn split(gross: Decimal, fee: Decimal, claims: &[Claim]) -> Split {
    let fee = fee.min(gross).max(Decimal::ZERO);
    let mut left = gross - fee;
    let mut loans = Vec::with_capacity(claims.len());
    let mut short = Vec::new();
    for (i, claim) in claims.iter().enumerate() {
        let pay = left.min(claim.owed.total());
        let allocation = allocate(pay, claim.owed).unwrap_or(Allocation {
            fees: Decimal::ZERO,
            interest: Decimal::ZERO,
            principal: Decimal::ZERO,
        });
        if allocation.total() < claim.required {
            short.push(i);
        }
        left -= allocation.total();
        loans.push(allocation);
    }
    Split {
        fee,
        loans,
        to_supplier: left,
        short,
    }
}

/// The loans holding pledges on the sold lots, from the pledges of the loans a settlement
/// locked and each sold lot's pledged quantity read under the lot's lock (`lots`: lot and
/// quantity pledged) — when those pledges are all there is: the lot's pledged quantity counts
/// every pledge of every loan, so it equals what these pledges hold only when no other loan
/// holds any of it. `None` when another loan does (it pledged the goods while the locks were
/// awaited), or a sold lot is not among `lots`. Loans by id.
pub fn loans_holding(
    sold: &[Uuid],
    lots: &[(Uuid, Decimal)],
    pledges: &[Pledge],
) -> Option<Vec<Uuid>> {
    let mut loans = Vec::new();
    for lot in sold {
        let (_, pledged) = lots.iter().find(|(id, _)| id == lot)?;
        let on_lot = pledges
            .iter()
            .filter(|p| p.lot_id == *lot && p.quantity > Decimal::ZERO);
        if on_lot.clone().map(|p| p.quantity).sum::<Decimal>() != *pledged {
            return None;
        }
        loans.extend(on_lot.map(|p| p.loan_id));
    }
    loans.sort();
    loans.dedup();
    Some(loans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_locked_loans_hold_the_sold_lots_when_their_pledges_are_all_the_lots_pledged() {
        let (a, b) = (id(1), id(2));
        let (x, y) = (id(10), id(11));
        let pledges = [
            pledge(2, 10, "300", "0"),
            pledge(1, 10, "200", "0"),
            pledge(1, 11, "50", "0"),
        ];
        let lots = [(x, dec("500")), (y, dec("50"))];
        assert_eq!(loans_holding(&[x], &lots, &pledges), Some(vec![a, b]));
        assert_eq!(loans_holding(&[y], &lots, &pledges), Some(vec![a]));
        assert_eq!(loans_holding(&[x, y], &lots, &pledges), Some(vec![a, b]));
        // A sold lot nobody pledged.
        let z = id(12);
        assert_eq!(
            loans_holding(&[z], &[(z, Decimal::ZERO)], &pledges),
            Some(vec![])
        );
    }

    #[test]
    fn another_loans_pledge_on_a_sold_lot_or_an_unlocked_lot_answers_none() {
        let (x, y) = (id(10), id(11));
        let pledges = [pledge(1, 10, "200", "0"), pledge(1, 11, "50", "0")];
        // 100 more of lot x is pledged to a loan that was not locked.
        let lots = [(x, dec("300")), (y, dec("50"))];
        assert_eq!(loans_holding(&[x], &lots, &pledges), None);
        assert_eq!(loans_holding(&[y, x], &lots, &pledges), None);
        assert_eq!(loans_holding(&[y], &lots, &pledges), Some(vec![id(1)]));
        // A sold lot that was not locked.
        assert_eq!(loans_holding(&[id(12)], &lots, &pledges), None);
    }

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn thirty_days_of_storage_on_twenty_tonnes() {
        let method = FeeMethod::StorageDaysEquivalent {
            rate_per_unit_day: dec("0.004"),
            days: 30,
        };
        let f = fee(
            method,
            dec("20000"),
            dec("130000"),
            Decimal::ZERO,
            Decimal::ONE,
            2,
        );
        assert_eq!(f.fee, dec("2400.00"));
        assert!(!f.minimum_applied);
        let gold = fee(
            method,
            dec("20000"),
            dec("130000"),
            Decimal::ZERO,
            dec("0.90"),
            2,
        );
        assert_eq!(gold.fee, dec("2160.00"));
    }

    #[test]
    fn the_minimum_applies_before_the_tier_and_rounding_happens_once() {
        let method = FeeMethod::PercentOfValue {
            percent: dec("0.01"),
        };
        let small = fee(method, dec("1"), dec("100"), dec("50"), dec("0.95"), 2);
        assert!(small.minimum_applied);
        assert_eq!(small.fee, dec("47.50"));
        // 0.125 rounds half-even to 0.12.
        let tie = fee(
            method,
            dec("1"),
            dec("12.5"),
            Decimal::ZERO,
            Decimal::ONE,
            2,
        );
        assert_eq!(tie.fee, dec("0.12"));
        // One rounding at the end: 0.015 × 0.95 = 0.01425 → 0.01; rounding the base first
        // (0.02 × 0.95 = 0.019 → 0.02) would charge a cent more.
        let once = fee(method, dec("1"), dec("1.5"), Decimal::ZERO, dec("0.95"), 2);
        assert_eq!(once.fee, dec("0.01"));
    }

    #[test]
    fn the_supplier_gets_what_is_left_after_the_fee_and_the_loans() {
        let claim = Claim {
            owed: Owed {
                fees: Decimal::ZERO,
                interest: dec("263.01"),
                principal: dec("60000.00"),
            },
            required: dec("60263.01"),
        };
        let s = split(dec("130000.00"), dec("2400.00"), &[claim]);
        assert_eq!(s.loans[0].interest, dec("263.01"));
        assert_eq!(s.loans[0].principal, dec("60000.00"));
        assert_eq!(s.to_supplier, dec("67336.99"));
        assert!(s.short.is_empty());
        let poor = split(dec("50000.00"), dec("2400.00"), &[claim]);
        assert_eq!(poor.to_supplier, Decimal::ZERO);
        assert_eq!(poor.short, vec![0]);
    }

    #[test]
    fn what_a_lender_needs_keeps_the_rest_within_the_advance_rate() {
        assert_eq!(
            required_repayment(dec("600"), dec("0.5"), dec("1000"), 2),
            dec("100.00")
        );
        assert_eq!(
            required_repayment(dec("400"), dec("0.5"), dec("1000"), 2),
            Decimal::ZERO
        );
        assert_eq!(
            required_repayment(dec("400"), dec("0.5"), Decimal::ZERO, 2),
            dec("400")
        );
    }

    fn owed() -> impl Strategy<Value = Owed> {
        (0i64..5_000, 0i64..50_000, 0i64..5_000_000).prop_map(|(f, i, p)| Owed {
            fees: Decimal::new(f, 2),
            interest: Decimal::new(i, 2),
            principal: Decimal::new(p, 2),
        })
    }

    proptest! {
        #[test]
        fn every_split_adds_up_and_pays_no_one_a_negative_amount(
            gross in 1i64..20_000_000, fee_cents in 0i64..3_000_000,
            debts in proptest::collection::vec(owed(), 0..5),
        ) {
            let gross = Decimal::new(gross, 2);
            let claims: Vec<Claim> = debts.iter().map(|o| Claim { owed: *o, required: o.total() }).collect();
            let s = split(gross, Decimal::new(fee_cents, 2), &claims);
            prop_assert_eq!(s.fee + s.repaid() + s.to_supplier, gross);
            prop_assert!(s.fee >= Decimal::ZERO && s.to_supplier >= Decimal::ZERO);
            for (a, c) in s.loans.iter().zip(&claims) {
                prop_assert!(a.fees >= Decimal::ZERO && a.interest >= Decimal::ZERO && a.principal >= Decimal::ZERO);
                prop_assert!(a.total() <= c.owed.total());
            }
            // The supplier is paid only once every loan is repaid.
            if s.to_supplier > Decimal::ZERO {
                prop_assert!(s.short.is_empty());
                for (a, c) in s.loans.iter().zip(&claims) {
                    prop_assert_eq!(a.total(), c.owed.total());
                }
            }
        }

        #[test]
        fn a_fee_is_never_negative_and_grows_with_quantity(
            rate in 1i64..100_000, qty in 1i64..10_000_000, more in 1i64..1_000_000, min in 0i64..100_000,
        ) {
            let method = FeeMethod::StorageDaysEquivalent { rate_per_unit_day: Decimal::new(rate, 6), days: 30 };
            let a = fee(method, Decimal::new(qty, 3), Decimal::ZERO, Decimal::new(min, 2), Decimal::ONE, 2);
            let b = fee(method, Decimal::new(qty + more, 3), Decimal::ZERO, Decimal::new(min, 2), Decimal::ONE, 2);
            prop_assert!(a.fee >= Decimal::ZERO);
            prop_assert!(b.fee >= a.fee);
            prop_assert!(a.fee >= Decimal::new(min, 2));
        }
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn pledge(loan: u128, lot: u128, quantity: &str, value: &str) -> Pledge {
        Pledge {
            loan_id: id(loan),
            lot_id: id(lot),
            quantity: dec(quantity),
            market_value: dec(value),
        }
    }

    #[test]
    fn a_sale_takes_the_first_loans_pledge_before_the_next() {
        let pledges = [pledge(1, 10, "300", "3000"), pledge(2, 10, "200", "2000")];
        let releases = release_pledges(&[id(1), id(2)], &pledges, &[(id(10), dec("400"))]);
        assert_eq!(releases.len(), 2);
        assert_eq!(releases[0].lots, vec![(id(10), dec("300"))]);
        assert!(releases[0].everything);
        assert_eq!(releases[0].value_left, dec("0"));
        assert_eq!(releases[1].lots, vec![(id(10), dec("100"))]);
        assert!(!releases[1].everything);
        assert_eq!(releases[1].value_left, dec("1000"));
    }

    #[test]
    fn the_liquidated_loan_gives_up_its_goods_first_when_named_first() {
        let pledges = [pledge(1, 10, "300", "3000"), pledge(2, 10, "200", "2000")];
        let releases = release_pledges(&[id(2), id(1)], &pledges, &[(id(10), dec("200"))]);
        assert_eq!(releases.len(), 1);
        assert_eq!(releases[0].loan_id, id(2));
    }

    #[test]
    fn free_stock_beyond_the_pledges_releases_nothing_more() {
        let pledges = [pledge(1, 10, "100", "1000"), pledge(1, 11, "50", "500")];
        let releases = release_pledges(&[id(1)], &pledges, &[(id(10), dec("400"))]);
        assert_eq!(releases[0].quantity, dec("100"));
        assert!(!releases[0].everything);
        assert_eq!(releases[0].value_left, dec("500"));
        assert!(release_pledges(&[id(1)], &pledges, &[(id(12), dec("5"))]).is_empty());
    }

    proptest! {
        #[test]
        fn releases_never_exceed_what_is_sold_or_pledged_and_follow_the_loan_order(
            raw in proptest::collection::vec((0u128..4, 0u128..3, 1i64..1000, 0i64..100_000), 0..10),
            sold in proptest::collection::vec((0u128..3, 1i64..2000), 1..3),
        ) {
            let mut pledges: Vec<Pledge> = Vec::new();
            for (loan, lot, q, v) in raw {
                if !pledges.iter().any(|p| p.loan_id == id(loan) && p.lot_id == id(100 + lot)) {
                    pledges.push(Pledge { loan_id: id(loan), lot_id: id(100 + lot), quantity: Decimal::from(q), market_value: Decimal::new(v, 2) });
                }
            }
            let mut lines: Vec<(Uuid, Decimal)> = Vec::new();
            for (lot, q) in sold {
                if !lines.iter().any(|(l, _)| *l == id(100 + lot)) {
                    lines.push((id(100 + lot), Decimal::from(q)));
                }
            }
            let loans: Vec<Uuid> = (0..4).map(id).collect();
            let releases = release_pledges(&loans, &pledges, &lines);
            for (lot, quantity) in &lines {
                let pledged: Decimal = pledges.iter().filter(|p| p.lot_id == *lot).map(|p| p.quantity).sum();
                let released: Decimal = releases.iter().flat_map(|r| &r.lots).filter(|(l, _)| l == lot).map(|(_, q)| *q).sum();
                prop_assert_eq!(released, (*quantity).min(pledged));
            }
            for r in &releases {
                for (lot, q) in &r.lots {
                    let p = pledges.iter().find(|p| p.loan_id == r.loan_id && p.lot_id == *lot).unwrap();
                    prop_assert!(*q <= p.quantity);
                    // An earlier loan with a pledge on this lot gave it all up first.
                    let rank = loans.iter().position(|l| *l == r.loan_id).unwrap();
                    for earlier in &loans[..rank] {
                        if let Some(e) = pledges.iter().find(|p| p.loan_id == *earlier && p.lot_id == *lot) {
                            let given: Decimal = releases.iter().filter(|x| x.loan_id == *earlier).flat_map(|x| &x.lots).filter(|(l, _)| l == lot).map(|(_, q)| *q).sum();
                            prop_assert_eq!(given, e.quantity);
                        }
                    }
                }
                prop_assert!(r.value_left >= Decimal::ZERO);
                let own: Vec<&Pledge> = pledges.iter().filter(|p| p.loan_id == r.loan_id).collect();
                let all_given = own.iter().all(|p| r.lots.iter().any(|(l, q)| *l == p.lot_id && *q == p.quantity));
                prop_assert_eq!(r.everything, all_given);
            }
        }
    }
}
