//! Every route × every kind of caller. The table below must have a row for every route the
//! app declares; adding a route without one fails `every_route_has_a_row`.

use crate::fixtures::{self, Custody};
use crate::support::{JWT_SECRET, Session, TestApp};
use holdfast::auth::jwt::JwtKeys;
use holdfast::auth::{OrgKind, Permission, Principal, Role};
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Actor {
    Anonymous,
    Expired,
    ForeignKey,
    AlgNone,
    PlatformOwner,
    PlatformStaff,
    SupplierOwner,
    SupplierStaff,
    OtherSupplierOwner,
    LenderOwner,
    LenderStaff,
    WarehouseOwner,
    WarehouseStaff,
    BuyerOwner,
    BuyerStaff,
}

use Actor::*;

const ACTORS: &[Actor] = &[
    Anonymous,
    Expired,
    ForeignKey,
    AlgNone,
    PlatformOwner,
    PlatformStaff,
    SupplierOwner,
    SupplierStaff,
    OtherSupplierOwner,
    LenderOwner,
    LenderStaff,
    WarehouseOwner,
    WarehouseStaff,
    BuyerOwner,
    BuyerStaff,
];

const BAD_TOKENS: &[Actor] = &[Anonymous, Expired, ForeignKey, AlgNone];

/// The expected status for an actor on a route.
type Expect = fn(Actor) -> u16;

struct Row {
    method: &'static str,
    path: &'static str,
    expect: Expect,
}

fn public(status: u16) -> impl Fn(Actor) -> u16 {
    move |_| status
}

/// Authenticated routes: bad tokens are 401, the rest as `rule` says.
fn authed(actor: Actor, rule: impl Fn(Actor) -> u16) -> u16 {
    if BAD_TOKENS.contains(&actor) {
        401
    } else {
        rule(actor)
    }
}

fn owners(actor: Actor) -> bool {
    matches!(
        actor,
        PlatformOwner
            | SupplierOwner
            | OtherSupplierOwner
            | LenderOwner
            | WarehouseOwner
            | BuyerOwner
    )
}

/// The platform with `reference:write`, or the carrier with `scans:write`.
fn voyage_movers(actor: Actor) -> u16 {
    if matches!(actor, PlatformOwner | WarehouseOwner) {
        200
    } else {
        403
    }
}

fn lot_reader(actor: Actor) -> bool {
    matches!(
        actor,
        PlatformOwner
            | PlatformStaff
            | SupplierOwner
            | SupplierStaff
            | OtherSupplierOwner
            | LenderOwner
            | LenderStaff
            | WarehouseOwner
            | WarehouseStaff
    )
}

/// A lot of the supplier, in custody at the warehouse (pledged to no lender).
fn lot_visibility(actor: Actor) -> u16 {
    match actor {
        OtherSupplierOwner | LenderOwner | LenderStaff => 404,
        a if lot_reader(a) => 200,
        _ => 403,
    }
}

/// The lots due for inspection and a warehouse's inspectors: the platform and the
/// warehouse's operator (inspector orgs too, when assigned; none is an actor here).
fn inspection_planners(actor: Actor) -> u16 {
    match actor {
        PlatformOwner | PlatformStaff | WarehouseOwner | WarehouseStaff => 200,
        _ => 403,
    }
}

