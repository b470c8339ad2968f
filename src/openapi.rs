//! The OpenAPI document, generated from the handlers' annotations.

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
        crate::reference::routes::get_voyage,
        crate::reference::routes::depart_voyage,
        crate::reference::routes::arrive_voyage,
        crate::lots::routes::announce,
        crate::lots::routes::list,
        crate::lots::routes::get,
        crate::lots::routes::movements,
        crate::lots::routes::label,
        crate::lots::routes::split,
        crate::lots::routes::withdraw,
        crate::scans::routes::scan,
        crate::lots::routes::reconciliation,
        crate::coldchain::routes::record_readings,
        crate::coldchain::routes::list,
        crate::coldchain::routes::acknowledge,
        crate::prices::routes::post,
        crate::prices::routes::list,
        crate::prices::routes::import_feed,
        crate::lots::valuation::valuation,
        crate::lending::routes::create_facility,
        crate::lending::routes::list_facilities,
        crate::lending::routes::get_facility,
        crate::lending::routes::request,
        crate::lending::routes::list_loans,
        crate::lending::routes::get_loan,
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
