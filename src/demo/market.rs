//! The demo's market: the cooperative listed 6 t of fresh apples yesterday at CNY 6.80, and
//! Qingdao Fresh Market (silver, earned by the demo's purchases) has offered on 4 t; the Qixia
//! growers listed 4 t two hours ago, which a silver buyer sees only after six — the tier's
//! privilege shown. Through the same services the API runs.

use super::{COLD_STORE, DemoLot, demo_lot, demo_principal, fail};
use crate::db::DbPool;
use crate::market::model::{NewListing, NewOffer};
use crate::market::{service as market, store};
use diesel_async::{AsyncConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

pub(super) async fn load(pool: &DbPool) -> anyhow::Result<()> {
    use crate::db::schema::{listings, warehouses};
    use diesel::{ExpressionMethods, QueryDsl};
    let mut conn = pool.get().await?;
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let existing: i64 = listings::table.count().get_result(conn).await?;
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
        let buyer = demo_principal(conn, "owner@buyer.demo.holdfast").await?;
        let apples = |grade: &'static str, quantity: i64, days_ago: u64| DemoLot {
            commodity: "APPLE_FUJI",
            grade,
            measured: None,
            quantity: Decimal::from(quantity),
            days_ago,
            warehouse: Some(cold_store),
            voyage: None,
        };
        let list = |lot: Uuid, quantity: i64, price: Decimal| NewListing {
            lot_id: lot,
            quantity: Decimal::from(quantity).into(),
            mode: "fixed".into(),
            currency: "CNY".into(),
            unit_price: Some(price.into()),
            loan_id: None,
            auction: None,
        };
        let lot = demo_lot(conn, &cooperative, apples("A", 6_000, 4), today).await?;
        let fresh = market::create_listing(
            conn,
            &cooperative,
            &list(lot.id, 6_000, Decimal::new(680, 2)),
        )
        .await
        .map_err(fail)?;
        store::backdate_opening(conn, fresh.id, chrono::Duration::hours(26)).await?;
        market::make_offer(
            conn,
            &buyer,
            fresh.id,
            &NewOffer {
                quantity: Decimal::from(4_000).into(),
                unit_price: Decimal::new(660, 2).into(),
                valid_hours: None,
            },
        )
        .await
        .map_err(fail)?;
        let lot = demo_lot(conn, &growers, apples("B", 4_000, 10), today).await?;
        let later =
            market::create_listing(conn, &growers, &list(lot.id, 4_000, Decimal::new(590, 2)))
                .await
                .map_err(fail)?;
        store::backdate_opening(conn, later.id, chrono::Duration::hours(2)).await?;
        Ok(())
    })
    .await
}
