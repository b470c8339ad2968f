//! The demo world `serve --demo` loads: the platform admin and, for each org kind, an org with
//! an owner and a staff user. Loading twice changes nothing.

use crate::auth::{OrgKind, Permission, Role};
use crate::db::DbPool;
use crate::domain::states::LotStatus;
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
    ("Beijing Xinfadi Wholesale", OrgKind::Buyer, "wholesale"),
    ("Qixia Apple Growers", OrgKind::Supplier, "grower"),
    (
        "Jiaodong Quality Inspection",
        OrgKind::Inspector,
        "inspector",
    ),
];

/// Creates what is missing and answers the logins.
pub async fn load(pool: &DbPool) -> anyhow::Result<Vec<DemoLogin>> {
    let logins = load_people(pool).await?;
    load_custody(pool).await?;
    load_lending(pool).await?;
    load_sales(pool).await?;
    inspections::load(pool).await?;
    market::load(pool).await?;
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

mod inspections;
mod market;

const COLD_STORE: &str = "Yantai Cold Store No. 1";

/// The Yantai cold store with apple lots in custody, and the Guangxi voyage with eucalyptus
/// boards in transit to the Rizhao timber yard.
/// Long because the demo world is a list of things to create.
async fn load_custody(pool: &DbPool) -> anyhow::Result<()> {
    use crate::domain::quantity::Unit;
    use crate::domain::states::VoyageStatus;
    use crate::reference::model::{
        NewCommodity, NewVoyage, NewWarehouse, StorageRate, WarehouseKind,
    };
    use crate::reference::{service, store as reference};
    use rust_decimal::Decimal;

    let mut conn = pool.get().await?;
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let warehouses = reference::list_warehouses(conn).await?;
        if warehouses.iter().any(|w| w.name == COLD_STORE) {
            return Ok(());
        }
        let operator = store::find_org_by_name(conn, ORGS[3].0)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo operator missing"))?;
        let today = chrono::Utc::now().date_naive();
        let admin = demo_principal(conn, "owner@platform.demo.holdfast").await?;
        let carrier = demo_principal(conn, "owner@warehouse.demo.holdfast").await?;
        let grades = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(grade, factor)| ((*grade).to_owned(), (*factor).to_owned()))
                .collect()
        };
        for commodity in [
            NewCommodity {
                code: "APPLE_FUJI".into(),
                name: "Fuji apples".into(),
                unit: Unit::Kg,
                shelf_life_days: 180,
                fresh_days: 60,
                end_freshness_factor: Some(Decimal::new(5, 1).into()),
                grades: grades(&[("A", "1.00"), ("B", "0.85"), ("C", "0.60")]),
                temperature_min_c: Some(Decimal::from(-1).into()),
                temperature_max_c: Some(Decimal::from(4).into()),
            },
            NewCommodity {
                code: "EUCALYPTUS_BOARD".into(),
                name: "Eucalyptus boards".into(),
                unit: Unit::M3,
                shelf_life_days: 3650,
                fresh_days: 3650,
                end_freshness_factor: Some(Decimal::ONE.into()),
                grades: grades(&[("A", "1.00"), ("B", "0.90")]),
                temperature_min_c: None,
                temperature_max_c: None,
            },
        ] {
            if reference::find_commodity(conn, &commodity.code)
                .await?
                .is_none()
            {
                service::create_commodity(conn, &admin, &commodity)
                    .await
                    .map_err(fail)?;
            }
        }
        inspections::quality_rules(conn, &admin).await?;
        let rate = |code: &str, rate: Decimal| StorageRate {
            commodity_code: code.into(),
            rate_per_unit_day: rate,
            currency: "CNY".into(),
        };
        let cold_store = service::create_warehouse(
            conn,
            &admin,
            &NewWarehouse {
                name: COLD_STORE.into(),
                operator_org_id: operator.id,
                address: "Zhifu District, Yantai, Shandong".into(),
                kind: WarehouseKind::ColdStorage,
                temperature_min_c: Some(Decimal::from(-1).into()),
                temperature_max_c: Some(Decimal::from(4).into()),
                breach_grace_minutes: Some(30),
                storage_rates: vec![rate("APPLE_FUJI", Decimal::new(4, 3))],
            },
        )
        .await
        .map_err(fail)?;
        let yard = service::create_warehouse(
            conn,
            &admin,
            &NewWarehouse {
                name: "Rizhao Timber Yard".into(),
                operator_org_id: operator.id,
                address: "Lanshan District, Rizhao, Shandong".into(),
                kind: WarehouseKind::Ambient,
                temperature_min_c: None,
                temperature_max_c: None,
                breach_grace_minutes: Some(60),
                storage_rates: vec![rate("EUCALYPTUS_BOARD", Decimal::new(80, 2))],
            },
        )
        .await
        .map_err(fail)?;
        let now = chrono::Utc::now();
        let voyage = service::create_voyage(
            conn,
            &admin,
            &NewVoyage {
                vessel_name: "Beibu Gulf Star".into(),
                carrier_org_id: operator.id,
                origin: "Qinzhou, Guangxi".into(),
                destination: "Rizhao, Shandong".into(),
                destination_warehouse_id: Some(yard.id),
                departs_at: now - chrono::Duration::days(3),
                eta: now + chrono::Duration::days(14),
            },
        )
        .await
        .map_err(fail)?;
        let supplier = demo_principal(conn, "owner@supplier.demo.holdfast").await?;
        let apples = |grade, quantity: i64, days_ago| DemoLot {
            commodity: "APPLE_FUJI",
            grade,
            measured: None,
            quantity: Decimal::from(quantity),
            days_ago,
            warehouse: Some(cold_store.id),
            voyage: None,
        };
        let boards = |grade, quantity: i64| DemoLot {
            commodity: "EUCALYPTUS_BOARD",
            grade,
            measured: None,
            quantity: Decimal::from(quantity),
            days_ago: 10,
            warehouse: None,
            voyage: Some(voyage.id),
        };
        // The 8 t declared A measure B at intake: soft fruit, bruising.
        let downgraded = DemoLot {
            measured: Some("B"),
            ..apples("A", 8_000, 5)
        };
        for lot in [
            apples("A", 20_000, 12),
            apples("B", 15_000, 20),
            downgraded,
            boards("A", 120),
            boards("B", 80),
        ] {
            demo_lot(conn, &supplier, lot, today).await?;
        }
        service::move_voyage(
            conn,
            &carrier,
            voyage.id,
            VoyageStatus::Planned,
            VoyageStatus::Underway,
        )
        .await
        .map_err(fail)?;
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
                crate::reference::prices::insert(
                    conn,
                    &crate::domain::price_feed::PriceRow {
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
    /// The grade the intake inspection measures (the declared one when `None`).
    measured: Option<&'static str>,
    quantity: rust_decimal::Decimal,
    days_ago: u64,
    warehouse: Option<uuid::Uuid>,
    voyage: Option<uuid::Uuid>,
}

/// A lot announced by the supplier, then received into the warehouse (or loaded aboard the
/// voyage) by the warehouse operator's scan, as a supplier and a worker would, through the
/// same services the API runs.
async fn demo_lot(
    conn: &mut diesel_async::AsyncPgConnection,
    owner: &crate::auth::Principal,
    d: DemoLot,
    today: chrono::NaiveDate,
) -> anyhow::Result<crate::lots::model::LotRow> {
    use crate::domain::states::ScanAction;
    use crate::lots::model::NewLot;
    use crate::lots::{service as lots_service, store as lots};
    use crate::scans::model::ScanRequest;
    use crate::scans::service as scans;
    let announced = lots_service::announce(
        conn,
        owner,
        NewLot {
            commodity_code: d.commodity.to_owned(),
            grade: d.grade.to_owned(),
            quantity: d.quantity.into(),
            packed_on: today - chrono::Days::new(d.days_ago),
            warehouse_id: d.warehouse,
            voyage_id: d.voyage,
            insurer: Some("PICC Property and Casualty".to_owned()),
        },
    )
    .await
    .map_err(fail)?;
    let code = announced.code.clone();
    let lot_id = announced.id;
    let worker = demo_principal(conn, "owner@warehouse.demo.holdfast").await?;
    let action = if d.warehouse.is_some() {
        ScanAction::Receive
    } else {
        ScanAction::Load
    };
    let request = ScanRequest {
        code,
        action,
        quantity: Some(d.quantity.into()),
        warehouse_id: None,
        voyage_id: d.voyage,
        release_order_id: None,
        reason: None,
    };
    let scanned = scans::read_code(&request.code).map_err(fail)?;
    scans::scan(conn, &worker, request, scanned)
        .await
        .map_err(fail)?;
    if d.warehouse.is_some() {
        let measured = d.measured.unwrap_or(d.grade);
        inspections::at_intake(conn, &worker, lot_id, d.commodity, measured).await?;
    }
    lots::find_visible(conn, lots::Viewer::All, lot_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo lot vanished"))
}

/// A service's refusal, as the demo loader reports it.
pub(crate) fn fail(error: crate::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", error.code, error.message)
}

fn demo_advance_rate() -> rust_decimal::Decimal {
    rust_decimal::Decimal::new(50, 2)
}

/// A facility of the demo bank, opened by its owner: the design's defaults (advance 0.50,
/// margin call 0.65, liquidation 0.80, 3-day cure), 120-day tenor, for one commodity.
async fn demo_facility(
    conn: &mut diesel_async::AsyncPgConnection,
    bank: &crate::auth::Principal,
    supplier: uuid::Uuid,
    commodity: &str,
    rate: rust_decimal::Decimal,
    limit: rust_decimal::Decimal,
) -> anyhow::Result<uuid::Uuid> {
    use crate::lending::{model::NewFacility, service};
    let new = NewFacility {
        supplier_org_id: supplier,
        currency: "CNY".into(),
        limit: limit.into(),
        advance_rate: Some(demo_advance_rate().into()),
        annual_interest_rate: rate.into(),
        margin_call_ltv: None,
        liquidation_ltv: None,
        cure_period_days: None,
        max_tenor_days: 120,
        eligible_commodities: vec![commodity.to_owned()],
        second_approver_required: false,
        arrangement_fee_rate: None,
    };
    let terms = service::facility_terms(&new).map_err(fail)?;
    let facility = service::open_facility(conn, bank, &new, terms)
        .await
        .map_err(fail)?;
    Ok(facility.id)
}

/// A loan requested by the supplier against all of each lot, approved and paid out by the
/// bank, through the same service the API runs.
async fn demo_loan(
    conn: &mut diesel_async::AsyncPgConnection,
    facility: uuid::Uuid,
    (bank, borrower): (&crate::auth::Principal, &crate::auth::Principal),
    principal: rust_decimal::Decimal,
    lots: &[crate::lots::model::LotRow],
) -> anyhow::Result<uuid::Uuid> {
    use crate::lending::model::{NewLoan, PledgeRequest};
    use crate::lending::service;
    let new = NewLoan {
        facility_id: facility,
        principal: principal.into(),
        collateral: lots
            .iter()
            .map(|lot| PledgeRequest {
                lot_id: lot.id,
                quantity: lot.quantity_on_hand.into(),
            })
            .collect(),
    };
    let loan = service::request(conn, borrower, new).await.map_err(fail)?;
    service::approve(conn, bank, loan.id).await.map_err(fail)?;
    service::disburse(conn, bank, loan.id).await.map_err(fail)?;
    Ok(loan.id)
}

/// Shandong Harvest Bank's facilities for the orchard cooperative: apples in the cold store at
/// 8 % with loans at 50 % of their value, and boards at sea at a low 3.5 %, because the
/// platform's ship holds them.
/// Long because it walks the demo lots, one loan per apple lot and one for the boards.
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
        let bank = demo_principal(conn, "owner@lender.demo.holdfast").await?;
        let borrower = demo_principal(conn, "owner@supplier.demo.holdfast").await?;
        for (commodity, rate) in [
            ("APPLE_FUJI", Decimal::new(8, 2)),
            ("EUCALYPTUS_BOARD", Decimal::new(35, 3)),
        ] {
            let eligible = vec![commodity.to_owned()];
            let facility_id = demo_facility(
                conn,
                &bank,
                supplier.id,
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
                    value += valuation
                        .market_value
                        .map_or(Decimal::ZERO, crate::domain::money::Money::amount);
                }
                let principal = lending_value(value, demo_advance_rate(), 2);
                if principal <= Decimal::ZERO {
                    continue;
                }
                demo_loan(conn, facility_id, (&bank, &borrower), principal, &group).await?;
            }
        }
        revaluation::revalue(conn, today, Scope::All, "revaluation").await?;
        Ok(())
    })
    .await
}

