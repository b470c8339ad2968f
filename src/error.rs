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
    /// Boxed: every fallible function returns this, so it stays small.
    pub details: Box<Value>,
    /// Seconds a client should wait before trying again (`Retry-After`), for faults that pass.
    pub retry_after: Option<u32>,
}

impl From<crate::auth::password::Busy> for ApiError {
    fn from(busy: crate::auth::password::Busy) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", busy.to_string()).retry_after(1)
    }
}

/// Marks a response whose request lost a race inside the database (a deadlock or a
/// serialization failure) and was rolled back whole, so running it again is safe.
#[derive(Debug, Clone, Copy)]
pub struct RolledBackRace;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Box::new(json!({})),
            retry_after: None,
        }
    }

    /// Says when to try again.
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds a detail to the envelope's `details` object.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if let Value::Object(map) = self.details.as_mut() {
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

    /// A field names an object that does not exist, or that the caller may not see: 404
    /// `reference_not_found`, naming the field (as a path to the object would be a 404).
    pub fn unknown_reference(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "reference_not_found", message).with("field", field)
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
        .retry_after(2)
    }

    /// Another request held or changed the same rows; the whole request was rolled back.
    pub fn race() -> Self {
        Self::conflict(
            "concurrent_update",
            "another request changed the same data at the same moment; retry",
        )
        .retry_after(1)
    }

    /// Whether this error is a lost race the server may retry by itself.
    pub fn is_race(&self) -> bool {
        self.code == "concurrent_update"
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
                details: (*self.details).clone(),
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
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        let mut response = response.json(self.body());
        if self.is_race() {
            response.extensions_mut().insert(RolledBackRace);
        }
        response
    }
}

impl From<diesel::result::Error> for ApiError {
    /// What a database error means to the client. Constraint names and database messages
    /// never reach it: the rules they guard are checked (and named) before the write, and what
    /// still reaches the database is a race, a fault that passes, or a bug (500, logged).
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::Error;
        match &error {
            Error::NotFound => Self::not_found("not_found", "no such object"),
            Error::DatabaseError(kind, info) => {
                let fault = DbFault::of(kind, info.message());
                tracing::warn!(?fault, cause = %info.message(), constraint = ?info.constraint_name(), "database refused");
                fault.answer().unwrap_or_else(|| Self::internal(&error))
            }
            Error::RollbackErrorOnCommit { commit_error, .. } => {
                let inner = ApiError::from(clone_kind(commit_error));
                if inner.status == StatusCode::INTERNAL_SERVER_ERROR {
                    Self::internal(&error)
                } else {
                    inner
                }
            }
            _ => Self::internal(error),
        }
    }
}

/// The commit error, as far as its kind and message go.
fn clone_kind(error: &diesel::result::Error) -> diesel::result::Error {
    match error {
        diesel::result::Error::DatabaseError(kind, info) => {
            diesel::result::Error::DatabaseError(*kind, Box::new(info.message().to_owned()))
        }
        diesel::result::Error::NotFound => diesel::result::Error::NotFound,
        _ => diesel::result::Error::BrokenTransactionManager,
    }
}

/// The kinds of database refusal the API answers differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFault {
    /// A deadlock or serialization failure: the transaction was rolled back whole.
    Race,
    /// `lock_timeout` passed waiting for a row another request holds.
    Locked,
    /// `statement_timeout` passed.
    TooSlow,
    /// The connection is gone (the server stopped, restarted or cut it).
    Unavailable,
    /// A unique key clash the rules did not see coming (two requests creating the same thing).
    Duplicate,
    /// A value the rules let through but a column refused: too large, a NUL byte, a broken
    /// check or reference.
    Refused,
    Other,
}

