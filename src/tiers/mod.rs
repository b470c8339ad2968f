//! Customer tiers: bronze, silver, gold, platinum, earned over the trailing 90 business days
//! and lost the same way, by suppliers and by buyers. The daily job recomputes every
//! supplier's tier in one statement and every buyer's in another;
//! a tier sets the fee factor (1.00, 0.95, 0.90, 0.85; table `tiers`), and every change is
//! kept in `tier_history`.
//!
//! A supplier holds the highest tier whose thresholds (table `tier_thresholds`, per currency)
//! it meets in one currency: value released through settled sales, loans repaid on or before
//! maturity, and the share of stock counts of its goods that found no discrepancy (no counts
//! counts as clean). A loan that defaulted in the window holds it at bronze.

use crate::db::schema::{orgs, tier_history, tiers};
use crate::error::{ApiError, ApiResult};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Jsonb, Nullable, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// How many business days back a tier looks, including the day itself.
pub const WINDOW_DAYS: i32 = 90;

/// Each supplier's figures over the window ending on $1 ($2: one org, or NULL for all), and
/// the tier they earn.
macro_rules! earned {
    () => {
        "
WITH suppliers AS (
    SELECT id, tier FROM orgs WHERE kind = 'supplier' AND ($2::uuid IS NULL OR id = $2)),
released AS (
    SELECT s.supplier_org_id AS org_id, s.currency, sum(st.gross) AS value
    FROM settlements st JOIN sales s ON s.id = st.sale_id
    WHERE st.business_date BETWEEN $1 - 89 AND $1
    GROUP BY 1, 2),
repaid AS (
    SELECT supplier_org_id AS org_id, count(*) AS n FROM loans
    WHERE status = 'repaid' AND repaid_on BETWEEN $1 - 89 AND $1 AND repaid_on <= maturity_date
    GROUP BY 1),
defaulted AS (
    SELECT supplier_org_id AS org_id, count(*) AS n FROM loans
    WHERE defaulted_on BETWEEN $1 - 89 AND $1 GROUP BY 1),
counted AS (
    SELECT owner_org_id AS org_id, count(*) AS n,
           count(*) FILTER (WHERE quantity_counted = quantity_book) AS clean
    FROM stock_counts WHERE business_date BETWEEN $1 - 89 AND $1 GROUP BY 1),
figures AS (
    SELECT s.id AS org_id, s.tier AS previous,
           coalesce(rp.n, 0) AS repaid, coalesce(d.n, 0) AS defaulted,
           coalesce(c.n, 0) AS counts, coalesce(c.clean, 0) AS clean,
           CASE WHEN coalesce(c.n, 0) = 0 THEN 1 ELSE c.clean::numeric / c.n END AS clean_share
    FROM suppliers s
    LEFT JOIN repaid rp ON rp.org_id = s.id
    LEFT JOIN defaulted d ON d.org_id = s.id
    LEFT JOIN counted c ON c.org_id = s.id),
earned AS (
    SELECT f.*, coalesce((
        SELECT t.tier FROM tier_thresholds th JOIN tiers t ON t.tier = th.tier
        LEFT JOIN released r ON r.org_id = f.org_id AND r.currency = th.currency
        WHERE f.defaulted = 0
          AND coalesce(r.value, 0) >= th.min_value_released
          AND f.repaid >= th.min_loans_repaid_on_time
          AND f.clean_share >= th.min_clean_count_share
        ORDER BY t.rank DESC LIMIT 1), 'bronze') AS tier,
        jsonb_build_object(
            'window_from', $1 - 89, 'window_to', $1,
            'value_released', coalesce((SELECT jsonb_object_agg(r.currency, round(r.value, minor_units(r.currency))::text) FROM released r WHERE r.org_id = f.org_id), '{}'),
            'loans_repaid_on_time', f.repaid, 'loans_defaulted', f.defaulted,
            'stock_counts', f.counts, 'clean_stock_counts', f.clean) AS metrics
    FROM figures f)
"
    };
}

