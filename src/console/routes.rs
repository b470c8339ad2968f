//! The console's handlers. Each reads the request, calls one `console::service` function (or
//! the sessions service, for signing in and out) and renders a page; access is declared with
//! each route in `app.rs` and checked against the browser's session before a handler runs.

use super::forms::{self, LOGIN_CSRF_COOKIE, Posted, Session};
use super::i18n::{self, Lang};
use super::pages;
use super::service::{self, Decision};
use super::view;
use crate::auth::tokens::random_token;
use crate::error::{ApiError, ApiResult};
use crate::http::ValidJson;
use crate::http::idempotency::KeyRequired;
use crate::lending::exposure::Shock;
use crate::scans::model::ScanRequest;
use crate::sessions::model::LoginRequest;
use crate::state::AppState;
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use std::collections::BTreeMap;
use uuid::Uuid;

pub mod market;
pub mod platform;

// ---------------------------------------------------------------------------------------------
// Assets

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("assets/console.css"))
}

pub async fn scan_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("assets/scan.js"))
}

pub async fn market_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("assets/market.js"))
}

// ---------------------------------------------------------------------------------------------
// Signing in and out, language

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The sign-in page, with a fresh form token in a short-lived cookie (double submit).
pub async fn login_page(req: HttpRequest, query: web::Query<NextQuery>) -> HttpResponse {
    let lang = Lang::of(&req);
    let next = forms::local_path(query.next.as_deref());
    login_form(&req, lang, &next, "", None, StatusCode::OK)
}

fn login_form(
    req: &HttpRequest,
    lang: Lang,
    next: &str,
    email: &str,
    problem: Option<&ApiError>,
    status: StatusCode,
) -> HttpResponse {
    let csrf = random_token();
    let mut cookie = forms::cookie(req, LOGIN_CSRF_COOKIE, csrf.clone());
    cookie.set_max_age(actix_web::cookie::time::Duration::hours(2));
    let problem = problem.map(|e| view::problem(lang, e));
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .cookie(cookie)
        .body(pages::login(lang, &csrf, next, email, problem).into_string())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Signs in: the session cookie, then the page asked for (or the user's home).
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let lang = Lang::of(&req);
    let form = form.into_inner();
    let next = forms::local_path(form.next.as_deref());
    let expected = req
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if !forms::same_secret(&form.csrf, &expected) {
        let refused = ApiError::forbidden("the form expired: sign in again").with("field", "csrf");
        return login_form(
            &req,
            lang,
            &next,
            &form.email,
            Some(&refused),
            StatusCode::FORBIDDEN,
        );
    }
    let (address, request_id) = crate::http::middleware::client_of(&req);
    let credentials = LoginRequest {
        email: form.email.clone(),
        password: form.password,
    };
    match crate::sessions::service::start_browser_session(
        &state,
        &credentials,
        &address,
        request_id,
    )
    .await
    {
        Ok(started) => {
            let mut gone = forms::cookie(&req, LOGIN_CSRF_COOKIE, String::new());
            gone.make_removal();
            HttpResponse::SeeOther()
                .insert_header((actix_web::http::header::LOCATION, next))
                .cookie(forms::cookie(
                    &req,
                    crate::auth::browser::COOKIE,
                    started.token,
                ))
                .cookie(gone)
                .finish()
        }
        Err(error) => {
            let status = error.status;
            login_form(&req, lang, &next, &form.email, Some(&error), status)
        }
    }
}

#[derive(Deserialize)]
pub struct Nothing {}

/// Signs out: the session ends at once, the cookie goes.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<Nothing>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    crate::sessions::service::end_browser_session(&mut conn, &posted.session).await?;
    let mut gone = forms::cookie(&req, crate::auth::browser::COOKIE, String::new());
    gone.make_removal();
    Ok(HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, "/login"))
        .cookie(gone)
        .finish())
}

