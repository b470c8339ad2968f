//! The demo world `serve --demo` loads: the platform admin and, for each org kind, an org with
//! an owner and a staff user. Loading twice changes nothing.

use crate::auth::{OrgKind, Permission, Role};
use crate::db::DbPool;
use crate::domain::states::{LoanStatus, LotStatus, MovementKind};
use crate::orgs::store;
use diesel_async::AsyncConnection;

/// Every demo account's password.
pub const DEMO_PASSWORD: &str = "holdfast-demo-2026";

pub struct DemoLogin {
    pub org: &'static str,
    pub kind: OrgKind,
    pub email: String,
    pub role: Role,
}

const ORGS: &[(&str, OrgKind, &str)] = &[
    ("Holdfast Platform", OrgKind::Platform, "platform"),
    ("Yantai Orchard Cooperative", OrgKind::Supplier, "supplier"),
    ("Shandong Harvest Bank", OrgKind::Lender, "lender"),
    (
        "Yantai Cold Chain Logistics",
        OrgKind::WarehouseOperator,
        "warehouse",
    ),
    ("Qingdao Fresh Market", OrgKind::Buyer, "buyer"),
    ("Qixia Apple Growers", OrgKind::Supplier, "grower"),
];

/// Creates what is missing and answers the logins.
pub async fn load(pool: &DbPool) -> anyhow::Result<Vec<DemoLogin>> {
    let logins = load_people(pool).await?;
    load_custody(pool).await?;
    load_lending(pool).await?;
    load_sales(pool).await?;
    Ok(logins)
}

async fn load_people(pool: &DbPool) -> anyhow::Result<Vec<DemoLogin>> {
    let password_hash = crate::auth::password::hash(DEMO_PASSWORD.to_owned()).await?;
    let mut conn = pool.get().await?;
    let mut logins = Vec::new();
    for (name, kind, slug) in ORGS {
        let hash = password_hash.clone();
        let created = conn
            .transaction::<_, diesel::result::Error, _>(async move |conn| {
                let org = match store::find_org_by_name(conn, name).await? {
                    Some(org) => org,
                    None => store::insert_org(conn, name, *kind).await?,
                };
                let mut accounts = Vec::new();
                for (role, local) in [(Role::Owner, "owner"), (Role::Staff, "staff")] {
                    let email = format!("{local}@{slug}.demo.holdfast");
                    if store::find_user_by_email(conn, &email).await?.is_none() {
                        let permissions = match role {
                            Role::Owner => Permission::all_for(*kind),
                            // Staff do the daily work (scan, announce, read the
                            // trail) but do not manage users.
                            Role::Staff => Permission::all_for(*kind)
                                .into_iter()
                                .filter(|p| {
                                    !matches!(p, Permission::UsersWrite | Permission::OrgsWrite)
                                })
                                .collect(),
                        };
                        store::insert_user(
                            conn,
                            store::NewUserRow {
                                org_id: org.id,
                                email: &email,
                                password_hash: &hash,
                                role,
                                permissions: &permissions,
                                created_by: None,
                            },
                        )
                        .await?;
                    }
                    accounts.push((email, role));
                }
                Ok(accounts)
            })
            .await?;
        logins.extend(created.into_iter().map(|(email, role)| DemoLogin {
            org: name,
            kind: *kind,
            email,
            role,
        }));
    }
    Ok(logins)
}

const COLD_STORE: &str = "Yantai Cold Store No. 1";

