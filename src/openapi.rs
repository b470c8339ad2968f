//! The OpenAPI document, generated from the handlers' annotations.

use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Holdfast API",
        description = "Warehouse-backed supply-chain finance: custody, valuation, lending and settlement of goods. Errors answer `{\"error\": {\"code\", \"message\", \"details\"}}`.",
    ),
    paths(
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
        crate::ops::openapi_json,
        crate::ops::docs_redirect,
        crate::sessions::routes::login,
        crate::sessions::routes::refresh,
        crate::sessions::routes::logout,
        crate::sessions::routes::me,
        crate::orgs::routes::create_org,
        crate::orgs::routes::directory,
        crate::orgs::routes::get_org,
        crate::orgs::routes::create_user,
        crate::orgs::routes::list_users,
        crate::orgs::routes::change_user,
        crate::sessions::routes::change_password,
        crate::orgs::routes::activity,
        crate::integrity::routes::audit_trail,
        crate::integrity::routes::verify,
        crate::integrity::routes::events,
        crate::reference::routes::create_commodity,
        crate::reference::routes::list_commodities,
        crate::reference::routes::create_warehouse,
        crate::reference::routes::list_warehouses,
        crate::reference::routes::get_warehouse,
        crate::reference::routes::create_voyage,
        crate::reference::routes::list_voyages,
        crate::reference::routes::get_voyage,
        crate::reference::routes::depart_voyage,
        crate::reference::routes::arrive_voyage,
        crate::lots::routes::announce,
        crate::lots::routes::list,
        crate::lots::routes::by_code,
        crate::lots::routes::release_orders,
        crate::lots::routes::get,
        crate::lots::routes::movements,
        crate::lots::routes::label,
        crate::lots::routes::labels,
        crate::lots::routes::split,
        crate::lots::routes::withdraw,
        crate::scans::routes::scan,
        crate::lots::routes::reconciliation,
        crate::coldchain::routes::record_readings,
        crate::coldchain::routes::list,
        crate::incidents::routes::list,
        crate::incidents::routes::get,
        crate::coldchain::routes::acknowledge,
        crate::inspections::routes::set_quality,
        crate::inspections::routes::quality,
        crate::inspections::routes::inspect,
        crate::inspections::routes::list,
        crate::inspections::routes::add_photo,
        crate::inspections::routes::photo,
        crate::inspections::routes::due,
        crate::inspections::routes::assign,
        crate::inspections::routes::unassign,
        crate::inspections::routes::assignments,
        crate::prices::routes::post,
        crate::prices::routes::list,
        crate::prices::routes::import_feed,
        crate::lots::valuation::valuation,
        crate::lending::routes::create_facility,
        crate::lending::routes::list_facilities,
        crate::lending::routes::change_facility,
        crate::lending::routes::close_facility,
        crate::lending::routes::get_facility,
        crate::lending::routes::request,
        crate::lending::routes::list_loans,
        crate::lending::routes::get_loan,
        crate::lending::routes::ltv_history,
        crate::lending::routes::approve,
        crate::lending::routes::reject,
        crate::lending::routes::cancel,
        crate::lending::routes::disburse,
        crate::lending::routes::repay,
        crate::lending::routes::add_collateral,
        crate::lending::routes::release_collateral,
        crate::lending::routes::liquidate,
        crate::lending::routes::margin_calls,
        crate::ledger::routes::accounts,
        crate::ledger::routes::entries,
        crate::ledger::routes::check,
        crate::lending::routes::exposure,
        crate::lending::routes::stress,
        crate::lending::routes::exposure_csv,
        crate::market::routes::create,
        crate::market::routes::list,
        crate::market::routes::get,
        crate::market::routes::withdraw,
        crate::market::routes::offer,
        crate::market::routes::offers,
        crate::market::routes::accept,
        crate::market::routes::reject,
        crate::market::routes::bid,
        crate::market::routes::bids,
        crate::market::routes::join,
        crate::market::routes::funds,
        crate::market::routes::add_funds,
        crate::market::routes::withdraw_funds,
        crate::fees::routes::create,
        crate::fees::routes::list,
        crate::fees::routes::quote,
        crate::sales::routes::create,
        crate::sales::routes::list,
        crate::sales::routes::get,
        crate::sales::routes::cancel,
        crate::sales::routes::pay,
        crate::sales::routes::consent,
        crate::statements::routes::statement,
        crate::statements::routes::statement_csv,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Health, metrics and this document"),
        (name = "auth", description = "Logging in, tokens, who am I"),
        (name = "orgs", description = "Organisations and their users"),
        (name = "integrity", description = "Audit trail and event feed"),
        (name = "reference", description = "Commodities, warehouses, voyages"),
        (name = "lots", description = "Lots, movements, labels, withdrawals"),
        (name = "scans", description = "Scanning goods in, out, onto and off voyages"),
        (name = "cold chain", description = "Temperature readings and breaches"),
        (name = "prices", description = "Commodity prices and the daily feed"),
        (name = "lending", description = "Facilities, loans, margin calls, exposure"),
        (name = "ledger", description = "Accounts, journal entries, the balance proof"),
        (name = "sales", description = "Fee schedules, sales, payments, settlement, statements"),
        (name = "market", description = "Listings of goods the platform holds, ranked and shown by tier; offers that become sales"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as served at `/openapi.json`: the handlers' own annotations, completed with
/// what every operation of its kind can answer (see [`complete`]).
pub fn published() -> Value {
    let mut doc = serde_json::to_value(document()).unwrap_or_default();
    complete(&mut doc);
    doc
}

/// The answers the edge gives any operation, by what the operation takes:
///
/// * a bearer token → 401 (missing, forged, expired or revoked) and 403 (role or permission);
/// * a path parameter → 404 (no such object, or not one the caller may see);
/// * a body → 400 (unreadable), 413 (over the body limit), 415 (not JSON), 422 (a field
///   refused, named in `details.field`);
/// * query parameters → 422 (a parameter refused, named in `details.field`);
/// * an `Idempotency-Key` header → 400 (missing where required, or malformed) and 409 (the
///   same key with another body, or its first request still running);
/// * anything that writes → 409 `locked` (a row held past the lock timeout);
/// * anything that reads the database → 503 `database_unavailable` / `database_busy`, with
///   `Retry-After`.
///
/// Query parameters are never `null` (leave one out instead); the key header carries its own
/// rules.
pub fn complete(doc: &mut Value) {
    add_shared_responses(doc);
    list_currencies(doc);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            complete_operation(path, method, op);
        }
    }
}