/// Chooses the language (kept a year in a cookie) and goes back.
pub async fn language(tag: web::Path<String>, query: web::Query<NextQuery>) -> HttpResponse {
    let next = forms::local_path(query.next.as_deref());
    let Some(lang) = Lang::parse(&tag) else {
        return crate::http::middleware::refusal_page(StatusCode::NOT_FOUND);
    };
    let mut cookie = Cookie::build(i18n::COOKIE, lang.tag().to_owned())
        .path("/")
        .same_site(actix_web::cookie::SameSite::Lax)
        .finish();
    cookie.set_max_age(actix_web::cookie::time::Duration::days(365));
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, next))
        .cookie(cookie)
        .finish()
}

/// The console's front door: each user's own first page.
pub async fn home(session: Session) -> HttpResponse {
    forms::see_other(view::home_of(session.0.principal.kind))
}

/// For users whose pages are still to come (buyers' market, inspectors): who they are, and
/// where their work is done today.
pub async fn welcome(req: HttpRequest, session: Session) -> HttpResponse {
    let lang = Lang::of(&req);
    let s = &session.0;
    let content = maud::html! {
        p { (lang.f("welcome-who", &[("email", i18n::Arg::from(s.email.as_str())), ("org", i18n::Arg::from(s.org_name.as_str()))])) }
        p { (lang.t("welcome-api")) " " a href="/docs/" { "/docs" } }
    };
    view::respond(view::page(
        lang,
        Some(s),
        &lang.t("welcome-title"),
        "/welcome",
        content,
    ))
}

// ---------------------------------------------------------------------------------------------
// The scan station

#[derive(Deserialize)]
pub struct CodeQuery {
    code: Option<String>,
}

pub async fn scan_station(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<CodeQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let principal = &session.0.principal;
    let mut conn = state.pool.get().await?;
    let station = service::station(&mut conn, principal).await?;
    let card = match query.code.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(code) => Some(
            match service::scanned_lot(&mut conn, principal, code).await {
                Ok(scanned) => pages::scan::card(lang, &scanned),
                Err(error) if error.status.is_client_error() => view::problem(lang, &error),
                Err(error) => return Err(error),
            },
        ),
        None => None,
    };
    Ok(view::respond(pages::scan::station(
        lang, &session.0, &station, card,
    )))
}

/// The card of a scanned lot, for the station's script (HTML in the user's language).
pub async fn scan_lot(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<CodeQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let code = query.code.as_deref().unwrap_or("");
    let mut conn = state.pool.get().await?;
    let (status, markup) = match service::scanned_lot(&mut conn, &session.0.principal, code).await {
        Ok(scanned) => (StatusCode::OK, pages::scan::card(lang, &scanned)),
        Err(error) if error.status.is_client_error() => (error.status, view::problem(lang, &error)),
        Err(error) => return Err(error),
    };
    Ok(view::respond_at(status, markup))
}

/// One scan from the station: the API's scan (same checks, same `Idempotency-Key` store), its
/// refusals worded in the user's language.
pub async fn scan_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    body: ValidJson<ScanRequest>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    forms::check_header(&req, &session.0)?;
    let principal = session.0.principal.clone();
    crate::scans::service::scan_keyed(&state.pool, principal, body.body_sha256, body.value, idem)
        .await
        .map_err(|error| in_language(lang, error))
}

/// The confirmation a page shows after an action (`?done=<what>`), when it knows `what`.
fn flash(lang: Lang, done: Option<&str>, known: &[(&str, &str)]) -> Option<maud::Markup> {
    let key = known.iter().find(|(what, _)| Some(*what) == done)?.1;
    Some(view::done(&lang.t(key)))
}

/// An API refusal with its message in the user's language, where the catalogue has it.
fn in_language(lang: Lang, mut error: ApiError) -> ApiError {
    let key = format!("error-{}", error.code.replace('_', "-"));
    if lang.has(&key) {
        error.message = lang.t(&key);
    }
    error
}

// ---------------------------------------------------------------------------------------------
// Lenders

pub async fn dashboard(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let book = service::book(&mut conn, &session.0.principal).await?;
    Ok(view::respond(pages::lender::dashboard(
        lang, &session.0, &book,
    )))
}

pub async fn exposure_csv(state: web::Data<AppState>, session: Session) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let csv = service::book_csv(&mut conn, &session.0.principal).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            format!("attachment; filename=\"{}\"", csv.file_name),
        ))
        .body(csv.body))
}

