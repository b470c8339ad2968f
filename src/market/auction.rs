//! Auctions: a buyer's bid (the deposit from its funds into the platform's held deposits with
//! its first bid; the end moved by a late bid), the bids of a listing, a buyer's market funds,
//! and the work of the market job — the close (the highest bid wins: a sale with the deposit
//! as its first payment, the other deposits back), the winner's payment deadline (forfeiture
//! and the goods offered again), and relisting an unsold auction with a lower reserve.
//!
//! Locks: the listing first (every bid on one auction queues there, so bids are judged one at
//! a time against the server's clock), then the bidder's funds account, then whatever a sale
//! takes (`crate::db::locks`).

use super::auction_store as store;
use super::escrow;
use super::model::*;
use super::service::{event, find, listing_not_found, must_be_open, reader_of};
use super::store::{self as listings, AuctionRow, ListingLock, NewListingRow, Reader};
use crate::auth::{OrgKind, Principal};
use crate::calendar::business_date;
use crate::domain::auction::{self, Refusal, Standing};
use crate::domain::inputs::{Fraction, UnitInterval};
use crate::error::{ApiError, ApiResult};
use crate::http::validate;
use crate::http::{Page, PageQuery};
use crate::ledger::{self, AccountKind, Entry, postings};
use crate::orgs::store as orgs;
use crate::sales::model::{NewSale, NewSaleLine};
use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use rust_decimal::Decimal;
use uuid::Uuid;

pub const DEFAULT_EXTENSION_MINUTES: i32 = 5;
pub const DEFAULT_MAX_EXTENSIONS: i32 = 3;
pub const DEFAULT_PAYMENT_DAYS: i32 = 2;
pub const DEFAULT_MAX_RELISTS: i32 = 2;
/// How far ahead an auction may start, and how long it may run.
pub const MAX_SPAN_DAYS: i64 = 30;

fn default_deposit_rate() -> Decimal {
    Decimal::new(10, 2)
}

fn default_relist_step() -> Decimal {
    Decimal::new(10, 2)
}

fn fraction(value: Option<&Fraction>, default: Decimal) -> Decimal {
    value.map_or(default, |v| v.value())
}

fn interval(value: Option<&UnitInterval>, default: Decimal) -> Decimal {
    value.map_or(default, |v| v.value())
}

fn within(field: &str, value: Option<i32>, default: i32, range: (i32, i32)) -> ApiResult<i32> {
    let value = value.unwrap_or(default);
    if value < range.0 || value > range.1 {
        return Err(ApiError::invalid(
            field,
            format!("from {} to {}", range.0, range.1),
        ));
    }
    Ok(value)
}

/// An auction's terms, checked, with the defaults filled in.
pub fn terms(new: &AuctionTerms) -> ApiResult<AuctionRow> {
    let now = Utc::now();
    let reserve_price =
        validate::unit_price("auction.reserve_price", new.reserve_price.value(), 6)?;
    let min_increment =
        validate::unit_price("auction.min_increment", new.min_increment.value(), 6)?;
    let starts_at = new.starts_at.unwrap_or(now).max(now);
    if starts_at > now + Duration::days(MAX_SPAN_DAYS) {
        return Err(ApiError::invalid(
            "auction.starts_at",
            format!("an auction starts within {MAX_SPAN_DAYS} days"),
        ));
    }
    if new.ends_at <= starts_at {
        return Err(ApiError::invalid(
            "auction.ends_at",
            "an auction ends after it starts (and after now)",
        ));
    }
    if new.ends_at > starts_at + Duration::days(MAX_SPAN_DAYS) {
        return Err(ApiError::invalid(
            "auction.ends_at",
            format!("an auction runs at most {MAX_SPAN_DAYS} days"),
        ));
    }
    let relist_step = interval(new.relist_step.as_ref(), default_relist_step());
    if relist_step >= Decimal::ONE {
        return Err(ApiError::invalid(
            "auction.relist_step",
            "a relisting lowers the reserve by less than all of it",
        ));
    }
    Ok(AuctionRow {
        reserve_price,
        min_increment,
        starts_at,
        ends_at: new.ends_at,
        extension_minutes: within(
            "auction.extension_minutes",
            new.extension_minutes,
            DEFAULT_EXTENSION_MINUTES,
            (1, 60),
        )?,
        max_extensions: within(
            "auction.max_extensions",
            new.max_extensions,
            DEFAULT_MAX_EXTENSIONS,
            (0, 20),
        )?,
        deposit_rate: fraction(new.deposit_rate.as_ref(), default_deposit_rate()),
        payment_days: within(
            "auction.payment_days",
            new.payment_days,
            DEFAULT_PAYMENT_DAYS,
            (1, 30),
        )?,
        relist_step,
        max_relists: within(
            "auction.max_relists",
            new.max_relists,
            DEFAULT_MAX_RELISTS,
            (0, 10),
        )?,
    })
}

