//! The demo world `serve --demo` loads: the platform admin and, for each org kind, an org with
//! an owner and a staff user. Loading twice changes nothing.

use crate::auth::{OrgKind, Permission, Role};
use crate::db::DbPool;
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
];

/// Creates what is missing and answers the logins.
pub async fn load(pool: &DbPool) -> anyhow::Result<Vec<DemoLogin>> {
    let logins = load_people(pool).await?;
    load_custody(pool).await?;
    load_lending(pool).await?;
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
    use crate::lots::store as lots;
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
            let shelf_life = if commodity == "APPLE_FUJI" { 180 } else { 3650 };
            let packed_on = today - chrono::Days::new(days_ago);
            let code = crate::domain::lot_code::LotCode::generate();
            let lot = lots::insert(
                conn,
                lots::NewLotValues {
                    id: uuid::Uuid::new_v4(),
                    code: code.as_str(),
                    owner_org_id: supplier.id,
                    commodity_code: commodity,
                    grade,
                    unit,
                    status: "announced",
                    quantity_announced: quantity,
                    warehouse_id: warehouse,
                    voyage_id: on_voyage,
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
                warehouse_id: warehouse,
                voyage_id: on_voyage,
                release_order_id: None,
                related_lot_id: None,
                reason: None,
                details: json!({"demo": true}),
                actor_user_id: None,
            };
            lots::record_movement(conn, movement("announce", Decimal::ZERO, "announced")).await?;
            let (kind, status) = if warehouse.is_some() {
                ("receive", "in_custody")
            } else {
                ("load", "in_transit")
            };
            lots::record_movement(conn, movement(kind, quantity, status)).await?;
            if let Some(warehouse) = warehouse {
                let rate = reference::storage_rate(conn, warehouse, commodity).await?;
                lots::stamp_receipt(conn, lot.id, rate.as_ref()).await?;
            } else {
                lots::stamp_receipt(conn, lot.id, None).await?;
            }
        }
        reference::set_voyage_status(conn, voyage.id, "underway").await?;
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

/// Shandong Harvest Bank's facilities for the orchard cooperative: apples in the cold store at
/// 8 % with loans at 50 % of their value, and boards at sea at a low 3.5 %, because the
/// platform's ship holds them.
async fn load_lending(pool: &DbPool) -> anyhow::Result<()> {
    use crate::db::schema::{facilities, loans, lots};
    use crate::domain::lending::lending_value;
    use crate::ledger::{AccountKind, Entry, Line};
    use crate::lending::revaluation::{self, Scope};
    use crate::lots::model::LotRow;
    use crate::lots::valuation::{Terms, appraise};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use rust_decimal::Decimal;
    use uuid::Uuid;

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
        for (commodity, rate, advance) in [
            ("APPLE_FUJI", Decimal::new(8, 2), Decimal::new(50, 2)),
            ("EUCALYPTUS_BOARD", Decimal::new(35, 3), Decimal::new(50, 2)),
        ] {
            let facility_id = Uuid::new_v4();
            let eligible = vec![commodity.to_owned()];
            diesel::insert_into(facilities::table)
                .values((
                    facilities::id.eq(facility_id),
                    facilities::lender_org_id.eq(lender.id),
                    facilities::supplier_org_id.eq(supplier.id),
                    facilities::currency.eq("CNY"),
                    facilities::limit_amount.eq(Decimal::new(2_000_000, 0)),
                    facilities::advance_rate.eq(advance),
                    facilities::annual_interest_rate.eq(rate),
                    facilities::margin_call_ltv.eq(Decimal::new(65, 2)),
                    facilities::liquidation_ltv.eq(Decimal::new(80, 2)),
                    facilities::cure_period_days.eq(3),
                    facilities::max_tenor_days.eq(120),
                    facilities::eligible_commodities.eq(&eligible),
                ))
                .execute(conn)
                .await?;
            let pledged: Vec<LotRow> = lots::table
                .filter(lots::owner_org_id.eq(supplier.id))
                .filter(lots::commodity_code.eq(commodity))
                .filter(lots::status.eq_any(["in_custody", "in_transit"]))
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
                let principal = lending_value(value, advance, 2);
                if principal <= Decimal::ZERO {
                    continue;
                }
                let loan_id = Uuid::new_v4();
                diesel::insert_into(loans::table)
                    .values((
                        loans::id.eq(loan_id),
                        loans::facility_id.eq(facility_id),
                        loans::lender_org_id.eq(lender.id),
                        loans::supplier_org_id.eq(supplier.id),
                        loans::currency.eq("CNY"),
                        loans::principal.eq(principal),
                        loans::outstanding_principal.eq(principal),
                        loans::annual_interest_rate.eq(rate),
                        loans::status.eq("active"),
                        loans::approved_at.eq(chrono::Utc::now()),
                        loans::disbursed_at.eq(chrono::Utc::now()),
                        loans::disbursed_on.eq(today),
                        loans::accrued_through.eq(today),
                        loans::maturity_date.eq(today + chrono::Days::new(120)),
                    ))
                    .execute(conn)
                    .await?;
                for lot in &group {
                    crate::lending::store::pledge(conn, loan_id, lot.id, lot.quantity_on_hand)
                        .await?;
                }
                crate::ledger::post(
                    conn,
                    Entry {
                        kind: "disbursement",
                        loan_id: Some(loan_id),
                        sale_id: None,
                        memo: format!("disbursement of loan {loan_id} (demo)"),
                        currency: "CNY",
                        business_date: today,
                        created_by: None,
                        lines: vec![
                            Line::debit(lender.id, AccountKind::LoansReceivable, principal),
                            Line::credit(lender.id, AccountKind::Cash, principal),
                            Line::debit(supplier.id, AccountKind::Cash, principal),
                            Line::credit(supplier.id, AccountKind::LoansPayable, principal),
                        ],
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            }
        }
        revaluation::revalue(conn, today, Scope::All, "revaluation").await?;
        Ok(())
    })
    .await
}