/// The principal of a demo user, as the access middleware would build it.
pub(crate) async fn demo_principal(
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
    lot: &crate::lots::model::LotRow,
    order_id: uuid::Uuid,
) -> anyhow::Result<()> {
    use crate::domain::states::ScanAction;
    use crate::scans::model::ScanRequest;
    use crate::scans::service as scans;
    let worker = demo_principal(conn, "owner@warehouse.demo.holdfast").await?;
    let request = ScanRequest {
        code: lot.code.clone(),
        action: ScanAction::Release,
        quantity: None,
        warehouse_id: None,
        voyage_id: None,
        release_order_id: Some(order_id),
        reason: None,
    };
    let scanned = scans::read_code(&request.code).map_err(fail)?;
    scans::scan(conn, &worker, request, scanned)
        .await
        .map_err(fail)?;
    Ok(())
}

/// Sales at every stage, through the same code the API runs: the cooperative has sold 5 t
/// that has left the store, 3 t that is paid and waits to be picked up, and 2 t the buyer has
/// paid a deposit on; the Qixia growers sold 25 t that repaid their loan, which earns them the
/// silver tier (the cooperative stays bronze).
/// Long because it tells one story, a sale at each stage, in order.
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
            measured: None,
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
                quantity: Decimal::from(quantity).into(),
                unit_price: price.into(),
            }],
            loan_id: None,
        };
        // Released: sold, paid, scanned out.
        let lot = demo_lot(conn, &cooperative, apples(5_000, 30), today).await?;
        let sale = create_sale(
            conn,
            &cooperative,
            sell(lot.id, 5_000, Decimal::new(640, 2)),
        )
        .await
        .map_err(fail)?;
        let paid = record_payment(conn, &paying, sale.id, sale.total.amount())
            .await
            .map_err(fail)?;
        demo_release(conn, &lot, paid.sale.release_orders[0].id).await?;
        // Settled, waiting to be picked up.
        let lot = demo_lot(conn, &cooperative, apples(3_000, 25), today).await?;
        let sale = create_sale(
            conn,
            &cooperative,
            sell(lot.id, 3_000, Decimal::new(600, 2)),
        )
        .await
        .map_err(fail)?;
        record_payment(conn, &paying, sale.id, sale.total.amount())
            .await
            .map_err(fail)?;
        // Pending, with a deposit paid.
        let lot = demo_lot(conn, &cooperative, apples(2_000, 8), today).await?;
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
        let lot = demo_lot(conn, &growers, apples(25_000, 15), today).await?;
        let bank = demo_principal(conn, "owner@lender.demo.holdfast").await?;
        let facility = demo_facility(
            conn,
            &bank,
            growers.org_id,
            "APPLE_FUJI",
            Decimal::new(8, 2),
            Decimal::new(500_000, 0),
        )
        .await?;
        demo_loan(
            conn,
            facility,
            (&bank, &growers),
            Decimal::new(70_000, 0),
            std::slice::from_ref(&lot),
        )
        .await?;
        let sale = create_sale(conn, &growers, sell(lot.id, 25_000, Decimal::new(620, 2)))
            .await
            .map_err(fail)?;
        let paid = record_payment(conn, &paying, sale.id, sale.total.amount())
            .await
            .map_err(fail)?;
        demo_release(conn, &lot, paid.sale.release_orders[0].id).await?;
        crate::tiers::recompute(conn, today).await?;
        Ok(())
    })
    .await
}