fn standing(locked: &ListingLock, terms: &AuctionRow) -> Standing {
    Standing {
        reserve_price: terms.reserve_price,
        min_increment: terms.min_increment,
        starts_at: terms.starts_at,
        ends_at: terms.ends_at,
        extension_minutes: terms.extension_minutes,
        max_extensions: terms.max_extensions,
        extensions_used: locked.extensions_used,
        high_bid: locked.high_bid,
    }
}

fn refused(refusal: Refusal, terms: &AuctionRow) -> ApiError {
    match refusal {
        Refusal::NotStarted => ApiError::conflict("auction_not_started", "bidding has not opened")
            .with("starts_at", terms.starts_at),
        Refusal::Ended => {
            ApiError::conflict("auction_ended", "bidding has closed").with("ends_at", terms.ends_at)
        }
        Refusal::TooLow { minimum } => ApiError::conflict(
            "bid_too_low",
            if minimum == terms.reserve_price {
                "below the reserve price"
            } else {
                "below the high bid plus the minimum increment"
            },
        )
        .with("field", "unit_price")
        .with("minimum_bid", crate::domain::decimal::price::shown(minimum)),
    }
}

/// A buyer bids on an open auction its tier sees. Its first bid on the listing moves its
/// deposit from its funds into the platform's held deposits (409 `insufficient_funds` when
/// they do not cover it); a bid in the last `extension_minutes` moves the end, while
/// extensions are left. A refused bid changes nothing.
pub async fn bid(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    listing_id: Uuid,
    new: &NewBid,
) -> ApiResult<PlacedBid> {
    if principal.kind != OrgKind::Buyer {
        return Err(ApiError::forbidden("only buyers bid"));
    }
    let unit_price = validate::unit_price("unit_price", new.unit_price.value(), 6)?;
    let reader = reader_of(conn, principal).await?;
    let Reader::Buyer { deposit_factor, .. } = reader else {
        return Err(ApiError::forbidden("only buyers bid"));
    };
    // Seen as the buyer sees it (open, its tier's time come), then locked.
    let mut listing = find(conn, &reader, listing_id).await?;
    let locked = listings::lock_listing(conn, listing_id)
        .await?
        .ok_or_else(listing_not_found)?;
    must_be_open(&locked)?;
    let Some(terms) = locked.terms() else {
        return Err(ApiError::conflict(
            "listing_mode",
            "bids are placed on auctions",
        ));
    };
    // Judged after the lock, by the server's clock: a bid that waited past the end is late.
    let now = Utc::now();
    let accepted = standing(&locked, &terms)
        .judge(unit_price, now)
        .map_err(|r| refused(r, &terms))?;
    let deposit = match store::deposit_of(conn, listing_id, principal.org_id).await? {
        Some(_) => Decimal::ZERO,
        None => take_deposit(conn, principal, &locked, &terms, deposit_factor).await?,
    };
    let bid = store::insert_bid(
        conn,
        store::NewBidRow {
            id: Uuid::new_v4(),
            listing_id,
            buyer_org_id: principal.org_id,
            unit_price,
            placed_at: now,
            deposit,
            created_by: principal.user_id,
        },
    )
    .await?;
    store::record_high_bid(
        conn,
        listing_id,
        principal.org_id,
        unit_price,
        accepted.ends_at,
        accepted.extended,
    )
    .await?;
    let seller = locked.seller_org_id;
    let shown = bid.clone().seen_by(None);
    event(
        conn,
        principal,
        "bid.placed",
        "listing",
        listing_id,
        vec![principal.org_id, seller],
        &shown,
    )
    .await?;
    if let Some(previous) = locked
        .high_bidder_org_id
        .filter(|org| *org != principal.org_id)
    {
        event(
            conn,
            principal,
            "bid.outbid",
            "listing",
            listing_id,
            vec![previous],
            &serde_json::json!({
                "listing_id": listing_id,
                "high_bid": crate::domain::decimal::price::shown(unit_price).to_string(),
                "ends_at": accepted.ends_at,
            }),
        )
        .await?;
    }
    if accepted.extended {
        event(
            conn,
            principal,
            "auction.extended",
            "listing",
            listing_id,
            vec![seller, principal.org_id],
            &serde_json::json!({
                "listing_id": listing_id, "ends_at": accepted.ends_at,
                "extensions_used": locked.extensions_used + 1,
            }),
        )
        .await?;
    }
    // The answer from what was read before the lock and what this bid changed: no second
    // read of the listing while bidders queue on it.
    listing.high_bid = Some(unit_price);
    listing.ends_at = Some(accepted.ends_at);
    listing.extensions_used = Some(locked.extensions_used + i32::from(accepted.extended));
    if let Some(a) = listing.auction.as_mut() {
        a.bid_count = locked.bid_count + 1;
        a.minimum_bid = unit_price + terms.min_increment;
        a.you_lead = Some(true);
    }
    Ok(PlacedBid {
        bid: bid.seen_by(Some(principal.org_id)),
        extended: accepted.extended,
        listing,
    })
}