/// The Yantai cold store with apple lots in custody, and the Guangxi voyage with eucalyptus
/// boards in transit to the Rizhao timber yard.
async fn load_custody(pool: &DbPool) -> anyhow::Result<()> {
    use crate::reference::model::StorageRate;
    use crate::reference::store as reference;
    use rust_decimal::Decimal;
    use serde_json::json;

    let mut conn = pool.get().await?;
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let warehouses = reference::list_warehouses(conn).await?;
        if warehouses.iter().any(|w| w.name == COLD_STORE) {
            return Ok(());
        }
        let supplier = store::find_org_by_name(conn, ORGS[1].0)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo supplier missing"))?;
        let operator = store::find_org_by_name(conn, ORGS[3].0)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo operator missing"))?;
        let today = chrono::Utc::now().date_naive();
        if reference::find_commodity(conn, "APPLE_FUJI")
            .await?
            .is_none()
        {
            reference::insert_commodity(
                conn,
                reference::CommodityValues {
                    code: "APPLE_FUJI",
                    name: "Fuji apples",
                    unit: "kg",
                    shelf_life_days: 180,
                    fresh_days: 60,
                    end_freshness_factor: Decimal::new(5, 1),
                    grades: json!({"A": "1.00", "B": "0.85", "C": "0.60"}),
                    temperature_min_c: Some(Decimal::from(-1)),
                    temperature_max_c: Some(Decimal::from(4)),
                },
            )
            .await?;
        }
        if reference::find_commodity(conn, "EUCALYPTUS_BOARD")
            .await?
            .is_none()
        {
            reference::insert_commodity(
                conn,
                reference::CommodityValues {
                    code: "EUCALYPTUS_BOARD",
                    name: "Eucalyptus boards",
                    unit: "m3",
                    shelf_life_days: 3650,
                    fresh_days: 3650,
                    end_freshness_factor: Decimal::ONE,
                    grades: json!({"A": "1.00", "B": "0.90"}),
                    temperature_min_c: None,
                    temperature_max_c: None,
                },
            )
            .await?;
        }
        let cold_store = reference::insert_warehouse(
            conn,
            reference::WarehouseValues {
                name: COLD_STORE,
                operator_org_id: operator.id,
                address: "Zhifu District, Yantai, Shandong",
                kind: "cold_storage",
                temperature_min_c: Some(Decimal::from(-1)),
                temperature_max_c: Some(Decimal::from(4)),
                breach_grace_minutes: 30,
            },
        )
        .await?;
        let rate = |code: &str, rate: Decimal| StorageRate {
            commodity_code: code.into(),
            rate_per_unit_day: rate,
            currency: "CNY".into(),
        };
        reference::insert_storage_rate(
            conn,
            cold_store.id,
            &rate("APPLE_FUJI", Decimal::new(4, 3)),
        )
        .await?;
        let yard = reference::insert_warehouse(
            conn,
            reference::WarehouseValues {
                name: "Rizhao Timber Yard",
                operator_org_id: operator.id,
                address: "Lanshan District, Rizhao, Shandong",
                kind: "ambient",
                temperature_min_c: None,
                temperature_max_c: None,
                breach_grace_minutes: 60,
            },
        )
        .await?;
        reference::insert_storage_rate(
            conn,
            yard.id,
            &rate("EUCALYPTUS_BOARD", Decimal::new(80, 2)),
        )
        .await?;
        let now = chrono::Utc::now();
        let voyage = reference::insert_voyage(
            conn,
            reference::VoyageValues {
                vessel_name: "Beibu Gulf Star",
                carrier_org_id: operator.id,
                origin: "Qinzhou, Guangxi",
                destination: "Rizhao, Shandong",
                destination_warehouse_id: Some(yard.id),
                departs_at: now - chrono::Duration::days(3),
                eta: now + chrono::Duration::days(14),
            },
        )
        .await?;
        let lots_to_make = [
            (
                "APPLE_FUJI",
                "A",
                "kg",
                Decimal::from(20_000),
                12,
                Some(cold_store.id),
                None,
            ),
            (
                "APPLE_FUJI",
                "B",
                "kg",
                Decimal::from(15_000),
                20,
                Some(cold_store.id),
                None,
            ),
            (
                "APPLE_FUJI",
                "A",
                "kg",
                Decimal::from(8_000),
                5,
                Some(cold_store.id),
                None,
            ),
            (
                "EUCALYPTUS_BOARD",
                "A",
                "m3",
                Decimal::from(120),
                10,
                None,
                Some(voyage.id),
            ),
            (
                "EUCALYPTUS_BOARD",
                "B",
                "m3",
                Decimal::from(80),
                10,
                None,
                Some(voyage.id),
            ),
        ];
        for (commodity, grade, unit, quantity, days_ago, warehouse, on_voyage) in lots_to_make {
            demo_lot(
                conn,
                supplier.id,
                DemoLot {
                    commodity,
                    grade,
                    unit,
                    quantity,
                    days_ago,
                    warehouse,
                    voyage: on_voyage,
                },
                today,
            )
            .await?;
        }
        reference::set_voyage_status(
            conn,
            voyage.id,
            crate::domain::states::VoyageStatus::Underway,
        )
        .await?;
        // Sixty days of prices: apples drifting from 5.60 to 6.00 CNY/kg, boards near
        // 1,450 CNY/m3.
        for day in 0..60i64 {
            let as_of = (today - chrono::Days::new(day as u64))
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc())
                .unwrap_or(now);
            for (commodity, price) in [
                ("APPLE_FUJI", Decimal::new(600 - (day * 40 / 59), 2)),
                (
                    "EUCALYPTUS_BOARD",
                    Decimal::new(145_000 + (day % 7) * 100 - 300, 2),
                ),
            ] {
                crate::prices::store::insert(
                    conn,
                    &crate::prices::csv::PriceRow {
                        line: 0,
                        commodity_code: commodity.into(),
                        price_per_unit: price,
                        currency: "CNY".into(),
                        as_of,
                        source: "Holdfast demo feed".into(),
                    },
                    None,
                )
                .await?;
            }
        }
        Ok(())
    })
    .await
}

