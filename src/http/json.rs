//! `ValidJson<T>`: a JSON body parsed with the API's error rules.
//!
//! Malformed JSON is a 400; JSON of the wrong shape (unknown field, missing field, wrong type)
//! is a 422 naming the field; a body over the limit is a 413; another content type is a 415.
//! The SHA-256 of the raw body is kept for idempotency checks.

use crate::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The largest body of an inspection photo upload (the service refuses photos over 2 MiB
/// with a 422 naming the photo; past this the body is not even read).
pub const MAX_PHOTO_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The body limit of a request path: photo uploads may be larger than JSON bodies.
pub fn limit_for(path: &str) -> usize {
    if path.starts_with("/v1/inspections/") && path.ends_with("/photos") {
        MAX_PHOTO_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

pub struct ValidJson<T> {
    pub value: T,
    pub body_sha256: [u8; 32],
}

impl<T> std::ops::Deref for ValidJson<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let declared_length = declared_length(req);
        let limit = limit_for(req.path());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type.starts_with("application/json") {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body must be JSON with Content-Type: application/json",
                ));
            }
            let body = read_limited(&mut payload, declared_length, limit).await?;
            let value = parse::<T>(&body)?;
            Ok(ValidJson {
                value,
                body_sha256: Sha256::digest(&body).into(),
            })
        })
    }
}

/// A raw body of any content type, read with the same size limit.
pub struct RawBody {
    pub bytes: web::Bytes,
}

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared_length = declared_length(req);
        let limit = limit_for(req.path());
        let mut payload = payload.take();
        Box::pin(async move {
            let bytes = read_limited(&mut payload, declared_length, limit).await?;
            Ok(RawBody { bytes })
        })
    }
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Reads the request's body with the API's limit (413 past it).
pub async fn read_body(req: &HttpRequest, payload: &mut Payload) -> Result<web::Bytes, ApiError> {
    read_limited(payload, declared_length(req), limit_for(req.path())).await
}

/// Reads the body, refusing it (413) as soon as it passes the limit.
async fn read_limited(
    payload: &mut Payload,
    declared_length: Option<usize>,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    if declared_length.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request("malformed_body", "the request body could not be read")
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the body is larger than {limit} bytes"),
    )
    .with("limit_bytes", limit)
}

/// Parses `body` as `T`, turning serde's errors into the API's. Text with a NUL character
/// (`\u0000`), which no column can hold, is refused naming the field.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.windows(6).any(|w| w == b"\\u0000")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(field) = nul_at(&value, "")
    {
        return Err(ApiError::invalid(
            &field,
            "text may not contain the NUL character",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        classify(&path, error.into_inner())
    })?;
    deserializer.end().map_err(|error| classify(".", error))?;
    Ok(value)
}

/// The dotted path of the first string (or key) holding a NUL character.
fn nul_at(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(text) if text.contains('\0') => Some(if path.is_empty() {
            "body".into()
        } else {
            path.into()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(join(&key.replace('\0', "")))
            } else {
                nul_at(item, &join(key))
            }
        }),
        _ => None,
    }
}

fn classify(path: &str, inner: serde_json::Error) -> ApiError {
    match inner.classify() {
        serde_json::error::Category::Data => {
            let message = inner.to_string();
            let field = field_name(path, &message);
            ApiError::invalid(&field, strip_position(&message))
        }
        _ => ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {inner}"),
        ),
    }
}

/// The dotted path of the offending field: serde names unknown and missing fields in the
/// message rather than in the path.
fn field_name(path: &str, message: &str) -> String {
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| {
            let start = message.find(prefix)? + prefix.len();
            let end = message[start..].find('`')?;
            Some(message[start..start + end].to_owned())
        });
    let parent = if path == "." { "" } else { path };
    // For an unknown field the path already ends with it; for a missing one it does not.
    if let Some(name) = &named
        && (parent == name || parent.ends_with(&format!(".{name}")))
    {
        return parent.to_owned();
    }
    match named {
        Some(name) if parent.is_empty() => name,
        Some(name) => format!("{parent}.{name}"),
        None if parent.is_empty() => "body".to_owned(),
        None => parent.to_owned(),
    }
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        amount: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        lines: Vec<Inner>,
    }

    fn field_of(body: &str) -> String {
        let error = parse::<Outer>(body.as_bytes()).unwrap_err();
        assert_eq!(error.status.as_u16(), 422, "{error}");
        error.details["field"].as_str().expect("field").to_owned()
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(field_of(r#"{"name":"a","lines":[],"extra":1}"#), "extra");
        assert_eq!(field_of(r#"{"lines":[]}"#), "name");
        assert_eq!(
            field_of(r#"{"name":"a","lines":[{"amount":"x"}]}"#),
            "lines[0].amount"
        );
        assert_eq!(
            field_of(r#"{"name":"a","lines":[{"amount":1,"b":2}]}"#),
            "lines[0].b"
        );
    }

    #[test]
    fn syntax_errors_are_malformed() {
        for body in ["{", "not json", r#"{"name":"a","lines":[]} trailing"#, ""] {
            let error = parse::<Outer>(body.as_bytes()).unwrap_err();
            assert_eq!(error.status.as_u16(), 400, "{body}");
            assert_eq!(error.code, "malformed_json");
        }
    }
}