/// Moves the bidder's deposit for this auction from its funds to the platform's held
/// deposits; answers the amount.
async fn take_deposit(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    locked: &ListingLock,
    terms: &AuctionRow,
    tier_factor: Decimal,
) -> ApiResult<Decimal> {
    let amount = auction::deposit(
        terms.reserve_price,
        locked.quantity,
        terms.deposit_rate,
        tier_factor,
        &locked.currency,
    );
    if amount.is_zero() {
        return Ok(amount);
    }
    escrow::hold(
        conn,
        principal,
        escrow::Hold {
            listing_id: locked.id,
            buyer_org_id: principal.org_id,
            kind: "auction",
            currency: &locked.currency,
            amount,
            quantity: None,
            sale_id: None,
            called: "deposit",
        },
    )
    .await?;
    Ok(amount)
}

/// A listing's bids, oldest first, if the caller may see the listing.
pub async fn bids(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    listing_id: Uuid,
    query: BidQuery,
) -> ApiResult<Page<Bid>> {
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let reader = reader_of(conn, principal).await?;
    find(conn, &reader, listing_id).await?;
    let buyer = match reader {
        Reader::Buyer { org, .. } => Some(org),
        _ => None,
    };
    let rows = store::bids_of(conn, listing_id, after, limit).await?;
    let rows = rows.into_iter().map(|b| b.seen_by(buyer)).collect();
    Ok(Page::from_rows(rows, limit, |b: &Bid| b.seq))
}