struct DemoLot {
    commodity: &'static str,
    grade: &'static str,
    unit: &'static str,
    quantity: rust_decimal::Decimal,
    days_ago: u64,
    warehouse: Option<uuid::Uuid>,
    voyage: Option<uuid::Uuid>,
}

/// A lot announced and received into the warehouse (or loaded on the voyage), with its
/// movements and warehouse receipt.
async fn demo_lot(
    conn: &mut diesel_async::AsyncPgConnection,
    owner: uuid::Uuid,
    d: DemoLot,
    today: chrono::NaiveDate,
) -> anyhow::Result<crate::lots::model::LotRow> {
    use crate::lots::store as lots;
    use crate::reference::store as reference;
    use rust_decimal::Decimal;
    use serde_json::json;
    let shelf_life = if d.commodity == "APPLE_FUJI" {
        180
    } else {
        3650
    };
    let packed_on = today - chrono::Days::new(d.days_ago);
    let code = crate::domain::lot_code::LotCode::generate();
    let lot = lots::insert(
        conn,
        lots::NewLotValues {
            id: uuid::Uuid::new_v4(),
            code: code.as_str(),
            owner_org_id: owner,
            commodity_code: d.commodity,
            grade: d.grade,
            unit: d.unit,
            status: LotStatus::Announced,
            quantity_announced: d.quantity,
            warehouse_id: d.warehouse,
            voyage_id: d.voyage,
            packed_on,
            expires_on: packed_on + chrono::Days::new(shelf_life),
            parent_lot_id: None,
            insurer: Some("PICC Property and Casualty"),
        },
    )
    .await?;
    let movement = |kind, change, status| lots::MovementChange {
        lot_id: lot.id,
        kind,
        quantity_change: change,
        status,
        warehouse_id: d.warehouse,
        voyage_id: d.voyage,
        release_order_id: None,
        related_lot_id: None,
        reason: None,
        details: json!({"demo": true}),
        actor_user_id: None,
    };
    lots::record_movement(
        conn,
        movement(MovementKind::Announce, Decimal::ZERO, LotStatus::Announced),
    )
    .await?;
    let (kind, status) = if d.warehouse.is_some() {
        (MovementKind::Receive, LotStatus::InCustody)
    } else {
        (MovementKind::Load, LotStatus::InTransit)
    };
    lots::record_movement(conn, movement(kind, d.quantity, status)).await?;
    let rate = match d.warehouse {
        Some(warehouse) => reference::storage_rate(conn, warehouse, d.commodity).await?,
        None => None,
    };
    lots::stamp_receipt(conn, lot.id, rate.as_ref()).await?;
    Ok(lots::lock(conn, lot.id).await?)
}

fn demo_advance_rate() -> rust_decimal::Decimal {
    rust_decimal::Decimal::new(50, 2)
}

