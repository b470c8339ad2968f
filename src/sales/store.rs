//! Queries for sales, their lines, payments, consents and settlements.

use super::model::SaleRow;
use crate::db::schema::sales;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// The sale, locked for the rest of the transaction (see `crate::locks`).
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<SaleRow> {
    sales::table
        .find(id)
        .select(SaleRow::as_select())
        .for_update()
        .first(conn)
        .await
}
