//! Small checks for request fields, each failing with a 422 that names the field.

use crate::error::{ApiError, ApiResult};

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
