//! Price use cases shared by the API and the CLI: storing a feed, and revaluing every loan's
//! collateral after a price change.

use crate::auth::Principal;
use crate::domain::inputs::UnitPrice;
use crate::domain::price_feed::PriceRow;
use crate::error::{ApiError, ApiResult};
use crate::integrity::{self, Change};
use crate::lending::revaluation::{self, Scope};
use crate::reference::prices as store;
use crate::reference::prices::Price;
use crate::reference::store as reference;
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /v1/prices`: one price.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPrice {
    #[schema(pattern = r"^[A-Z][A-Z0-9_]{1,31}$")]
    pub commodity_code: String,
    /// For the commodity's reference grade, per unit.
    pub price_per_unit: UnitPrice,
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub currency: String,
    pub as_of: DateTime<Utc>,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub source: String,
}

/// Stores one price in the caller's transaction (the commodity must exist, the time may not
/// be in the future, a source gives one price per commodity and time) and revalues the loans.
pub async fn post(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewPrice,
) -> ApiResult<Price> {
    crate::http::validate::unit_price("price_per_unit", new.price_per_unit.value(), 6)?;
    let currency = crate::http::validate::currency("currency", &new.currency)?;
    let source = crate::http::validate::text("source", &new.source, 200)?;
    let row = PriceRow {
        line: 1,
        commodity_code: new.commodity_code.clone(),
        price_per_unit: new.price_per_unit.value(),
        currency,
        as_of: new.as_of,
        source,
    };
    if row.as_of > latest_allowed(conn).await? {
        return Err(ApiError::invalid(
            "as_of",
            "a price cannot be from the future",
        ));
    }
    if reference::find_commodity(conn, &row.commodity_code)
        .await?
        .is_none()
    {
        return Err(ApiError::unknown_reference(
            "commodity_code",
            "no such commodity",
        ));
    }
    let price = store::insert(conn, &row, Some(principal.user_id))
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "price_exists",
                "this source already gave a price for this commodity at this time",
            )
        })?;
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "price.posted",
            object_kind: "price",
            object_id: price.id.to_string(),
            org_ids: vec![principal.org_id],
            before: None,
            after: Some(serde_json::to_value(&price).map_err(ApiError::internal)?),
        },
    )
    .await?;
    revalue_after_price_change(conn).await?;
    Ok(price)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// New prices stored.
    pub imported: usize,
    /// Rows already stored by an earlier import of the same feed.
    pub already_present: usize,
}

/// Stores `rows` in the caller's transaction: every commodity must exist; a row already
/// stored is skipped. The first bad row fails the whole file.
pub async fn import(
    conn: &mut AsyncPgConnection,
    rows: &[PriceRow],
    by: Option<Uuid>,
) -> ApiResult<Imported> {
    let mut imported = 0;
    let latest_allowed = latest_allowed(conn).await?;
    for row in rows {
        if row.as_of > latest_allowed {
            return Err(ApiError::invalid(
                "as_of",
                format!("line {}: a price cannot be from the future", row.line),
            )
            .with("line", row.line));
        }
        if reference::find_commodity(conn, &row.commodity_code)
            .await?
            .is_none()
        {
            return Err(ApiError::invalid(
                "commodity_code",
                format!("line {}: no commodity `{}`", row.line, row.commodity_code),
            )
            .with("line", row.line));
        }
        if store::insert(conn, row, by).await?.is_some() {
            imported += 1;
        }
    }
    if imported > 0 {
        revalue_after_price_change(conn).await?;
    }
    Ok(Imported {
        imported,
        already_present: rows.len() - imported,
    })
}

/// The latest `as_of` a price may carry: the end of the business date (which tests and demos
/// may move forward), and never more than a few minutes past the clock otherwise.
/// A daily feed as CSV text (`commodity_code,price_per_unit,currency,as_of,source`): a bad
/// row is refused with its line number and nothing is written; rows imported before are
/// skipped. One transaction, recorded in the audit log.
pub async fn import_feed(
    conn: &mut AsyncPgConnection,
    principal: &crate::auth::Principal,
    text: &str,
) -> ApiResult<Imported> {
    let rows = crate::domain::price_feed::parse(text).map_err(|e| {
        ApiError::invalid(e.field.as_deref().unwrap_or("body"), e.to_string()).with("line", e.line)
    })?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let outcome = import(conn, &rows, Some(principal.user_id)).await?;
        crate::integrity::record(
            conn,
            Some(principal),
            crate::integrity::Change {
                action: "prices.imported",
                object_kind: "price_feed",
                object_id: format!("{} rows", rows.len()),
                org_ids: vec![principal.org_id],
                before: None,
                after: Some(serde_json::json!({"imported": outcome.imported, "already_present": outcome.already_present})),
            },
        )
        .await?;
        Ok(outcome)
    })
    .await
}

pub async fn latest_allowed(conn: &mut AsyncPgConnection) -> ApiResult<DateTime<Utc>> {
    let business_end = crate::calendar::business_date(conn)
        .await?
        .and_hms_opt(23, 59, 59)
        .map(|t| t.and_utc())
        .ok_or_else(|| ApiError::internal("business date out of range"))?;
    Ok(business_end.max(Utc::now() + chrono::Duration::minutes(5)))
}

/// A new price revalues every loan's collateral and applies the margin-call rules, in the
/// price's transaction.
pub async fn revalue_after_price_change(conn: &mut AsyncPgConnection) -> ApiResult<()> {
    let today = crate::calendar::business_date(conn).await?;
    let outcome = revaluation::revalue(conn, today, Scope::All, "revaluation").await?;
    tracing::info!(?outcome, "revalued after a price change");
    Ok(())
}
