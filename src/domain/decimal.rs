//! Decimals in JSON: strings. Rates and factors without trailing zeros (`"0.004"`, not
//! `"0.00400000"`); money at its currency's minor unit (`money`, built with `Money::at`); prices
//! per unit with at least two places (`price`); accrued interest at eight (`accrual`);
//! quantities at their unit's places (`Quantity::at`).

/// `#[serde(with = "crate::domain::decimal::plain")]`
pub mod plain {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::str::FromStr;

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.normalize().to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = String::deserialize(deserializer)?;
        Decimal::from_str(text.trim())
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a decimal number")))
    }
}

/// Money: a string that keeps its scale (`"1250.00"`); read like `plain`.
pub mod money {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        super::plain::deserialize(deserializer)
    }
}

/// The same for `Option<Decimal>`, money.
pub mod money_option {
    use rust_decimal::Decimal;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::money::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// A price per unit: the places it has, and at least two (`"6.00"`, `"6.125"`, `"0.004"`), so
/// prices line up with the money beside them.
pub mod price {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    /// The price as printed.
    pub fn shown(value: Decimal) -> Decimal {
        let mut value = value.normalize();
        if value.scale() < 2 {
            value.rescale(2);
        }
        value
    }

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&shown(*value).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        super::plain::deserialize(deserializer)
    }
}

/// The same for `Option<Decimal>`, a price.
pub mod price_option {
    use rust_decimal::Decimal;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::price::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// Interest as it accrues: always eight decimal places (`"13.15068493"`, `"0.00000000"`).
pub mod accrual {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        let mut value = *value;
        value.rescale(8);
        serializer.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        super::plain::deserialize(deserializer)
    }
}

/// The same for `Option<Decimal>`.
pub mod plain_option {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => super::plain::serialize(value, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapper(#[serde(with = "super::plain")] Decimal);
        Ok(Option::<Wrapper>::deserialize(deserializer)?.map(|Wrapper(d)| d))
    }
}

/// Serde and OpenAPI for a newtype over `Decimal` that the API carries as a decimal string:
/// printed as held, read like [`plain`], described once as a string component.
macro_rules! decimal_string {
    ($name:ident, $description:expr, $example:expr) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0.to_string())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::domain::decimal::plain::deserialize(deserializer).map(Self)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Double,
                    )))
                    .description(Some($description))
                    .examples([$example])
                    .pattern(Some(r"^-?[0-9]+(\.[0-9]+)?$"))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

pub(crate) use decimal_string;

/// The written form a decimal input must take: digits with an optional `-` and decimal point,
/// no leading zeros, no exponent, no spaces — and its range, as far as a pattern can say it.
/// [`Shape::read`] and [`Shape::pattern`] state the same rule twice, once for the server and
/// once for the OpenAPI document; a test holds them equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// 0 < x < 10^int, at most `places` decimals.
    Positive { int: u32, places: u32 },
    /// 0 ≤ x < 10^int.
    NonNegative { int: u32, places: u32 },
    /// −10^int < x < 10^int.
    Signed { int: u32, places: u32 },
    /// 0 < x ≤ 1.
    Fraction { places: u32 },
    /// 0 ≤ x ≤ 1.
    UnitInterval { places: u32 },
    /// −1 ≤ x < 10: a relative change, such as a price shock.
    Change { places: u32 },
}

impl Shape {
    fn places(self) -> u32 {
        match self {
            Shape::Positive { places, .. }
            | Shape::NonNegative { places, .. }
            | Shape::Signed { places, .. }
            | Shape::Fraction { places }
            | Shape::UnitInterval { places }
            | Shape::Change { places } => places,
        }
    }

