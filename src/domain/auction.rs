//! The rules of an ascending auction, apart from the database: what the next bid must be,
//! whether a bid in time moves the end, what deposit a bidder posts, when the winner must
//! have paid, and the reserve of a relisting. Only the server's clock is ever passed in.

use crate::domain::lending::round_half_even;
use crate::domain::valuation::{at_minor_unit, minor_units};
use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use rust_decimal::Decimal;

/// An auction's terms and where it stands, as far as a new bid is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Standing {
    pub reserve_price: Decimal,
    pub min_increment: Decimal,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub extension_minutes: i32,
    pub max_extensions: i32,
    pub extensions_used: i32,
    pub high_bid: Option<Decimal>,
}

/// Why a bid is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotStarted,
    Ended,
    /// Below the reserve (no bid yet) or the high bid plus the increment.
    TooLow {
        minimum: Decimal,
    },
}

/// What an accepted bid does to the auction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The end after this bid: moved by `extension_minutes` when the bid came in the last
    /// `extension_minutes` and extensions are left.
    pub ends_at: DateTime<Utc>,
    pub extended: bool,
}

impl Standing {
    /// The least a bid may be now: the reserve, or the high bid plus the increment.
    pub fn minimum_bid(&self) -> Decimal {
        match self.high_bid {
            Some(high) => high + self.min_increment,
            None => self.reserve_price,
        }
    }

    /// Judges a bid of `unit_price` placed at `now` (the server's clock). A refused bid
    /// changes nothing, so it never extends.
    pub fn judge(&self, unit_price: Decimal, now: DateTime<Utc>) -> Result<Accepted, Refusal> {
        if now < self.starts_at {
            return Err(Refusal::NotStarted);
        }
        if now >= self.ends_at {
            return Err(Refusal::Ended);
        }
        let minimum = self.minimum_bid();
        if unit_price < minimum {
            return Err(Refusal::TooLow { minimum });
        }
        let window = Duration::minutes(i64::from(self.extension_minutes));
        let late = self.ends_at - now <= window;
        if late && self.extensions_used < self.max_extensions {
            Ok(Accepted {
                ends_at: self.ends_at + window,
                extended: true,
            })
        } else {
            Ok(Accepted {
                ends_at: self.ends_at,
                extended: false,
            })
        }
    }
}

/// A bidder's deposit: `deposit_rate` of reserve × quantity, times its tier's factor, to the
/// currency's minor unit (half-even, once).
pub fn deposit(
    reserve_price: Decimal,
    quantity: Decimal,
    deposit_rate: Decimal,
    tier_factor: Decimal,
    currency: &str,
) -> Decimal {
    let places = minor_units(currency);
    at_minor_unit(
        round_half_even(
            reserve_price * quantity * deposit_rate * tier_factor,
            places,
        ),
        currency,
    )
}

/// The reserve of a relisting: lowered by `relist_step`, kept to six places.
pub fn relisted_reserve(reserve_price: Decimal, relist_step: Decimal) -> Decimal {
    (reserve_price * (Decimal::ONE - relist_step)).round_dp(6)
}