/// Each buyer's figures over the window ending on $1 ($2: one org, or NULL for all), and the
/// tier they earn: per currency, the value and number of purchases completed (settled), and
/// the share paid on time — in full within [`PAYMENT_DAYS`] days of the sale; a sale still
/// unpaid past that counts as late. No purchase at all counts as on time.
macro_rules! earned_buyers {
    () => {
        "
WITH buyers AS (
    SELECT id, tier FROM orgs WHERE kind = 'buyer' AND ($2::uuid IS NULL OR id = $2)),
window_sales AS (
    -- When each purchase had to be paid: a forward sale by its due date (never while its goods
    -- are still at sea), an auction's award by its payment deadline, any other within two days.
    SELECT s.buyer_org_id AS org_id, s.currency, s.total, s.status, s.created_at, s.settled_at,
           coalesce(
               (SELECT coalesce(d.due_at, 'infinity') FROM market_deposits d
                 WHERE d.sale_id = s.id AND d.kind = 'margin'),
               (SELECT l.payment_due_at FROM listings l WHERE l.sale_id = s.id),
               s.created_at + interval '2 days') AS due_at
    FROM sales s JOIN buyers b ON b.id = s.buyer_org_id
    WHERE s.created_at < ($1 + 1)::timestamp AT TIME ZONE 'UTC'
      AND s.created_at >= ($1 - 89)::timestamp AT TIME ZONE 'UTC'),
purchased AS (
    SELECT org_id, currency, sum(total) AS value, count(*) AS n FROM window_sales
    WHERE status = 'settled' GROUP BY 1, 2),
timeliness AS (
    SELECT org_id,
           count(*) FILTER (WHERE status = 'settled' AND settled_at <= due_at) AS on_time,
           count(*) FILTER (WHERE status IN ('settled', 'forfeited') OR (status = 'pending'
                                  AND due_at < ($1 + 1)::timestamp AT TIME ZONE 'UTC')) AS counted
    FROM window_sales GROUP BY 1),
figures AS (
    SELECT b.id AS org_id, b.tier AS previous,
           coalesce(t.on_time, 0) AS on_time, coalesce(t.counted, 0) AS counted,
           CASE WHEN coalesce(t.counted, 0) = 0 THEN 1 ELSE t.on_time::numeric / t.counted END AS on_time_share
    FROM buyers b LEFT JOIN timeliness t ON t.org_id = b.id),
earned AS (
    SELECT f.*, coalesce((
        SELECT t.tier FROM buyer_tier_thresholds th JOIN tiers t ON t.tier = th.tier
        LEFT JOIN purchased p ON p.org_id = f.org_id AND p.currency = th.currency
        WHERE coalesce(p.value, 0) >= th.min_value_purchased
          AND coalesce(p.n, 0) >= th.min_purchases_completed
          AND f.on_time_share >= th.min_on_time_share
        ORDER BY t.rank DESC LIMIT 1), 'bronze') AS tier,
        jsonb_build_object(
            'window_from', $1 - 89, 'window_to', $1,
            'value_purchased', coalesce((SELECT jsonb_object_agg(p.currency, round(p.value, minor_units(p.currency))::text) FROM purchased p WHERE p.org_id = f.org_id), '{}'),
            'purchases_completed', coalesce((SELECT jsonb_object_agg(p.currency, p.n) FROM purchased p WHERE p.org_id = f.org_id), '{}'),
            'paid_on_time', f.on_time, 'payments_counted', f.counted,
            'on_time_share', round(f.on_time_share, 4)::text) AS metrics
    FROM figures f)
"
    };
}

/// What a change of tier writes: the org's tier, its history, an event.
macro_rules! apply_earned {
    () => {
        ", \
         changed AS ( \
             UPDATE orgs o SET tier = e.tier FROM earned e \
             WHERE o.id = e.org_id AND o.tier <> e.tier \
             RETURNING o.id, e.tier, e.previous, e.metrics), \
         history AS ( \
             INSERT INTO tier_history (org_id, tier, previous_tier, business_date, metrics) \
             SELECT id, tier, previous, $1, metrics FROM changed RETURNING org_id, tier, previous_tier), \
         feed AS ( \
             INSERT INTO outbox_events (org_ids, event_type, payload) \
             SELECT ARRAY[org_id], 'org.tier_changed', \
                    jsonb_build_object('object_kind', 'org', 'object_id', org_id, 'actor_user_id', NULL, \
                                       'data', jsonb_build_object('tier', tier, 'previous_tier', previous_tier, 'business_date', $1)) \
             FROM history RETURNING 1) \
         SELECT count(*) AS n FROM feed"
    };
}

