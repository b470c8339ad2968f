//! The business date: every date rule (accrual, freshness, deadlines, statements) reads it,
//! never the wall clock. It is the later of today (UTC) and the last day the daily job closed,
//! so `holdfast jobs daily --as-of` can move it forward when future dates are allowed.

use crate::db::prepared::prepared;
use chrono::NaiveDate;
use diesel::QueryResult;
use diesel::sql_types::Date;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = Date)]
    business_date: NaiveDate,
}

pub async fn business_date(conn: &mut AsyncPgConnection) -> QueryResult<NaiveDate> {
    let row: Row = prepared("SELECT business_date() AS business_date")
        .get_result(conn)
        .await?;
    Ok(row.business_date)
}
