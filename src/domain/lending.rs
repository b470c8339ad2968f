//! Lending arithmetic: interest, what a repayment pays, loan-to-value, lending value. The
//! database does the same sums set-based (daily accrual, revaluation); tests hold both to
//! these functions.

use chrono::{Days, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};

/// Interest is simple, daily, ACT/365.
pub const DAYS_IN_YEAR: i64 = 365;
/// Accrued interest is kept at this many decimal places and paid in currency units.
pub const INTEREST_PLACES: u32 = 8;
/// LTVs are kept at this many decimal places.
pub const LTV_PLACES: u32 = 6;

pub fn round_half_even(value: Decimal, places: u32) -> Decimal {
    value.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven)
}

/// One day's interest on `outstanding` at `annual_rate`, to 8 places.
pub fn daily_interest(outstanding: Decimal, annual_rate: Decimal) -> Decimal {
    round_half_even(
        outstanding * annual_rate / Decimal::from(DAYS_IN_YEAR),
        INTEREST_PLACES,
    )
}

/// Accrued interest as it is paid: rounded half-even to the currency's minor unit.
pub fn interest_due(accrued: Decimal, minor_units: u32) -> Decimal {
    round_half_even(accrued, minor_units)
}

/// (outstanding principal + accrued interest) / collateral value, to 6 places; `None` when
/// the collateral is worth nothing (an unbounded LTV).
pub fn ltv(outstanding: Decimal, accrued: Decimal, collateral_value: Decimal) -> Option<Decimal> {
    if collateral_value <= Decimal::ZERO {
        return None;
    }
    Some(round_half_even(
        (outstanding + accrued) / collateral_value,
        LTV_PLACES,
    ))
}

/// What may be lent against collateral worth `market_value`: rounded down to the minor unit,
/// so the lending value never exceeds the advance rate.
pub fn lending_value(market_value: Decimal, advance_rate: Decimal, minor_units: u32) -> Decimal {
    (market_value * advance_rate).round_dp_with_strategy(minor_units, RoundingStrategy::ToZero)
}

/// What a borrower owes, in currency units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owed {
    pub fees: Decimal,
    pub interest: Decimal,
    pub principal: Decimal,
}

impl Owed {
    pub fn total(&self) -> Decimal {
        self.fees + self.interest + self.principal
    }
}

/// How a repayment was applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Allocation {
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub fees: Decimal,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub interest: Decimal,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub principal: Decimal,
}

impl Allocation {
    pub fn total(&self) -> Decimal {
        self.fees + self.interest + self.principal
    }
}

/// What a loan owes now, in currency units: its fees, its accrued interest rounded to the
/// minor unit, and its outstanding principal.
pub fn owed(
    fees_due: Decimal,
    accrued_interest: Decimal,
    outstanding_principal: Decimal,
    minor_units: u32,
) -> Owed {
    Owed {
        fees: fees_due,
        interest: interest_due(accrued_interest, minor_units),
        principal: outstanding_principal,
    }
}

/// What cures an open margin call: the LTV back at the advance rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cure {
    /// The least repayment that does it. A repayment pays fees first (which the LTV does not
    /// count), then interest, then principal, so the fees due are part of it.
    pub repayment: Decimal,
    /// Or: the least market value of goods to pledge in addition.
    pub extra_collateral_value: Decimal,
}

/// The cure of a margin call on a loan owing `debt` (outstanding principal + accrued
/// interest, what the LTV measures) and `fees_due`, against collateral worth `value`, with
/// the facility's `advance_rate`: the least amounts at the minor unit after which [`ltv`] (to
/// six places, as the margin-call rules read it) is at most the advance rate. The repayment is
/// never more than everything owed (`owed_total`).
pub fn cure(
    (debt, fees_due, owed_total): (Decimal, Decimal, Decimal),
    value: Decimal,
    advance_rate: Decimal,
    minor_units: u32,
) -> Cure {
    let unit = Decimal::new(1, minor_units);
    let up = |v: Decimal| {
        v.max(Decimal::ZERO).round_dp_with_strategy(
            minor_units,
            rust_decimal::RoundingStrategy::ToPositiveInfinity,
        )
    };
    let cured = |debt: Decimal, value: Decimal| {
        debt <= Decimal::ZERO || ltv(debt, Decimal::ZERO, value).is_some_and(|l| l <= advance_rate)
    };
    // An LTV rounds to the advance rate up to half a unit of its last place above it: start
    // from that bound and take one more minor unit where the rounding tie goes the other way.
    let bound = advance_rate + Decimal::new(5, LTV_PLACES + 1);
    let mut paid = up(debt - bound * value);
    if !cured(debt - paid, value) {
        paid += unit;
    }
    let mut extra = up(debt / bound - value);
    if !cured(debt, value + extra) {
        extra += unit;
    }
    Cure {
        repayment: (fees_due + paid).min(owed_total),
        extra_collateral_value: extra,
    }
}

