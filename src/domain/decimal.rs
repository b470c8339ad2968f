//! Decimals in JSON: strings, without trailing zeros (`"0.004"`, not `"0.00400000"`).

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
}
