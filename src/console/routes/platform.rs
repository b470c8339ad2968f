//! The platform's handlers: `/admin` and its forms (organisations, users, commodities,
//! warehouses with their storage rates, voyages, a price, the daily feed) and an
//! organisation's users. Each form is read as the API reads the body of the same call
//! ([`forms::as_api`]), so a page refuses what the API refuses, naming the same field; a
//! refused form comes back open with what was typed.

use super::flash;
use crate::console::forms::{self, Fields, Json, Posted, Session};
use crate::console::i18n::{self, Lang};
use crate::console::pages::{self, admin::Draft};
use crate::console::service;
use crate::console::view;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Deserialize)]
pub struct AdminQuery {
    imported: Option<usize>,
    already: Option<usize>,
    done: Option<String>,
}

/// What `done=` on `/admin` confirms.
const DONE: &[(&str, &str)] = &[
    ("commodity", "done-commodity-created"),
    ("warehouse", "done-warehouse-created"),
    ("voyage", "done-voyage-created"),
    ("price", "done-price-posted"),
];

pub async fn admin(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<AdminQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    let admin = service::admin(&mut conn, &session.0.principal).await?;
    let imported = query.imported.map(|imported| {
        view::done(&lang.f(
            "done-imported",
            &[
                ("imported", i18n::Arg::from(imported as i64)),
                (
                    "already",
                    i18n::Arg::from(query.already.unwrap_or(0) as i64),
                ),
            ],
        ))
    });
    let flash = imported.or_else(|| flash(lang, query.done.as_deref(), DONE));
    Ok(view::respond(pages::admin::admin(
        lang, &session.0, &admin, flash, None,
    )))
}

/// `/admin` again with `form` open, what was typed in it and the refusal, at the refusal's
/// status; a fault (5xx) is the error page's.
async fn admin_refused(
    req: &HttpRequest,
    state: &AppState,
    session: &crate::auth::browser::BrowserSession,
    form: &'static str,
    fields: &Fields,
    error: ApiError,
) -> ApiResult<HttpResponse> {
    if !error.status.is_client_error() {
        return Err(error);
    }
    let lang = Lang::of(req);
    let mut conn = state.pool.get().await?;
    let admin = service::admin(&mut conn, &session.principal).await?;
    let draft = Draft {
        form,
        fields,
        problem: view::problem(lang, &error),
    };
    let markup = pages::admin::admin(lang, session, &admin, None, Some(&draft));
    Ok(view::respond_at(error.status, markup))
}

pub async fn import_prices(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let principal = &posted.session.principal;
    let mut conn = state.pool.get().await?;
    match service::import_prices(&mut conn, principal, posted.form.get("csv")).await {
        Ok(done) => Ok(forms::see_other(&format!(
            "/admin?imported={}&already={}#prices",
            done.imported, done.already_present
        ))),
        Err(error) => {
            drop(conn);
            admin_refused(&req, &state, &posted.session, "feed", &posted.form, error).await
        }
    }
}

/// One price for a commodity's reference grade; `as_of` left empty is now.
pub async fn post_price(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let f = &posted.form;
    let as_of = match f.get("as_of") {
        "" => chrono::Utc::now().to_rfc3339(),
        typed => forms::utc_time(typed),
    };
    let answer = async {
        let new = forms::as_api(vec![
            ("commodity_code", Json::Text(f.get("commodity_code"))),
            ("price_per_unit", Json::Text(f.get("price_per_unit"))),
            ("currency", Json::Text(f.get("currency"))),
            ("as_of", Json::Text(&as_of)),
            ("source", Json::Text(f.get("source"))),
        ])?;
        let mut conn = state.pool.get().await?;
        service::post_price(&mut conn, &posted.session.principal, &new).await
    }
    .await;
    match answer {
        Ok(_) => Ok(forms::see_other("/admin?done=price#prices")),
        Err(error) => admin_refused(&req, &state, &posted.session, "new-price", f, error).await,
    }
}

pub async fn create_org(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let f = &posted.form;
    let answer = async {
        let new = forms::as_api(vec![
            ("name", Json::Text(f.get("name"))),
            ("kind", Json::Text(f.get("kind"))),
        ])?;
        let mut conn = state.pool.get().await?;
        service::create_org(&mut conn, &posted.session.principal, &new).await
    }
    .await;
    match answer {
        Ok(org) => Ok(forms::see_other(&format!(
            "/admin/orgs/{}?done=org",
            org.id
        ))),
        Err(error) => admin_refused(&req, &state, &posted.session, "new-org", f, error).await,
    }
}