/// How many days after a sale its buyer pays in full to count as on time.
pub const PAYMENT_DAYS: i32 = 2;

#[derive(QueryableByName)]
struct Changed {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Recomputes every supplier's and every buyer's tier on `day`; answers how many changed.
pub async fn recompute(conn: &mut AsyncPgConnection, day: NaiveDate) -> QueryResult<i64> {
    let suppliers: Changed = diesel::sql_query(concat!(earned!(), apply_earned!()))
        .bind::<Date, _>(day)
        .bind::<Nullable<SqlUuid>, _>(None::<Uuid>)
        .get_result(conn)
        .await?;
    let buyers: Changed = diesel::sql_query(concat!(earned_buyers!(), apply_earned!()))
        .bind::<Date, _>(day)
        .bind::<Nullable<SqlUuid>, _>(None::<Uuid>)
        .get_result(conn)
        .await?;
    Ok(suppliers.n + buyers.n)
}

/// An org's tier and its fee factor.
pub async fn of_org(conn: &mut AsyncPgConnection, org: Uuid) -> ApiResult<(String, Decimal)> {
    orgs::table
        .inner_join(tiers::table.on(tiers::tier.eq(orgs::tier)))
        .filter(orgs::id.eq(org))
        .select((orgs::tier, tiers::fee_factor))
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::internal("org without a tier"))
}

#[derive(QueryableByName)]
struct Earned {
    #[diesel(sql_type = diesel::sql_types::Text)]
    tier: String,
    #[diesel(sql_type = Jsonb)]
    metrics: Value,
}

/// What the next tier takes in one currency: a supplier's figures or a buyer's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Requirement {
    Supplier(SupplierRequirement),
    Buyer(BuyerRequirement),
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BuyerRequirement {
    pub currency: String,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub min_value_purchased: Decimal,
    pub min_purchases_completed: i32,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub min_on_time_share: Decimal,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SupplierRequirement {
    pub currency: String,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub min_value_released: Decimal,
    pub min_loans_repaid_on_time: i32,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub min_clean_count_share: Decimal,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NextTier {
    pub tier: String,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub fee_factor: Decimal,
    /// Meet every figure of one currency's row, with no loan defaulted in the window.
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Serialize, Queryable, utoipa::ToSchema)]
pub struct HistoryItem {
    pub tier: String,
    pub previous_tier: Option<String>,
    pub business_date: NaiveDate,
    #[schema(value_type = Object)]
    pub metrics: Value,
    pub created_at: DateTime<Utc>,
}

/// A supplier's tier, what it is based on and what the next one takes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TierStatus {
    pub tier: String,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub fee_factor: Decimal,
    /// The figures of the trailing 90 days as of the business date.
    #[schema(value_type = Object)]
    pub metrics: Value,
    /// The tier those figures earn; the daily job moves `tier` to it.
    pub earned_tier: String,
    /// What the tier brings in the market: how long after a listing opens the org sees it
    /// as a buyer, and the factor on its auction deposits.
    pub market: MarketPrivileges,
    /// None at platinum.
    pub next: Option<NextTier>,
    /// The latest changes, newest first.
    pub history: Vec<HistoryItem>,
}

#[derive(Debug, Serialize, Queryable, utoipa::ToSchema)]
pub struct MarketPrivileges {
    pub visibility_delay_minutes: i32,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub deposit_factor: Decimal,
}

async fn privileges(conn: &mut AsyncPgConnection, tier: &str) -> ApiResult<MarketPrivileges> {
    use crate::db::schema::tier_privileges as p;
    Ok(p::table
        .find(tier)
        .select((p::visibility_delay_minutes, p::deposit_factor))
        .first(conn)
        .await?)
}

