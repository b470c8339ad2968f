//! Quantities of goods: positive decimals in a commodity's unit, with at most three decimal
//! places (grams of a kilogram, kilograms of a tonne), and whole numbers for pieces.
//!
//! `Quantity` is also how the API carries a quantity: a decimal string at its unit's decimals
//! (`"20000.000"` kg, `"12"` pieces), read from a decimal string, described once in OpenAPI.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Units goods are counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Kg,
    T,
    M3,
    Piece,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Kg => "kg",
            Unit::T => "t",
            Unit::M3 => "m3",
            Unit::Piece => "piece",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Unit::Kg, Unit::T, Unit::M3, Unit::Piece]
            .into_iter()
            .find(|u| u.as_str() == text)
    }

    /// The most decimal places a quantity in this unit may have.
    pub fn max_scale(self) -> u32 {
        match self {
            Unit::Piece => 0,
            _ => 3,
        }
    }

    /// Converts kilograms (a GS1 net weight) into this unit, where that makes sense.
    pub fn from_kg(self, kg: Decimal) -> Option<Decimal> {
        match self {
            Unit::Kg => Some(kg),
            Unit::T => Some(kg / Decimal::from(1000)),
            Unit::M3 | Unit::Piece => None,
        }
    }
}

/// The largest quantity accepted on one lot (a billion units).
pub const MAX_QUANTITY: i64 = 1_000_000_000;

#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    diesel::deserialize::FromSqlRow,
)]
pub struct Quantity(Decimal);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("a quantity must be above zero")]
    NotPositive,
    #[error("a quantity in {unit} has at most {max} decimal places")]
    TooPrecise { unit: &'static str, max: u32 },
    #[error("a quantity is at most {MAX_QUANTITY}")]
    TooLarge,
}

impl Quantity {
    pub fn new(value: Decimal, unit: Unit) -> Result<Self, QuantityError> {
        let value = value.normalize();
        if value <= Decimal::ZERO {
            return Err(QuantityError::NotPositive);
        }
        if value > Decimal::from(MAX_QUANTITY) {
            return Err(QuantityError::TooLarge);
        }
        if value.scale() > unit.max_scale() {
            return Err(QuantityError::TooPrecise {
                unit: unit.as_str(),
                max: unit.max_scale(),
            });
        }
        Ok(Self(value))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// `value` as it is shown in `unit` (a lot's unit as the database keeps it): at the
    /// unit's decimals. An unknown unit shows the three places the columns keep.
    pub fn at(value: Decimal, unit: &str) -> Self {
        let places = Unit::parse(unit).map_or(3, Unit::max_scale);
        let mut value = value.round_dp(places);
        value.rescale(places);
        Self(value)
    }

    /// The same quantity shown at `unit`'s decimals.
    pub fn in_unit(self, unit: &str) -> Self {
        Self::at(self.0, unit)
    }
}

/// A quantity read from a column (three places), shown as the column keeps it until
/// [`Quantity::in_unit`] says its unit.
impl From<Decimal> for Quantity {
    fn from(value: Decimal) -> Self {
        Self(value)
    }
}

super::decimal::decimal_string!(
    Quantity,
    "A quantity of goods as a decimal string in the lot's unit, at the unit's decimals \
     (three for kg, t and m3; none for pieces).",
    "20000.000"
);

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn quantities_are_positive_bounded_and_no_finer_than_the_unit() {
        assert_eq!(
            Quantity::new(d("20000.000"), Unit::Kg).unwrap().value(),
            d("20000")
        );
        assert_eq!(
            Quantity::new(d("0"), Unit::Kg),
            Err(QuantityError::NotPositive)
        );
        assert_eq!(
            Quantity::new(d("-1"), Unit::T),
            Err(QuantityError::NotPositive)
        );
        assert!(matches!(
            Quantity::new(d("1.0005"), Unit::Kg),
            Err(QuantityError::TooPrecise { .. })
        ));
        assert!(matches!(
            Quantity::new(d("2.5"), Unit::Piece),
            Err(QuantityError::TooPrecise { .. })
        ));
        assert_eq!(
            Quantity::new(d("2.000"), Unit::Piece).unwrap().value(),
            d("2")
        );
        assert_eq!(
            Quantity::new(d("1000000001"), Unit::Kg),
            Err(QuantityError::TooLarge)
        );
    }

    #[test]
    fn quantities_print_at_their_unit_decimals_and_read_a_decimal_string() {
        let shown = |q: Quantity| serde_json::to_value(q).unwrap();
        assert_eq!(shown(Quantity::at(d("20000"), "kg")), "20000.000");
        assert_eq!(shown(Quantity::at(d("29663.5"), "t")), "29663.500");
        assert_eq!(shown(Quantity::at(d("12.000"), "piece")), "12");
        assert_eq!(shown(Quantity::from(d("-3.000")).in_unit("m3")), "-3.000");
        let read: Quantity = serde_json::from_value(serde_json::json!("250.5")).unwrap();
        assert_eq!(read.value(), d("250.5"));
        assert!(serde_json::from_value::<Quantity>(serde_json::json!("a lot")).is_err());
    }

    #[test]
    fn kilograms_convert_to_mass_units_only() {
        assert_eq!(Unit::T.from_kg(d("1250")), Some(d("1.25")));
        assert_eq!(Unit::Kg.from_kg(d("12.5")), Some(d("12.5")));
        assert_eq!(Unit::Piece.from_kg(d("1")), None);
    }
}