/// Grades as typed, `A=1.00 B=0.85` (spaces, commas or semicolons between), as the API's map.
fn grades(text: &str) -> ApiResult<Value> {
    let mut map = serde_json::Map::new();
    for pair in text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '，' || c == '；')
        .filter(|p| !p.is_empty())
    {
        let (grade, factor) = pair.split_once('=').ok_or_else(|| {
            ApiError::invalid(
                "grades",
                "write each grade as NAME=FACTOR, such as A=1.00 B=0.85",
            )
        })?;
        map.insert(grade.to_owned(), Value::String(factor.to_owned()));
    }
    Ok(Value::Object(map))
}

pub async fn create_commodity(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let f = &posted.form;
    let answer = async {
        let new = forms::as_api(vec![
            ("code", Json::Text(f.get("code"))),
            ("name", Json::Text(f.get("name"))),
            ("unit", Json::Text(f.get("unit"))),
            ("shelf_life_days", Json::Integer(f.get("shelf_life_days"))),
            ("fresh_days", Json::Integer(f.get("fresh_days"))),
            (
                "end_freshness_factor",
                Json::Text(f.get("end_freshness_factor")),
            ),
            ("grades", Json::Value(grades(f.get("grades"))?)),
            ("temperature_min_c", Json::Text(f.get("temperature_min_c"))),
            ("temperature_max_c", Json::Text(f.get("temperature_max_c"))),
        ])?;
        let mut conn = state.pool.get().await?;
        service::create_commodity(&mut conn, &posted.session.principal, &new).await
    }
    .await;
    match answer {
        Ok(_) => Ok(forms::see_other("/admin?done=commodity#commodities")),
        Err(error) => admin_refused(&req, &state, &posted.session, "new-commodity", f, error).await,
    }
}

/// A warehouse, with a storage rate (`rate.<commodity code>`) for each commodity given one,
/// all in the form's currency.
pub async fn create_warehouse(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let f = &posted.form;
    let rates: Vec<Value> = f
        .prefixed("rate.")
        .filter(|(_, rate)| !rate.is_empty())
        .map(|(code, rate)| {
            json!({ "commodity_code": code, "rate_per_unit_day": rate, "currency": f.get("currency") })
        })
        .collect();
    let answer = async {
        let new = forms::as_api(vec![
            ("name", Json::Text(f.get("name"))),
            ("operator_org_id", Json::Text(f.get("operator_org_id"))),
            ("address", Json::Text(f.get("address"))),
            ("kind", Json::Text(f.get("kind"))),
            ("temperature_min_c", Json::Text(f.get("temperature_min_c"))),
            ("temperature_max_c", Json::Text(f.get("temperature_max_c"))),
            (
                "breach_grace_minutes",
                Json::Integer(f.get("breach_grace_minutes")),
            ),
            ("storage_rates", Json::Value(Value::Array(rates))),
        ])?;
        let mut conn = state.pool.get().await?;
        service::create_warehouse(&mut conn, &posted.session.principal, &new).await
    }
    .await;
    match answer {
        Ok(_) => Ok(forms::see_other("/admin?done=warehouse#warehouses")),
        Err(error) => admin_refused(&req, &state, &posted.session, "new-warehouse", f, error).await,
    }
}