/// The tier above `tier`, with what it takes in each currency; none at the top.
async fn next_tier(
    conn: &mut AsyncPgConnection,
    tier: &str,
    buyer: bool,
) -> ApiResult<Option<NextTier>> {
    let all: Vec<(String, i32, Decimal)> = tiers::table
        .order(tiers::rank)
        .select((tiers::tier, tiers::rank, tiers::fee_factor))
        .load(conn)
        .await?;
    let rank = all
        .iter()
        .find(|(t, _, _)| t == tier)
        .map(|(_, r, _)| *r)
        .unwrap_or(0);
    Ok(match all.iter().find(|(_, r, _)| *r == rank + 1) {
        Some((next_tier, _, factor)) if buyer => {
            use crate::db::schema::buyer_tier_thresholds as b;
            let rows: Vec<(String, Decimal, i32, Decimal)> = b::table
                .filter(b::tier.eq(next_tier))
                .order(b::currency)
                .select((
                    b::currency,
                    b::min_value_purchased,
                    b::min_purchases_completed,
                    b::min_on_time_share,
                ))
                .load(conn)
                .await?;
            Some(NextTier {
                tier: next_tier.clone(),
                fee_factor: *factor,
                requirements: rows
                    .into_iter()
                    .map(|(currency, value, count, share)| {
                        Requirement::Buyer(BuyerRequirement {
                            currency,
                            min_value_purchased: value,
                            min_purchases_completed: count,
                            min_on_time_share: share,
                        })
                    })
                    .collect(),
            })
        }
        Some((next_tier, _, factor)) => {
            let rows: Vec<(String, Decimal, i32, Decimal)> =
                crate::db::schema::tier_thresholds::table
                    .filter(crate::db::schema::tier_thresholds::tier.eq(next_tier))
                    .order(crate::db::schema::tier_thresholds::currency)
                    .select((
                        crate::db::schema::tier_thresholds::currency,
                        crate::db::schema::tier_thresholds::min_value_released,
                        crate::db::schema::tier_thresholds::min_loans_repaid_on_time,
                        crate::db::schema::tier_thresholds::min_clean_count_share,
                    ))
                    .load(conn)
                    .await?;
            Some(NextTier {
                tier: next_tier.clone(),
                fee_factor: *factor,
                requirements: rows
                    .into_iter()
                    .map(|(currency, value, repaid, share)| {
                        Requirement::Supplier(SupplierRequirement {
                            currency,
                            min_value_released: value,
                            min_loans_repaid_on_time: repaid,
                            min_clean_count_share: share,
                        })
                    })
                    .collect(),
            })
        }
        None => None,
    })
}

/// A supplier's or a buyer's tier (`buyer`), the figures it stands on, what it brings and
/// what the next one takes.
pub async fn status(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    today: NaiveDate,
    buyer: bool,
) -> ApiResult<TierStatus> {
    let (tier, fee_factor) = of_org(conn, org).await?;
    let query = if buyer {
        concat!(earned_buyers!(), " SELECT tier, metrics FROM earned")
    } else {
        concat!(earned!(), " SELECT tier, metrics FROM earned")
    };
    let earned: Earned = diesel::sql_query(query)
        .bind::<Date, _>(today)
        .bind::<Nullable<SqlUuid>, _>(Some(org))
        .get_result(conn)
        .await?;
    let market = privileges(conn, &tier).await?;
    let next = next_tier(conn, &tier, buyer).await?;
    let history: Vec<HistoryItem> = tier_history::table
        .filter(tier_history::org_id.eq(org))
        .order(tier_history::id.desc())
        .limit(20)
        .select((
            tier_history::tier,
            tier_history::previous_tier,
            tier_history::business_date,
            tier_history::metrics,
            tier_history::created_at,
        ))
        .load(conn)
        .await?;
    Ok(TierStatus {
        tier,
        fee_factor,
        metrics: earned.metrics,
        earned_tier: earned.tier,
        market,
        next,
        history,
    })
}