pub async fn stress_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let commodities = service::commodity_codes(&mut conn).await?;
    Ok(view::respond(pages::lender::stress(
        lang,
        &session.0,
        &commodities,
        &[],
        None,
    )))
}

/// Runs the stress test the form asks: `shock.<CODE>` fields holding fractions.
pub async fn stress_run(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<BTreeMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let asked: Vec<(String, String)> = posted
        .form
        .iter()
        .filter_map(|(name, value)| {
            let code = name.strip_prefix("shock.")?;
            (!value.trim().is_empty()).then(|| (code.to_owned(), value.trim().to_owned()))
        })
        .take(100)
        .collect();
    let mut conn = state.pool.get().await?;
    let commodities = service::commodity_codes(&mut conn).await?;
    let shocks: Result<Vec<Shock>, ApiError> = asked
        .iter()
        .map(|(code, value)| {
            let price_change = serde_json::from_value(serde_json::Value::String(value.clone()))
                .map_err(|_| {
                    ApiError::invalid(
                        &format!("shock.{code}"),
                        format!("{code}: a price change is a fraction, such as -0.30"),
                    )
                })?;
            Ok(Shock {
                commodity_code: code.clone(),
                price_change,
            })
        })
        .collect();
    let answer = match shocks {
        Ok(shocks) => service::stress(&mut conn, &posted.session.principal, shocks).await,
        Err(error) => Err(error),
    };
    let (status, answer) = match answer {
        Ok(book) => (StatusCode::OK, Ok(book)),
        Err(error) if error.status.is_client_error() => {
            (error.status, Err(view::problem(lang, &error)))
        }
        Err(error) => return Err(error),
    };
    let markup = pages::lender::stress(lang, &posted.session, &commodities, &asked, Some(answer));
    Ok(view::respond_at(status, markup))
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

pub async fn approvals(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<DoneQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let inbox = service::inbox(&mut conn, &session.0.principal).await?;
    let flash = flash(
        lang,
        query.done.as_deref(),
        &[
            ("approved", "done-approved"),
            ("rejected", "done-rejected"),
            ("disbursed", "done-disbursed"),
        ],
    );
    Ok(view::respond(pages::lender::approvals(
        lang, &session.0, &inbox, flash,
    )))
}

#[derive(Deserialize)]
pub struct RejectForm {
    #[serde(default)]
    reason: String,
}

pub async fn approve(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<Nothing>,
) -> ApiResult<HttpResponse> {
    decided(
        &req,
        &state,
        &posted.session,
        *id,
        Decision::Approve,
        "approved",
    )
    .await
}

pub async fn reject(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<RejectForm>,
) -> ApiResult<HttpResponse> {
    let decision = Decision::Reject(posted.form.reason.clone());
    decided(&req, &state, &posted.session, *id, decision, "rejected").await
}

/// After a decision: back to the inbox saying so, or the inbox with the refusal on it.
async fn decided(
    req: &HttpRequest,
    state: &AppState,
    session: &crate::auth::browser::BrowserSession,
    id: Uuid,
    decision: Decision,
    done: &str,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(req);
    let mut conn = state.pool.get().await?;
    match service::decide(&mut conn, &session.principal, id, decision).await {
        Ok(_) => Ok(forms::see_other(&format!("/approvals?done={done}"))),
        Err(error) if error.status.is_client_error() => {
            let inbox = service::inbox(&mut conn, &session.principal).await?;
            let markup =
                pages::lender::approvals(lang, session, &inbox, Some(view::problem(lang, &error)));
            Ok(view::respond_at(error.status, markup))
        }
        Err(error) => Err(error),
    }
}

pub async fn loans(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let loans = service::loans_in(&mut conn, &session.0.principal, None).await?;
    Ok(view::respond(pages::lender::loans(
        lang, &session.0, &loans,
    )))
}

pub async fn loan(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<Uuid>,
    query: web::Query<DoneQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let flash = flash(lang, query.done.as_deref(), &[("repaid", "done-repaid")]);
    let mut conn = state.pool.get().await?;
    match service::loan(&mut conn, &session.0.principal, *id).await {
        Ok(loan) => Ok(view::respond(pages::lender::loan(
            lang, &session.0, &loan, flash,
        ))),
        Err(error) if error.status == StatusCode::NOT_FOUND => {
            Ok(crate::http::middleware::refusal_page(StatusCode::NOT_FOUND))
        }
        Err(error) => Err(error),
    }
}

// ---------------------------------------------------------------------------------------------
// Suppliers

pub async fn portal(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<DoneQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let portal = service::portal(&mut conn, &session.0.principal).await?;
    let flash = flash(
        lang,
        query.done.as_deref(),
        &[("announced", "done-announced")],
    );
    Ok(view::respond(pages::supplier::portal(
        lang, &session.0, &portal, flash,
    )))
}

/// The portal again with a refusal on it, at the refusal's status.
async fn portal_refused(
    req: &HttpRequest,
    state: &AppState,
    session: &crate::auth::browser::BrowserSession,
    error: ApiError,
) -> ApiResult<HttpResponse> {
    if !error.status.is_client_error() {
        return Err(error);
    }
    let lang = Lang::of(req);
    let mut conn = state.pool.get().await?;
    let portal = service::portal(&mut conn, &session.principal).await?;
    let markup = pages::supplier::portal(lang, session, &portal, Some(view::problem(lang, &error)));
    Ok(view::respond_at(error.status, markup))
}

#[derive(Deserialize)]
pub struct AnnounceForm {
    #[serde(default)]
    commodity_code: String,
    #[serde(default)]
    grade: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    packed_on: String,
    warehouse_id: Option<Uuid>,
}

pub async fn announce(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<AnnounceForm>,
) -> ApiResult<HttpResponse> {
    let form = posted.form;
    let announcement = service::Announcement {
        commodity_code: form.commodity_code,
        grade: form.grade,
        quantity: form.quantity,
        packed_on: form.packed_on,
        warehouse_id: form.warehouse_id,
    };
    let mut conn = state.pool.get().await?;
    match service::announce(&mut conn, &posted.session.principal, announcement).await {
        Ok(_) => Ok(forms::see_other("/lots?done=announced")),
        Err(error) => portal_refused(&req, &state, &posted.session, error).await,
    }
}

/// A loan request from the portal: `facility_id`, `principal` and `pledge.<lot id>` fields.
pub async fn borrow(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<BTreeMap<String, String>>,
) -> ApiResult<HttpResponse> {
    let form = &posted.form;
    let facility_id = form
        .get("facility_id")
        .and_then(|id| id.parse::<Uuid>().ok());
    let pledges: Vec<(Uuid, String)> = form
        .iter()
        .filter_map(|(name, value)| {
            let id = name.strip_prefix("pledge.")?.parse::<Uuid>().ok()?;
            (!value.trim().is_empty()).then(|| (id, value.clone()))
        })
        .take(100)
        .collect();
    let answer = match facility_id {
        None => Err(ApiError::invalid("facility_id", "choose a facility")),
        Some(facility_id) => {
            let mut conn = state.pool.get().await?;
            let amount = form.get("principal").map(String::as_str).unwrap_or("");
            service::borrow(
                &mut conn,
                &posted.session.principal,
                facility_id,
                amount,
                pledges,
            )
            .await
        }
    };
    match answer {
        Ok(loan) => Ok(forms::see_other(&format!("/loans/{}", loan.id))),
        Err(error) => portal_refused(&req, &state, &posted.session, error).await,
    }
}

/// A lot's label to print (SVG with its QR code and GS1-128 barcode).
pub async fn label(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    match crate::lots::service::label(&mut conn, &session.0.principal, *id).await {
        Ok(svg) => Ok(HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header(("Cache-Control", "no-store"))
            .body(svg)),
        Err(error) if error.status == StatusCode::NOT_FOUND => {
            Ok(crate::http::middleware::refusal_page(StatusCode::NOT_FOUND))
        }
        Err(error) => Err(error),
    }
}

// ---------------------------------------------------------------------------------------------
// The warehouse's breaches

pub async fn breaches(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<DoneQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let (breaches, warehouses) = service::breaches(&mut conn, &session.0.principal).await?;
    let flash = flash(
        lang,
        query.done.as_deref(),
        &[
            ("acknowledged", "done-acknowledged"),
            ("recorded", "done-recorded"),
        ],
    );
    Ok(view::respond(pages::warehouse::breaches(
        lang,
        &session.0,
        &breaches,
        &warehouses,
        flash,
    )))
}

#[derive(Deserialize)]
pub struct AcknowledgeForm {
    #[serde(default)]
    comment: String,
    #[serde(default)]
    grade_downgrade: String,
}

pub async fn acknowledge(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<AcknowledgeForm>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let form = &posted.form;
    let downgrade = Some(form.grade_downgrade.trim().to_owned()).filter(|g| !g.is_empty());
    let mut conn = state.pool.get().await?;
    let principal = &posted.session.principal;
    match service::acknowledge(&mut conn, principal, *id, form.comment.clone(), downgrade).await {
        Ok(()) => Ok(forms::see_other("/breaches?done=acknowledged")),
        Err(error) if error.status.is_client_error() => {
            let (breaches, warehouses) = service::breaches(&mut conn, principal).await?;
            let markup = pages::warehouse::breaches(
                lang,
                &posted.session,
                &breaches,
                &warehouses,
                Some(view::problem(lang, &error)),
            );
            Ok(view::respond_at(error.status, markup))
        }
        Err(error) => Err(error),
    }
}

// ---------------------------------------------------------------------------------------------
// Money from the pages: paying out, repaying (each form carries its own key)

#[derive(Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    key: String,
}