impl DbFault {
    pub fn of(kind: &diesel::result::DatabaseErrorKind, message: &str) -> Self {
        use diesel::result::DatabaseErrorKind as Kind;
        let message = message.to_ascii_lowercase();
        let says = |text: &str| message.contains(text);
        match kind {
            Kind::SerializationFailure => Self::Race,
            Kind::ClosedConnection | Kind::UnableToSendCommand => Self::Unavailable,
            Kind::UniqueViolation => Self::Duplicate,
            Kind::CheckViolation | Kind::ForeignKeyViolation | Kind::NotNullViolation => {
                Self::Refused
            }
            _ if says("deadlock detected") || says("could not serialize access") => Self::Race,
            _ if says("lock timeout") || says("could not obtain lock") => Self::Locked,
            _ if says("statement timeout") => Self::TooSlow,
            _ if says("terminating connection")
                || says("connection closed")
                || says("closed the connection")
                || says("connection refused")
                || says("broken pipe")
                || says("connection reset")
                || says("the database system is")
                || says("cannot execute") && says("recovery") =>
            {
                Self::Unavailable
            }
            _ if says("numeric field overflow")
                || says("out of range")
                || says("invalid byte sequence")
                || says("value too long") =>
            {
                Self::Refused
            }
            _ => Self::Other,
        }
    }

    fn answer(self) -> Option<ApiError> {
        Some(match self {
            Self::Race => ApiError::race(),
            Self::Locked => {
                ApiError::conflict("locked", "another request is changing the same data; retry")
                    .retry_after(1)
            }
            Self::TooSlow => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_busy",
                "the database took too long to answer; try again shortly",
            )
            .retry_after(2),
            Self::Unavailable => ApiError::unavailable(),
            Self::Duplicate => ApiError::conflict(
                "already_exists",
                "an object with these values already exists",
            ),
            Self::Refused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "value_refused",
                "a value in the request is out of the range the data can hold",
            ),
            Self::Other => return None,
        })
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

    fn refusal(kind: diesel::result::DatabaseErrorKind, message: &str) -> ApiError {
        diesel::result::Error::DatabaseError(kind, Box::new(message.to_owned())).into()
    }

    /// Long because it is a table of the database's refusals and what each answers.
    #[test]
    fn faults_that_pass_answer_409_or_503_with_retry_after_and_never_name_a_constraint() {
        use diesel::result::DatabaseErrorKind as Kind;
        let cases = [
            (Kind::Unknown, "deadlock detected", 409, "concurrent_update"),
            (
                Kind::SerializationFailure,
                "could not serialize access",
                409,
                "concurrent_update",
            ),
            (
                Kind::Unknown,
                "canceling statement due to lock timeout",
                409,
                "locked",
            ),
            (
                Kind::Unknown,
                "canceling statement due to statement timeout",
                503,
                "database_busy",
            ),
            (
                Kind::Unknown,
                "terminating connection due to administrator command",
                503,
                "database_unavailable",
            ),
            (
                Kind::ClosedConnection,
                "connection closed",
                503,
                "database_unavailable",
            ),
            (
                Kind::Unknown,
                "the database system is shutting down",
                503,
                "database_unavailable",
            ),
        ];
        for (kind, message, status, code) in cases {
            let error = refusal(kind, message);
            assert_eq!(
                (error.status.as_u16(), error.code),
                (status, code),
                "{message}"
            );
            let response = error.error_response();
            assert!(response.headers().contains_key("retry-after"), "{message}");
            assert_eq!(
                response.extensions().get::<RolledBackRace>().is_some(),
                code == "concurrent_update",
                "{message}"
            );
        }
        for (kind, message, status) in [
            (
                Kind::CheckViolation,
                "new row violates check constraint \"lots_check1\"",
                422,
            ),
            (
                Kind::UniqueViolation,
                "duplicate key value violates \"lots_code_key\"",
                409,
            ),
            (Kind::Unknown, "numeric field overflow", 422),
            (
                Kind::Unknown,
                "invalid byte sequence for encoding \"UTF8\": 0x00",
                422,
            ),
        ] {
            let error = refusal(kind, message);
            assert_eq!(error.status.as_u16(), status, "{message}");
            let bytes = error
                .error_response()
                .into_body()
                .try_into_bytes()
                .expect("body");
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("lots_") && !text.contains("constraint\""),
                "{text}"
            );
        }
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