/// A voyage; its times are typed in UTC.
pub async fn create_voyage(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let f = &posted.form;
    let departs_at = forms::utc_time(f.get("departs_at"));
    let eta = forms::utc_time(f.get("eta"));
    let answer = async {
        let new = forms::as_api(vec![
            ("vessel_name", Json::Text(f.get("vessel_name"))),
            ("carrier_org_id", Json::Text(f.get("carrier_org_id"))),
            ("origin", Json::Text(f.get("origin"))),
            ("destination", Json::Text(f.get("destination"))),
            (
                "destination_warehouse_id",
                Json::Text(f.get("destination_warehouse_id")),
            ),
            ("departs_at", Json::Text(&departs_at)),
            ("eta", Json::Text(&eta)),
        ])?;
        let mut conn = state.pool.get().await?;
        service::create_voyage(&mut conn, &posted.session.principal, &new).await
    }
    .await;
    match answer {
        Ok(_) => Ok(forms::see_other("/admin?done=voyage#voyages")),
        Err(error) => admin_refused(&req, &state, &posted.session, "new-voyage", f, error).await,
    }
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// An organisation's users. Not the platform's to see → no such page.
pub async fn org(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<Uuid>,
    query: web::Query<DoneQuery>,
) -> ApiResult<HttpResponse> {
    let lang = Lang::of(&req);
    let mut conn = state.pool.get().await?;
    match service::org_users(&mut conn, &session.0.principal, id.into_inner()).await {
        Ok(page) => {
            let flash = flash(
                lang,
                query.done.as_deref(),
                &[
                    ("org", "done-org-created"),
                    ("user", "done-user-created"),
                    ("disabled", "done-user-disabled"),
                    ("enabled", "done-user-enabled"),
                ],
            );
            Ok(view::respond(pages::admin::org(
                lang, &session.0, &page, flash, None,
            )))
        }
        Err(error) if error.status == StatusCode::NOT_FOUND => {
            Ok(crate::http::middleware::refusal_page(StatusCode::NOT_FOUND))
        }
        Err(error) => Err(error),
    }
}

/// The org's page again with the user form open and the refusal.
async fn org_refused(
    req: &HttpRequest,
    state: &AppState,
    session: &crate::auth::browser::BrowserSession,
    org: Uuid,
    form: &'static str,
    fields: &Fields,
    error: ApiError,
) -> ApiResult<HttpResponse> {
    if !error.status.is_client_error() {
        return Err(error);
    }
    let lang = Lang::of(req);
    let mut conn = state.pool.get().await?;
    let page = match service::org_users(&mut conn, &session.principal, org).await {
        Ok(page) => page,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            return Ok(crate::http::middleware::refusal_page(StatusCode::NOT_FOUND));
        }
        Err(e) => return Err(e),
    };
    let draft = Draft {
        form,
        fields,
        problem: view::problem(lang, &error),
    };
    let markup = pages::admin::org(lang, session, &page, None, Some(&draft));
    Ok(view::respond_at(error.status, markup))
}

/// A new user of the org: email, password, role, and for staff the permissions ticked.
pub async fn create_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let org = id.into_inner();
    let f = &posted.form;
    let permissions: Vec<Value> = f
        .all("permissions")
        .take(64)
        .map(|p| Value::String(p.to_owned()))
        .collect();
    let answer = async {
        let new = forms::as_api(vec![
            ("email", Json::Text(f.get("email"))),
            ("password", Json::Text(f.get("password"))),
            ("role", Json::Text(f.get("role"))),
            ("permissions", Json::Value(Value::Array(permissions))),
        ])?;
        let mut conn = state.pool.get().await?;
        service::create_user(&mut conn, &posted.session.principal, org, &new).await
    }
    .await;
    match answer {
        Ok(_) => Ok(forms::see_other(&format!("/admin/orgs/{org}?done=user"))),
        Err(error) => org_refused(&req, &state, &posted.session, org, "new-user", f, error).await,
    }
}

/// Disables a user (`disabled=true`: its sessions and tokens end at once) or enables it; the
/// form's `org` is the page to go back to when the change is refused.
pub async fn change_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    posted: Posted<Fields>,
) -> ApiResult<HttpResponse> {
    let disabled = match posted.form.get("disabled") {
        "true" => true,
        "false" => false,
        _ => return Err(ApiError::invalid("disabled", "true or false")),
    };
    let mut conn = state.pool.get().await?;
    let principal = &posted.session.principal;
    match service::set_user_disabled(&mut conn, principal, id.into_inner(), disabled).await {
        Ok(user) => Ok(forms::see_other(&format!(
            "/admin/orgs/{}?done={}",
            user.org_id,
            if disabled { "disabled" } else { "enabled" }
        ))),
        Err(error) if error.status == StatusCode::NOT_FOUND => {
            Ok(crate::http::middleware::refusal_page(StatusCode::NOT_FOUND))
        }
        Err(error) => {
            drop(conn);
            let org = posted.form.get("org").parse::<Uuid>().unwrap_or_default();
            org_refused(
                &req,
                &state,
                &posted.session,
                org,
                "change-user",
                &posted.form,
                error,
            )
            .await
        }
    }
}