/// The latest bids (at most `per_listing`) on each of the caller's visible auctions in
/// `listings`, newest first, as the caller may see them: for a page of listings in one query.
pub async fn latest_bids(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    listings: &[Listing],
    per_listing: i64,
) -> ApiResult<Vec<Bid>> {
    let ids: Vec<Uuid> = listings
        .iter()
        .filter(|l| l.mode == "auction")
        .map(|l| l.id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let buyer = (principal.kind == OrgKind::Buyer).then_some(principal.org_id);
    Ok(store::latest_bids_of(conn, &ids, per_listing)
        .await?
        .into_iter()
        .map(|b| b.seen_by(buyer))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Funds

/// The buyer a funds request is for: a buyer itself, or the buyer the platform names.
async fn funds_owner(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    named: Option<Uuid>,
) -> ApiResult<Uuid> {
    match (principal.kind, named) {
        (OrgKind::Buyer, None) => Ok(principal.org_id),
        (OrgKind::Buyer, Some(org)) if org == principal.org_id => Ok(org),
        (OrgKind::Buyer, Some(_)) => Err(ApiError::forbidden(
            "a buyer moves its own funds; leave org_id out",
        )),
        (OrgKind::Platform, Some(org)) => orgs::find_org(conn, org)
            .await?
            .filter(|o| o.kind == OrgKind::Buyer.as_str())
            .map(|o| o.id)
            .ok_or_else(|| ApiError::unknown_reference("org_id", "no such buyer")),
        (OrgKind::Platform, None) => Err(ApiError::invalid(
            "org_id",
            "the platform names the buyer whose funds it records",
        )),
        _ => Err(ApiError::forbidden("market funds are a buyer's")),
    }
}

/// A buyer's market money per currency.
pub async fn funds(conn: &mut AsyncPgConnection, principal: &Principal) -> ApiResult<Vec<Funds>> {
    Ok(store::funds_of(conn, principal.org_id)
        .await?
        .into_iter()
        .map(|r| Funds {
            org_id: principal.org_id,
            currency: r.currency,
            available: r.available,
            held: r.held,
        })
        .collect())
}

/// Money into a buyer's market funds (`withdraw`: back out to its cash, at most what is free).
pub async fn move_funds(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    request: &FundsMove,
    withdraw: bool,
) -> ApiResult<Funds> {
    let currency = validate::currency("currency", &request.currency)?;
    let amount = validate::money("amount", request.amount.value(), &currency)?;
    let org = funds_owner(conn, principal, request.org_id).await?;
    let available = ledger::locked_balance(conn, org, AccountKind::Funds, &currency).await?;
    if withdraw && amount > available {
        return Err(ApiError::conflict(
            "insufficient_funds",
            "more than the funds free to withdraw",
        )
        .with("field", "amount")
        .with("funds_available", available.to_string()));
    }
    let today = business_date(conn).await?;
    let (kind, lines) = if withdraw {
        ("withdrawal", postings::withdrawal(org, amount))
    } else {
        ("funding", postings::funding(org, amount))
    };
    ledger::post(
        conn,
        Entry {
            kind,
            loan_id: None,
            sale_id: None,
            memo: format!("market funds {kind}"),
            currency: &currency,
            business_date: today,
            created_by: Some(principal.user_id),
            lines,
        },
    )
    .await?;
    let after = if withdraw {
        available - amount
    } else {
        available + amount
    };
    let funds = funds_of_currency(conn, org, &currency, after).await?;
    event(
        conn,
        principal,
        if withdraw {
            "funds.withdrawn"
        } else {
            "funds.added"
        },
        "org",
        org,
        vec![org],
        &funds,
    )
    .await?;
    Ok(funds)
}

async fn funds_of_currency(
    conn: &mut AsyncPgConnection,
    org: Uuid,
    currency: &str,
    available: Decimal,
) -> ApiResult<Funds> {
    let held = store::funds_of(conn, org)
        .await?
        .into_iter()
        .find(|r| r.currency == currency)
        .map_or(Decimal::ZERO, |r| r.held);
    Ok(Funds {
        org_id: org,
        currency: currency.to_owned(),
        available: crate::domain::valuation::at_minor_unit(available, currency),
        held,
    })
}

// ---------------------------------------------------------------------------------------------
// The market job's part

/// What the auction part of one market run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    pub awarded: usize,
    pub unsold: usize,
    pub relisted: usize,
    pub forfeited: usize,
}

/// The seller the market acts for: the user that listed, in its org, with its role.
pub(super) async fn seller_principal(
    conn: &mut AsyncPgConnection,
    locked: &ListingLock,
) -> ApiResult<Principal> {
    let user = orgs::find_user(conn, locked.created_by)
        .await?
        .ok_or_else(|| ApiError::internal("listing without its user"))?;
    let org = orgs::find_org(conn, locked.seller_org_id)
        .await?
        .ok_or_else(|| ApiError::internal("listing without its seller"))?;
    Ok(Principal {
        user_id: user.id,
        org_id: org.id,
        kind: OrgKind::parse(&org.kind)
            .ok_or_else(|| ApiError::internal("unknown org kind in database"))?,
        role: user.role(),
        permissions: user.permissions(),
        request_id: None,
    })
}

/// Closes the auctions past their end at `now` (at most `limit`), each in its own savepoint.
pub async fn close_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> ApiResult<Closed> {
    let mut done = Closed::default();
    for id in store::auctions_due(conn, now, limit).await? {
        let Some(locked) = listings::lock_listing(conn, id).await? else {
            continue;
        };
        let seller = seller_principal(conn, &locked).await?;
        close(conn, &seller, &locked, now, &mut done).await?;
    }
    Ok(done)
}

async fn close(
    conn: &mut AsyncPgConnection,
    seller: &Principal,
    locked: &ListingLock,
    now: DateTime<Utc>,
    done: &mut Closed,
) -> ApiResult<()> {
    let terms = locked
        .terms()
        .ok_or_else(|| ApiError::internal("an auction without terms"))?;
    let winner = match (locked.high_bidder_org_id, locked.high_bid) {
        (Some(buyer), Some(price)) if price >= terms.reserve_price => Some((buyer, price)),
        _ => None,
    };
    let mut outcome = if locked.bid_count == 0 {
        "no_bids"
    } else {
        "below_reserve"
    };
    if let Some((buyer, price)) = winner {
        // The sale in a savepoint: goods sold or lost since the listing opened make the
        // auction unsold instead of failing the run.
        let awarded = conn
            .transaction::<_, ApiError, _>(async |conn| {
                award(conn, seller, locked, &terms, buyer, price, now).await
            })
            .await;
        match awarded {
            Ok(()) => {
                done.awarded += 1;
                return_deposits(conn, seller, locked, Some(buyer)).await?;
                return Ok(());
            }
            Err(error) if error.status.is_client_error() => {
                tracing::warn!(listing = %locked.id, code = error.code, "auction could not be awarded");
                outcome = "goods_unavailable";
            }
            Err(error) => return Err(error),
        }
    }
    return_deposits(conn, seller, locked, None).await?;
    store::mark_unsold(conn, locked.id, outcome).await?;
    done.unsold += 1;
    event(
        conn,
        seller,
        "auction.unsold",
        "listing",
        locked.id,
        vec![locked.seller_org_id],
        &serde_json::json!({"id": locked.id, "status": "unsold", "outcome": outcome}),
    )
    .await?;
    if outcome != "goods_unavailable" && locked.relist_count < terms.max_relists {
        let reserve = auction::relisted_reserve(terms.reserve_price, terms.relist_step);
        if relist(
            conn,
            seller,
            locked,
            &terms,
            reserve,
            locked.relist_count + 1,
        )
        .await?
        {
            done.relisted += 1;
        }
    }
    Ok(())
}

/// The winner's sale at its price, its deposit applied as the first payment, the listing
/// `awarded` with the payment deadline.
async fn award(
    conn: &mut AsyncPgConnection,
    seller: &Principal,
    locked: &ListingLock,
    terms: &AuctionRow,
    buyer: Uuid,
    price: Decimal,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let sale = crate::sales::service::create(
        conn,
        seller,
        NewSale {
            buyer_org_id: buyer,
            currency: locked.currency.clone(),
            lines: vec![NewSaleLine {
                lot_id: locked.lot_id,
                quantity: locked.quantity.into(),
                unit_price: price.into(),
            }],
            loan_id: locked.loan_id,
        },
    )
    .await?;
    if let Some(deposit) = store::deposit_of(conn, locked.id, buyer)
        .await?
        .filter(|d| d.status == "held")
    {
        crate::sales::service::apply_held_payment(conn, seller, sale.id, deposit.amount).await?;
        store::end_deposit(conn, deposit.id, "applied", Some(sale.id), None).await?;
    }
    let due = auction::payment_due(now, terms.payment_days);
    store::mark_awarded(conn, locked.id, sale.id, due).await?;
    event(
        conn,
        seller,
        "auction.awarded",
        "listing",
        locked.id,
        vec![locked.seller_org_id, buyer],
        &serde_json::json!({
            "id": locked.id, "status": "awarded", "sale_id": sale.id,
            "unit_price": crate::domain::decimal::price::shown(price).to_string(),
            "buyer_org_id": buyer, "payment_due_at": due,
        }),
    )
    .await?;
    Ok(())
}

/// Every deposit still held on the listing back to its bidder's funds (but `keep`'s); answers
/// the buyers refunded.
pub(super) async fn return_deposits(
    conn: &mut AsyncPgConnection,
    seller: &Principal,
    locked: &ListingLock,
    keep: Option<Uuid>,
) -> ApiResult<Vec<Uuid>> {
    let held = store::held_deposits(conn, locked.id).await?;
    let mut refunded = Vec::with_capacity(held.len());
    for deposit in held.iter().filter(|d| Some(d.buyer_org_id) != keep) {
        refunded.push(deposit.buyer_org_id);
        let entry = escrow::give_back(
            conn,
            deposit.buyer_org_id,
            &deposit.currency,
            deposit.amount,
            locked.id,
        )
        .await?;
        store::end_deposit(conn, deposit.id, "returned", None, Some(entry)).await?;
        event(
            conn,
            seller,
            "deposit.returned",
            "listing",
            locked.id,
            vec![deposit.buyer_org_id],
            &serde_json::json!({
                "listing_id": locked.id, "amount": deposit.amount.to_string(),
                "currency": deposit.currency,
            }),
        )
        .await?;
    }
    Ok(refunded)
}

/// Offers the goods again by auction, for as long as the first one ran, from now; `false`
/// when the goods are no longer there to list (or the lot has another live listing).
async fn relist(
    conn: &mut AsyncPgConnection,
    seller: &Principal,
    locked: &ListingLock,
    terms: &AuctionRow,
    reserve_price: Decimal,
    relist_count: i32,
) -> ApiResult<bool> {
    let free =
        crate::lots::store::find_visible(conn, crate::lots::store::Viewer::All, locked.lot_id)
            .await?
            .map_or(Decimal::ZERO, |lot| {
                lot.quantity_on_hand - lot.quantity_reserved
            });
    if free < locked.quantity {
        return Ok(false);
    }
    let now = Utc::now();
    let id = Uuid::new_v4();
    let tier = listings::tier_of(conn, locked.seller_org_id).await?;
    let inserted = listings::insert_listing(
        conn,
        NewListingRow {
            id,
            lot_id: locked.lot_id,
            seller_org_id: locked.seller_org_id,
            loan_id: locked.loan_id,
            mode: "auction",
            currency: &locked.currency,
            quantity: locked.quantity,
            unit_price: None,
            seller_tier: &tier,
            created_by: locked.created_by,
            auction: Some(AuctionRow {
                reserve_price,
                starts_at: now,
                ends_at: now + (terms.ends_at - terms.starts_at),
                ..*terms
            }),
            relisted_from: Some((locked.id, relist_count)),
            group: None,
            forward: None,
        },
    )
    .await?;
    if !inserted {
        return Ok(false);
    }
    let listing = find(conn, &Reader::All, id).await?;
    event(
        conn,
        seller,
        "listing.opened",
        "listing",
        id,
        vec![locked.seller_org_id],
        &listing,
    )
    .await?;
    Ok(true)
}

/// Forfeits the sales of winners that did not pay by their deadline (at `now`, at most
/// `limit`): the deposit goes to the seller's side, the goods are offered again at the same
/// reserve.
pub async fn forfeit_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> ApiResult<usize> {
    let mut done = 0;
    for id in store::payments_overdue(conn, now, limit).await? {
        let forfeited = conn
            .transaction::<_, ApiError, _>(async |conn| forfeit_one(conn, id).await)
            .await;
        if kept("auction forfeiture", id, forfeited)? {
            done += 1;
        }
    }
    Ok(done)
}

/// One item of the market job's work, done in its own savepoint: a refusal (the item changed
/// under the run — a payment landed, the goods went) is logged and skipped without undoing
/// the rest of the run; a fault fails the run. Answers whether it was done.
pub(super) fn kept(what: &str, id: Uuid, result: ApiResult<()>) -> ApiResult<bool> {
    match result {
        Ok(()) => Ok(true),
        Err(error) if error.status.is_client_error() => {
            tracing::warn!(%id, code = error.code, "market job: {what} skipped");
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

async fn forfeit_one(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<()> {
    let Some(locked) = listings::lock_listing(conn, id).await? else {
        return Ok(());
    };
    let (Some(sale_id), Some(terms)) = (locked.sale_id, locked.terms()) else {
        return Ok(());
    };
    let seller = seller_principal(conn, &locked).await?;
    let sale = crate::sales::forfeit::forfeit(conn, &seller, sale_id).await?;
    store::forfeit_deposit_of_sale(conn, sale_id).await?;
    store::mark_unsold(conn, locked.id, "unpaid").await?;
    event(
        conn,
        &seller,
        "auction.forfeited",
        "listing",
        locked.id,
        vec![locked.seller_org_id, sale.buyer_org_id],
        &serde_json::json!({
            "id": locked.id, "status": "unsold", "outcome": "unpaid", "sale_id": sale_id,
            "forfeited": sale.paid.to_string(),
        }),
    )
    .await?;
    relist(
        conn,
        &seller,
        &locked,
        &terms,
        terms.reserve_price,
        locked.relist_count,
    )
    .await?;
    Ok(())
}
