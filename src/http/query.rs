//! `ValidQuery<T>`: query parameters parsed with the API's error rules. A parameter of the
//! wrong type, an unknown one or a missing one is a 422 naming that parameter.

use crate::error::ApiError;
use actix_web::{FromRequest, HttpRequest, dev::Payload};
use serde::de::DeserializeOwned;
use std::future::{Ready, ready};

pub struct ValidQuery<T>(pub T);

impl<T> ValidQuery<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for ValidQuery<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for ValidQuery<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req.query_string()).map(ValidQuery))
    }
}

/// Parses a query string as `T`, naming the parameter at fault.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        // serde names unknown and missing parameters in its message, not in the path.
        let named = message.split('`').nth(1).filter(|_| {
            message.starts_with("unknown field") || message.starts_with("missing field")
        });
        let parameter = match named {
            Some(name) => name.to_owned(),
            None if path != "." => path,
            None => "query".to_owned(),
        };
        ApiError::invalid(&parameter, format!("{parameter}: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Filter {
        lot_id: uuid::Uuid,
        limit: Option<i64>,
    }

    fn field(query: &str) -> String {
        let error = parse::<Filter>(query).expect_err(query);
        error.details["field"].as_str().unwrap_or("").to_owned()
    }

    #[test]
    fn each_bad_parameter_is_named() {
        let id = uuid::Uuid::nil();
        assert!(parse::<Filter>(&format!("lot_id={id}&limit=5")).is_ok());
        assert_eq!(field(&format!("lot_id={id}&limit=many")), "limit");
        assert_eq!(field("lot_id=not-a-uuid"), "lot_id");
        assert_eq!(field("limit=5"), "lot_id");
        assert_eq!(field(&format!("lot_id={id}&colour=red")), "colour");
    }
}