/// Changing the supplier's own lot: its owner (with `lots:write`) only.
fn lot_owner_writes(actor: Actor) -> u16 {
    match actor {
        SupplierOwner => 201,
        OtherSupplierOwner => 404,
        _ => 403,
    }
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            method: "GET",
            path: "/healthz",
            expect: |a| public(200)(a),
        },
        Row {
            method: "GET",
            path: "/readyz",
            expect: |a| public(200)(a),
        },
        Row {
            method: "GET",
            path: "/metrics",
            expect: |a| public(200)(a),
        },
        Row {
            method: "GET",
            path: "/openapi.json",
            expect: |a| public(200)(a),
        },
        Row {
            method: "GET",
            path: "/docs",
            expect: |a| public(308)(a),
        },
        Row {
            method: "GET",
            path: "/docs/{_:.*}",
            expect: |a| public(200)(a),
        },
        Row {
            method: "POST",
            path: "/v1/auth/login",
            expect: |a| public(200)(a),
        },
        Row {
            method: "POST",
            path: "/v1/auth/refresh",
            expect: |a| public(401)(a),
        },
        Row {
            method: "POST",
            path: "/v1/auth/logout",
            expect: |a| authed(a, |_| 204),
        },
        Row {
            method: "GET",
            path: "/v1/me",
            expect: |a| authed(a, |_| 200),
        },
        Row {
            method: "POST",
            path: "/v1/orgs",
            expect: |a| authed(a, |a| if a == PlatformOwner { 201 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/orgs",
            expect: |a| authed(a, |_| 200),
        },
        Row {
            method: "GET",
            path: "/v1/orgs/{id}",
            expect: |a| {
                authed(a, |a| match a {
                    PlatformOwner | PlatformStaff | SupplierOwner | SupplierStaff => 200,
                    _ => 404,
                })
            },
        },
        Row {
            method: "POST",
            path: "/v1/orgs/{id}/users",
            expect: |a| {
                authed(a, |a| match a {
                    PlatformOwner | SupplierOwner => 201,
                    // Holds users:write, but the supplier org is not theirs.
                    OtherSupplierOwner | LenderOwner | WarehouseOwner | BuyerOwner => 404,
                    _ => 403,
                })
            },
        },
        Row {
            method: "GET",
            path: "/v1/orgs/{id}/users",
            expect: |a| {
                authed(a, |a| match a {
                    PlatformOwner | SupplierOwner => 200,
                    OtherSupplierOwner | LenderOwner | WarehouseOwner | BuyerOwner => 404,
                    _ => 403,
                })
            },
        },
        Row {
            method: "PATCH",
            path: "/v1/users/{id}",
            expect: |a| {
                authed(a, |a| match a {
                    PlatformOwner | SupplierOwner => 200,
                    // Holds users:write, but the user is not of their org.
                    OtherSupplierOwner | LenderOwner | WarehouseOwner | BuyerOwner => 404,
                    _ => 403,
                })
            },
        },
        Row {
            method: "POST",
            path: "/v1/me/password",
            // Every user may; the matrix sends a wrong current password so nobody's tokens end.
            expect: |a| authed(a, |_| 422),
        },
        Row {
            method: "GET",
            path: "/v1/orgs/{id}/activity",
            expect: |a| {
                authed(a, |a| match a {
                    PlatformOwner | SupplierOwner => 200,
                    a if owners(a) => 404,
                    _ => 403,
                })
            },
        },
        Row {
            method: "GET",
            path: "/v1/audit",
            expect: |a| authed(a, |a| if owners(a) { 200 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/audit/verify",
            expect: |a| authed(a, |a| if owners(a) { 200 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/events",
            expect: |a| authed(a, |a| if owners(a) { 200 } else { 403 }),
        },
        Row {
            method: "POST",
            path: "/v1/commodities",
            expect: |a| authed(a, |a| if a == PlatformOwner { 201 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/commodities",
            expect: |a| authed(a, |_| 200),
        },
        Row {
            method: "POST",
            path: "/v1/warehouses",
            expect: |a| authed(a, |a| if a == PlatformOwner { 201 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/warehouses",
            expect: |a| authed(a, |_| 200),
        },
        Row {
            method: "GET",
            path: "/v1/warehouses/{id}",
            expect: |a| authed(a, |_| 200),
        },
        Row {
            method: "POST",
            path: "/v1/voyages",
            expect: |a| authed(a, |a| if a == PlatformOwner { 201 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/voyages/{id}",
            expect: |a| authed(a, voyage_movers),
        },
        Row {
            method: "POST",
            path: "/v1/voyages/{id}/depart",
            expect: |a| authed(a, voyage_movers),
        },
        Row {
            method: "POST",
            path: "/v1/voyages/{id}/arrive",
            expect: |a| authed(a, voyage_movers),
        },
        Row {
            method: "POST",
            path: "/v1/lots",
            expect: |a| {
                authed(a, |a| {
                    if matches!(a, SupplierOwner | OtherSupplierOwner) {
                        201
                    } else {
                        403
                    }
                })
            },
        },
        Row {
            method: "GET",
            path: "/v1/lots",
            expect: |a| authed(a, |a| if lot_reader(a) { 200 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/lots/{id}",
            expect: |a| authed(a, lot_visibility),
        },
        Row {
            method: "GET",
            path: "/v1/voyages",
            expect: |a| {
                authed(a, |a| match a {
                    LenderOwner | LenderStaff | BuyerOwner | BuyerStaff => 403,
                    _ => 200,
                })
            },
        },
        Row {
            method: "GET",
            path: "/v1/release-orders",
            expect: |a| {
                authed(a, |a| match a {
                    BuyerOwner | BuyerStaff => 403,
                    _ => 200,
                })
            },
        },
        Row {
            method: "GET",
            path: "/v1/lots/by-code/{code}",
            expect: |a| authed(a, lot_visibility),
        },
        Row {
            method: "GET",
            path: "/v1/lots/{id}/movements",
            expect: |a| authed(a, lot_visibility),
        },
        Row {
            method: "GET",
            path: "/v1/lots/{id}/label.svg",
            expect: |a| authed(a, lot_visibility),
        },
        Row {
            method: "GET",
            path: "/v1/labels.html",
            expect: |a| authed(a, lot_visibility),
        },
        Row {
            method: "POST",
            path: "/v1/lots/{id}/split",
            expect: |a| authed(a, lot_owner_writes),
        },
        Row {
            method: "POST",
            path: "/v1/withdrawals",
            expect: |a| authed(a, lot_owner_writes),
        },
        Row {
            method: "POST",
            path: "/v1/scans",
            expect: |a| authed(a, |a| if a == WarehouseOwner { 200 } else { 403 }),
        },
        Row {
            method: "POST",
            path: "/v1/temperature-readings",
            expect: |a| authed(a, |a| if a == WarehouseOwner { 200 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/breaches",
            expect: |a| {
                authed(a, |a| {
                    if matches!(
                        a,
                        PlatformOwner | PlatformStaff | WarehouseOwner | WarehouseStaff
                    ) {
                        200
                    } else {
                        403
                    }
                })
            },
        },
        Row {
            method: "POST",
            path: "/v1/breaches/{id}/acknowledge",
            expect: |a| authed(a, |a| if a == WarehouseOwner { 200 } else { 403 }),
        },
        Row {
            method: "PUT",
            path: "/v1/commodities/{code}/quality",
            expect: |a| authed(a, |a| if a == PlatformOwner { 200 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/commodities/{code}/quality",
            expect: |a| authed(a, |_| 200),
        },
        Row {
            method: "POST",
            path: "/v1/lots/{id}/inspections",
            expect: |a| authed(a, |a| if a == WarehouseOwner { 201 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/lots/{id}/inspections",
            expect: |a| authed(a, lot_visibility),
        },
        Row {
            method: "GET",
            path: "/v1/inspections/due",
            expect: |a| authed(a, inspection_planners),
        },
        Row {
            method: "POST",
            path: "/v1/inspections/{id}/photos",
            expect: |a| authed(a, |a| if a == WarehouseOwner { 201 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/inspections/{id}/photos/{photo_id}",
            expect: |a| {
                authed(a, |a| match lot_visibility(a) {
                    404 => 404,
                    other => other,
                })
            },
        },
        Row {
            method: "POST",
            path: "/v1/warehouses/{id}/inspectors",
            expect: |a| authed(a, |a| if a == PlatformOwner { 201 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/warehouses/{id}/inspectors",
            expect: |a| authed(a, inspection_planners),
        },
        Row {
            method: "DELETE",
            path: "/v1/warehouses/{id}/inspectors/{org_id}",
            expect: |a| authed(a, |a| if a == PlatformOwner { 204 } else { 403 }),
        },
        Row {
            method: "POST",
            path: "/v1/prices",
            expect: |a| authed(a, |a| if a == PlatformOwner { 201 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/prices",
            expect: |a| authed(a, |_| 200),
        },
        Row {
            method: "POST",
            path: "/v1/prices/import",
            expect: |a| authed(a, |a| if a == PlatformOwner { 200 } else { 403 }),
        },
        Row {
            method: "GET",
            path: "/v1/lots/{id}/valuation",
            expect: |a| {
                authed(a, |a| match a {
                    PlatformOwner | PlatformStaff | SupplierOwner | SupplierStaff => 200,
                    OtherSupplierOwner | LenderOwner | LenderStaff => 404,
                    _ => 403,
                })
            },
        },
        Row {
            method: "GET",
            path: "/v1/custody/reconciliation",
            expect: |a| authed(a, |a| if a == PlatformOwner { 200 } else { 403 }),
        },
        row("GET", "/v1/custody-incidents", |a| authed(a, |_| 200)),
        row("GET", "/v1/custody-incidents/{id}", |a| {
            authed(a, |a| match a {
                PlatformOwner | PlatformStaff | SupplierOwner | SupplierStaff | WarehouseOwner
                | WarehouseStaff => 200,
                _ => 404,
            })
        }),
        row("POST", "/v1/facilities", |a| lender_writes(a, 201)),
        row("GET", "/v1/facilities", credit_lists),
        row("GET", "/v1/facilities/{id}", credit_object),
        row("PATCH", "/v1/facilities/{id}", |a| lender_writes(a, 200)),
        row("POST", "/v1/facilities/{id}/close", |a| {
            lender_writes(a, 200)
        }),
        row("POST", "/v1/loans", |a| borrower_writes(a, 201)),
        row("GET", "/v1/loans", credit_lists),
        row("GET", "/v1/loans/{id}", credit_object),
        row("GET", "/v1/loans/{id}/ltv-history", credit_object),
        row("POST", "/v1/loans/{id}/approve", |a| lender_writes(a, 200)),
        row("POST", "/v1/loans/{id}/reject", |a| lender_writes(a, 200)),
        row("POST", "/v1/loans/{id}/cancel", |a| borrower_writes(a, 200)),
        row("POST", "/v1/loans/{id}/disburse", |a| lender_writes(a, 200)),
        row("POST", "/v1/loans/{id}/repayments", |a| match a {
            LenderOwner => 201,
            a => borrower_writes(a, 201),
        }),
        row("POST", "/v1/loans/{id}/collateral", |a| {
            borrower_writes(a, 200)
        }),
        row("POST", "/v1/loans/{id}/collateral/release", |a| {
            lender_writes(a, 201)
        }),
        row("POST", "/v1/loans/{id}/liquidate", |a| {
            lender_writes(a, 201)
        }),
        row("GET", "/v1/margin-calls", credit_lists),
        row("GET", "/v1/ledger/accounts", credit_lists),
        row("GET", "/v1/ledger/entries", credit_lists),
        row("GET", "/v1/ledger/check", credit_lists),
        row("GET", "/v1/exposure", risk_readers),
        row("POST", "/v1/exposure/stress", risk_readers),
        row("GET", "/v1/exposure.csv", risk_readers),
        row("POST", "/v1/fee-schedules", |a| {
            authed(a, |a| if a == PlatformOwner { 201 } else { 403 })
        }),
        row("GET", "/v1/fee-schedules", |a| authed(a, |_| 200)),
        row("GET", "/v1/fee-quote", |a| {
            authed(a, |a| match a {
                PlatformOwner | PlatformStaff | SupplierOwner | SupplierStaff => 200,
                OtherSupplierOwner | LenderOwner | LenderStaff => 404,
                _ => 403,
            })
        }),
        row("POST", "/v1/sales", |a| {
            authed(a, |a| match a {
                SupplierOwner => 201,
                // Another supplier's lot: not one it may name (404); a lender without a
                // liquidating loan: 422 naming loan_id.
                OtherSupplierOwner => 404,
                LenderOwner => 422,
                _ => 403,
            })
        }),
        row("GET", "/v1/sales", sale_readers),
        row("GET", "/v1/sales/{id}", |a| {
            authed(a, |a| match a {
                OtherSupplierOwner | LenderOwner | LenderStaff => 404,
                a if sale_reader(a) => 200,
                _ => 403,
            })
        }),
        row("POST", "/v1/sales/{id}/cancel", |a| {
            authed(a, |a| match a {
                SupplierOwner => 200,
                OtherSupplierOwner | LenderOwner => 404,
                _ => 403,
            })
        }),
        row("POST", "/v1/sales/{id}/payments", |a| {
            authed(a, |a| match a {
                BuyerOwner | PlatformOwner => 201,
                _ => 403,
            })
        }),
        row("POST", "/v1/sales/{id}/consent", |a| lender_writes(a, 200)),
        row("POST", "/v1/listings", |a| {
            authed(a, |a| match a {
                SupplierOwner => 201,
                // Another supplier's lot: no such lot; a lender must name its liquidating loan.
                OtherSupplierOwner => 404,
                LenderOwner => 422,
                _ => 403,
            })
        }),
        row("GET", "/v1/listings", sale_readers),
        row("GET", "/v1/listings/{id}", |a| {
            authed(a, |a| match a {
                // Sellers see their own; the listing is old enough for a bronze buyer.
                OtherSupplierOwner | LenderOwner | LenderStaff => 404,
                a if sale_reader(a) => 200,
                _ => 403,
            })
        }),
        row("POST", "/v1/listings/{id}/withdraw", |a| {
            authed(a, |a| match a {
                SupplierOwner => 200,
                OtherSupplierOwner | LenderOwner => 404,
                _ => 403,
            })
        }),
        row("POST", "/v1/listings/{id}/offers", |a| {
            authed(a, |a| if a == BuyerOwner { 201 } else { 403 })
        }),
        row("POST", "/v1/listings/{id}/bids", |a| {
            authed(a, |a| if a == BuyerOwner { 201 } else { 403 })
        }),
        row("POST", "/v1/listings/{id}/join", |a| {
            authed(a, |a| if a == BuyerOwner { 201 } else { 403 })
        }),
        row("GET", "/v1/listings/{id}/bids", |a| {
            authed(a, |a| match a {
                OtherSupplierOwner | LenderOwner | LenderStaff => 404,
                a if sale_reader(a) => 200,
                _ => 403,
            })
        }),
        row("GET", "/v1/funds", |a| {
            authed(a, |a| match a {
                BuyerOwner | BuyerStaff => 200,
                _ => 403,
            })
        }),
        row("POST", "/v1/funds", |a| {
            authed(a, |a| match a {
                BuyerOwner | PlatformOwner => 201,
                _ => 403,
            })
        }),
        row("POST", "/v1/funds/withdrawals", |a| {
            authed(a, |a| match a {
                BuyerOwner | PlatformOwner => 201,
                _ => 403,
            })
        }),
        row("GET", "/v1/offers", sale_readers),
        row("POST", "/v1/offers/{id}/accept", |a| {
            authed(a, |a| match a {
                SupplierOwner => 201,
                OtherSupplierOwner | LenderOwner => 404,
                _ => 403,
            })
        }),
        row("POST", "/v1/offers/{id}/reject", |a| {
            authed(a, |a| match a {
                SupplierOwner => 200,
                OtherSupplierOwner | LenderOwner => 404,
                _ => 403,
            })
        }),
        row("GET", "/v1/statements", sale_readers),
        row("GET", "/v1/statements.csv", sale_readers),
    ]
}

fn row(method: &'static str, path: &'static str, rule: fn(Actor) -> u16) -> Row {
    Row {
        method,
        path,
        expect: rule,
    }
}

/// Lender functions: the lender's owner (with `credit:write`) only.
fn lender_writes(actor: Actor, success: u16) -> u16 {
    authed(actor, |a| if a == LenderOwner { success } else { 403 })
}

/// Borrower functions: the supplier's owner (with `loans:write`); another supplier finds nothing.
fn borrower_writes(actor: Actor, success: u16) -> u16 {
    authed(actor, |a| match a {
        SupplierOwner => success,
        OtherSupplierOwner => 404,
        _ => 403,
    })
}

fn credit_party(actor: Actor) -> bool {
    matches!(
        actor,
        PlatformOwner
            | PlatformStaff
            | SupplierOwner
            | SupplierStaff
            | OtherSupplierOwner
            | LenderOwner
            | LenderStaff
    )
}

/// Lists of facilities, loans, margin calls and ledger figures: each party sees its own.
fn credit_lists(actor: Actor) -> u16 {
    authed(actor, |a| if credit_party(a) { 200 } else { 403 })
}

/// A facility or loan of the lender and supplier: another supplier finds nothing.
fn credit_object(actor: Actor) -> u16 {
    authed(actor, |a| match a {
        OtherSupplierOwner => 404,
        a if credit_party(a) => 200,
        _ => 403,
    })
}

fn risk_readers(actor: Actor) -> u16 {
    authed(actor, |a| {
        if matches!(a, PlatformOwner | PlatformStaff | LenderOwner | LenderStaff) {
            200
        } else {
            403
        }
    })
}

/// Sales, statements: every kind but the warehouse staff.
fn sale_reader(actor: Actor) -> bool {
    !matches!(actor, WarehouseOwner | WarehouseStaff)
}

fn sale_readers(actor: Actor) -> u16 {
    authed(actor, |a| if sale_reader(a) { 200 } else { 403 })
}

#[test]
fn every_route_has_a_row() {
    let table = rows();
    // The console's pages have their own test (`console.rs`): this table is the API's.
    let api: Vec<_> = holdfast::app::routes()
        .into_iter()
        .filter(|r| r.surface == holdfast::http::route_table::Surface::Api)
        .collect();
    for route in &api {
        assert!(
            table
                .iter()
                .any(|row| row.method == route.method.as_str() && row.path == route.path),
            "route {} {} has no row in the access table",
            route.method,
            route.path
        );
    }
    assert_eq!(
        table.len(),
        api.len(),
        "the table has rows for routes that do not exist"
    );
}

struct World {
    custody: Custody,
    /// The same parties at a second cold store, which the breach rows leave alone: goods on
    /// quality hold cannot be pledged.
    lending_custody: Custody,
    lender_owner: Session,
    facility_id: String,
    /// An active loan on a large lot, from which the lender consents to release 1 kg a time.
    release_loan: String,
    release_lot: String,
    sessions: Vec<(Actor, Option<Session>)>,
    supplier_org: Uuid,
    supplier_owner: Session,
    buyer_org: Uuid,
    inspector_org: Uuid,
    expired: String,
    foreign: String,
    alg_none: String,
}

async fn world(app: &TestApp) -> World {
    let platform = app.org("Platform", OrgKind::Platform).await;
    let supplier = app.org("Supplier", OrgKind::Supplier).await;
    let other_supplier = app.org("Other supplier", OrgKind::Supplier).await;
    let lender = app.org("Lender", OrgKind::Lender).await;
    let warehouse = app.org("Warehouse", OrgKind::WarehouseOperator).await;
    let buyer = app.org("Buyer", OrgKind::Buyer).await;
    let owner =
        |org, kind| async move { app.user(org, Role::Owner, &Permission::all_for(kind)).await };
    let staff = |org| async move { app.user(org, Role::Staff, &[]).await };
    let supplier_owner = owner(supplier, OrgKind::Supplier).await;
    let platform_owner = owner(platform, OrgKind::Platform).await;
    let warehouse_owner = owner(warehouse, OrgKind::WarehouseOperator).await;
    let commodity = format!(
        "APPLE_{}",
        &Uuid::new_v4().simple().to_string()[..6].to_uppercase()
    );
    fixtures::commodity(app, &platform_owner, &commodity).await;
    fixtures::set_quality(app, &platform_owner, &commodity, false, None).await;
    let inspector = app.org("Inspector", OrgKind::Inspector).await;
    let warehouse_id = fixtures::warehouse(app, &platform_owner, warehouse, &commodity).await;
    let custody = Custody {
        admin: platform_owner.clone(),
        supplier: supplier_owner.clone(),
        warehouse_staff: warehouse_owner.clone(),
        warehouse_id,
        commodity,
    };
    let sessions = vec![
        (PlatformOwner, Some(platform_owner)),
        (PlatformStaff, Some(staff(platform).await)),
        (SupplierOwner, Some(supplier_owner.clone())),
        (SupplierStaff, Some(staff(supplier).await)),
        (
            OtherSupplierOwner,
            Some(owner(other_supplier, OrgKind::Supplier).await),
        ),
        (LenderOwner, Some(owner(lender, OrgKind::Lender).await)),
        (LenderStaff, Some(staff(lender).await)),
        (WarehouseOwner, Some(warehouse_owner)),
        (WarehouseStaff, Some(staff(warehouse).await)),
        (BuyerOwner, Some(owner(buyer, OrgKind::Buyer).await)),
        (BuyerStaff, Some(staff(buyer).await)),
    ];
    // Forged tokens all name the platform owner, so only the token itself is at fault.
    let admin = sessions[0].1.clone().expect("admin");
    let principal = Principal {
        user_id: admin.user_id,
        org_id: admin.org_id,
        kind: OrgKind::Platform,
        role: Role::Owner,
        permissions: Permission::all_for(OrgKind::Platform),
        request_id: None,
    };
    let now = chrono::Utc::now().timestamp();
    let expired = JwtKeys::new(JWT_SECRET.as_bytes(), 900)
        .issue(&principal, Uuid::new_v4(), 0, now - 900 - 60)
        .expect("sign");
    let foreign = JwtKeys::new(b"another-secret-another-secret-another", 900)
        .issue(&principal, Uuid::new_v4(), 0, now)
        .expect("sign");
    let valid = JwtKeys::new(JWT_SECRET.as_bytes(), 900)
        .issue(&principal, Uuid::new_v4(), 0, now)
        .expect("sign");
    let claims = valid.split('.').nth(1).expect("claims");
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{claims}.");
    let lender_owner = sessions[5].1.clone().expect("lender owner");
    fixtures::post_price(
        app,
        &platform_owner_of(&sessions),
        &custody.commodity,
        "6.00",
        &fixtures::start_of_today(),
    )
    .await;
    let facility = app
        .post(
            "/v1/facilities",
            lender_owner.token(),
            &facility_body(supplier, &custody.commodity),
        )
        .await;
    assert_eq!(facility.status, 201, "{}", facility.text);
    let facility_id = facility.body["id"].as_str().expect("id").to_owned();
    let second_store = fixtures::warehouse(
        app,
        &custody.admin,
        custody.warehouse_staff.org_id,
        &custody.commodity,
    )
    .await;
    let lending_custody = Custody {
        admin: custody.admin.clone(),
        supplier: custody.supplier.clone(),
        warehouse_staff: custody.warehouse_staff.clone(),
        warehouse_id: second_store,
        commodity: custody.commodity.clone(),
    };
    let mut world = World {
        custody,
        lending_custody,
        lender_owner,
        facility_id,
        release_loan: String::new(),
        release_lot: String::new(),
        sessions,
        supplier_org: supplier,
        supplier_owner,
        buyer_org: buyer,
        inspector_org: inspector,
        expired,
        foreign,
        alg_none,
    };
    let (loan, lot) = loan_in_state(app, &world, "active", "10000").await;
    world.release_loan = loan;
    world.release_lot = lot;
    world
}

fn platform_owner_of(sessions: &[(Actor, Option<Session>)]) -> Session {
    sessions[0].1.clone().expect("platform owner")
}

fn facility_body(supplier: Uuid, commodity: &str) -> Value {
    json!({"supplier_org_id": supplier, "currency": "CNY", "limit": "1000000", "annual_interest_rate": "0.05",
           "max_tenor_days": 30, "eligible_commodities": [commodity]})
}

/// A fresh loan of 1 CNY on a fresh lot, taken to `state`; answers the loan and lot ids.
async fn loan_in_state(
    app: &TestApp,
    world: &World,
    state: &str,
    quantity: &str,
) -> (String, String) {
    let lot = world.lending_custody.lot_in_custody(app, quantity).await;
    let lot_id = lot["id"].as_str().expect("lot").to_owned();
    let requested = app
        .post(
            "/v1/loans",
            world.supplier_owner.token(),
            &json!({"facility_id": world.facility_id, "principal": "1", "collateral": [{"lot_id": lot_id, "quantity": quantity}]}),
        )
        .await;
    assert_eq!(requested.status, 201, "{}", requested.text);
    let loan = requested.body["id"].as_str().expect("loan").to_owned();
    if state == "requested" {
        return (loan, lot_id);
    }
    let approved = app
        .post(
            &format!("/v1/loans/{loan}/approve"),
            world.lender_owner.token(),
            &json!({}),
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    if state == "approved" {
        return (loan, lot_id);
    }
    let disbursed = app
        .request_with(
            "POST",
            &format!("/v1/loans/{loan}/disburse"),
            Some(world.lender_owner.token()),
            None,
            &[("Idempotency-Key", &Uuid::new_v4().to_string())],
        )
        .await;
    assert_eq!(disbursed.status, 200, "{}", disbursed.text);
    if state == "defaulted" {
        app.sql(&format!(
            "UPDATE loans SET status = 'defaulted' WHERE id = '{loan}'"
        ))
        .await;
    }
    (loan, lot_id)
}

fn token_of(world: &World, actor: Actor) -> Option<String> {
    match actor {
        Anonymous => None,
        Expired => Some(world.expired.clone()),
        ForeignKey => Some(world.foreign.clone()),
        AlgNone => Some(world.alg_none.clone()),
        _ => world
            .sessions
            .iter()
            .find(|(a, _)| *a == actor)
            .and_then(|(_, s)| s.as_ref())
            .map(|s| s.access_token.clone()),
    }
}

impl World {
    fn buyer_owner(&self) -> &Session {
        self.sessions
            .iter()
            .find_map(|(a, s)| (*a == BuyerOwner).then_some(s.as_ref()).flatten())
            .expect("the buyer's owner")
    }
}

/// A body for the route; routes that change state get a fresh object for every request.
async fn body_for(app: &TestApp, row: &Row, world: &World) -> Option<Value> {
    let c = &world.custody;
    match (row.method, row.path) {
        ("POST", "/v1/commodities") => Some(json!({
            "code": format!("C{}", &Uuid::new_v4().simple().to_string()[..8].to_uppercase()),
            "name": "Pears", "unit": "kg", "shelf_life_days": 60, "fresh_days": 20, "grades": {"A": "1"}
        })),
        ("POST", "/v1/warehouses") => Some(json!({
            "name": format!("W {}", Uuid::new_v4()), "operator_org_id": c.warehouse_staff.org_id, "address": "Yantai", "kind": "ambient"
        })),
        ("POST", "/v1/voyages") => Some(json!({
            "vessel_name": "V", "carrier_org_id": c.warehouse_staff.org_id, "origin": "A", "destination": "B",
            "departs_at": "2026-12-01T00:00:00Z", "eta": "2026-12-10T00:00:00Z"
        })),
        ("POST", "/v1/lots") => Some(json!({
            "commodity_code": c.commodity, "grade": "A", "quantity": "10", "packed_on": fixtures::today(), "warehouse_id": c.warehouse_id
        })),
        ("POST", "/v1/withdrawals") => {
            let lot = c.lot_in_custody(app, "10").await;
            Some(json!({"lot_id": lot["id"], "quantity": "1"}))
        }
        ("POST", "/v1/lots/{id}/split") => Some(json!({"quantity": "1"})),
        ("POST", "/v1/facilities") => Some(facility_body(world.supplier_org, &c.commodity)),
        ("PATCH", "/v1/facilities/{id}") => Some(json!({"limit": "1000000"})),
        ("POST", "/v1/loans") => {
            let lot = world.lending_custody.lot_in_custody(app, "10").await;
            Some(json!({"facility_id": world.facility_id, "principal": "1",
                        "collateral": [{"lot_id": lot["id"], "quantity": "10"}]}))
        }
        ("POST", "/v1/loans/{id}/reject") => Some(json!({"reason": "not this time"})),
        ("POST", "/v1/loans/{id}/repayments") => Some(json!({"amount": "0.01"})),
        ("POST", "/v1/loans/{id}/collateral") => {
            let lot = world.lending_custody.lot_in_custody(app, "10").await;
            Some(json!({"collateral": [{"lot_id": lot["id"], "quantity": "10"}]}))
        }
        ("POST", "/v1/loans/{id}/collateral/release") => {
            Some(json!({"lot_id": world.release_lot, "quantity": "1"}))
        }
        ("POST", "/v1/fee-schedules") => Some(json!({
            "warehouse_id": world.lending_custody.warehouse_id, "method": "storage_days_equivalent", "days": 30
        })),
        ("POST", "/v1/sales") => {
            let lot = c.lot_in_custody(app, "10").await;
            Some(json!({"buyer_org_id": world.buyer_org, "currency": "CNY",
                        "lines": [{"lot_id": lot["id"], "quantity": "10", "unit_price": "6.00"}]}))
        }
        ("POST", "/v1/sales/{id}/payments") => Some(json!({"amount": "1.00"})),
        ("POST", "/v1/listings") => {
            let lot = c.lot_in_custody(app, "10").await;
            Some(
                json!({"lot_id": lot["id"], "quantity": "10", "mode": "fixed", "currency": "CNY", "unit_price": "6.00"}),
            )
        }
        ("POST", "/v1/listings/{id}/offers") => {
            Some(json!({"quantity": "1", "unit_price": "6.00"}))
        }
        ("POST", "/v1/offers/{id}/reject") => Some(json!({})),
        ("POST", "/v1/listings/{id}/bids") => Some(json!({"unit_price": "6.00"})),
        ("POST", "/v1/listings/{id}/join") => Some(json!({"quantity": "1"})),
        ("POST", "/v1/funds") => {
            Some(json!({"currency": "CNY", "amount": "10.00", "org_id": world.buyer_org}))
        }
        ("POST", "/v1/funds/withdrawals") => {
            // Something to withdraw, whoever asks.
            let funded = app
                .post_keyed(
                    "/v1/funds",
                    world.buyer_owner().token(),
                    &json!({"currency": "CNY", "amount": "1.00"}),
                )
                .await;
            assert_eq!(funded.status, 201, "{}", funded.text);
            Some(json!({"currency": "CNY", "amount": "1.00", "org_id": world.buyer_org}))
        }
        ("POST", "/v1/exposure/stress") => {
            Some(json!({"shocks": [{"commodity_code": c.commodity, "price_change": "-0.1"}]}))
        }
        ("POST", "/v1/prices") => Some(json!({
            "commodity_code": c.commodity, "price_per_unit": "6", "currency": "CNY",
            "as_of": chrono::Utc::now() - chrono::Duration::seconds(1), "source": Uuid::new_v4().to_string()
        })),
        ("POST", "/v1/temperature-readings") => Some(json!({"readings": [
            {"warehouse_id": c.warehouse_id, "sensor_id": "access", "recorded_at": chrono::Utc::now(), "celsius": "2"}
        ]})),
        ("POST", "/v1/breaches/{id}/acknowledge") => Some(json!({"comment": "checked"})),
        ("PUT", "/v1/commodities/{code}/quality") => Some(fixtures::apple_quality(false, None)),
        ("POST", "/v1/lots/{id}/inspections") => {
            Some(json!({"sample_size": 10, "results": fixtures::results_for("A")}))
        }
        ("POST", "/v1/warehouses/{id}/inspectors") => Some(json!({"org_id": world.inspector_org})),
        ("POST", "/v1/scans") => {
            let lot = c.announce(app, "10").await;
            Some(json!({"code": lot["code"], "action": "receive"}))
        }
        ("POST", "/v1/auth/login") => {
            Some(json!({"email": world.supplier_owner.email, "password": crate::support::PASSWORD}))
        }
        ("POST", "/v1/auth/refresh") | ("POST", "/v1/auth/logout") => {
            Some(json!({"refresh_token": "not-a-token"}))
        }
        ("POST", "/v1/orgs") => {
            Some(json!({"name": format!("Org {}", Uuid::new_v4()), "kind": "buyer"}))
        }
        ("PATCH", "/v1/users/{id}") => Some(json!({"disabled": false})),
        ("POST", "/v1/me/password") => Some(json!({
            "current_password": "not-the-password",
            "new_password": "Yantai-apples-in-cold-store-7",
        })),
        ("POST", "/v1/orgs/{id}/users") => Some(json!({
            "email": format!("{}@access.test", Uuid::new_v4().simple()),
            "password": "a-long-enough-password",
            "role": "staff",
            "permissions": [],
        })),
        _ => None,
    }
}

/// A new breach at the custody warehouse, from a sensor of its own.
async fn fresh_breach(app: &TestApp, c: &Custody) -> String {
    let sensor = Uuid::new_v4().to_string();
    let now = chrono::Utc::now();
    let readings: Vec<Value> = [(90, "2"), (80, "9"), (40, "9"), (30, "2")]
        .iter()
        .map(|(minutes, celsius)| {
            json!({
                "warehouse_id": c.warehouse_id, "sensor_id": sensor,
                "recorded_at": now - chrono::Duration::minutes(*minutes), "celsius": celsius
            })
        })
        .collect();
    let reply = app
        .post(
            "/v1/temperature-readings",
            c.warehouse_staff.token(),
            &json!({"readings": readings}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["breaches"][0]["id"]
        .as_str()
        .expect("breach")
        .to_owned()
}

/// A pending sale of 1 unit of the lot to the world's buyer.
async fn sale_of(app: &TestApp, world: &World, lot: &str) -> String {
    let sold = app
        .post_keyed(
            "/v1/sales",
            world.supplier_owner.token(),
            &json!({"buyer_org_id": world.buyer_org, "currency": "CNY",
                    "lines": [{"lot_id": lot, "quantity": "1", "unit_price": "6.00"}]}),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    sold.body["id"].as_str().expect("sale").to_owned()
}

/// A fresh fixed-price listing of the supplier's, opened long enough ago for every buyer.
async fn listing_of(app: &TestApp, world: &World) -> String {
    let lot = world.custody.lot_in_custody(app, "10").await;
    let listed = app
        .post_keyed(
            "/v1/listings",
            world.supplier_owner.token(),
            &json!({"lot_id": lot["id"], "quantity": "10", "mode": "fixed", "currency": "CNY", "unit_price": "6.00"}),
        )
        .await;
    assert_eq!(listed.status, 201, "{}", listed.text);
    let id = listed.body["id"].as_str().expect("listing").to_owned();
    app.sql(&format!(
        "UPDATE listings SET opened_at = now() - interval '2 days' WHERE id = '{id}'"
    ))
    .await;
    id
}

/// A fresh auction of the supplier's, opened long enough ago for every buyer, and the
/// buyer's owner funded for its deposit.
async fn auction_of(app: &TestApp, world: &World) -> String {
    let ends_at = chrono::Utc::now() + chrono::Duration::hours(2);
    let terms =
        json!({"auction": {"reserve_price": "6.00", "min_increment": "0.10", "ends_at": ends_at}});
    funded_listing_of(app, world, "auction", terms).await
}

/// A fresh group buy of the supplier's, opened long enough ago for every buyer, and the
/// buyer's owner funded to join it.
async fn group_of(app: &TestApp, world: &World) -> String {
    let deadline = chrono::Utc::now() + chrono::Duration::hours(2);
    let terms =
        json!({"group": {"group_price": "6.00", "min_total_quantity": "5", "deadline": deadline}});
    funded_listing_of(app, world, "group", terms).await
}

/// A fresh listing of 10 of a new lot in `mode` with its `terms`, visible to every buyer, and
/// 10.00 in the buyer's owner's market funds.
async fn funded_listing_of(app: &TestApp, world: &World, mode: &str, terms: Value) -> String {
    let lot = world.custody.lot_in_custody(app, "10").await;
    let mut body = json!({"lot_id": lot["id"], "quantity": "10", "mode": mode, "currency": "CNY"});
    for (k, v) in terms.as_object().expect("terms") {
        body[k] = v.clone();
    }
    let listed = app
        .post_keyed("/v1/listings", world.supplier_owner.token(), &body)
        .await;
    assert_eq!(listed.status, 201, "{}", listed.text);
    let id = listed.body["id"].as_str().expect("listing").to_owned();
    app.sql(&format!(
        "UPDATE listings SET opened_at = now() - interval '2 days' WHERE id = '{id}'"
    ))
    .await;
    let funded = fixtures::fund(app, world.buyer_owner(), "10.00").await;
    assert_eq!(funded.status, 201, "{}", funded.text);
    id
}

/// The route's path with its `{id}` filled: fresh objects for routes that change state.
async fn concrete_path(app: &TestApp, row: &Row, world: &World) -> String {
    let c = &world.custody;
    if row.path.starts_with("/v1/commodities/{code}") {
        return row.path.replace("{code}", &c.commodity);
    }
    if row.path.starts_with("/v1/inspections/{id}/photos") {
        let lot = c.lot_in_custody(app, "10").await;
        let lot = lot["id"].as_str().expect("lot");
        let inspected = fixtures::inspect(app, &c.warehouse_staff, lot, "A").await;
        assert_eq!(inspected.status, 201, "{}", inspected.text);
        let inspection = inspected.body["inspection"]["id"].as_str().expect("id");
        let path = format!("/v1/inspections/{inspection}/photos");
        if row.method == "POST" {
            return path;
        }
        let added = app
            .send_bytes(
                "POST",
                &path,
                c.warehouse_staff.token(),
                "image/png",
                fixtures::png(4, 4),
            )
            .await;
        assert_eq!(added.status, 201, "{}", added.text);
        return format!("{path}/{}", added.body["id"].as_str().expect("photo"));
    }
    if row.path == "/v1/warehouses/{id}/inspectors/{org_id}" {
        let assigned = app
            .post(
                &format!("/v1/warehouses/{}/inspectors", c.warehouse_id),
                c.admin.token(),
                &json!({"org_id": world.inspector_org}),
            )
            .await;
        assert_eq!(assigned.status, 201, "{}", assigned.text);
        return format!(
            "/v1/warehouses/{}/inspectors/{}",
            c.warehouse_id, world.inspector_org
        );
    }
    if row.path == "/v1/lots/by-code/{code}" {
        let lot = c.lot_in_custody(app, "10").await;
        let code = lot["code"].as_str().expect("code").to_lowercase();
        return row.path.replace("{code}", &code);
    }
    let id = if row.path.starts_with("/v1/lots/{id}") {
        c.lot_in_custody(app, "10").await["id"]
            .as_str()
            .expect("id")
            .to_owned()
    } else if row.path.starts_with("/v1/breaches/{id}") {
        fresh_breach(app, c).await
    } else if row.path == "/v1/custody-incidents/{id}" {
        // Ten kilograms of a fresh lot go missing.
        let lot = c.lot_in_custody(app, "20").await;
        let short = c
            .scan(
                app,
                json!({"code": lot["code"], "action": "count", "quantity": "10", "reason": "gone"}),
            )
            .await;
        short.body["incident"]["id"]
            .as_str()
            .expect("incident")
            .to_owned()
    } else if row.path == "/v1/facilities/{id}/close" {
        // A facility of its own to close, so the world's stays open.
        let body = facility_body(world.supplier_org, &c.commodity);
        let opened = app
            .post("/v1/facilities", world.lender_owner.token(), &body)
            .await;
        opened.body["id"].as_str().expect("facility").to_owned()
    } else if row.path.starts_with("/v1/facilities/{id}") {
        world.facility_id.clone()
    } else if row.path == "/v1/loans/{id}/collateral/release" {
        world.release_loan.clone()
    } else if row.path.starts_with("/v1/loans/{id}") {
        let state = match row.path {
            "/v1/loans/{id}/disburse" => "approved",
            "/v1/loans/{id}/repayments" => "active",
            "/v1/loans/{id}/liquidate" => "defaulted",
            _ => "requested",
        };
        loan_in_state(app, world, state, "10").await.0
    } else if row.path == "/v1/sales/{id}/consent" {
        // A sale of goods pledged to the lender's loan.
        let (_, lot) = loan_in_state(app, world, "active", "10").await;
        sale_of(app, world, &lot).await
    } else if row.path.starts_with("/v1/sales/{id}") {
        let lot = c.lot_in_custody(app, "10").await;
        sale_of(app, world, lot["id"].as_str().expect("lot")).await
    } else if row.path == "/v1/listings/{id}/bids" {
        auction_of(app, world).await
    } else if row.path == "/v1/listings/{id}/join" {
        group_of(app, world).await
    } else if row.path.starts_with("/v1/listings/{id}") {
        listing_of(app, world).await
    } else if row.path.starts_with("/v1/offers/{id}") {
        let listing = listing_of(app, world).await;
        let buyer = world
            .sessions
            .iter()
            .find_map(|(a, s)| (*a == BuyerOwner).then_some(s.as_ref()).flatten())
            .expect("the buyer's owner");
        let offered = app
            .post_keyed(
                &format!("/v1/listings/{listing}/offers"),
                buyer.token(),
                &json!({"quantity": "1", "unit_price": "6.00"}),
            )
            .await;
        assert_eq!(offered.status, 201, "{}", offered.text);
        offered.body["id"].as_str().expect("offer").to_owned()
    } else if row.path == "/v1/labels.html" {
        let lot = c.lot_in_custody(app, "10").await;
        return format!(
            "/v1/labels.html?lot_ids={}",
            lot["id"].as_str().expect("lot")
        );
    } else if row.path == "/v1/fee-quote" {
        let lot = c.lot_in_custody(app, "10").await;
        return format!(
            "/v1/fee-quote?lot_id={}&quantity=10&currency=CNY",
            lot["id"].as_str().expect("lot")
        );
    } else if row.path == "/v1/users/{id}" {
        app.user(world.supplier_org, Role::Staff, &[])
            .await
            .user_id
            .to_string()
    } else if row.path.starts_with("/v1/warehouses/{id}") {
        c.warehouse_id.clone()
    } else if row.path.starts_with("/v1/voyages/{id}") {
        let voyage = fixtures::voyage(app, &c.admin, c.warehouse_staff.org_id, None).await;
        if row.path.ends_with("/arrive") {
            let departed = app
                .post(
                    &format!("/v1/voyages/{voyage}/depart"),
                    c.admin.token(),
                    &json!({}),
                )
                .await;
            assert_eq!(departed.status, 200, "{}", departed.text);
        }
        voyage
    } else {
        world.supplier_org.to_string()
    };
    row.path
        .replace("{id}", &id)
        .replace("{_:.*}", "index.html")
}

#[tokio::test]
async fn every_route_answers_every_actor_as_declared() {
    let app = TestApp::spawn().await;
    let world = world(&app).await;
    let mut failures = Vec::new();
    for row in rows() {
        for &actor in ACTORS {
            let path = concrete_path(&app, &row, &world).await;
            let token = token_of(&world, actor);
            let body = body_for(&app, &row, &world).await;
            let client = crate::support::client_builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client");
            let mut request = client.request(row.method.parse().expect("method"), app.url(&path));
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            if row.method == "POST" {
                request = request.header("Idempotency-Key", Uuid::new_v4().to_string());
            }
            if row.path == "/v1/inspections/{id}/photos" {
                request = request
                    .header("content-type", "image/png")
                    .body(fixtures::png(4, 4));
            }
            if row.path == "/v1/prices/import" {
                request = request.header("content-type", "text/csv").body(format!(
                    "commodity_code,price_per_unit,currency,as_of,source\n{},6,CNY,2026-11-01,{}\n",
                    world.custody.commodity,
                    Uuid::new_v4()
                ));
            }
            let response = request.send().await.expect("send");
            let status = response.status().as_u16();
            let expected = (row.expect)(actor);
            if status != expected {
                let text = response.text().await.unwrap_or_default();
                failures.push(format!(
                    "{} {} as {actor:?}: expected {expected}, got {status} {text}",
                    row.method, row.path
                ));
            } else if status >= 400 {
                let body: Value = response.json().await.unwrap_or(Value::Null);
                if !body["error"]["code"].is_string() {
                    failures.push(format!(
                        "{} {} as {actor:?}: {status} without the error envelope",
                        row.method, row.path
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "access table mismatches:\n{}",
        failures.join("\n")
    );
}
