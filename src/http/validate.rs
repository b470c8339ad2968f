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

/// A commodity code: 2 to 32 upper-case letters, digits or `_`, starting with a letter
/// (`^[A-Z][A-Z0-9_]{1,31}$`).
pub fn commodity_code(field: &str, value: &str) -> ApiResult<String> {
    let well_formed = (2..=32).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_uppercase())
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if well_formed {
        Ok(value.to_owned())
    } else {
        Err(ApiError::invalid(
            field,
            "a commodity code is 2 to 32 upper-case letters, digits or `_`, starting with a letter",
        ))
    }
}

/// An ISO 4217 code Holdfast accepts (`domain::currency`), naming `field` when it is not one.
pub fn currency(field: &str, value: &str) -> ApiResult<String> {
    match crate::domain::currency::minor_units(value) {
        Some(_) => Ok(value.to_owned()),
        None => Err(ApiError::invalid(
            field,
            "a currency is an ISO 4217 code, such as CNY or USD",
        )),
    }
}

/// A quantity in `unit` (a lot's unit, from the database), naming `field` when it is not one.
pub fn quantity(field: &str, value: Decimal, unit: &str) -> ApiResult<Decimal> {
    let unit = Unit::parse(unit).ok_or_else(|| ApiError::internal("unknown unit in database"))?;
    Quantity::new(value, unit)
        .map(Quantity::value)
        .map_err(|e| ApiError::invalid(field, e.to_string()))
}

pub use crate::domain::money::{MAX_MONEY, MAX_UNIT_PRICE};

/// A price per unit: above zero, at most [`MAX_UNIT_PRICE`], at most `places` decimals.
pub fn unit_price(field: &str, value: Decimal, places: u32) -> ApiResult<Decimal> {
    if value <= Decimal::ZERO || value > Decimal::from(MAX_UNIT_PRICE) {
        return Err(ApiError::invalid(
            field,
            format!("{field} is above zero and at most {MAX_UNIT_PRICE}"),
        ));
    }
    if value.normalize().scale() > places {
        return Err(ApiError::invalid(
            field,
            format!("{field} has at most {places} decimal places"),
        ));
    }
    Ok(value)
}

/// `a × b` for amounts the request sent, or 422 naming `field` when it is more than any
/// amount may be.
pub fn product(field: &str, a: Decimal, b: Decimal) -> ApiResult<Decimal> {
    a.checked_mul(b)
        .filter(|p| p.abs() <= Decimal::from(MAX_MONEY))
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                format!("the amount this makes is more than {MAX_MONEY}"),
            )
        })
}

/// An amount of money in `currency`: above zero, at most [`MAX_MONEY`], no finer than its
/// minor unit.
pub fn money(field: &str, value: Decimal, currency: &str) -> ApiResult<Decimal> {
    let places = minor_units(currency);
    if value <= Decimal::ZERO {
        return Err(ApiError::invalid(
            field,
            format!("{field} must be above zero"),
        ));
    }
    if value > Decimal::from(MAX_MONEY) {
        return Err(ApiError::invalid(
            field,
            format!("{field} is at most {MAX_MONEY}"),
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