/// The arrangement fee charged at disbursement: principal × rate, half-even to the minor unit.
pub fn arrangement_fee(principal: Decimal, rate: Decimal, minor_units: u32) -> Decimal {
    round_half_even(principal * rate, minor_units)
}

/// A loan paid out on `disbursed_on` matures `max_tenor_days` later; `None` past the calendar.
pub fn maturity_date(disbursed_on: NaiveDate, max_tenor_days: i32) -> Option<NaiveDate> {
    let days = u64::try_from(max_tenor_days).ok()?;
    disbursed_on.checked_add_days(Days::new(days))
}

/// Whether a lender may consent to goods leaving a loan's collateral: the LTV after the
/// release (on `debt` + `accrued`, against `value_after`) stays at or below the advance rate.
/// A loan that owes nothing may release everything. The refusal carries the LTV it would have.
pub fn release_keeps_cover(
    debt: Decimal,
    accrued: Decimal,
    value_after: Decimal,
    advance_rate: Decimal,
) -> Result<(), Option<Decimal>> {
    let ltv_after = ltv(debt, accrued, value_after);
    let owes = debt + accrued > Decimal::ZERO;
    if owes && ltv_after.is_none_or(|ltv| ltv > advance_rate) {
        return Err(ltv_after);
    }
    Ok(())
}