pub async fn disburse(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<KeyForm>,
) -> ApiResult<HttpResponse> {
    let idem = KeyRequired::from_form(&req, &posted.form.key)?;
    let principal = &posted.session.principal;
    match service::disburse(&state.pool, principal, *id, idem).await? {
        service::Keyed::Done => Ok(forms::see_other("/approvals?done=disbursed")),
        service::Keyed::Refused(error) => {
            let lang = Lang::of(&req);
            let mut conn = state.pool.get().await?;
            let inbox = service::inbox(&mut conn, principal).await?;
            let markup = pages::lender::approvals(
                lang,
                &posted.session,
                &inbox,
                Some(view::problem(lang, &error)),
            );
            Ok(view::respond_at(error.status, markup))
        }
    }
}

#[derive(Deserialize)]
pub struct RepayForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    amount: String,
}

pub async fn repay(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<RepayForm>,
) -> ApiResult<HttpResponse> {
    let idem = KeyRequired::from_form(&req, &posted.form.key)?;
    let principal = &posted.session.principal;
    match service::repay(&state.pool, principal, *id, &posted.form.amount, idem).await? {
        service::Keyed::Done => Ok(forms::see_other(&format!("/loans/{id}?done=repaid"))),
        service::Keyed::Refused(error) => {
            let lang = Lang::of(&req);
            let mut conn = state.pool.get().await?;
            let loan = service::loan(&mut conn, principal, *id).await?;
            let markup = pages::lender::loan(
                lang,
                &posted.session,
                &loan,
                Some(view::problem(lang, &error)),
            );
            Ok(view::respond_at(error.status, markup))
        }
    }
}

