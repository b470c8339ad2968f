//! The actix application: shared state, middleware, and the route table — every route in one
//! place, each with the access rule it declares.

use crate::auth::{Access, Grant, OrgKind, Permission, Requirement};
use crate::error::ApiError;
use crate::http::middleware;
use crate::http::route_table::{RouteTable, Surface};
use crate::state::AppState;
use crate::{
    coldchain, console, fees, incidents, inspections, integrity, ledger, lending, lots, market,
    ops, orgs, prices, reference, sales, scans, sessions, statements,
};
use actix_web::http::Method;
use actix_web::{App, Resource, web};

/// One route: method, path pattern, who may call it, and how it is registered.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub surface: Surface,
    /// `None` for routes served by a service registered on its own (the docs UI).
    register: Option<fn(Resource) -> Resource>,
}

macro_rules! route {
    ($method:ident $path:literal, $access:expr, $handler:path) => {
        Route {
            method: Method::$method,
            path: $path,
            access: $access,
            surface: Surface::Api,
            register: Some(|resource| resource.route(web::method(Method::$method).to($handler))),
        }
    };
}

/// A page of the console: the same access rules, checked against the browser's session.
macro_rules! page {
    ($method:ident $path:literal, $access:expr, $handler:path) => {
        Route {
            method: Method::$method,
            path: $path,
            access: $access,
            surface: Surface::Page,
            register: Some(|resource| resource.route(web::method(Method::$method).to($handler))),
        }
    };
}

