//! Valuing goods as collateral: price × grade × freshness × quantity, and why a lot is not
//! eligible when it is not.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

/// A price older than this many days before the valuation date is stale.
pub const PRICE_FRESH_DAYS: i64 = 7;

/// How fresh goods are, as a factor of their value: 1 until `fresh_days` after packing, then
/// falling in a straight line to `end_factor` at `shelf_life_days`, and 0 once expired.
pub fn freshness_factor(
    packed_on: NaiveDate,
    as_of: NaiveDate,
    fresh_days: i32,
    shelf_life_days: i32,
    end_factor: Decimal,
) -> Decimal {
    let age = (as_of - packed_on).num_days();
    if age >= i64::from(shelf_life_days) {
        return Decimal::ZERO;
    }
    if age <= i64::from(fresh_days) {
        return Decimal::ONE;
    }
    let span = Decimal::from(shelf_life_days - fresh_days);
    let into = Decimal::from(age - i64::from(fresh_days));
    let factor = Decimal::ONE - (Decimal::ONE - end_factor) * into / span;
    factor.round_dp_with_strategy(6, RoundingStrategy::MidpointNearestEven)
}

/// quantity × price × grade factor × freshness, rounded half-even to the currency's minor unit.
pub fn market_value(
    quantity: Decimal,
    unit_price: Decimal,
    grade_factor: Decimal,
    freshness: Decimal,
    minor_units: u32,
) -> Decimal {
    (quantity * unit_price * grade_factor * freshness)
        .max(Decimal::ZERO)
        .round_dp_with_strategy(minor_units, RoundingStrategy::MidpointNearestEven)
}

/// Why a lot cannot serve as collateral.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ineligible {
    NoPrice,
    StalePrice,
    Expired,
    OnHold,
    NotInCustody,
    AlreadyPledged,
    CommodityNotAllowed,
    NotInspected,
    InspectionOverdue,
}

impl Ineligible {
    /// The reason's code, as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Ineligible::NoPrice => "no_price",
            Ineligible::StalePrice => "stale_price",
            Ineligible::Expired => "expired",
            Ineligible::OnHold => "on_hold",
            Ineligible::NotInCustody => "not_in_custody",
            Ineligible::AlreadyPledged => "already_pledged",
            Ineligible::CommodityNotAllowed => "commodity_not_allowed",
            Ineligible::NotInspected => "not_inspected",
            Ineligible::InspectionOverdue => "inspection_overdue",
        }
    }
}

pub struct Facts {
    pub status_in_custody_or_transit: bool,
    pub on_hold: bool,
    pub expired: bool,
    pub price_age_days: Option<i64>,
    pub quantity_free_is_zero: bool,
    pub commodity_allowed: bool,
    pub inspection: Inspection,
}

/// Where a lot stands with the inspections its commodity requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inspection {
    /// Inspected and not due again yet, or its commodity does not require inspection.
    Current,
    /// Required, and never inspected.
    Missing,
    /// Required, and the re-inspection is overdue.
    Overdue,
}

impl Inspection {
    /// From the commodity's rule and the lot's last inspection and due day, on `as_of`: a lot
    /// is overdue the day after its due day.
    pub fn of(
        required: bool,
        inspected: bool,
        due_on: Option<NaiveDate>,
        as_of: NaiveDate,
    ) -> Self {
        if !required {
            Inspection::Current
        } else if !inspected {
            Inspection::Missing
        } else if due_on.is_some_and(|due| as_of > due) {
            Inspection::Overdue
        } else {
            Inspection::Current
        }
    }
}

/// Every reason that applies, in a fixed order.
pub fn ineligible_reasons(facts: &Facts) -> Vec<Ineligible> {
    let mut reasons = Vec::new();
    match facts.price_age_days {
        None => reasons.push(Ineligible::NoPrice),
        Some(age) if age > PRICE_FRESH_DAYS => reasons.push(Ineligible::StalePrice),
        Some(_) => {}
    }
    if facts.expired {
        reasons.push(Ineligible::Expired);
    }
    if facts.on_hold {
        reasons.push(Ineligible::OnHold);
    }
    if !facts.status_in_custody_or_transit {
        reasons.push(Ineligible::NotInCustody);
    }
    if facts.quantity_free_is_zero {
        reasons.push(Ineligible::AlreadyPledged);
    }
    if !facts.commodity_allowed {
        reasons.push(Ineligible::CommodityNotAllowed);
    }
    match facts.inspection {
        Inspection::Current => {}
        Inspection::Missing => reasons.push(Ineligible::NotInspected),
        Inspection::Overdue => reasons.push(Ineligible::InspectionOverdue),
    }
    reasons
}

