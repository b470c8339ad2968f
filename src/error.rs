//! `ApiError`: the one error type handlers return, rendered as the JSON envelope of the API
//! contract. Internal causes are logged once, here, and never sent to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt;

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable `snake_case` code.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Extra facts: the offending `field`, the current `status`, and so on.
    #[schema(value_type = Object)]
    pub details: Value,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: json!({}),
        }
    }

    /// Adds a detail to the envelope's `details` object.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if let Value::Object(map) = &mut self.details {
            map.insert(
                key.to_owned(),
                serde_json::to_value(value).unwrap_or(Value::Null),
            );
        }
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// Valid JSON that asks for something invalid; names the field at fault.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
        .with("field", field)
    }

    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database is unavailable; try again shortly",
        )
    }

    /// Logs the cause and answers an opaque 500.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred",
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(self.body())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match &error {
            Error::NotFound => Self::not_found("not_found", "no such object"),
            Error::DatabaseError(Kind::UniqueViolation, info) => {
                let conflict = Self::conflict(
                    "already_exists",
                    "an object with these values already exists",
                );
                match info.constraint_name() {
                    Some(name) => conflict.with("constraint", name),
                    None => conflict,
                }
            }
            Error::DatabaseError(Kind::CheckViolation, info) => {
                let invalid = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "constraint_violated",
                    "the request breaks a rule of the data",
                );
                match info.constraint_name() {
                    Some(name) => invalid.with("constraint", name),
                    None => invalid,
                }
            }
            Error::DatabaseError(Kind::SerializationFailure, _) => Self::conflict(
                "concurrent_update",
                "another request changed the same data; retry",
            ),
            Error::DatabaseError(Kind::ClosedConnection, _) => Self::unavailable(),
            Error::DatabaseError(Kind::Unknown, info)
                if info
                    .message()
                    .contains("canceling statement due to lock timeout") =>
            {
                Self::conflict("locked", "another request is changing the same data; retry")
            }
            _ => Self::internal(error),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(cause = %error, "database pool error");
        Self::unavailable()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn an_internal_error_answers_500_without_its_cause() {
        let error = ApiError::internal("relation \"secret_table\" does not exist at 10.0.0.7");
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = response.into_body().try_into_bytes().expect("body");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("internal_error"), "{text}");
        assert!(
            !text.contains("secret_table") && !text.contains("10.0.0.7"),
            "{text}"
        );
    }

    #[test]
    fn database_errors_map_to_the_contract() {
        let not_found: ApiError = diesel::result::Error::NotFound.into();
        assert_eq!(not_found.status, StatusCode::NOT_FOUND);
        let broken: ApiError = diesel::result::Error::BrokenTransactionManager.into();
        assert_eq!(broken.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(broken.body().error.message, "an internal error occurred");
    }
}
