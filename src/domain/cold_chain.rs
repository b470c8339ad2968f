//! Temperature excursions: when a sensor's readings leave the warehouse's range, for how long,
//! and how far. An excursion starts at the first reading out of range and ends at the next
//! reading back in range (or out on the other side); it is a breach when it lasted at least
//! the warehouse's grace period.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    TooHot,
    TooCold,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TooHot => "too_hot",
            Kind::TooCold => "too_cold",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excursion {
    pub kind: Kind,
    pub started_at: DateTime<Utc>,
    /// The first reading back in range; `None` while it goes on.
    pub ended_at: Option<DateTime<Utc>>,
    /// The last reading out of range.
    pub last_out_at: DateTime<Utc>,
    /// The hottest (too hot) or coldest (too cold) reading.
    pub extreme: Decimal,
}

impl Excursion {
    /// How long it lasted, as far as the readings tell.
    pub fn duration(&self) -> Duration {
        self.ended_at.unwrap_or(self.last_out_at) - self.started_at
    }
}

pub fn classify(celsius: Decimal, min: Option<Decimal>, max: Option<Decimal>) -> Option<Kind> {
    if max.is_some_and(|max| celsius > max) {
        Some(Kind::TooHot)
    } else if min.is_some_and(|min| celsius < min) {
        Some(Kind::TooCold)
    } else {
        None
    }
}

/// The excursions in one sensor's readings, which must be in time order.
pub fn excursions(
    readings: &[(DateTime<Utc>, Decimal)],
    min: Option<Decimal>,
    max: Option<Decimal>,
) -> Vec<Excursion> {
    let mut found = Vec::new();
    let mut current: Option<Excursion> = None;
    for &(at, celsius) in readings {
        let kind = classify(celsius, min, max);
        if let Some(open) = current.as_mut() {
            if kind == Some(open.kind) {
                open.last_out_at = at;
                open.extreme = match open.kind {
                    Kind::TooHot => open.extreme.max(celsius),
                    Kind::TooCold => open.extreme.min(celsius),
                };
                continue;
            }
            open.ended_at = Some(at);
            found.extend(current.take());
        }
        if let Some(kind) = kind {
            current = Some(Excursion {
                kind,
                started_at: at,
                ended_at: None,
                last_out_at: at,
                extreme: celsius,
            });
        }
    }
    found.extend(current);
    found
}

/// Whether an unacknowledged breach that ended at `ended` (`None`: still going on) holds goods
/// that came into its warehouse at `arrived`: only goods that were there while it lasted.
/// Goods whose arrival is unknown are held.
pub fn holds(ended: Option<DateTime<Utc>>, arrived: Option<DateTime<Utc>>) -> bool {
    match (ended, arrived) {
        (Some(ended), Some(arrived)) => arrived < ended,
        _ => true,
    }
}

/// The excursions that lasted at least `grace`: the breaches.
pub fn breaches(
    readings: &[(DateTime<Utc>, Decimal)],
    min: Option<Decimal>,
    max: Option<Decimal>,
    grace: Duration,
) -> Vec<Excursion> {
    excursions(readings, min, max)
        .into_iter()
        .filter(|e| e.duration() >= grace)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap()
    }

    #[test]
    fn a_breach_holds_only_the_goods_that_were_there_while_it_lasted() {
        assert!(holds(None, Some(at(500))), "still going on");
        assert!(holds(Some(at(100)), Some(at(10))), "there before it ended");
        assert!(!holds(Some(at(100)), Some(at(100))), "arrived as it ended");
        assert!(!holds(Some(at(100)), Some(at(7 * 24 * 60))), "a week later");
        assert!(holds(Some(at(100)), None), "arrival unknown");
    }

    fn series(values: &[(i64, i64)]) -> Vec<(DateTime<Utc>, Decimal)> {
        values
            .iter()
            .map(|(m, c)| (at(*m), Decimal::from(*c)))
            .collect()
    }

    const MIN: Option<Decimal> = Some(Decimal::from_parts(1, 0, 0, true, 0));
    const MAX: Option<Decimal> = Some(Decimal::from_parts(4, 0, 0, false, 0));

    #[test]
    fn a_long_enough_excursion_is_a_breach_with_its_extreme() {
        let readings = series(&[(0, 2), (5, 6), (10, 9), (15, 7), (35, 3)]);
        let found = breaches(&readings, MIN, MAX, Duration::minutes(30));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, Kind::TooHot);
        assert_eq!(found[0].started_at, at(5));
        assert_eq!(found[0].ended_at, Some(at(35)));
        assert_eq!(found[0].extreme, Decimal::from(9));
    }

    #[test]
    fn a_short_excursion_is_not_a_breach_and_an_open_one_counts_to_its_last_reading() {
        let short = series(&[(0, 2), (5, 6), (10, 3)]);
        assert!(breaches(&short, MIN, MAX, Duration::minutes(30)).is_empty());
        let open = series(&[(0, 2), (5, -3), (20, -5), (40, -4)]);
        let found = breaches(&open, MIN, MAX, Duration::minutes(30));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, Kind::TooCold);
        assert_eq!(found[0].ended_at, None);
        assert_eq!(found[0].extreme, Decimal::from(-5));
    }

    #[test]
    fn swinging_from_hot_to_cold_ends_one_excursion_and_starts_another() {
        let readings = series(&[(0, 8), (40, -6), (80, 2)]);
        let found = breaches(&readings, MIN, MAX, Duration::minutes(30));
        assert_eq!(
            found.iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![Kind::TooHot, Kind::TooCold]
        );
        assert_eq!(found[0].ended_at, Some(at(40)));
    }

    proptest! {
        #[test]
        fn excursions_never_overlap_and_only_contain_out_of_range_readings(values in proptest::collection::vec(-10i64..15, 1..60)) {
            let readings: Vec<_> = values.iter().enumerate().map(|(i, c)| (at(i as i64 * 5), Decimal::from(*c))).collect();
            let found = excursions(&readings, MIN, MAX);
            for pair in found.windows(2) {
                prop_assert!(pair[0].ended_at.unwrap() <= pair[1].started_at);
            }
            for excursion in &found {
                for (time, celsius) in &readings {
                    if *time >= excursion.started_at && *time <= excursion.last_out_at {
                        prop_assert_eq!(classify(*celsius, MIN, MAX), Some(excursion.kind));
                    }
                }
            }
        }
    }
}