/// Decimal places of a currency's minor unit (CNY, USD, INR and most others: 2; JPY 0; KWD 3),
/// from the ISO 4217 table; 2 for a code not in it (inputs are checked against the table first).
pub fn minor_units(currency: &str) -> u32 {
    super::currency::minor_units(currency).unwrap_or(2)
}

/// `value` written at the currency's minor unit (`1250` → `1250.00` in CNY): for amounts
/// already rounded, or read from columns that keep more places.
pub fn at_minor_unit(value: Decimal, currency: &str) -> Decimal {
    let mut value = value;
    value.rescale(minor_units(currency));
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(n as u64)
    }

    #[test]
    fn freshness_is_full_then_falls_to_the_end_factor_then_zero() {
        let half = Decimal::new(5, 1);
        assert_eq!(
            freshness_factor(day(0), day(60), 60, 180, half),
            Decimal::ONE
        );
        assert_eq!(
            freshness_factor(day(0), day(120), 60, 180, half),
            Decimal::new(75, 2)
        );
        assert_eq!(
            freshness_factor(day(0), day(179), 60, 180, half),
            Decimal::new(504_167, 6)
        );
        assert_eq!(
            freshness_factor(day(0), day(180), 60, 180, half),
            Decimal::ZERO
        );
    }

    #[test]
    fn the_yantai_lot_is_worth_price_times_quantity() {
        let value = market_value(
            Decimal::from(20_000),
            Decimal::new(600, 2),
            Decimal::ONE,
            Decimal::ONE,
            2,
        );
        assert_eq!(value, Decimal::new(12_000_000, 2));
    }

    #[test]
    fn reasons_are_listed_in_order() {
        let facts = Facts {
            status_in_custody_or_transit: false,
            on_hold: true,
            expired: false,
            price_age_days: Some(8),
            quantity_free_is_zero: false,
            commodity_allowed: true,
            inspection: Inspection::Overdue,
        };
        assert_eq!(
            ineligible_reasons(&facts),
            vec![
                Ineligible::StalePrice,
                Ineligible::OnHold,
                Ineligible::NotInCustody,
                Ineligible::InspectionOverdue
            ]
        );
    }

    #[test]
    fn an_inspection_is_missing_then_current_then_overdue_the_day_after_it_is_due() {
        assert_eq!(
            Inspection::of(false, false, None, day(5)),
            Inspection::Current
        );
        assert_eq!(
            Inspection::of(true, false, Some(day(0)), day(0)),
            Inspection::Missing
        );
        assert_eq!(
            Inspection::of(true, true, Some(day(30)), day(30)),
            Inspection::Current
        );
        assert_eq!(
            Inspection::of(true, true, Some(day(30)), day(31)),
            Inspection::Overdue
        );
        assert_eq!(
            Inspection::of(true, true, None, day(900)),
            Inspection::Current
        );
    }

    proptest! {
        #[test]
        fn value_is_never_negative_and_zero_once_expired(quantity in 0i64..1_000_000, cents in 0i64..100_000, age in 0i64..400) {
            let freshness = freshness_factor(day(0), day(age), 60, 180, Decimal::new(5, 1));
            let value = market_value(Decimal::from(quantity), Decimal::new(cents, 2), Decimal::new(85, 2), freshness, 2);
            prop_assert!(value >= Decimal::ZERO);
            if age >= 180 {
                prop_assert_eq!(value, Decimal::ZERO);
            }
        }

        #[test]
        fn value_rises_with_price_and_freshness_falls_with_age(cents in 1i64..100_000, more in 1i64..1000, age in 0i64..400, later in 1i64..50) {
            let half = Decimal::new(5, 1);
            let fresh = freshness_factor(day(0), day(age), 60, 180, half);
            let staler = freshness_factor(day(0), day(age + later), 60, 180, half);
            prop_assert!(staler <= fresh);
            let low = market_value(Decimal::from(100), Decimal::new(cents, 2), Decimal::ONE, fresh, 2);
            let high = market_value(Decimal::from(100), Decimal::new(cents + more, 2), Decimal::ONE, fresh, 2);
            prop_assert!(high >= low);
            let older = market_value(Decimal::from(100), Decimal::new(cents, 2), Decimal::ONE, staler, 2);
            prop_assert!(older <= low);
        }
    }
}