pub async fn movements(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let (moved, warehouses) = service::movements_today(&mut conn, &session.0.principal).await?;
    Ok(view::respond(pages::warehouse::movements(
        lang,
        &session.0,
        &moved,
        &warehouses,
    )))
}

// ---------------------------------------------------------------------------------------------
// Sales and the statement

pub async fn sales(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<DoneQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let sales = service::sales(&mut conn, &session.0.principal).await?;
    let flash = flash(lang, query.done.as_deref(), &[("paid", "done-paid")]);
    Ok(view::respond(pages::books::sales(
        lang, &session.0, &sales, flash,
    )))
}

#[derive(Deserialize)]
pub struct PayForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    amount: String,
}

/// A buyer pays towards a pending purchase, under the form's key.
pub async fn pay(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<PayForm>,
) -> ApiResult<HttpResponse> {
    let idem = KeyRequired::from_form(&req, &posted.form.key)?;
    let principal = &posted.session.principal;
    // The payment that completes a sale settles it: a turn is taken before a connection.
    let turn = state.settling.enter().await?;
    let paid = service::pay_sale(&state.pool, principal, *id, &posted.form.amount, idem).await?;
    drop(turn);
    match paid {
        service::Keyed::Done => Ok(forms::see_other("/sales?done=paid")),
        service::Keyed::Refused(error) => {
            let lang = Lang::of(&req);
            let mut conn = state.pool.get().await?;
            let sales = service::sales(&mut conn, principal).await?;
            let markup = pages::books::sales(
                lang,
                &posted.session,
                &sales,
                Some(view::problem(lang, &error)),
            );
            Ok(view::respond_at(error.status, markup))
        }
    }
}

