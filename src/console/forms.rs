//! What every console form shares: the form token (CSRF), the browser session, and safe
//! redirects.
//!
//! Every form carries the session's form token in a hidden `csrf` field, and every console
//! request sent from script carries it in `X-CSRF-Token`; a request without the right token
//! changes nothing (403). The cookie is SameSite=Strict as well, so another site's page cannot
//! send it at all. The sign-in form, before any session, uses a token of its own kept in a
//! short-lived cookie (double submit).

use crate::auth::browser::BrowserSession;
use crate::error::ApiError;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

/// The header script requests carry the form token in.
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// The sign-in form's own token, before there is a session.
pub const LOGIN_CSRF_COOKIE: &str = "holdfast_login_csrf";
/// Console forms are small: a longer body is refused unread.
const FORM_LIMIT: usize = 64 * 1024;

/// The signed-in browser of a console page (the middleware found it).
pub struct Session(pub BrowserSession);

impl FromRequest for Session {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<BrowserSession>()
                .cloned()
                .map(Session)
                .ok_or_else(|| ApiError::unauthorized("unauthenticated", "sign in first")),
        )
    }
}

/// A posted form of a signed-in browser whose `csrf` field matched its session.
pub struct Posted<T> {
    pub session: BrowserSession,
    pub form: T,
}

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned + 'static> FromRequest for Posted<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = req.extensions().get::<BrowserSession>().cloned();
        let body = web::Bytes::from_request(req, payload);
        let limit_ok = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_none_or(|n| n <= FORM_LIMIT);
        Box::pin(async move {
            let Some(session) = session else {
                return Err(ApiError::unauthorized("unauthenticated", "sign in first").into());
            };
            if !limit_ok {
                return Err(ApiError::invalid("form", "the form is too long").into());
            }
            let body = body.await?;
            if body.len() > FORM_LIMIT {
                return Err(ApiError::invalid("form", "the form is too long").into());
            }
            let token: CsrfField = serde_urlencoded::from_bytes(&body)
                .map_err(|_| ApiError::invalid("csrf", "the form token is missing"))?;
            if !same_secret(&token.csrf, &session.csrf_token) {
                return Err(refused_form().into());
            }
            let form: T = serde_urlencoded::from_bytes(&body).map_err(|e| {
                ApiError::invalid("form", format!("the form could not be read: {e}"))
            })?;
            Ok(Posted { session, form })
        })
    }
}

/// A posted form's fields as sent, in order (a name may repeat: checkboxes).
#[derive(Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Every non-empty value of `name`, in order.
    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// The fields whose name starts with `prefix`, the rest of the name with the value.
    pub fn prefixed<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .iter()
            .filter_map(move |(n, v)| Some((n.strip_prefix(prefix)?, v.trim())))
    }
}

/// How a form's text becomes a field of the API's JSON body.
pub enum Json<'a> {
    /// A string; left out when empty (the API's default applies).
    Text(&'a str),
    /// A whole number when the text is one, else the text (which the API then refuses naming
    /// the field); left out when empty.
    Integer(&'a str),
    /// A value built by the page (a list, a map).
    Value(serde_json::Value),
}

/// A form read as the API reads the body of the same call: the fields become a JSON object
/// parsed by the API's own parser, so a page refuses exactly what the API refuses, naming the
/// same field.
pub fn as_api<T: DeserializeOwned>(fields: Vec<(&str, Json<'_>)>) -> Result<T, ApiError> {
    let mut object = serde_json::Map::new();
    for (name, field) in fields {
        let value = match field {
            Json::Text("") | Json::Integer("") => continue,
            Json::Text(text) => serde_json::Value::String(text.to_owned()),
            Json::Integer(text) => text.parse::<i64>().map_or_else(
                |_| serde_json::Value::String(text.to_owned()),
                serde_json::Value::from,
            ),
            Json::Value(value) => value,
        };
        object.insert(name.to_owned(), value);
    }
    let body =
        serde_json::to_vec(&serde_json::Value::Object(object)).map_err(ApiError::internal)?;
    crate::http::json::parse(&body)
}

/// A `datetime-local` field (`2026-12-01T08:30`, UTC on these pages) as RFC 3339, or the
/// text as typed (which the API then refuses naming the field).
pub fn utc_time(text: &str) -> String {
    match chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M") {
        Ok(time) => time.and_utc().to_rfc3339(),
        Err(_) => text.to_owned(),
    }
}

/// The form token of a script request (`X-CSRF-Token`) matched its session.
pub fn check_header(req: &HttpRequest, session: &BrowserSession) -> Result<(), ApiError> {
    let sent = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if same_secret(sent, &session.csrf_token) {
        Ok(())
    } else {
        Err(refused_form())
    }
}

fn refused_form() -> ApiError {
    ApiError::forbidden("the form token is wrong or missing: reload the page and try again")
        .with("field", "csrf")
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A path of ours to go back to after sign-in or a change of language: only a local absolute
/// path (`/…`, not `//host` or `/\host`), else the home page.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && path.len() <= 512
                && !path.chars().any(|c| c.is_control()) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// A 303 to `location`.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// A cookie of the console: HttpOnly, SameSite=Strict, on every path; Secure when the
/// request came over TLS (directly, or as the proxy in front says).
pub fn cookie<'c>(req: &HttpRequest, name: &'c str, value: String) -> Cookie<'c> {
    let secure = req.connection_info().scheme() == "https";
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .path("/")
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/scan?x=1")), "/scan?x=1");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/a\nb")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn forms_read_as_the_api_reads_its_body() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Body {
            name: String,
            days: i32,
            #[serde(default)]
            note: Option<String>,
        }
        let ok: Body = as_api(vec![
            ("name", Json::Text("Yantai")),
            ("days", Json::Integer("30")),
            ("note", Json::Text("")),
        ])
        .unwrap();
        assert_eq!((ok.name.as_str(), ok.days, ok.note), ("Yantai", 30, None));
        let refused = as_api::<Body>(vec![
            ("name", Json::Text("x")),
            ("days", Json::Integer("thirty")),
        ])
        .unwrap_err();
        assert_eq!(refused.status.as_u16(), 422);
        assert_eq!(refused.details["field"], "days");
        let missing = as_api::<Body>(vec![("days", Json::Integer("3"))]).unwrap_err();
        assert_eq!(missing.details["field"], "name");
    }

    #[test]
    fn local_times_are_utc() {
        assert_eq!(utc_time("2026-12-01T08:30"), "2026-12-01T08:30:00+00:00");
        assert_eq!(utc_time("tomorrow"), "tomorrow");
    }

    #[test]
    fn fields_keep_repeats_and_trim() {
        let fields: Fields =
            serde_urlencoded::from_str("a=+1+&p=x&p=&p=y&rate.APPLE=0.02").unwrap();
        assert_eq!(fields.get("a"), "1");
        assert_eq!(fields.get("missing"), "");
        assert_eq!(fields.all("p").collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(
            fields.prefixed("rate.").collect::<Vec<_>>(),
            [("APPLE", "0.02")]
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("ab", "abc"));
        assert!(!same_secret("", ""));
    }
}