const PLATFORM_ORGS_WRITE: Grant = Grant {
    kinds: &[OrgKind::Platform],
    requires: Requirement::Permission(Permission::OrgsWrite),
};
const ANY_USERS_WRITE: Grant = Grant {
    kinds: OrgKind::ALL,
    requires: Requirement::Permission(Permission::UsersWrite),
};
const REFERENCE_WRITERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Platform],
    requires: Requirement::Permission(Permission::ReferenceWrite),
}]);
const VOYAGE_MOVERS: Access = Access::Grants(&[
    Grant {
        kinds: &[OrgKind::Platform],
        requires: Requirement::Permission(Permission::ReferenceWrite),
    },
    Grant {
        kinds: &[OrgKind::WarehouseOperator],
        requires: Requirement::Permission(Permission::ScansWrite),
    },
]);
const VOYAGE_READERS: Access = Access::Grants(&[Grant {
    kinds: &[
        OrgKind::Platform,
        OrgKind::WarehouseOperator,
        OrgKind::Supplier,
    ],
    requires: Requirement::Anyone,
}]);
const LOT_WRITERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Supplier],
    requires: Requirement::Permission(Permission::LotsWrite),
}]);
const LOT_READERS: Access = Access::Grants(&[Grant {
    kinds: &[
        OrgKind::Platform,
        OrgKind::Supplier,
        OrgKind::Lender,
        OrgKind::WarehouseOperator,
        OrgKind::Inspector,
    ],
    requires: Requirement::Anyone,
}]);
/// Who inspects: warehouse staff, or an inspector org assigned to the warehouse.
const INSPECTORS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::WarehouseOperator, OrgKind::Inspector],
    requires: Requirement::Permission(Permission::InspectionsWrite),
}]);
/// Who reads the lots due for inspection: those who inspect, and the platform.
const INSPECTION_PLANNERS: Access = Access::Grants(&[Grant {
    kinds: &[
        OrgKind::Platform,
        OrgKind::WarehouseOperator,
        OrgKind::Inspector,
    ],
    requires: Requirement::Anyone,
}]);
const SCANNERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::WarehouseOperator],
    requires: Requirement::Permission(Permission::ScansWrite),
}]);
const BREACH_READERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Platform, OrgKind::WarehouseOperator],
    requires: Requirement::Anyone,
}]);
const PRICE_WRITERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Platform],
    requires: Requirement::Permission(Permission::PricesWrite),
}]);
/// Who sees what goods are worth and what is lent on them: not the warehouse staff.
const VALUERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Platform, OrgKind::Supplier, OrgKind::Lender],
    requires: Requirement::Anyone,
}]);
const LENDERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Lender],
    requires: Requirement::Permission(Permission::CreditWrite),
}]);
const BORROWERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Supplier],
    requires: Requirement::Permission(Permission::LoansWrite),
}]);
const REPAYERS: Access = Access::Grants(&[
    Grant {
        kinds: &[OrgKind::Supplier],
        requires: Requirement::Permission(Permission::LoansWrite),
    },
    Grant {
        kinds: &[OrgKind::Lender],
        requires: Requirement::Permission(Permission::CreditWrite),
    },
]);
/// Who reviews a lender's book: its users, and the platform.
const RISK_READERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Platform, OrgKind::Lender],
    requires: Requirement::Anyone,
}]);
/// Who sells: a supplier's sales department, or a lender liquidating a loan's goods.
const SELLERS: Access = Access::Grants(&[
    Grant {
        kinds: &[OrgKind::Supplier],
        requires: Requirement::Permission(Permission::SalesWrite),
    },
    Grant {
        kinds: &[OrgKind::Lender],
        requires: Requirement::Permission(Permission::CreditWrite),
    },
]);
const SALE_READERS: Access = Access::Grants(&[Grant {
    kinds: &[
        OrgKind::Platform,
        OrgKind::Supplier,
        OrgKind::Lender,
        OrgKind::Buyer,
    ],
    requires: Requirement::Anyone,
}]);
/// Buyers making offers and bids (and, later, group orders).
const BUYERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Buyer],
    requires: Requirement::Permission(Permission::PaymentsWrite),
}]);
/// A buyer's own market funds.
const BUYER_READERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Buyer],
    requires: Requirement::Anyone,
}]);
const PAYERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Buyer, OrgKind::Platform],
    requires: Requirement::Permission(Permission::PaymentsWrite),
}]);
/// The platform's own page.
const PLATFORM_PAGES: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Platform],
    requires: Requirement::Anyone,
}]);
/// The supplier's own pages.
const SUPPLIERS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Supplier],
    requires: Requirement::Anyone,
}]);
/// Statements show money: not to warehouse staff.
const STATEMENT_READERS: Access = Access::Grants(&[Grant {
    kinds: &[
        OrgKind::Platform,
        OrgKind::Supplier,
        OrgKind::Lender,
        OrgKind::Buyer,
    ],
    requires: Requirement::Anyone,
}]);
const PLATFORM_AUDITORS: Access = Access::Grants(&[Grant {
    kinds: &[OrgKind::Platform],
    requires: Requirement::OwnerOr(Permission::AuditRead),
}]);
const AUDIT_READERS: Access = Access::Grants(&[Grant {
    kinds: OrgKind::ALL,
    requires: Requirement::OwnerOr(Permission::AuditRead),
}]);