/// When a winner awarded at `awarded_at` must have paid: `business_days` weekdays later, at
/// the same time of day.
pub fn payment_due(awarded_at: DateTime<Utc>, business_days: i32) -> DateTime<Utc> {
    let mut due = awarded_at;
    let mut left = business_days;
    while left > 0 {
        due += Duration::days(1);
        if !matches!(due.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, minute, 0).unwrap()
    }

    fn standing() -> Standing {
        Standing {
            reserve_price: dec("4.00"),
            min_increment: dec("0.05"),
            starts_at: at(9, 0),
            ends_at: at(17, 0),
            extension_minutes: 5,
            max_extensions: 2,
            extensions_used: 0,
            high_bid: None,
        }
    }

    #[test]
    fn the_first_bid_meets_the_reserve_and_later_ones_the_increment() {
        let mut s = standing();
        assert_eq!(
            s.judge(dec("3.99"), at(10, 0)),
            Err(Refusal::TooLow {
                minimum: dec("4.00")
            })
        );
        assert!(s.judge(dec("4.00"), at(10, 0)).is_ok());
        s.high_bid = Some(dec("4.20"));
        assert_eq!(
            s.judge(dec("4.24"), at(10, 0)),
            Err(Refusal::TooLow {
                minimum: dec("4.25")
            })
        );
        assert!(s.judge(dec("4.25"), at(10, 0)).is_ok());
    }

    #[test]
    fn only_the_window_counts() {
        let s = standing();
        assert_eq!(s.judge(dec("5"), at(8, 59)), Err(Refusal::NotStarted));
        assert_eq!(s.judge(dec("5"), at(17, 0)), Err(Refusal::Ended));
        assert!(s.judge(dec("5"), at(16, 59)).is_ok());
    }

    #[test]
    fn a_late_bid_extends_until_the_cap() {
        let mut s = standing();
        let early = s.judge(dec("5"), at(16, 54)).unwrap();
        assert!(!early.extended);
        assert_eq!(early.ends_at, at(17, 0));
        let late = s.judge(dec("5"), at(16, 55)).unwrap();
        assert!(late.extended);
        assert_eq!(late.ends_at, at(17, 5));
        s.extensions_used = 2;
        let capped = s.judge(dec("5"), at(16, 58)).unwrap();
        assert!(!capped.extended);
        assert_eq!(capped.ends_at, at(17, 0));
    }

    #[test]
    fn a_refused_late_bid_does_not_extend() {
        let s = standing();
        assert!(s.judge(dec("3"), at(16, 58)).is_err());
    }

    #[test]
    fn deposits_follow_the_tier() {
        // 10 % of 4.00 × 20,000 kg = 8,000; platinum pays half.
        assert_eq!(
            deposit(dec("4"), dec("20000"), dec("0.1"), dec("1"), "CNY"),
            dec("8000.00")
        );
        assert_eq!(
            deposit(dec("4"), dec("20000"), dec("0.1"), dec("0.5"), "CNY"),
            dec("4000.00")
        );
        assert_eq!(
            deposit(dec("3.333333"), dec("1"), dec("0.1"), dec("1"), "CNY"),
            dec("0.33")
        );
        // Half-even, once: 0.125 → 0.12.
        assert_eq!(
            deposit(dec("1.25"), dec("1"), dec("0.1"), dec("1"), "CNY"),
            dec("0.12")
        );
    }

    #[test]
    fn payment_is_due_in_business_days() {
        // Friday 4 December 2026 + 2 business days = Tuesday 8 December.
        let friday = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        assert_eq!(
            payment_due(friday, 2),
            Utc.with_ymd_and_hms(2026, 12, 8, 12, 0, 0).unwrap()
        );
        assert_eq!(
            payment_due(at(12, 0), 2),
            Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
        );
    }

    #[test]
    fn relisting_lowers_the_reserve_by_the_step() {
        assert_eq!(relisted_reserve(dec("4.00"), dec("0.10")), dec("3.60"));
    }

    proptest! {
        #[test]
        fn an_accepted_bid_is_never_below_the_minimum_and_never_extends_past_the_cap(
            high in proptest::option::of(1u32..10_000),
            price in 1u32..20_000,
            minutes_left in 0i64..600,
            used in 0i32..4,
        ) {
            let mut s = standing();
            s.high_bid = high.map(|h| Decimal::new(i64::from(h), 2));
            s.extensions_used = used.min(s.max_extensions);
            let now = s.ends_at - Duration::minutes(minutes_left) - Duration::seconds(1);
            let bid = Decimal::new(i64::from(price), 2);
            match s.judge(bid, now.max(s.starts_at)) {
                Ok(accepted) => {
                    prop_assert!(bid >= s.minimum_bid());
                    prop_assert!(accepted.ends_at >= s.ends_at);
                    prop_assert_eq!(accepted.extended, accepted.ends_at > s.ends_at);
                    prop_assert!(!accepted.extended || s.extensions_used < s.max_extensions);
                }
                Err(Refusal::TooLow { minimum }) => prop_assert!(bid < minimum),
                Err(_) => {}
            }
        }
    }
}
