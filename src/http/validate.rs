//! Small checks for request fields, each failing with a 422 that names the field.

use crate::domain::quantity::{Quantity, Unit};
use crate::domain::valuation::minor_units;
use crate::error::{ApiError, ApiResult};
use rust_decimal::Decimal;

/// Trimmed text of 1 to `max` characters.
pub fn text(field: &str, value: &str, max: usize) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// An ISO 4217 code: three upper-case letters.
pub fn currency(field: &str, value: &str) -> ApiResult<String> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid(
            field,
            "a currency is three upper-case letters, such as CNY",
        ))
    }
}

/// A quantity in `unit` (a lot's unit, from the database), naming `field` when it is not one.
pub fn quantity(field: &str, value: Quantity, unit: &str) -> ApiResult<Decimal> {
    let unit = Unit::parse(unit).ok_or_else(|| ApiError::internal("unknown unit in database"))?;
    Quantity::new(value.value(), unit)
        .map(Quantity::value)
        .map_err(|e| ApiError::invalid(field, e.to_string()))
}

/// An amount of money in `currency`: above zero, no finer than its minor unit.
pub fn money(field: &str, value: Decimal, currency: &str) -> ApiResult<Decimal> {
    let places = minor_units(currency);
    if value <= Decimal::ZERO {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be above zero"),
        ));
    }
    if value.normalize().scale() > places {
        return Err(ApiError::invalid(
            field,
            format!("{field} has more than {places} decimal places for {currency}"),
        ));
    }
    let mut value = value;
    value.rescale(places);
    Ok(value)
}
