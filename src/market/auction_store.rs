//! The market's money and its deals: bids, the deposits the platform holds (auction deposits,
//! group buyers' payments, forward margins), the auction columns of a listing (high bid, end,
//! extensions, award), and what the market job finds due.

use super::model::BidRow;
use crate::db::prepared::{Cache, prepared};
use crate::db::schema::{bids, listings, market_deposits};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

pub struct NewBidRow {
    pub id: Uuid,
    pub listing_id: Uuid,
    pub buyer_org_id: Uuid,
    pub unit_price: Decimal,
    pub placed_at: DateTime<Utc>,
    pub deposit: Decimal,
    pub created_by: Uuid,
}

pub async fn insert_bid(conn: &mut AsyncPgConnection, row: NewBidRow) -> QueryResult<BidRow> {
    diesel::insert_into(bids::table)
        .values((
            bids::id.eq(row.id),
            bids::listing_id.eq(row.listing_id),
            bids::buyer_org_id.eq(row.buyer_org_id),
            bids::unit_price.eq(row.unit_price),
            bids::placed_at.eq(row.placed_at),
            bids::deposit.eq(row.deposit),
            bids::created_by.eq(row.created_by),
        ))
        .returning(BidRow::as_returning())
        .get_result(conn)
        .await
}

/// A listing's bids after `after` (by sequence), oldest first, at most `limit` + 1.
pub async fn bids_of(
    conn: &mut AsyncPgConnection,
    listing: Uuid,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<BidRow>> {
    bids::table
        .filter(bids::listing_id.eq(listing))
        .filter(bids::seq.gt(after.unwrap_or(0)))
        .order(bids::seq)
        .limit(limit + 1)
        .select(BidRow::as_select())
        .load(conn)
        .await
}

/// The latest `per_listing` bids of each of `listings`, newest first, in one query.
pub async fn latest_bids_of(
    conn: &mut AsyncPgConnection,
    listings: &[Uuid],
    per_listing: i64,
) -> QueryResult<Vec<BidRow>> {
    prepared(
        "SELECT b.id, b.seq, b.listing_id, b.buyer_org_id, b.unit_price, b.placed_at, b.deposit
         FROM unnest($1::uuid[]) AS l(id)
         CROSS JOIN LATERAL (SELECT * FROM bids WHERE listing_id = l.id ORDER BY seq DESC LIMIT $2) b
         ORDER BY b.listing_id, b.seq DESC",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(listings)
    .bind::<diesel::sql_types::BigInt, _>(per_listing)
    .load(conn)
    .await
}

/// The new high bid, and the end as the bid left it.
pub async fn record_high_bid(
    conn: &mut AsyncPgConnection,
    listing: Uuid,
    bidder: Uuid,
    unit_price: Decimal,
    ends_at: DateTime<Utc>,
    extended: bool,
) -> QueryResult<()> {
    diesel::update(listings::table.find(listing))
        .set((
            listings::high_bid.eq(Some(unit_price)),
            listings::high_bidder_org_id.eq(Some(bidder)),
            listings::bid_count.eq(listings::bid_count + 1),
            listings::ends_at.eq(Some(ends_at)),
            listings::extensions_used.eq(listings::extensions_used + i32::from(extended)),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// A deposit the platform holds for the market.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = market_deposits)]
pub struct DepositRow {
    pub id: Uuid,
    pub listing_id: Uuid,
    pub buyer_org_id: Uuid,
    pub currency: String,
    pub amount: Decimal,
    pub status: String,
    pub quantity: Option<Decimal>,
}

/// The deposit a bidder holds on a listing, if any.
pub async fn deposit_of(
    conn: &mut AsyncPgConnection,
    listing: Uuid,
    buyer: Uuid,
) -> QueryResult<Option<DepositRow>> {
    market_deposits::table
        .filter(market_deposits::listing_id.eq(listing))
        .filter(market_deposits::buyer_org_id.eq(buyer))
        .filter(market_deposits::kind.eq("auction"))
        .select(DepositRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// A deposit taken: by whom, on what, how much, under which journal entry.
pub struct NewDeposit<'a> {
    pub listing_id: Uuid,
    pub buyer_org_id: Uuid,
    pub kind: &'a str,
    pub currency: &'a str,
    pub amount: Decimal,
    pub entry: Uuid,
    /// What a group member joined, or what a forward sale sold.
    pub quantity: Option<Decimal>,
    /// A forward margin's sale.
    pub sale_id: Option<Uuid>,
}

pub async fn insert_deposit(conn: &mut AsyncPgConnection, new: NewDeposit<'_>) -> QueryResult<()> {
    diesel::insert_into(market_deposits::table)
        .values((
            market_deposits::id.eq(Uuid::new_v4()),
            market_deposits::listing_id.eq(new.listing_id),
            market_deposits::buyer_org_id.eq(new.buyer_org_id),
            market_deposits::kind.eq(new.kind),
            market_deposits::currency.eq(new.currency),
            market_deposits::amount.eq(new.amount),
            market_deposits::taken_entry_id.eq(new.entry),
            market_deposits::quantity.eq(new.quantity),
            market_deposits::sale_id.eq(new.sale_id),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A buyer's join of a group, if any.
pub async fn join_of(
    conn: &mut AsyncPgConnection,
    listing: Uuid,
    buyer: Uuid,
) -> QueryResult<Option<DepositRow>> {
    market_deposits::table
        .filter(market_deposits::listing_id.eq(listing))
        .filter(market_deposits::buyer_org_id.eq(buyer))
        .filter(market_deposits::kind.eq("group"))
        .select(DepositRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// A group's joined quantity grows by `quantity`.
pub async fn add_joined(
    conn: &mut AsyncPgConnection,
    listing: Uuid,
    quantity: Decimal,
) -> QueryResult<()> {
    diesel::update(listings::table.find(listing))
        .set(listings::quantity_committed.eq(listings::quantity_committed + quantity))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// Open group buys past their deadline (at `now`), at most `limit`.
pub async fn groups_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Uuid>> {
    listings::table
        .filter(listings::status.eq("open"))
        .filter(listings::mode.eq("group"))
        .filter(listings::deadline.le(now))
        .order(listings::deadline)
        .limit(limit)
        .select(listings::id)
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

/// A group's end: `filled` or `failed` (with why).
pub async fn end_group(
    conn: &mut AsyncPgConnection,
    listing: Uuid,
    status: &str,
    outcome: Option<&str>,
) -> QueryResult<()> {
    diesel::update(listings::table.find(listing))
        .set((
            listings::status.eq(status),
            listings::outcome.eq(outcome),
            listings::closed_at.eq(Some(Utc::now())),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// A forward margin still held whose goods are no longer at sea (or whose sale ended).
#[derive(Debug, diesel::QueryableByName)]
pub struct Arrived {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub listing_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub sale_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub buyer_org_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub amount: Decimal,
    /// What the sale first sold.
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub quantity: Decimal,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub sale_status: String,
    /// What the sale holds now (a short arrival shrank it; nothing if it was cancelled).
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub delivered: Decimal,
}

/// Held margins whose goods were unloaded (or whose sale is no longer pending), at most
/// `limit`, skipping any another run holds.
pub async fn margins_arrived(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> QueryResult<Vec<Arrived>> {
    prepared(
        "SELECT d.id, d.listing_id, d.sale_id, d.buyer_org_id, d.currency, d.amount, d.quantity,
                s.status AS sale_status,
                CASE WHEN s.status = 'cancelled' THEN 0
                     ELSE (SELECT coalesce(sum(sl.quantity), 0) FROM sale_lines sl WHERE sl.sale_id = s.id)
                END AS delivered
         FROM market_deposits d JOIN sales s ON s.id = d.sale_id
         WHERE d.kind = 'margin' AND d.status = 'held'
           AND (s.status <> 'pending' OR NOT EXISTS (
                SELECT 1 FROM sale_lines sl JOIN lots l ON l.id = sl.lot_id
                WHERE sl.sale_id = s.id AND l.status = 'in_transit'))
         ORDER BY d.seq LIMIT $1 FOR UPDATE OF d SKIP LOCKED",
    )
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await
}

/// A margin applied to its sale (in part, the rest returned): the sale falls due at `due_at`.
pub async fn margin_applied(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    due_at: DateTime<Utc>,
    entry: Option<Uuid>,
) -> QueryResult<()> {
    diesel::update(market_deposits::table.find(id))
        .set((
            market_deposits::status.eq("applied"),
            market_deposits::due_at.eq(Some(due_at)),
            market_deposits::ended_entry_id.eq(entry),
            market_deposits::ended_at.eq(Some(Utc::now())),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// Forward sales due by `now` and not paid: (deposit, listing, sale), at most `limit`.
pub async fn margins_overdue(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Arrived>> {
    prepared(
        "SELECT d.id, d.listing_id, d.sale_id, d.buyer_org_id, d.currency, d.amount, d.quantity,
                s.status AS sale_status, 0::numeric AS delivered
         FROM market_deposits d JOIN sales s ON s.id = d.sale_id
         WHERE d.kind = 'margin' AND d.status = 'applied' AND d.due_at <= $1 AND s.status = 'pending'
         ORDER BY d.due_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await
}

/// The deposits still held on a listing.
pub async fn held_deposits(
    conn: &mut AsyncPgConnection,
    listing: Uuid,
) -> QueryResult<Vec<DepositRow>> {
    market_deposits::table
        .filter(market_deposits::listing_id.eq(listing))
        .filter(market_deposits::status.eq("held"))
        .order(market_deposits::seq)
        .select(DepositRow::as_select())
        .load(conn)
        .await
}

/// Ends a held deposit: `returned`, `applied` (to `sale`) or `forfeited`.
pub async fn end_deposit(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: &str,
    sale: Option<Uuid>,
    entry: Option<Uuid>,
) -> QueryResult<()> {
    diesel::update(market_deposits::table.find(id))
        .set((
            market_deposits::status.eq(status),
            market_deposits::sale_id.eq(sale),
            market_deposits::ended_entry_id.eq(entry),
            market_deposits::ended_at.eq(Some(Utc::now())),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the applied deposit of a sale `forfeited` (the sale's payment went to the seller).
pub async fn forfeit_deposit_of_sale(conn: &mut AsyncPgConnection, sale: Uuid) -> QueryResult<()> {
    diesel::update(
        market_deposits::table
            .filter(market_deposits::sale_id.eq(sale))
            .filter(market_deposits::status.eq("applied")),
    )
    .set(market_deposits::status.eq("forfeited"))
    .cached()
    .execute(conn)
    .await?;
    Ok(())
}

/// What a buyer has in the market per currency: its funds' balance, and its deposits held.
#[derive(Debug, diesel::QueryableByName)]
pub struct FundsRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub currency: String,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub available: Decimal,
    #[diesel(sql_type = diesel::sql_types::Numeric)]
    pub held: Decimal,
}

pub async fn funds_of(conn: &mut AsyncPgConnection, org: Uuid) -> QueryResult<Vec<FundsRow>> {
    prepared(
        "WITH f AS (SELECT a.currency, coalesce(sum(l.amount), 0) AS available
                    FROM ledger_accounts a LEFT JOIN journal_lines l ON l.account_id = a.id
                    WHERE a.org_id = $1 AND a.kind = 'funds' GROUP BY a.currency),
              h AS (SELECT currency, sum(amount) AS held FROM market_deposits
                    WHERE buyer_org_id = $1 AND status = 'held' GROUP BY currency)
         SELECT coalesce(f.currency, h.currency) AS currency,
                coalesce(f.available, 0)::numeric(20, 2) AS available,
                coalesce(h.held, 0)::numeric(20, 2) AS held
         FROM f FULL JOIN h ON h.currency = f.currency
         ORDER BY 1",
    )
    .bind::<diesel::sql_types::Uuid, _>(org)
    .load(conn)
    .await
}

/// Open auctions past their end (at `now`), at most `limit`, skipping any a bid holds.
pub async fn auctions_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Uuid>> {
    listings::table
        .filter(listings::status.eq("open"))
        .filter(listings::mode.eq("auction"))
        .filter(listings::ends_at.le(now))
        .order(listings::ends_at)
        .limit(limit)
        .select(listings::id)
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

/// Awarded auctions whose winner has not paid by `now`, at most `limit`.
pub async fn payments_overdue(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Uuid>> {
    let rows: Vec<IdRow> = prepared(
        "SELECT l.id FROM listings l JOIN sales s ON s.id = l.sale_id
         WHERE l.status = 'awarded' AND l.payment_due_at <= $1 AND s.status = 'pending'
         ORDER BY l.payment_due_at LIMIT $2 FOR UPDATE OF l SKIP LOCKED",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// The close: `awarded` to the winner's sale, due by `payment_due_at`, all of it committed.
pub async fn mark_awarded(
    conn: &mut AsyncPgConnection,
    listing: Uuid,
    sale: Uuid,
    payment_due_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(listings::table.find(listing))
        .set((
            listings::status.eq("awarded"),
            listings::sale_id.eq(Some(sale)),
            listings::payment_due_at.eq(Some(payment_due_at)),
            listings::quantity_committed.eq(listings::quantity),
            listings::closed_at.eq(Some(Utc::now())),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// The close without a sale (`unsold`), or an award undone (`unsold`, `unpaid`).
pub async fn mark_unsold(
    conn: &mut AsyncPgConnection,
    listing: Uuid,
    outcome: &str,
) -> QueryResult<()> {
    diesel::update(listings::table.find(listing))
        .set((
            listings::status.eq("unsold"),
            listings::outcome.eq(Some(outcome)),
            listings::closed_at.eq(Some(Utc::now())),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}