/// Paths that never touch the database or need a token.
const STATIC_PATHS: &[&str] = &["/healthz", "/metrics", "/openapi.json", "/docs"];

fn complete_operation(path: &str, method: &str, op: &mut Value) {
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let has_body = op.get("requestBody").is_some();
    let mut has_path_param = false;
    let mut has_query = false;
    let mut keyed = false;
    let mut names_object = false;
    let mut reads_text = false;
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for param in params.iter_mut() {
            match param["in"].as_str() {
                Some("path") => {
                    has_path_param = true;
                    // A path segment read as text (a lot code) may be refused, naming it.
                    reads_text |= param["schema"]["format"] != "uuid";
                }
                Some("query") => {
                    has_query = true;
                    // A query parameter may name an object (an org, a loan) that is not there.
                    names_object |= param["schema"]["format"] == "uuid";
                    never_null(param);
                }
                Some("header") if param["name"] == crate::http::idempotency::HEADER => {
                    keyed = true;
                    param["schema"] = json!({
                        "type": "string", "minLength": 1, "maxLength": 255,
                        "pattern": "^[!-~]+$",
                    });
                }
                _ => {}
            }
        }
    }
    let mut add = |status: &str, name: &str| {
        let responses = &mut op["responses"];
        if responses.get(status).is_none() {
            responses[status] = json!({"$ref": format!("#/components/responses/{name}")});
        }
    };
    if secured {
        add("401", "Unauthenticated");
        add("403", "Forbidden");
    }
    if has_path_param || names_object {
        add("404", "NotFound");
    }
    if has_body {
        // A body may name an object (a lot, an org, a warehouse) that is not there.
        add("404", "NotFound");
        add("400", "BadRequest");
        add("413", "TooLarge");
        add("415", "NotJson");
        add("422", "Refused");
    }
    if has_query || reads_text {
        add("422", "Refused");
    }
    if keyed {
        add("400", "BadRequest");
        add("409", "Conflict");
    }
    if method != "get" {
        add("409", "Conflict");
    }
    if !STATIC_PATHS.contains(&path) {
        add("503", "Unavailable");
    }
}

/// The pattern handlers write on a currency field (`^[A-Z]{3}$`) becomes the list of ISO 4217
/// codes the server accepts (`domain::currency`), wherever it appears.
fn list_currencies(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("pattern").and_then(Value::as_str) == Some(CURRENCY_PATTERN) {
                map.remove("pattern");
                let codes: Vec<Value> = crate::domain::currency::codes().map(Value::from).collect();
                map.insert("enum".into(), Value::Array(codes));
            }
            map.values_mut().for_each(list_currencies);
        }
        Value::Array(items) => items.iter_mut().for_each(list_currencies),
        _ => {}
    }
}

/// What a handler's annotation writes on a currency field.
const CURRENCY_PATTERN: &str = "^[A-Z]{3}$";

/// `type: [T, "null"]` → `type: T`: an absent parameter is the only way to leave one out.
fn never_null(param: &mut Value) {
    let schema = &mut param["schema"];
    if let Some(types) = schema.get("type").and_then(Value::as_array) {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if kept.len() == 1 {
            schema["type"] = kept[0].clone();
        }
    }
}

fn add_shared_responses(doc: &mut Value) {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        })
    };
    let mut unavailable = error(
        "The database is unavailable or busy (`database_unavailable`, `database_busy`, `busy`); retry after `Retry-After` seconds",
    );
    unavailable["headers"] = json!({
        "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 1}},
    });
    let responses = json!({
        "Unauthenticated": error("No valid bearer token: missing, forged (`unauthenticated`), expired (`token_expired`) or revoked (`token_revoked`)"),
        "Forbidden": error("The caller's role or permissions do not allow this (`forbidden`)"),
        "NotFound": error("No such object, or none the caller may see"),
        "BadRequest": error("The body could not be read (`malformed_body`, `malformed_json`), or the `Idempotency-Key` is missing (`idempotency_key_required`) or malformed (`invalid_idempotency_key`)"),
        "TooLarge": error("The body is larger than the limit (`payload_too_large`, with `details.limit_bytes`)"),
        "NotJson": error("The body is not `application/json` (`unsupported_media_type`)"),
        "Refused": error("A field or parameter is refused (`validation_failed`); `details.field` names it"),
        "Conflict": error("The state of the objects does not allow it, a row is held by another request (`locked`), or the idempotency key was used with another body"),
        "Unavailable": unavailable,
    });
    let components = &mut doc["components"];
    match components
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    {
        Some(existing) => {
            if let Value::Object(new) = responses {
                existing.extend(new);
            }
        }
        None => components["responses"] = responses,
    }
}