/// A facility of the demo bank: the design's defaults (advance 0.50, margin call 0.65,
/// liquidation 0.80, 3-day cure), 120-day tenor, for one commodity.
async fn demo_facility(
    conn: &mut diesel_async::AsyncPgConnection,
    (lender, supplier): (uuid::Uuid, uuid::Uuid),
    commodity: &str,
    rate: rust_decimal::Decimal,
    limit: rust_decimal::Decimal,
) -> anyhow::Result<uuid::Uuid> {
    use crate::db::schema::facilities;
    use diesel::ExpressionMethods;
    use diesel_async::RunQueryDsl;
    use rust_decimal::Decimal;
    let id = uuid::Uuid::new_v4();
    diesel::insert_into(facilities::table)
        .values((
            facilities::id.eq(id),
            facilities::lender_org_id.eq(lender),
            facilities::supplier_org_id.eq(supplier),
            facilities::currency.eq("CNY"),
            facilities::limit_amount.eq(limit),
            facilities::advance_rate.eq(demo_advance_rate()),
            facilities::annual_interest_rate.eq(rate),
            facilities::margin_call_ltv.eq(Decimal::new(65, 2)),
            facilities::liquidation_ltv.eq(Decimal::new(80, 2)),
            facilities::cure_period_days.eq(3),
            facilities::max_tenor_days.eq(120),
            facilities::eligible_commodities.eq(vec![commodity.to_owned()]),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// A loan paid out today under the facility, pledging all of each lot, with its disbursement
/// entry.
async fn demo_loan(
    conn: &mut diesel_async::AsyncPgConnection,
    facility: uuid::Uuid,
    (lender, supplier): (uuid::Uuid, uuid::Uuid),
    principal: rust_decimal::Decimal,
    rate: rust_decimal::Decimal,
    lots: &[crate::lots::model::LotRow],
    today: chrono::NaiveDate,
) -> anyhow::Result<uuid::Uuid> {
    use crate::db::schema::loans;
    use crate::ledger::{AccountKind, Entry, Line};
    use diesel::ExpressionMethods;
    use diesel_async::RunQueryDsl;
    let id = uuid::Uuid::new_v4();
    diesel::insert_into(loans::table)
        .values((
            loans::id.eq(id),
            loans::facility_id.eq(facility),
            loans::lender_org_id.eq(lender),
            loans::supplier_org_id.eq(supplier),
            loans::currency.eq("CNY"),
            loans::principal.eq(principal),
            loans::outstanding_principal.eq(principal),
            loans::annual_interest_rate.eq(rate),
            loans::status.eq(LoanStatus::Active),
            loans::approved_at.eq(chrono::Utc::now()),
            loans::disbursed_at.eq(chrono::Utc::now()),
            loans::disbursed_on.eq(today),
            loans::accrued_through.eq(today),
            loans::maturity_date.eq(today + chrono::Days::new(120)),
        ))
        .execute(conn)
        .await?;
    for lot in lots {
        crate::lending::store::pledge(conn, id, lot.id, lot.quantity_on_hand).await?;
    }
    crate::ledger::post(
        conn,
        Entry {
            kind: "disbursement",
            loan_id: Some(id),
            sale_id: None,
            memo: format!("disbursement of loan {id} (demo)"),
            currency: "CNY",
            business_date: today,
            created_by: None,
            lines: vec![
                Line::debit(lender, AccountKind::LoansReceivable, principal),
                Line::credit(lender, AccountKind::Cash, principal),
                Line::debit(supplier, AccountKind::Cash, principal),
                Line::credit(supplier, AccountKind::LoansPayable, principal),
            ],
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(id)
}

/// Shandong Harvest Bank's facilities for the orchard cooperative: apples in the cold store at
/// 8 % with loans at 50 % of their value, and boards at sea at a low 3.5 %, because the
/// platform's ship holds them.
async fn load_lending(pool: &DbPool) -> anyhow::Result<()> {
    use crate::db::schema::{facilities, lots};
    use crate::domain::lending::lending_value;
    use crate::lending::revaluation::{self, Scope};
    use crate::lots::model::LotRow;
    use crate::lots::valuation::{Terms, appraise};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use rust_decimal::Decimal;

    let mut conn = pool.get().await?;
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let supplier = store::find_org_by_name(conn, ORGS[1].0)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo supplier missing"))?;
        let lender = store::find_org_by_name(conn, ORGS[2].0)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo lender missing"))?;
        let existing: i64 = facilities::table
            .filter(facilities::lender_org_id.eq(lender.id))
            .count()
            .get_result(conn)
            .await?;
        if existing > 0 {
            return Ok(());
        }
        let today = crate::calendar::business_date(conn).await?;
        for (commodity, rate) in [
            ("APPLE_FUJI", Decimal::new(8, 2)),
            ("EUCALYPTUS_BOARD", Decimal::new(35, 3)),
        ] {
            let eligible = vec![commodity.to_owned()];
            let facility_id = demo_facility(
                conn,
                (lender.id, supplier.id),
                commodity,
                rate,
                Decimal::new(2_000_000, 0),
            )
            .await?;
            let pledged: Vec<LotRow> = lots::table
                .filter(lots::owner_org_id.eq(supplier.id))
                .filter(lots::commodity_code.eq(commodity))
                .filter(lots::status.eq_any([LotStatus::InCustody, LotStatus::InTransit]))
                .order(lots::seq)
                .select(LotRow::as_select())
                .load(conn)
                .await?;
            let terms = Terms {
                currency: "CNY",
                eligible_commodities: &eligible,
            };
            // Apples: one loan per lot. Boards: one loan on the whole shipment.
            let groups: Vec<Vec<LotRow>> = if commodity == "APPLE_FUJI" {
                pledged.into_iter().map(|lot| vec![lot]).collect()
            } else {
                vec![pledged]
            };
            for group in groups.into_iter().filter(|g| !g.is_empty()) {
                let mut value = Decimal::ZERO;
                for lot in &group {
                    let valuation = appraise(conn, lot, today, lot.quantity_on_hand, Some(&terms))
                        .await
                        .map_err(|e| anyhow::anyhow!(e.message))?;
                    value += valuation.market_value.unwrap_or(Decimal::ZERO);
                }
                let principal = lending_value(value, demo_advance_rate(), 2);
                if principal <= Decimal::ZERO {
                    continue;
                }
                demo_loan(
                    conn,
                    facility_id,
                    (lender.id, supplier.id),
                    principal,
                    rate,
                    &group,
                    today,
                )
                .await?;
            }
        }
        revaluation::revalue(conn, today, Scope::All, "revaluation").await?;
        Ok(())
    })
    .await
}

/// The principal of a demo user, as the access middleware would build it.
async fn demo_principal(
    conn: &mut diesel_async::AsyncPgConnection,
    email: &str,
) -> anyhow::Result<crate::auth::Principal> {
    let (user, org) = store::find_user_by_email(conn, email)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo user {email} missing"))?;
    Ok(crate::auth::Principal {
        user_id: user.id,
        org_id: org.id,
        kind: OrgKind::parse(&org.kind).ok_or_else(|| anyhow::anyhow!("org kind"))?,
        role: Role::Owner,
        permissions: Permission::all_for(OrgKind::parse(&org.kind).unwrap_or(OrgKind::Buyer)),
        request_id: None,
    })
}

/// Scans the whole of a sale's release order out, as the warehouse staff would.
async fn demo_release(
    conn: &mut diesel_async::AsyncPgConnection,
    order_id: uuid::Uuid,
) -> anyhow::Result<()> {
    use crate::lots::store as lots;
    let order = lots::lock_release_order(conn, order_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("release order missing"))?;
    let lot = lots::lock(conn, order.lot_id).await?;
    let quantity = order.quantity - order.quantity_released;
    lots::add_reserved(conn, lot.id, -quantity).await?;
    lots::consume_release_order(conn, &order, quantity).await?;
    let left = lot.quantity_on_hand - quantity;
    lots::record_movement(
        conn,
        lots::MovementChange {
            quantity_change: -quantity,
            release_order_id: Some(order.id),
            details: serde_json::json!({"demo": true}),
            ..lots::MovementChange::of(
                &lot,
                MovementKind::Release,
                crate::domain::custody::status_after_release(left),
                None,
            )
        },
    )
    .await?;
    Ok(())
}

/// Sales at every stage, through the same code the API runs: the cooperative has sold 5 t
/// that has left the store, 3 t that is paid and waits to be picked up, and 2 t the buyer has
/// paid a deposit on; the Qixia growers sold 25 t that repaid their loan, which earns them the
/// silver tier (the cooperative stays bronze).
async fn load_sales(pool: &DbPool) -> anyhow::Result<()> {
    use crate::db::schema::{sales, warehouses};
    use crate::sales::model::{NewSale, NewSaleLine};
    use crate::sales::service::{create as create_sale, pay as record_payment};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use rust_decimal::Decimal;
    use uuid::Uuid;

    let mut conn = pool.get().await?;
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let buyer = store::find_org_by_name(conn, ORGS[4].0)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo buyer missing"))?;
        let existing: i64 = sales::table
            .filter(sales::buyer_org_id.eq(buyer.id))
            .count()
            .get_result(conn)
            .await?;
        if existing > 0 {
            return Ok(());
        }
        let fail = |e: crate::error::ApiError| anyhow::anyhow!(e.message);
        let today = crate::calendar::business_date(conn).await?;
        let cold_store: Uuid = warehouses::table
            .filter(warehouses::name.eq(COLD_STORE))
            .select(warehouses::id)
            .first(conn)
            .await?;
        let cooperative = demo_principal(conn, "owner@supplier.demo.holdfast").await?;
        let growers = demo_principal(conn, "owner@grower.demo.holdfast").await?;
        let paying = demo_principal(conn, "owner@buyer.demo.holdfast").await?;
        let apples = |quantity: i64, days_ago: u64| DemoLot {
            commodity: "APPLE_FUJI",
            grade: "A",
            unit: "kg",
            quantity: Decimal::from(quantity),
            days_ago,
            warehouse: Some(cold_store),
            voyage: None,
        };
        let sell = |lot: Uuid, quantity: i64, price: Decimal| NewSale {
            buyer_org_id: buyer.id,
            currency: "CNY".into(),
            lines: vec![NewSaleLine {
                lot_id: lot,
                quantity: Decimal::from(quantity),
                unit_price: price,
            }],
            loan_id: None,
        };
        // Released: sold, paid, scanned out.
        let lot = demo_lot(conn, cooperative.org_id, apples(5_000, 30), today).await?;
        let sale = create_sale(
            conn,
            &cooperative,
            sell(lot.id, 5_000, Decimal::new(640, 2)),
        )
        .await
        .map_err(fail)?;
        let paid = record_payment(conn, &paying, sale.id, sale.total)
            .await
            .map_err(fail)?;
        demo_release(conn, paid.sale.release_orders[0].id).await?;
        // Settled, waiting to be picked up.
        let lot = demo_lot(conn, cooperative.org_id, apples(3_000, 25), today).await?;
        let sale = create_sale(
            conn,
            &cooperative,
            sell(lot.id, 3_000, Decimal::new(600, 2)),
        )
        .await
        .map_err(fail)?;
        record_payment(conn, &paying, sale.id, sale.total)
            .await
            .map_err(fail)?;
        // Pending, with a deposit paid.
        let lot = demo_lot(conn, cooperative.org_id, apples(2_000, 8), today).await?;
        let sale = create_sale(
            conn,
            &cooperative,
            sell(lot.id, 2_000, Decimal::new(630, 2)),
        )
        .await
        .map_err(fail)?;
        record_payment(conn, &paying, sale.id, Decimal::new(5_000, 0))
            .await
            .map_err(fail)?;
        // The Qixia growers: a loan on 25 t, repaid on time by the sale of all of it.
        let lender = store::find_org_by_name(conn, ORGS[2].0)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo lender missing"))?;
        let lot = demo_lot(conn, growers.org_id, apples(25_000, 15), today).await?;
        let facility = demo_facility(
            conn,
            (lender.id, growers.org_id),
            "APPLE_FUJI",
            Decimal::new(8, 2),
            Decimal::new(500_000, 0),
        )
        .await?;
        demo_loan(
            conn,
            facility,
            (lender.id, growers.org_id),
            Decimal::new(70_000, 0),
            Decimal::new(8, 2),
            std::slice::from_ref(&lot),
            today,
        )
        .await?;
        let sale = create_sale(conn, &growers, sell(lot.id, 25_000, Decimal::new(620, 2)))
            .await
            .map_err(fail)?;
        let paid = record_payment(conn, &paying, sale.id, sale.total)
            .await
            .map_err(fail)?;
        demo_release(conn, paid.sale.release_orders[0].id).await?;
        crate::tiers::recompute(conn, today).await?;
        Ok(())
    })
    .await
}