    /// The value `text` writes, when it has this shape.
    pub fn read(self, text: &str) -> Option<rust_decimal::Decimal> {
        use rust_decimal::Decimal;
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, frac) = match unsigned.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (unsigned, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || (int.len() > 1 && int.starts_with('0')) {
            return None;
        }
        if let Some(frac) = frac
            && (!digits(frac) || frac.len() as u32 > self.places())
        {
            return None;
        }
        let value: Decimal = unsigned.parse().ok()?;
        let value = if negative { -value } else { value };
        let below = |n: u32| int.len() as u32 <= n;
        let ok = match self {
            Shape::Positive { int: n, .. } => !negative && below(n) && !value.is_zero(),
            Shape::NonNegative { int: n, .. } => !negative && below(n),
            Shape::Signed { int: n, .. } => below(n),
            Shape::Fraction { .. } => !negative && !value.is_zero() && value <= Decimal::ONE,
            Shape::UnitInterval { .. } => !negative && value <= Decimal::ONE,
            Shape::Change { .. } => value >= Decimal::NEGATIVE_ONE && below(1),
        };
        ok.then_some(value)
    }

    /// The same rule as an ECMA/Python regular expression.
    pub fn pattern(self) -> String {
        let places = self.places();
        // An optional fraction of 1..=places digits.
        let frac = if places == 0 {
            String::new()
        } else {
            format!(r"(?:\.[0-9]{{1,{places}}})?")
        };
        // 1..=places digits, not all zero.
        let nonzero = (0..places)
            .map(|zeros| {
                let rest = places - zeros - 1;
                format!("0{{{zeros}}}[1-9][0-9]{{0,{rest}}}")
            })
            .collect::<Vec<_>>()
            .join("|");
        let one = if places == 0 {
            "1".to_owned()
        } else {
            format!(r"1(?:\.0{{1,{places}}})?")
        };
        let int = |n: u32| format!("(?:0|[1-9][0-9]{{0,{}}})", n - 1);
        let body = match self {
            Shape::Positive { int: n, .. } if places == 0 => format!("[1-9][0-9]{{0,{}}}", n - 1),
            Shape::Positive { int: n, .. } => {
                format!(r"[1-9][0-9]{{0,{}}}{frac}|0\.(?:{nonzero})", n - 1)
            }
            Shape::NonNegative { int: n, .. } => format!("{}{frac}", int(n)),
            Shape::Signed { int: n, .. } => format!("-?{}{frac}", int(n)),
            Shape::Fraction { .. } => format!(r"0\.(?:{nonzero})|{one}"),
            Shape::UnitInterval { .. } => format!("0{frac}|{one}"),
            Shape::Change { .. } => format!("-(?:0{frac}|{one})|[0-9]{frac}"),
        };
        format!("^(?:{body})$")
    }

    /// What the rule is, for an error message and the document.
    pub fn describe(self) -> String {
        let places = |p: u32| match p {
            0 => "no decimals".to_owned(),
            1 => "at most 1 decimal place".to_owned(),
            p => format!("at most {p} decimal places"),
        };
        match self {
            Shape::Positive { int, places: p } => {
                format!(
                    "a decimal string above zero and below 10^{int}, {}",
                    places(p)
                )
            }
            Shape::NonNegative { int, places: p } => {
                format!(
                    "a decimal string from zero to below 10^{int}, {}",
                    places(p)
                )
            }
            Shape::Signed { int, places: p } => {
                format!(
                    "a decimal string between −10^{int} and 10^{int}, {}",
                    places(p)
                )
            }
            Shape::Fraction { places: p } => {
                format!("a decimal string above 0 and at most 1, {}", places(p))
            }
            Shape::UnitInterval { places: p } => {
                format!("a decimal string from 0 to 1, {}", places(p))
            }
            Shape::Change { places: p } => {
                format!("a decimal string from −1 to below 10, {}", places(p))
            }
        }
    }
}

