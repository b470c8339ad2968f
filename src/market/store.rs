//! The market's tables: listings (read with their lot, commodity, place and seller in one
//! statement) and offers.

use super::model::{ListingRow, Offer};
use crate::db::prepared::{Cache, prepared};
use crate::db::schema::{listings, offers, orgs};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Who reads listings: a buyer of a tier (open listings its tier sees by now), a seller (its
/// own), or the platform (all).
#[derive(Debug, Clone)]
pub enum Reader {
    Buyer {
        org: Uuid,
        tier: String,
        /// Its tier's factor on an auction deposit.
        deposit_factor: Decimal,
    },
    Seller(Uuid),
    All,
}

/// The filters of a listings search, checked.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    pub id: Option<Uuid>,
    pub commodity_code: Option<String>,
    pub grade: Option<String>,
    pub warehouse_id: Option<Uuid>,
    pub mode: Option<String>,
    pub status: Option<String>,
    pub min_quantity: Option<Decimal>,
    pub max_price: Option<Decimal>,
}

/// Ranked as the market ranks: seller tier (highest first), then freshness (freshest first),
/// then age (the longest listed first), then id. The page is chosen first from the listings,
/// their lots and commodities alone; only its rows are then joined to their seller, place and
/// breaches (a search over 100,000 listings sorts them once and details fifty).
const LISTINGS: &str = "
WITH page AS MATERIALIZED (
    SELECT l.id, l.lot_id,
           l.opened_at + make_interval(mins => coalesce(tp.visibility_delay_minutes, 0)) AS visible_from,
           freshness_factor(lot.packed_on, $1, c.fresh_days, c.shelf_life_days, c.end_freshness_factor) AS freshness_factor,
           t.rank AS tier_rank, l.opened_at
    FROM listings l
    JOIN lots lot ON lot.id = l.lot_id
    JOIN commodities c ON c.code = lot.commodity_code
    JOIN tiers t ON t.tier = l.seller_tier
    LEFT JOIN tier_privileges tp ON tp.tier = $2
    WHERE ($2::text IS NULL OR (l.status = 'open'
              AND l.opened_at + make_interval(mins => coalesce(tp.visibility_delay_minutes, 0)) <= now()))
      AND ($3::uuid IS NULL OR l.seller_org_id = $3)
      AND ($4::uuid IS NULL OR l.id = $4)
      AND ($5::text IS NULL OR lot.commodity_code = $5)
      AND ($6::text IS NULL OR lot.grade = $6)
      AND ($7::uuid IS NULL OR lot.warehouse_id = $7)
      AND ($8::text IS NULL OR l.mode = $8)
      AND ($9::text IS NULL OR $9 = CASE WHEN l.status = 'open' AND l.starts_at > now()
                                         THEN 'scheduled' ELSE l.status END)
      AND ($10::numeric IS NULL OR l.quantity - l.quantity_committed >= $10)
      AND ($11::numeric IS NULL OR coalesce(l.unit_price, l.high_bid, l.reserve_price) <= $11)
    ORDER BY tier_rank DESC, freshness_factor DESC, l.opened_at, l.id
    OFFSET $12 LIMIT $13)
SELECT l.id, l.seq AS position, l.lot_id, lot.code AS lot_code, l.seller_org_id, o.name AS seller_name,
       l.seller_tier, l.loan_id, l.mode, l.status, l.quantity, l.quantity - l.quantity_committed AS quantity_available,
       l.currency, l.unit_price, l.opened_at, l.closed_at, p.visible_from,
       lot.commodity_code, c.name AS commodity_name, lot.unit, lot.grade, lot.quantity_on_hand,
       lot.packed_on, lot.expires_on, p.freshness_factor,
       ($1 - (lot.received_at AT TIME ZONE 'UTC')::date)::integer AS days_in_custody,
       lot.warehouse_id, w.name AS warehouse_name, w.address AS warehouse_address,
       lot.voyage_id, v.vessel_name, v.eta,
       (SELECT count(*) FROM breaches b
         WHERE b.warehouse_id = lot.warehouse_id AND lot.warehouse_since IS NOT NULL
           AND coalesce(b.ended_at, 'infinity') >= lot.warehouse_since) AS breaches_in_custody,
       lot.last_inspected_at,
       l.reserve_price, l.min_increment, l.starts_at, l.ends_at, l.extension_minutes,
       l.max_extensions, l.extensions_used, l.deposit_rate, l.payment_days, l.relist_step,
       l.max_relists, l.relist_count, l.relisted_from, l.high_bid, l.high_bidder_org_id,
       l.bid_count, l.sale_id, l.payment_due_at, l.outcome, l.min_total_quantity, l.deadline,
       l.margin_rate,
       (SELECT d.quantity FROM market_deposits d
         WHERE d.listing_id = l.id AND d.buyer_org_id = $14 AND d.kind = 'group') AS your_quantity