/// Every route of the service. A route can only be registered through this table, so none
/// exists without an access rule. Long because it is the one list of routes, read top to
/// bottom; splitting it would hide a route from whoever looks for it.
pub fn routes() -> Vec<Route> {
    vec![
        route!(GET "/healthz", Access::Public, ops::healthz),
        route!(GET "/readyz", Access::Public, ops::readyz),
        route!(GET "/metrics", Access::Public, ops::metrics),
        route!(GET "/openapi.json", Access::Public, ops::openapi_json),
        route!(GET "/docs", Access::Public, ops::docs_redirect),
        Route {
            method: Method::GET,
            path: "/docs/{_:.*}",
            access: Access::Public,
            surface: Surface::Api,
            register: None,
        },
        route!(POST "/v1/auth/login", Access::Public, sessions::routes::login),
        route!(POST "/v1/auth/refresh", Access::Public, sessions::routes::refresh),
        route!(POST "/v1/auth/logout", Access::Authenticated, sessions::routes::logout),
        route!(GET "/v1/me", Access::Authenticated, sessions::routes::me),
        route!(POST "/v1/orgs", Access::Grants(&[PLATFORM_ORGS_WRITE]), orgs::routes::create_org),
        route!(GET "/v1/orgs", Access::Authenticated, orgs::routes::directory),
        route!(GET "/v1/orgs/{id}", Access::Authenticated, orgs::routes::get_org),
        route!(POST "/v1/orgs/{id}/users", Access::Grants(&[PLATFORM_ORGS_WRITE, ANY_USERS_WRITE]), orgs::routes::create_user),
        route!(GET "/v1/orgs/{id}/users", Access::Grants(&[PLATFORM_ORGS_WRITE, ANY_USERS_WRITE]), orgs::routes::list_users),
        route!(PATCH "/v1/users/{id}", Access::Grants(&[PLATFORM_ORGS_WRITE, ANY_USERS_WRITE]), orgs::routes::change_user),
        route!(POST "/v1/me/password", Access::Authenticated, sessions::routes::change_password),
        route!(GET "/v1/orgs/{id}/activity", AUDIT_READERS, orgs::routes::activity),
        route!(GET "/v1/audit", AUDIT_READERS, integrity::routes::audit_trail),
        route!(GET "/v1/audit/verify", AUDIT_READERS, integrity::routes::verify),
        route!(GET "/v1/events", AUDIT_READERS, integrity::routes::events),
        route!(POST "/v1/commodities", REFERENCE_WRITERS, reference::routes::create_commodity),
        route!(GET "/v1/commodities", Access::Authenticated, reference::routes::list_commodities),
        route!(PUT "/v1/commodities/{code}/quality", REFERENCE_WRITERS, inspections::routes::set_quality),
        route!(GET "/v1/commodities/{code}/quality", Access::Authenticated, inspections::routes::quality),
        route!(POST "/v1/warehouses", REFERENCE_WRITERS, reference::routes::create_warehouse),
        route!(GET "/v1/warehouses", Access::Authenticated, reference::routes::list_warehouses),
        route!(GET "/v1/warehouses/{id}", Access::Authenticated, reference::routes::get_warehouse),
        route!(POST "/v1/warehouses/{id}/inspectors", REFERENCE_WRITERS, inspections::routes::assign),
        route!(GET "/v1/warehouses/{id}/inspectors", INSPECTION_PLANNERS, inspections::routes::assignments),
        route!(DELETE "/v1/warehouses/{id}/inspectors/{org_id}", REFERENCE_WRITERS, inspections::routes::unassign),
        route!(POST "/v1/voyages", REFERENCE_WRITERS, reference::routes::create_voyage),
        route!(GET "/v1/voyages", VOYAGE_READERS, reference::routes::list_voyages),
        route!(GET "/v1/voyages/{id}", VOYAGE_MOVERS, reference::routes::get_voyage),
        route!(POST "/v1/voyages/{id}/depart", VOYAGE_MOVERS, reference::routes::depart_voyage),
        route!(POST "/v1/voyages/{id}/arrive", VOYAGE_MOVERS, reference::routes::arrive_voyage),
        route!(POST "/v1/lots", LOT_WRITERS, lots::routes::announce),
        route!(GET "/v1/lots", LOT_READERS, lots::routes::list),
        route!(GET "/v1/lots/by-code/{code}", LOT_READERS, lots::routes::by_code),
        route!(GET "/v1/release-orders", LOT_READERS, lots::routes::release_orders),
        route!(GET "/v1/lots/{id}", LOT_READERS, lots::routes::get),
        route!(GET "/v1/lots/{id}/movements", LOT_READERS, lots::routes::movements),
        route!(GET "/v1/lots/{id}/label.svg", LOT_READERS, lots::routes::label),
        route!(GET "/v1/labels.html", LOT_READERS, lots::routes::labels),
        route!(POST "/v1/lots/{id}/split", LOT_WRITERS, lots::routes::split),
        route!(POST "/v1/lots/{id}/inspections", INSPECTORS, inspections::routes::inspect),
        route!(GET "/v1/lots/{id}/inspections", LOT_READERS, inspections::routes::list),
        route!(GET "/v1/inspections/due", INSPECTION_PLANNERS, inspections::routes::due),
        route!(POST "/v1/inspections/{id}/photos", INSPECTORS, inspections::routes::add_photo),
        route!(GET "/v1/inspections/{id}/photos/{photo_id}", LOT_READERS, inspections::routes::photo),
        route!(POST "/v1/withdrawals", LOT_WRITERS, lots::routes::withdraw),
        route!(POST "/v1/scans", SCANNERS, scans::routes::scan),
        route!(POST "/v1/temperature-readings", SCANNERS, coldchain::routes::record_readings),
        route!(GET "/v1/breaches", BREACH_READERS, coldchain::routes::list),
        route!(GET "/v1/custody-incidents", Access::Authenticated, incidents::routes::list),
        route!(GET "/v1/custody-incidents/{id}", Access::Authenticated, incidents::routes::get),
        route!(POST "/v1/breaches/{id}/acknowledge", SCANNERS, coldchain::routes::acknowledge),
        route!(POST "/v1/prices", PRICE_WRITERS, prices::routes::post),
        route!(GET "/v1/prices", Access::Authenticated, prices::routes::list),
        route!(POST "/v1/prices/import", PRICE_WRITERS, prices::routes::import_feed),
        route!(GET "/v1/lots/{id}/valuation", VALUERS, lots::valuation::valuation),
        route!(GET "/v1/custody/reconciliation", PLATFORM_AUDITORS, lots::routes::reconciliation),
        route!(POST "/v1/facilities", LENDERS, lending::routes::create_facility),
        route!(PATCH "/v1/facilities/{id}", LENDERS, lending::routes::change_facility),
        route!(POST "/v1/facilities/{id}/close", LENDERS, lending::routes::close_facility),
        route!(GET "/v1/facilities", VALUERS, lending::routes::list_facilities),
        route!(GET "/v1/facilities/{id}", VALUERS, lending::routes::get_facility),
        route!(POST "/v1/loans", BORROWERS, lending::routes::request),
        route!(GET "/v1/loans", VALUERS, lending::routes::list_loans),
        route!(GET "/v1/loans/{id}", VALUERS, lending::routes::get_loan),
        route!(GET "/v1/loans/{id}/ltv-history", VALUERS, lending::routes::ltv_history),
        route!(POST "/v1/loans/{id}/approve", LENDERS, lending::routes::approve),
        route!(POST "/v1/loans/{id}/reject", LENDERS, lending::routes::reject),
        route!(POST "/v1/loans/{id}/cancel", BORROWERS, lending::routes::cancel),
        route!(POST "/v1/loans/{id}/disburse", LENDERS, lending::routes::disburse),
        route!(POST "/v1/loans/{id}/repayments", REPAYERS, lending::routes::repay),
        route!(POST "/v1/loans/{id}/collateral", BORROWERS, lending::routes::add_collateral),
        route!(POST "/v1/loans/{id}/collateral/release", LENDERS, lending::routes::release_collateral),
        route!(POST "/v1/loans/{id}/liquidate", LENDERS, lending::routes::liquidate),
        route!(GET "/v1/margin-calls", VALUERS, lending::routes::margin_calls),
        route!(GET "/v1/ledger/accounts", VALUERS, ledger::routes::accounts),
        route!(GET "/v1/ledger/entries", VALUERS, ledger::routes::entries),
        route!(GET "/v1/ledger/check", VALUERS, ledger::routes::check),
        route!(GET "/v1/exposure", RISK_READERS, lending::routes::exposure),
        route!(POST "/v1/exposure/stress", RISK_READERS, lending::routes::stress),
        route!(GET "/v1/exposure.csv", RISK_READERS, lending::routes::exposure_csv),
        route!(POST "/v1/fee-schedules", REFERENCE_WRITERS, fees::routes::create),
        route!(GET "/v1/fee-schedules", Access::Authenticated, fees::routes::list),
        route!(GET "/v1/fee-quote", VALUERS, fees::routes::quote),
        route!(POST "/v1/sales", SELLERS, sales::routes::create),
        route!(GET "/v1/sales", SALE_READERS, sales::routes::list),
        route!(GET "/v1/sales/{id}", SALE_READERS, sales::routes::get),
        route!(POST "/v1/sales/{id}/cancel", SELLERS, sales::routes::cancel),
        route!(POST "/v1/sales/{id}/payments", PAYERS, sales::routes::pay),
        route!(POST "/v1/sales/{id}/consent", LENDERS, sales::routes::consent),
        route!(POST "/v1/listings", SELLERS, market::routes::create),
        route!(GET "/v1/listings", SALE_READERS, market::routes::list),
        route!(GET "/v1/listings/{id}", SALE_READERS, market::routes::get),
        route!(POST "/v1/listings/{id}/withdraw", SELLERS, market::routes::withdraw),
        route!(POST "/v1/listings/{id}/offers", BUYERS, market::routes::offer),
        route!(GET "/v1/offers", SALE_READERS, market::routes::offers),
        route!(POST "/v1/offers/{id}/accept", SELLERS, market::routes::accept),
        route!(POST "/v1/offers/{id}/reject", SELLERS, market::routes::reject),
        route!(POST "/v1/listings/{id}/bids", BUYERS, market::routes::bid),
        route!(GET "/v1/listings/{id}/bids", SALE_READERS, market::routes::bids),
        route!(POST "/v1/listings/{id}/join", BUYERS, market::routes::join),
        route!(GET "/v1/funds", BUYER_READERS, market::routes::funds),
        route!(POST "/v1/funds", PAYERS, market::routes::add_funds),
        route!(POST "/v1/funds/withdrawals", PAYERS, market::routes::withdraw_funds),
        route!(GET "/v1/statements", STATEMENT_READERS, statements::routes::statement),
        route!(GET "/v1/statements.csv", STATEMENT_READERS, statements::routes::statement_csv),
        // The console (src/console): pages for people, same rules, the browser's session.
        page!(GET "/assets/console.css", Access::Public, console::routes::stylesheet),
        page!(GET "/assets/scan.js", Access::Public, console::routes::scan_script),
        page!(GET "/assets/market.js", Access::Public, console::routes::market_script),
        page!(GET "/login", Access::Public, console::routes::login_page),
        page!(POST "/login", Access::Public, console::routes::login),
        page!(GET "/lang/{tag}", Access::Public, console::routes::language),
        page!(POST "/logout", Access::Authenticated, console::routes::logout),
        page!(GET "/", Access::Authenticated, console::routes::home),
        page!(GET "/welcome", Access::Authenticated, console::routes::welcome),
        page!(GET "/scan", SCANNERS, console::routes::scan_station),
        page!(GET "/scan/lot", SCANNERS, console::routes::scan_lot),
        page!(POST "/scan/submit", SCANNERS, console::routes::scan_submit),
        page!(GET "/breaches", SCANNERS, console::routes::breaches),
        page!(GET "/movements", SCANNERS, console::routes::movements),
        page!(POST "/readings", SCANNERS, console::routes::record_reading),
        page!(POST "/breaches/{id}/acknowledge", SCANNERS, console::routes::acknowledge),
        page!(GET "/admin", PLATFORM_PAGES, console::routes::platform::admin),
        page!(POST "/admin/prices", PRICE_WRITERS, console::routes::platform::import_prices),
        page!(POST "/admin/price", PRICE_WRITERS, console::routes::platform::post_price),
        page!(POST "/admin/orgs", Access::Grants(&[PLATFORM_ORGS_WRITE]), console::routes::platform::create_org),
        page!(GET "/admin/orgs/{id}", Access::Grants(&[PLATFORM_ORGS_WRITE]), console::routes::platform::org),
        page!(POST "/admin/orgs/{id}/users", Access::Grants(&[PLATFORM_ORGS_WRITE]), console::routes::platform::create_user),
        page!(POST "/admin/users/{id}", Access::Grants(&[PLATFORM_ORGS_WRITE]), console::routes::platform::change_user),
        page!(POST "/admin/commodities", REFERENCE_WRITERS, console::routes::platform::create_commodity),
        page!(POST "/admin/warehouses", REFERENCE_WRITERS, console::routes::platform::create_warehouse),
        page!(POST "/admin/voyages", REFERENCE_WRITERS, console::routes::platform::create_voyage),
        page!(GET "/dashboard", RISK_READERS, console::routes::dashboard),
        page!(GET "/exposure.csv", RISK_READERS, console::routes::exposure_csv),
        page!(GET "/stress", RISK_READERS, console::routes::stress_page),
        page!(POST "/stress", RISK_READERS, console::routes::stress_run),
        page!(GET "/approvals", LENDERS, console::routes::approvals),
        page!(GET "/facilities", LENDERS, console::routes::facilities),
        page!(POST "/loans/{id}/approve", LENDERS, console::routes::approve),
        page!(POST "/loans/{id}/reject", LENDERS, console::routes::reject),
        page!(POST "/loans/{id}/disburse", LENDERS, console::routes::disburse),
        page!(POST "/loans/{id}/repay", REPAYERS, console::routes::repay),
        page!(GET "/lots", SUPPLIERS, console::routes::portal),
        page!(POST "/lots/announce", LOT_WRITERS, console::routes::announce),
        page!(POST "/lots/borrow", BORROWERS, console::routes::borrow),
        page!(GET "/lots/{id}/label.svg", LOT_READERS, console::routes::label),
        page!(GET "/market", SALE_READERS, console::routes::market::market),
        page!(POST "/market/list", SELLERS, console::routes::market::list),
        page!(POST "/market/{id}/offer", BUYERS, console::routes::market::offer),
        page!(POST "/market/{id}/bid", BUYERS, console::routes::market::bid),
        page!(POST "/market/{id}/join", BUYERS, console::routes::market::join),
        page!(POST "/market/funds", BUYERS, console::routes::market::funds),
        page!(POST "/market/{id}/withdraw", SELLERS, console::routes::market::withdraw),
        page!(POST "/market/offers/{id}/accept", SELLERS, console::routes::market::accept),
        page!(POST "/market/offers/{id}/reject", SELLERS, console::routes::market::reject),
        page!(GET "/sales", SALE_READERS, console::routes::sales),
        page!(POST "/sales/{id}/pay", PAYERS, console::routes::pay),
        page!(GET "/statement", STATEMENT_READERS, console::routes::statement),
        page!(GET "/statement.csv", STATEMENT_READERS, console::routes::statement_csv),
        page!(GET "/loans", VALUERS, console::routes::loans),
        page!(GET "/loans/{id}", VALUERS, console::routes::loan),
    ]
}