/// A request's decimal input of one [`Shape`]: read strictly from a JSON string, described in
/// the document by the shape's pattern, so that what the schema allows is what the server takes.
macro_rules! decimal_input {
    ($(#[$meta:meta])* $name:ident, $shape:expr, $example:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name(rust_decimal::Decimal);

        impl $name {
            pub const SHAPE: $crate::domain::decimal::Shape = $shape;

            pub fn value(self) -> rust_decimal::Decimal {
                self.0
            }
        }

        /// For requests the server builds itself (the demo, tests): the service checks them
        /// like any other.
        impl From<rust_decimal::Decimal> for $name {
            fn from(value: rust_decimal::Decimal) -> Self {
                Self(value)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0.normalize().to_string())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::SHAPE.read(&text).map(Self).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "`{text}` is not {}",
                        Self::SHAPE.describe()
                    ))
                })
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some(Self::SHAPE.describe()))
                    .examples([$example])
                    .pattern(Some(Self::SHAPE.pattern()))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

pub(crate) use decimal_input;

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Sample {
        #[serde(with = "super::plain")]
        value: Decimal,
        #[serde(default, with = "super::plain_option")]
        maybe: Option<Decimal>,
    }

    #[test]
    fn decimals_are_strings_without_trailing_zeros() {
        let sample = Sample {
            value: Decimal::new(400, 5),
            maybe: Some(Decimal::new(-3000, 3)),
        };
        assert_eq!(
            serde_json::to_string(&sample).unwrap(),
            r#"{"value":"0.004","maybe":"-3"}"#
        );
        let back: Sample = serde_json::from_str(r#"{"value":"0.004"}"#).unwrap();
        assert_eq!(back.value, Decimal::new(4, 3));
        assert_eq!(back.maybe, None);
        assert!(
            serde_json::from_str::<Sample>(r#"{"value":0.004}"#).is_err(),
            "numbers are refused: decimals travel as strings"
        );
        assert!(serde_json::from_str::<Sample>(r#"{"value":"abc"}"#).is_err());
    }

    use super::Shape;

    #[test]
    fn a_shape_reads_exactly_what_its_pattern_matches() {
        let shapes = [
            Shape::Positive { int: 3, places: 2 },
            Shape::Positive { int: 2, places: 0 },
            Shape::NonNegative { int: 2, places: 1 },
            Shape::Signed { int: 2, places: 2 },
            Shape::Fraction { places: 3 },
            Shape::UnitInterval { places: 2 },
            Shape::Change { places: 2 },
        ];
        // Every string of up to five characters from this alphabet, and some longer ones.
        let alphabet = ['0', '1', '9', '.', '-', 'e', ' '];
        let mut texts = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..5 {
            frontier = frontier
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(frontier.iter().cloned());
        }
        texts.extend(
            [
                "100.00", "999.99", "1000", "0.001", "10.5", "-1.00", "-1.01",
            ]
            .map(String::from),
        );
        for shape in shapes {
            let pattern = regex::Regex::new(&shape.pattern()).expect("pattern compiles");
            for text in &texts {
                assert_eq!(
                    shape.read(text).is_some(),
                    pattern.is_match(text),
                    "{shape:?} on {text:?} (pattern {})",
                    shape.pattern()
                );
            }
        }
    }

    #[test]
    fn shapes_hold_their_ranges() {
        let money = Shape::Positive { int: 15, places: 2 };
        assert_eq!(money.read("1250.50"), Some(Decimal::new(125050, 2)));
        for refused in [
            "0",
            "0.00",
            "-1",
            "1.005",
            "01",
            "1e3",
            " 1",
            "+1",
            "1.",
            ".5",
            "1000000000000000",
        ] {
            assert_eq!(money.read(refused), None, "{refused}");
        }
        assert!(money.read("999999999999999.99").is_some());
        let fraction = Shape::Fraction { places: 4 };
        assert!(fraction.read("0.65").is_some() && fraction.read("1.0000").is_some());
        assert!(fraction.read("1.0001").is_none() && fraction.read("0").is_none());
        let change = Shape::Change { places: 4 };
        assert!(change.read("-1").is_some() && change.read("9.9999").is_some());
        assert!(change.read("-1.0001").is_none() && change.read("10").is_none());
    }
}