/// Applies `amount` to fees, then interest, then principal. More than is owed is refused with
/// the total owed.
pub fn allocate(amount: Decimal, owed: Owed) -> Result<Allocation, Decimal> {
    if amount > owed.total() {
        return Err(owed.total());
    }
    let fees = amount.min(owed.fees);
    let interest = (amount - fees).min(owed.interest);
    let principal = amount - fees - interest;
    Ok(Allocation {
        fees,
        interest,
        principal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn a_margin_call_is_cured_by_the_repayment_or_pledge_that_brings_the_ltv_to_the_advance_rate() {
        // 27,600 on goods worth 42,000 at an advance rate of 0.50.
        // The LTV is read to six places: 21,000.02 / 42,000 = 0.5000005 rounds (half to even)
        // to 0.500000, so 6,599.98 is enough.
        let c = cure(
            (dec("27600"), dec("0"), dec("27600")),
            dec("42000"),
            dec("0.5"),
            2,
        );
        assert_eq!(c.repayment, dec("6599.98"));
        assert_eq!(c.extra_collateral_value, dec("13199.95"));
        // Fees due come first.
        let c = cure(
            (dec("1000.005"), dec("12.50"), dec("1012.51")),
            dec("1000"),
            dec("0.65"),
            2,
        );
        assert_eq!(c.repayment, dec("362.51"));
        assert_eq!(c.extra_collateral_value, dec("538.47"));
        // Never more than what is owed.
        let c = cure((dec("500"), dec("0"), dec("500")), dec("0"), dec("0.5"), 2);
        assert_eq!(c.repayment, dec("500"));
    }

    proptest! {
        #[test]
        fn the_cure_is_the_least_amount_that_cures(debt in 1i64..10_000_000, value in 1i64..10_000_000, rate in 1i64..100) {
            let (debt, value, rate) = (Decimal::new(debt, 2), Decimal::new(value, 2), Decimal::new(rate, 2));
            let within = |debt: Decimal, value: Decimal| ltv(debt, Decimal::ZERO, value).is_some_and(|l| l <= rate);
            prop_assume!(!within(debt, value));
            let c = cure((debt, Decimal::ZERO, debt), value, rate, 2);
            let cent = Decimal::new(1, 2);
            prop_assert!(c.repayment == debt || within(debt - c.repayment, value));
            prop_assert!(!within(debt - (c.repayment - cent), value));
            prop_assert!(within(debt, value + c.extra_collateral_value));
            prop_assert!(!within(debt, value + c.extra_collateral_value - cent));
        }
    }

    #[test]
    fn what_is_owed_rounds_the_accrual_to_the_minor_unit_only() {
        let owed = owed(dec("12.50"), dec("3.12500001"), dec("1000.00"), 2);
        assert_eq!(owed.interest, dec("3.13"));
        assert_eq!(owed.total(), dec("1015.63"));
    }

    #[test]
    fn the_arrangement_fee_rounds_half_even() {
        assert_eq!(
            arrangement_fee(dec("1250.00"), dec("0.01"), 2),
            dec("12.50")
        );
        assert_eq!(arrangement_fee(dec("1.25"), dec("0.1"), 2), dec("0.12"));
        assert_eq!(arrangement_fee(dec("1.35"), dec("0.1"), 2), dec("0.14"));
    }

    #[test]
    fn a_loan_matures_its_tenor_after_disbursement() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(
            maturity_date(day, 120),
            NaiveDate::from_ymd_opt(2027, 3, 30)
        );
        assert_eq!(maturity_date(day, -1), None);
        assert_eq!(maturity_date(NaiveDate::MAX, 1), None);
    }

    #[test]
    fn a_release_is_refused_when_it_leaves_the_loan_above_the_advance_rate() {
        let rate = dec("0.50");
        assert_eq!(
            release_keeps_cover(dec("500"), dec("0"), dec("1000"), rate),
            Ok(())
        );
        assert_eq!(
            release_keeps_cover(dec("500"), dec("0.01"), dec("1000"), rate),
            Err(Some(dec("0.50001")))
        );
        assert_eq!(
            release_keeps_cover(dec("1"), dec("0"), dec("0"), rate),
            Err(None)
        );
        assert_eq!(
            release_keeps_cover(dec("0"), dec("0"), dec("0"), rate),
            Ok(())
        );
    }

    #[test]
    fn a_year_of_daily_interest_is_principal_times_rate_to_the_cent() {
        let principal = dec("60000.00");
        let rate = dec("0.085");
        let day = daily_interest(principal, rate);
        assert_eq!(day, dec("13.97260274"));
        let year = day * Decimal::from(DAYS_IN_YEAR);
        assert_eq!(interest_due(year, 2), dec("5100.00"));
    }

    #[test]
    fn repayments_pay_fees_then_interest_then_principal() {
        let owed = Owed {
            fees: dec("10.00"),
            interest: dec("25.50"),
            principal: dec("1000.00"),
        };
        let part = allocate(dec("30.00"), owed).unwrap();
        assert_eq!(
            (part.fees, part.interest, part.principal),
            (dec("10.00"), dec("20.00"), dec("0.00"))
        );
        let all = allocate(dec("1035.50"), owed).unwrap();
        assert_eq!(all.principal, dec("1000.00"));
        assert_eq!(allocate(dec("1035.51"), owed), Err(dec("1035.50")));
    }

    #[test]
    fn ltv_is_unbounded_without_collateral_value() {
        assert_eq!(ltv(dec("100"), Decimal::ZERO, Decimal::ZERO), None);
        assert_eq!(
            ltv(dec("60000"), dec("12.5"), dec("120000")),
            Some(dec("0.500104"))
        );
    }

    #[test]
    fn lending_value_rounds_down() {
        assert_eq!(lending_value(dec("100.01"), dec("0.5"), 2), dec("50.00"));
    }

    proptest! {
        #[test]
        fn an_allocation_adds_up_and_never_skips_ahead(fees in 0i64..10_000, interest in 0i64..10_000, principal in 0i64..1_000_000, paid in 0i64..1_100_000) {
            let owed = Owed { fees: Decimal::new(fees, 2), interest: Decimal::new(interest, 2), principal: Decimal::new(principal, 2) };
            let amount = Decimal::new(paid, 2);
            match allocate(amount, owed) {
                Ok(a) => {
                    prop_assert_eq!(a.total(), amount);
                    prop_assert!(a.fees >= Decimal::ZERO && a.interest >= Decimal::ZERO && a.principal >= Decimal::ZERO);
                    prop_assert!(a.interest.is_zero() || a.fees == owed.fees);
                    prop_assert!(a.principal.is_zero() || a.interest == owed.interest);
                    prop_assert!(a.principal <= owed.principal);
                }
                Err(total) => prop_assert!(amount > total),
            }
        }

        #[test]
        fn ltv_rises_with_debt_and_falls_with_value(owed in 1i64..10_000_000, value in 1i64..10_000_000, more in 1i64..1_000_000) {
            let base = ltv(Decimal::new(owed, 2), Decimal::ZERO, Decimal::new(value, 2)).unwrap();
            let more_debt = ltv(Decimal::new(owed + more, 2), Decimal::ZERO, Decimal::new(value, 2)).unwrap();
            let more_value = ltv(Decimal::new(owed, 2), Decimal::ZERO, Decimal::new(value + more, 2)).unwrap();
            prop_assert!(more_debt >= base);
            prop_assert!(more_value <= base);
        }
    }
}
