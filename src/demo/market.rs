//! The demo's market: the cooperative listed 6 t of fresh apples yesterday at CNY 6.80, and
//! Qingdao Fresh Market (silver, earned by the demo's purchases) has offered on 4 t; the Qixia
//! growers listed 4 t two hours ago, which a silver buyer sees only after six — the tier's
//! privilege shown. The cooperative also auctions 5 t of grade A Fujis, opened yesterday and
//! closing tomorrow, on which Qingdao (silver) and Beijing Xinfadi Wholesale (new, bronze) have
//! bid, each deposit moved from the bidder's market funds into escrow. The Qixia growers run a
//! group buy of 8 t of grade B Fujis at CNY 5.60 (6 t to fill it, closing tomorrow): Qingdao
//! has joined with 3 t and Beijing with 2 t, paid into escrow. And the cooperative sold its
//! 80 m3 of grade B eucalyptus boards at sea forward to Qingdao at CNY 1,480/m3, Qingdao's
//! margin held until the Beibu Gulf Star is unloaded. Through the same services the API runs.

use super::{COLD_STORE, DemoLot, demo_lot, demo_principal, fail};
use crate::auth::Principal;
use crate::db::DbPool;
use crate::market::auction;
use crate::market::model::{
    AuctionTerms, FundsMove, GroupTerms, NewBid, NewJoin, NewListing, NewOffer,
};
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
            group: None,
            forward: None,
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
        auction(conn, today, cold_store, (&cooperative, &buyer)).await?;
        group(conn, today, cold_store, (&growers, &buyer)).await?;
        forward(conn, (&cooperative, &buyer)).await?;
        Ok(())
    })
    .await
}

/// The cooperative's auction and its two bidders, each funded first.
async fn auction(
    conn: &mut diesel_async::AsyncPgConnection,
    today: chrono::NaiveDate,
    cold_store: Uuid,
    (cooperative, qingdao): (&Principal, &Principal),
) -> anyhow::Result<()> {
    let beijing = demo_principal(conn, "owner@wholesale.demo.holdfast").await?;
    let lot = demo_lot(
        conn,
        cooperative,
        DemoLot {
            commodity: "APPLE_FUJI",
            grade: "A",
            measured: None,
            quantity: Decimal::from(5_000),
            days_ago: 6,
            warehouse: Some(cold_store),
            voyage: None,
        },
        today,
    )
    .await?;
    let listed = market::create_listing(
        conn,
        cooperative,
        &NewListing {
            lot_id: lot.id,
            quantity: Decimal::from(5_000).into(),
            mode: "auction".into(),
            currency: "CNY".into(),
            unit_price: None,
            loan_id: None,
            auction: Some(AuctionTerms {
                reserve_price: Decimal::new(620, 2).into(),
                min_increment: Decimal::new(5, 2).into(),
                starts_at: None,
                ends_at: chrono::Utc::now() + chrono::Duration::hours(20),
                extension_minutes: None,
                max_extensions: None,
                deposit_rate: None,
                payment_days: None,
                relist_step: None,
                max_relists: None,
            }),
            group: None,
            forward: None,
        },
    )
    .await
    .map_err(fail)?;
    store::backdate_opening(conn, listed.id, chrono::Duration::hours(26)).await?;
    for (bidder, price) in [(&beijing, 620), (qingdao, 635)] {
        auction::move_funds(
            conn,
            bidder,
            &FundsMove {
                currency: "CNY".into(),
                amount: Decimal::from(50_000).into(),
                org_id: None,
            },
            false,
        )
        .await
        .map_err(fail)?;
        auction::bid(
            conn,
            bidder,
            listed.id,
            &NewBid {
                unit_price: Decimal::new(price, 2).into(),
            },
        )
        .await
        .map_err(fail)?;
    }
    Ok(())
}

/// The growers' group buy, two members in.
async fn group(
    conn: &mut diesel_async::AsyncPgConnection,
    today: chrono::NaiveDate,
    cold_store: Uuid,
    (growers, qingdao): (&Principal, &Principal),
) -> anyhow::Result<()> {
    let beijing = demo_principal(conn, "owner@wholesale.demo.holdfast").await?;
    let lot = demo_lot(
        conn,
        growers,
        DemoLot {
            commodity: "APPLE_FUJI",
            grade: "B",
            measured: None,
            quantity: Decimal::from(8_000),
            days_ago: 8,
            warehouse: Some(cold_store),
            voyage: None,
        },
        today,
    )
    .await?;
    let listed = market::create_listing(
        conn,
        growers,
        &NewListing {
            lot_id: lot.id,
            quantity: Decimal::from(8_000).into(),
            mode: "group".into(),
            currency: "CNY".into(),
            unit_price: None,
            loan_id: None,
            auction: None,
            group: Some(GroupTerms {
                group_price: Decimal::new(560, 2).into(),
                min_total_quantity: Decimal::from(6_000).into(),
                deadline: chrono::Utc::now() + chrono::Duration::hours(30),
            }),
            forward: None,
        },
    )
    .await
    .map_err(fail)?;
    store::backdate_opening(conn, listed.id, chrono::Duration::hours(26)).await?;
    for (member, quantity) in [(qingdao, 3_000), (&beijing, 2_000)] {
        crate::market::group::join(
            conn,
            member,
            listed.id,
            &NewJoin {
                quantity: Decimal::from(quantity).into(),
            },
        )
        .await
        .map_err(fail)?;
    }
    Ok(())
}

/// The cooperative's grade B boards at sea, sold forward to Qingdao.
async fn forward(
    conn: &mut diesel_async::AsyncPgConnection,
    (cooperative, qingdao): (&Principal, &Principal),
) -> anyhow::Result<()> {
    use crate::db::schema::lots;
    use diesel::{ExpressionMethods, QueryDsl};
    let boards: Uuid = lots::table
        .filter(lots::commodity_code.eq("EUCALYPTUS_BOARD"))
        .filter(lots::grade.eq("B"))
        .filter(lots::status.eq("in_transit"))
        .filter(lots::owner_org_id.eq(cooperative.org_id))
        .select(lots::id)
        .first(conn)
        .await?;
    let listed = market::create_listing(
        conn,
        cooperative,
        &NewListing {
            lot_id: boards,
            quantity: Decimal::from(80).into(),
            mode: "forward".into(),
            currency: "CNY".into(),
            unit_price: Some(Decimal::from(1_480).into()),
            loan_id: None,
            auction: None,
            group: None,
            forward: None,
        },
    )
    .await
    .map_err(fail)?;
    store::backdate_opening(conn, listed.id, chrono::Duration::hours(26)).await?;
    let offer = market::make_offer(
        conn,
        qingdao,
        listed.id,
        &NewOffer {
            quantity: Decimal::from(80).into(),
            unit_price: Decimal::from(1_480).into(),
            valid_hours: None,
        },
    )
    .await
    .map_err(fail)?;
    market::accept(conn, cooperative, offer.id)
        .await
        .map_err(fail)?;
    Ok(())
}
