//! Queries of scanning: stock counts. Movements are written through `lots::store`, the one
//! place that keeps a lot and its movement ledger in step.

use crate::db::schema::stock_counts;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

/// One count of a lot against its book, clean or not (a supplier's tier counts the clean).
pub struct StockCount {
    pub lot_id: Uuid,
    pub owner_org_id: Uuid,
    pub warehouse_id: Uuid,
    pub quantity_book: Decimal,
    pub quantity_counted: Decimal,
    pub counted_by: Uuid,
    pub business_date: NaiveDate,
}

pub async fn insert_count(conn: &mut AsyncPgConnection, count: StockCount) -> QueryResult<()> {
    diesel::insert_into(stock_counts::table)
        .values((
            stock_counts::lot_id.eq(count.lot_id),
            stock_counts::owner_org_id.eq(count.owner_org_id),
            stock_counts::warehouse_id.eq(count.warehouse_id),
            stock_counts::quantity_book.eq(count.quantity_book),
            stock_counts::quantity_counted.eq(count.quantity_counted),
            stock_counts::counted_by.eq(count.counted_by),
            stock_counts::business_date.eq(count.business_date),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