#[derive(Deserialize)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

impl PeriodQuery {
    /// The period's dates; a date that is not one is named (blank means the default).
    fn dates(&self) -> ApiResult<(Option<chrono::NaiveDate>, Option<chrono::NaiveDate>)> {
        let date = |field: &str, text: &Option<String>| match text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            None => Ok(None),
            Some(text) => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    ApiError::invalid(
                        field,
                        format!("{field}: not a date (write it as 2026-11-30)"),
                    )
                }),
        };
        Ok((date("from", &self.from)?, date("to", &self.to)?))
    }
}

pub async fn statement(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<PeriodQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let asked = match query.dates() {
        Ok((from, to)) => service::statement(&mut conn, &session.0.principal, from, to).await,
        Err(error) => Err(error),
    };
    match asked {
        Ok(statement) => Ok(view::respond(pages::books::statement_with(
            lang, &session.0, &statement, None,
        ))),
        // A period that is not one: the default period, with the refusal on it.
        Err(error) if error.status.is_client_error() => {
            let statement = service::statement(&mut conn, &session.0.principal, None, None).await?;
            let page = pages::books::statement_with(
                lang,
                &session.0,
                &statement,
                Some(view::problem(lang, &error)),
            );
            Ok(view::respond_at(error.status, page))
        }
        Err(error) => Err(error),
    }
}

pub async fn statement_csv(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<PeriodQuery>,
) -> ApiResult<HttpResponse> {
    let (from, to) = query.dates()?;
    let mut conn = state.pool.get().await?;
    let statement = service::statement(&mut conn, &session.0.principal, from, to).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            format!(
                "attachment; filename=\"statement-{}-{}.csv\"",
                statement.from, statement.to
            ),
        ))
        .body(crate::statements::service::csv(&statement)))
}

#[derive(Deserialize)]
pub struct ReadingForm {
    warehouse_id: Option<Uuid>,
    #[serde(default)]
    sensor_id: String,
    #[serde(default)]
    celsius: String,
    #[serde(default)]
    recorded_at: String,
}

pub async fn record_reading(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<ReadingForm>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let form = &posted.form;
    let principal = &posted.session.principal;
    let mut conn = state.pool.get().await?;
    let recorded = match form.warehouse_id {
        None => Err(ApiError::invalid("warehouse_id", "choose the warehouse")),
        Some(warehouse) => {
            service::record_reading(
                &mut conn,
                principal,
                warehouse,
                form.sensor_id.trim().to_owned(),
                &form.celsius,
                &form.recorded_at,
            )
            .await
        }
    };
    match recorded {
        Ok(()) => Ok(forms::see_other("/breaches?done=recorded")),
        Err(error) if error.status.is_client_error() => {
            let (breaches, warehouses) = service::breaches(&mut conn, principal).await?;
            let markup = pages::warehouse::breaches(
                lang,
                &posted.session,
                &breaches,
                &warehouses,
                Some(view::problem(lang, &error)),
            );
            Ok(view::respond_at(error.status, markup))
        }
        Err(error) => Err(error),
    }
}

pub async fn facilities(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let (facilities, orgs) = service::facilities(&mut conn, &session.0.principal).await?;
    Ok(view::respond(pages::lender::facilities(
        lang,
        &session.0,
        &facilities,
        &orgs,
    )))
}
