//! `Money` as the API carries it: a decimal string at its currency's minor unit (`"1250.00"`),
//! read from a decimal string, and described once in the OpenAPI document. Amounts are kept as
//! `Decimal` in the rules (which round them half-even where they are made); an answer wraps
//! them with [`Money::at`] (shown with exactly the currency's minor units: the columns keep
//! three places for every currency) or [`Money::held`] (a value already at that scale).

use super::valuation::at_minor_unit;

/// The largest amount of money one request may name (a thousand trillion): the money
/// columns hold about a hundred times more, so sums of such amounts still fit.
pub const MAX_MONEY: i64 = 1_000_000_000_000_000;

/// The largest price per unit of goods (a hundred million): a lot's value, at most
/// [`super::quantity::MAX_QUANTITY`] units at this price, still fits its column.
pub const MAX_UNIT_PRICE: i64 = 100_000_000;
use rust_decimal::Decimal;

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
pub struct Money(Decimal);

impl Money {
    /// `value` at `currency`'s minor unit, as it is shown.
    pub fn at(value: Decimal, currency: &str) -> Self {
        Self(at_minor_unit(value, currency))
    }

    /// A value already kept at its currency's minor unit.
    pub fn held(value: Decimal) -> Self {
        Self(value)
    }

    pub fn amount(self) -> Decimal {
        self.0
    }
}

/// An amount read from a column, already at its currency's minor unit or made so with
/// [`Money::at`] before it is shown.
impl From<Decimal> for Money {
    fn from(value: Decimal) -> Self {
        Self(value)
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

super::decimal::decimal_string!(
    Money,
    "An amount of money as a decimal string, at its currency's minor unit.",
    "1250.00"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_prints_at_the_currency_minor_unit_and_reads_a_decimal_string() {
        let m = Money::at("1250.5".parse().unwrap(), "CNY");
        assert_eq!(serde_json::to_value(m).unwrap(), "1250.50");
        let read: Money = serde_json::from_value(serde_json::json!("1250.50")).unwrap();
        assert_eq!(read, m);
        assert!(serde_json::from_value::<Money>(serde_json::json!("twelve")).is_err());
        // A column's three places, shown at the currency's two.
        assert_eq!(
            serde_json::to_value(Money::at("79675.000".parse().unwrap(), "CNY")).unwrap(),
            "79675.00"
        );
    }
}