FROM page p
JOIN listings l ON l.id = p.id
JOIN lots lot ON lot.id = p.lot_id
JOIN commodities c ON c.code = lot.commodity_code
JOIN orgs o ON o.id = l.seller_org_id
LEFT JOIN warehouses w ON w.id = lot.warehouse_id
LEFT JOIN voyages v ON v.id = lot.voyage_id
ORDER BY p.tier_rank DESC, p.freshness_factor DESC, p.opened_at, p.id";

pub async fn listings(
    conn: &mut AsyncPgConnection,
    reader: &Reader,
    filters: &Filters,
    today: NaiveDate,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<ListingRow>> {
    let (tier, seller, buyer) = match reader {
        Reader::Buyer { tier, org, .. } => (Some(tier.as_str()), None, Some(*org)),
        Reader::Seller(org) => (None, Some(*org), None),
        Reader::All => (None, None, None),
    };
    diesel::sql_query(LISTINGS)
        .bind::<Date, _>(today)
        .bind::<Nullable<Text>, _>(tier)
        .bind::<Nullable<SqlUuid>, _>(seller)
        .bind::<Nullable<SqlUuid>, _>(filters.id)
        .bind::<Nullable<Text>, _>(filters.commodity_code.as_deref())
        .bind::<Nullable<Text>, _>(filters.grade.as_deref())
        .bind::<Nullable<SqlUuid>, _>(filters.warehouse_id)
        .bind::<Nullable<Text>, _>(filters.mode.as_deref())
        .bind::<Nullable<Text>, _>(filters.status.as_deref())
        .bind::<Nullable<Numeric>, _>(filters.min_quantity)
        .bind::<Nullable<Numeric>, _>(filters.max_price)
        .bind::<BigInt, _>(offset)
        .bind::<BigInt, _>(limit)
        .bind::<Nullable<SqlUuid>, _>(buyer)
        .load(conn)
        .await
}

/// Each tier's delay before a new listing reaches its buyers, shortest first.
pub async fn visibility_delays(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(String, i32)>> {
    use crate::db::schema::tier_privileges as p;
    p::table
        .order((p::visibility_delay_minutes, p::tier))
        .select((p::tier, p::visibility_delay_minutes))
        .load(conn)
        .await
}

/// The tier an org holds now.
pub async fn tier_of(conn: &mut AsyncPgConnection, org: Uuid) -> QueryResult<String> {
    orgs::table.find(org).select(orgs::tier).first(conn).await
}

/// The tier an org holds now and that tier's factor on an auction deposit.
pub async fn tier_and_deposit_factor(
    conn: &mut AsyncPgConnection,
    org: Uuid,
) -> QueryResult<(String, Decimal)> {
    use crate::db::schema::tier_privileges as p;
    let tier = tier_of(conn, org).await?;
    let factor = p::table
        .find(&tier)
        .select(p::deposit_factor)
        .first(conn)
        .await
        .optional()?
        .unwrap_or(Decimal::ONE);
    Ok((tier, factor))
}

/// A listing's own row, locked for the rest of the transaction.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = listings)]
pub struct ListingLock {
    pub id: Uuid,
    pub lot_id: Uuid,
    pub seller_org_id: Uuid,
    pub loan_id: Option<Uuid>,
    pub mode: String,
    pub status: String,
    pub currency: String,
    pub quantity: Decimal,
    pub quantity_committed: Decimal,
    pub unit_price: Option<Decimal>,
    pub created_by: Uuid,
    pub reserve_price: Option<Decimal>,
    pub min_increment: Option<Decimal>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub extension_minutes: Option<i32>,
    pub max_extensions: Option<i32>,
    pub extensions_used: i32,
    pub deposit_rate: Option<Decimal>,
    pub payment_days: Option<i32>,
    pub relist_step: Option<Decimal>,
    pub max_relists: Option<i32>,
    pub relist_count: i32,
    pub high_bid: Option<Decimal>,
    pub high_bidder_org_id: Option<Uuid>,
    pub bid_count: i32,
    pub sale_id: Option<Uuid>,
    pub min_total_quantity: Option<Decimal>,
    pub deadline: Option<DateTime<Utc>>,
    pub margin_rate: Option<Decimal>,
}

impl ListingLock {
    /// An auction's terms, when it is one.
    pub fn terms(&self) -> Option<AuctionRow> {
        Some(AuctionRow {
            reserve_price: self.reserve_price?,
            min_increment: self.min_increment?,
            starts_at: self.starts_at?,
            ends_at: self.ends_at?,
            extension_minutes: self.extension_minutes?,
            max_extensions: self.max_extensions?,
            deposit_rate: self.deposit_rate?,
            payment_days: self.payment_days?,
            relist_step: self.relist_step?,
            max_relists: self.max_relists?,
        })
    }
}

/// An auction's terms as stored.
#[derive(Debug, Clone, Copy)]
pub struct AuctionRow {
    pub reserve_price: Decimal,
    pub min_increment: Decimal,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub extension_minutes: i32,
    pub max_extensions: i32,
    pub deposit_rate: Decimal,
    pub payment_days: i32,
    pub relist_step: Decimal,
    pub max_relists: i32,
}

pub async fn lock_listing(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<ListingLock>> {
    listings::table
        .find(id)
        .select(ListingLock::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub struct NewListingRow<'a> {
    pub id: Uuid,
    pub lot_id: Uuid,
    pub seller_org_id: Uuid,
    pub loan_id: Option<Uuid>,
    pub mode: &'a str,
    pub currency: &'a str,
    pub quantity: Decimal,
    pub unit_price: Option<Decimal>,
    pub seller_tier: &'a str,
    pub created_by: Uuid,
    pub auction: Option<AuctionRow>,
    /// A relisting: the listing it follows and how many came before it.
    pub relisted_from: Option<(Uuid, i32)>,
    /// A group buy's minimum total quantity and deadline.
    pub group: Option<(Decimal, DateTime<Utc>)>,
    /// A forward sale's margin rate and payment days.
    pub forward: Option<(Decimal, i32)>,
}

/// Inserts an open listing; `false` when the lot already has a live one.
pub async fn insert_listing(
    conn: &mut AsyncPgConnection,
    row: NewListingRow<'_>,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(listings::table)
        .values((
            listings::id.eq(row.id),
            listings::lot_id.eq(row.lot_id),
            listings::seller_org_id.eq(row.seller_org_id),
            listings::loan_id.eq(row.loan_id),
            listings::mode.eq(row.mode),
            listings::currency.eq(row.currency),
            listings::quantity.eq(row.quantity),
            listings::unit_price.eq(row.unit_price),
            listings::seller_tier.eq(row.seller_tier),
            listings::created_by.eq(row.created_by),
            listings::reserve_price.eq(row.auction.map(|a| a.reserve_price)),
            listings::min_increment.eq(row.auction.map(|a| a.min_increment)),
            listings::starts_at.eq(row.auction.map(|a| a.starts_at)),
            listings::ends_at.eq(row.auction.map(|a| a.ends_at)),
            listings::extension_minutes.eq(row.auction.map(|a| a.extension_minutes)),
            listings::max_extensions.eq(row.auction.map(|a| a.max_extensions)),
            listings::deposit_rate.eq(row.auction.map(|a| a.deposit_rate)),
            listings::payment_days.eq(row
                .auction
                .map(|a| a.payment_days)
                .or(row.forward.map(|f| f.1))),
            listings::relist_step.eq(row.auction.map(|a| a.relist_step)),
            listings::max_relists.eq(row.auction.map(|a| a.max_relists)),
            listings::relisted_from.eq(row.relisted_from.map(|r| r.0)),
            listings::relist_count.eq(row.relisted_from.map_or(0, |r| r.1)),
            listings::min_total_quantity.eq(row.group.map(|g| g.0)),
            listings::deadline.eq(row.group.map(|g| g.1)),
            listings::margin_rate.eq(row.forward.map(|f| f.0)),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Moves a listing's opening back by `by` (the demo's history: listed yesterday).
pub async fn backdate_opening(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    by: chrono::Duration,
) -> QueryResult<()> {
    diesel::update(listings::table.find(id))
        .set(listings::opened_at.eq(Utc::now() - by))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

/// Commits `quantity` of the listing to an accepted offer; closes it when nothing is left.
pub async fn commit_quantity(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    quantity: Decimal,
) -> QueryResult<()> {
    prepared(
        "UPDATE listings SET quantity_committed = quantity_committed + $2, \
                status = CASE WHEN quantity_committed + $2 >= quantity THEN 'closed' ELSE status END, \
                closed_at = CASE WHEN quantity_committed + $2 >= quantity THEN now() ELSE closed_at END \
          WHERE id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Numeric, _>(quantity)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn withdraw_listing(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(listings::table.find(id))
        .set((
            listings::status.eq("withdrawn"),
            listings::closed_at.eq(Some(Utc::now())),
        ))
        .cached()
        .execute(conn)
        .await?;
    Ok(())
}

pub struct NewOfferRow {
    pub id: Uuid,
    pub listing_id: Uuid,
    pub buyer_org_id: Uuid,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub expires_at: DateTime<Utc>,
    pub created_by: Uuid,
}

pub async fn insert_offer(conn: &mut AsyncPgConnection, row: NewOfferRow) -> QueryResult<Offer> {
    diesel::insert_into(offers::table)
        .values((
            offers::id.eq(row.id),
            offers::listing_id.eq(row.listing_id),
            offers::buyer_org_id.eq(row.buyer_org_id),
            offers::quantity.eq(row.quantity),
            offers::unit_price.eq(row.unit_price),
            offers::expires_at.eq(row.expires_at),
            offers::created_by.eq(row.created_by),
        ))
        .returning(Offer::as_returning())
        .get_result(conn)
        .await
}

pub async fn lock_offer(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Offer>> {
    offers::table
        .find(id)
        .select(Offer::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn find_offer(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Offer>> {
    offers::table
        .find(id)
        .select(Offer::as_select())
        .first(conn)
        .await
        .optional()
}

/// The seller of the listing an offer is on.
pub async fn seller_of_listing(conn: &mut AsyncPgConnection, listing: Uuid) -> QueryResult<Uuid> {
    listings::table
        .find(listing)
        .select(listings::seller_org_id)
        .first(conn)
        .await
}

/// Ends an open offer: `rejected`, `withdrawn` or `expired`, with the reason.
pub async fn end_offer(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: &str,
    reason: Option<&str>,
    by: Option<Uuid>,
) -> QueryResult<Offer> {
    diesel::update(offers::table.find(id))
        .set((
            offers::status.eq(status),
            offers::reason.eq(reason),
            offers::decided_at.eq(Some(Utc::now())),
            offers::decided_by.eq(by),
        ))
        .returning(Offer::as_returning())
        .cached()
        .get_result(conn)
        .await
}

pub async fn accept_offer(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    sale_id: Uuid,
    by: Uuid,
) -> QueryResult<Offer> {
    diesel::update(offers::table.find(id))
        .set((
            offers::status.eq("accepted"),
            offers::sale_id.eq(Some(sale_id)),
            offers::decided_at.eq(Some(Utc::now())),
            offers::decided_by.eq(Some(by)),
        ))
        .returning(Offer::as_returning())
        .cached()
        .get_result(conn)
        .await
}

/// Ends every open offer on a listing (it closed or was withdrawn); answers them.
pub async fn end_open_offers(
    conn: &mut AsyncPgConnection,
    listing: Uuid,
    reason: &str,
) -> QueryResult<Vec<Offer>> {
    diesel::update(
        offers::table
            .filter(offers::listing_id.eq(listing))
            .filter(offers::status.eq("open")),
    )
    .set((
        offers::status.eq("rejected"),
        offers::reason.eq(Some(reason)),
        offers::decided_at.eq(Some(Utc::now())),
    ))
    .returning(Offer::as_returning())
    .cached()
    .get_results(conn)
    .await
}

/// Whose offers: a buyer's own, or those on a seller's listings, or all.
pub enum OfferScope {
    Buyer(Uuid),
    Seller(Uuid),
    All,
}

pub async fn offers(
    conn: &mut AsyncPgConnection,
    scope: OfferScope,
    listing: Option<Uuid>,
    status: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Offer>> {
    let mut query = offers::table
        .select(Offer::as_select())
        .order(offers::seq)
        .limit(limit + 1)
        .into_boxed();
    query = match scope {
        OfferScope::Buyer(org) => query.filter(offers::buyer_org_id.eq(org)),
        OfferScope::Seller(org) => query.filter(
            offers::listing_id.eq_any(
                listings::table
                    .filter(listings::seller_org_id.eq(org))
                    .select(listings::id),
            ),
        ),
        OfferScope::All => query,
    };
    if let Some(listing) = listing {
        query = query.filter(offers::listing_id.eq(listing));
    }
    match status {
        // An open offer past its time reads as expired.
        Some("open") => {
            query = query
                .filter(offers::status.eq("open"))
                .filter(offers::expires_at.gt(diesel::dsl::now))
        }
        Some("expired") => {
            query = query.filter(
                offers::status.eq("expired").or(offers::status
                    .eq("open")
                    .and(offers::expires_at.le(diesel::dsl::now))),
            )
        }
        Some(other) => query = query.filter(offers::status.eq(other.to_owned())),
        None => {}
    }
    if let Some(after) = after {
        query = query.filter(offers::seq.gt(after));
    }
    query.load(conn).await
}

/// Marks open offers past their time `expired` (the market job), at most `limit` of them,
/// skipping any a request holds; answers them.
pub async fn expire_offers(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Offer>> {
    let due: Vec<Uuid> = offers::table
        .filter(offers::status.eq("open"))
        .filter(offers::expires_at.le(now))
        .order(offers::expires_at)
        .limit(limit)
        .select(offers::id)
        .for_update()
        .skip_locked()
        .load(conn)
        .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(offers::table.filter(offers::id.eq_any(&due)))
        .set((
            offers::status.eq("expired"),
            offers::decided_at.eq(Some(now)),
        ))
        .returning(Offer::as_returning())
        .cached()
        .get_results(conn)
        .await
}

/// An accepted offer whose sale was cancelled unpaid, now `cancelled`, with its quantity.
#[derive(Debug, diesel::QueryableByName)]
pub struct Undone {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub listing_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub buyer_org_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub seller_org_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub sale_id: Option<Uuid>,
    #[diesel(sql_type = Numeric)]
    pub quantity: Decimal,
}

/// Accepted offers whose sales were cancelled (at most `limit`): each is marked `cancelled`
/// and its quantity returns to the listing, which reopens if it had closed for want of goods
/// (unless the lot has another live listing by now). Answers them.
pub async fn undo_cancelled_sales(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Undone>> {
    prepared(
        "WITH due AS (
             SELECT o.id FROM offers o JOIN sales s ON s.id = o.sale_id
             WHERE o.status = 'accepted' AND s.status = 'cancelled'
             ORDER BY o.seq LIMIT $2 FOR UPDATE OF o SKIP LOCKED),
         undone AS (
             UPDATE offers o SET status = 'cancelled', reason = 'sale_cancelled', decided_at = $1
             FROM due WHERE o.id = due.id
             RETURNING o.id, o.listing_id, o.buyer_org_id, o.sale_id, o.quantity),
         back AS (SELECT listing_id, sum(quantity) AS quantity FROM undone GROUP BY listing_id),
         listing AS (
             UPDATE listings l
                SET quantity_committed = l.quantity_committed - back.quantity,
                    status = CASE WHEN l.status = 'closed' AND NOT EXISTS (
                                      SELECT 1 FROM listings other
                                      WHERE other.lot_id = l.lot_id AND other.id <> l.id
                                        AND other.status IN ('scheduled', 'open'))
                                  THEN 'open' ELSE l.status END,
                    closed_at = CASE WHEN l.status = 'closed' AND NOT EXISTS (
                                      SELECT 1 FROM listings other
                                      WHERE other.lot_id = l.lot_id AND other.id <> l.id
                                        AND other.status IN ('scheduled', 'open'))
                                  THEN NULL ELSE l.closed_at END
             FROM back WHERE l.id = back.listing_id
             RETURNING l.id, l.seller_org_id)
         SELECT u.id, u.listing_id, u.buyer_org_id, l.seller_org_id, u.sale_id, u.quantity
         FROM undone u JOIN listing l ON l.id = u.listing_id",
    )
    .bind::<diesel::sql_types::Timestamptz, _>(now)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}
