//! The market's scheduled work: offers past their time are marked expired; accepted offers
//! whose sale was cancelled unpaid give their quantity back to the listing (reopening it if it
//! had closed); auctions past their end close (awarded, or unsold and relisted); winners past
//! their payment deadline forfeit; group buys past their deadline fill or fail; forward sales
//! whose goods were unloaded fall due, and unpaid ones past due forfeit their margin. The
//! buyer and the seller are told. `serve` runs it every minute; `holdfast jobs market --as-of` runs it by hand.
//! One instance at a time: each run holds a transaction-scoped advisory lock, and a run that
//! finds it taken does nothing.

use super::store;
use crate::db::DbPool;
use crate::db::prepared::prepared;
use crate::error::{ApiError, ApiResult};
use crate::integrity::{self, Change, to_json};
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, RunQueryDsl};

/// "holdmark".
const MARKET_LOCK: i64 = 0x686f_6c64_6d61_726b;
/// The most offers one run expires (the next run takes the rest).
pub const BATCH: i64 = 1000;
/// The most auctions, groups, arrivals and forfeitures of each kind one run handles (each is a
/// sale's worth of work or more).
pub const AUCTION_BATCH: i64 = 100;

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub offers_expired: usize,
    /// Accepted offers whose sale was cancelled: their quantity went back to the listing.
    pub sales_cancelled: usize,
    pub auctions: super::auction::Closed,
    pub groups: super::group::Ended,
    pub forward: super::forward::Forwarded,
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

/// Runs the market's work as of `as_of`; `None` when another instance holds the lock.
pub async fn run(pool: &DbPool, as_of: DateTime<Utc>) -> ApiResult<Option<Swept>> {
    let mut conn = pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let lock: Locked = prepared("SELECT pg_try_advisory_xact_lock($1) AS locked")
            .bind::<diesel::sql_types::BigInt, _>(MARKET_LOCK)
            .get_result(conn)
            .await?;
        if !lock.locked {
            return Ok(None);
        }
        let expired = store::expire_offers(conn, as_of, BATCH).await?;
        for offer in &expired {
            let seller = store::seller_of_listing(conn, offer.listing_id).await?;
            integrity::record(
                conn,
                None,
                Change {
                    action: "offer.expired",
                    object_kind: "offer",
                    object_id: offer.id.to_string(),
                    org_ids: vec![offer.buyer_org_id, seller],
                    before: None,
                    after: Some(to_json(offer)?),
                },
            )
            .await?;
        }
        let undone = store::undo_cancelled_sales(conn, as_of, BATCH).await?;
        for offer in &undone {
            integrity::record(
                conn,
                None,
                Change {
                    action: "offer.cancelled",
                    object_kind: "offer",
                    object_id: offer.id.to_string(),
                    org_ids: vec![offer.buyer_org_id, offer.seller_org_id],
                    before: None,
                    after: Some(serde_json::json!({
                        "id": offer.id, "listing_id": offer.listing_id, "sale_id": offer.sale_id,
                        "status": "cancelled", "reason": "sale_cancelled",
                        "quantity_returned": offer.quantity.to_string(),
                    })),
                },
            )
            .await?;
        }
        let mut auctions = super::auction::close_due(conn, as_of, AUCTION_BATCH).await?;
        auctions.forfeited = super::auction::forfeit_due(conn, as_of, AUCTION_BATCH).await?;
        let groups = super::group::end_due(conn, as_of, AUCTION_BATCH).await?;
        let mut forward = super::forward::Forwarded::default();
        super::forward::arrivals(conn, as_of, AUCTION_BATCH, &mut forward).await?;
        super::forward::forfeit_due(conn, as_of, AUCTION_BATCH, &mut forward).await?;
        Ok(Some(Swept {
            offers_expired: expired.len(),
            sales_cancelled: undone.len(),
            auctions,
            groups,
            forward,
        }))
    })
    .await
}