/// The access rules of [`routes`], for the authorisation middleware.
pub fn route_table() -> RouteTable {
    RouteTable::new(
        routes()
            .into_iter()
            .map(|r| (r.method, r.path, r.access, r.surface)),
    )
}

/// Registers the route table, grouping methods of one path into one resource so that a
/// wrong method answers 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut resources: Vec<(&'static str, Resource)> = Vec::new();
    for route in routes() {
        let Some(register) = route.register else {
            continue;
        };
        match resources.iter_mut().find(|(path, _)| *path == route.path) {
            Some((_, resource)) => {
                let taken = std::mem::replace(resource, web::resource(route.path));
                *resource = register(taken);
            }
            None => resources.push((
                route.path,
                register(web::resource(route.path).default_service(web::to(method_not_allowed))),
            )),
        }
    }
    for (_, resource) in resources {
        cfg.service(resource);
    }
    cfg.service(ops::docs_ui());
}

/// Builds the application around shared state.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(web::Data::new(route_table()))
        .app_data(
            web::PathConfig::default()
                .error_handler(|_, _| ApiError::not_found("not_found", "no such object").into()),
        )
        .wrap(crate::http::retry::RetryRaces)
        .wrap(actix_web::middleware::from_fn(middleware::authorize))
        .wrap(actix_web::middleware::from_fn(middleware::observe))
        .configure(configure)
        .default_service(web::to(route_not_found))
}

async fn route_not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("route_not_found", "no such route"))
}

async fn method_not_allowed(
    req: actix_web::HttpRequest,
    routes: web::Data<RouteTable>,
) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    let allowed = req
        .match_pattern()
        .map(|path| routes.methods(&path).join(", "))
        .unwrap_or_default();
    let mut response = ApiError::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept this method",
    )
    .with("allow", &allowed)
    .error_response();
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allowed) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    response
}
