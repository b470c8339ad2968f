//! Queries for prices.

use crate::db::schema::prices;
use crate::domain::price_feed::PriceRow;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = prices)]
pub struct Price {
    #[serde(skip)]
    pub id: i64,
    pub commodity_code: String,
    #[serde(with = "crate::domain::decimal::price")]
    #[schema(value_type = String)]
    pub price_per_unit: Decimal,
    pub currency: String,
    pub as_of: DateTime<Utc>,
    pub source: String,
    pub created_at: DateTime<Utc>,
}

/// Inserts the price unless the same commodity, currency, time and source is already there.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    row: &PriceRow,
    by: Option<Uuid>,
) -> QueryResult<Option<Price>> {
    diesel::insert_into(prices::table)
        .values((
            prices::commodity_code.eq(&row.commodity_code),
            prices::price_per_unit.eq(row.price_per_unit),
            prices::currency.eq(&row.currency),
            prices::as_of.eq(row.as_of),
            prices::source.eq(&row.source),
            prices::created_by.eq(by),
        ))
        .on_conflict_do_nothing()
        .returning(Price::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Newest first: by the time a price is for (`as_of`), then the order it was recorded in. A
/// page continues after the price whose id is `after_id`.
pub async fn history(
    conn: &mut AsyncPgConnection,
    commodity: Option<&str>,
    after_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Price>> {
    use diesel::sql_types::BigInt;
    let mut query = prices::table
        .select(Price::as_select())
        .order((prices::as_of.desc(), prices::id.desc()))
        .limit(limit + 1)
        .into_boxed();
    if let Some(code) = commodity {
        query = query.filter(prices::commodity_code.eq(code.to_owned()));
    }
    if let Some(after) = after_id {
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(
                "(as_of, id) < (SELECT p.as_of, p.id FROM prices p WHERE p.id = ",
            )
            .bind::<BigInt, _>(after)
            .sql(")"),
        );
    }
    query.load(conn).await
}

/// The latest price of the commodity at or before `at`.
pub async fn latest(
    conn: &mut AsyncPgConnection,
    commodity: &str,
    currency: Option<&str>,
    at: DateTime<Utc>,
) -> QueryResult<Option<Price>> {
    let mut query = prices::table
        .filter(prices::commodity_code.eq(commodity))
        .filter(prices::as_of.le(at))
        .into_boxed();
    if let Some(currency) = currency {
        query = query.filter(prices::currency.eq(currency.to_owned()));
    }
    query
        .order((prices::as_of.desc(), prices::id.desc()))
        .select(Price::as_select())
        .first(conn)
        .await
        .optional()
}
