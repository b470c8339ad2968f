//! Market use cases: listing goods the platform holds, browsing them as a buyer's tier allows,
//! offering on a fixed-price listing, and the seller accepting (a sale of part one) or
//! rejecting.
//!
//! Locks: a listing before its offers, then whatever the sale takes (the lot, the loan), so
//! an accept, a withdrawal and a new offer on one listing queue behind each other.

use super::model::*;
use super::store::{self, Filters, ListingLock, OfferScope, Reader};
use crate::auth::{OrgKind, Principal};
use crate::calendar::business_date;
use crate::domain::states::{LoanStatus, LotStatus};
use crate::error::{ApiError, ApiResult};
use crate::http::validate;
use crate::http::{Page, PageQuery};
use crate::integrity::{self, Change, to_json};
use crate::lots::model::lot_not_found;
use crate::lots::store::{self as lots, Viewer};
use crate::sales::model::{NewSale, NewSaleLine};
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

/// The modes a listing may have.
const MODES: [&str; 4] = ["fixed", "auction", "group", "forward"];
const STATUSES: [&str; 8] = [
    "scheduled",
    "open",
    "closed",
    "awarded",
    "unsold",
    "withdrawn",
    "filled",
    "failed",
];
const OFFER_STATUSES: [&str; 6] = [
    "open",
    "accepted",
    "rejected",
    "withdrawn",
    "expired",
    "cancelled",
];
/// How long an offer stands unless the buyer says otherwise.
pub const DEFAULT_OFFER_HOURS: i32 = 48;
/// The most listings one page gives.
pub const MAX_LISTINGS_PAGE: i64 = 200;

pub fn listing_not_found() -> ApiError {
    ApiError::not_found("listing_not_found", "no such listing")
}

pub fn offer_not_found() -> ApiError {
    ApiError::not_found("offer_not_found", "no such offer")
}

/// Who the caller reads listings as.
pub(super) async fn reader_of(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
) -> ApiResult<Reader> {
    Ok(match principal.kind {
        OrgKind::Buyer => {
            let (tier, deposit_factor) =
                store::tier_and_deposit_factor(conn, principal.org_id).await?;
            Reader::Buyer {
                org: principal.org_id,
                tier,
                deposit_factor,
            }
        }
        OrgKind::Platform => Reader::All,
        _ => Reader::Seller(principal.org_id),
    })
}

pub(super) fn lens(reader: &Reader) -> Lens {
    match reader {
        Reader::Buyer {
            org,
            deposit_factor,
            ..
        } => Lens {
            sees_seller_side: false,
            buyer: Some((*org, *deposit_factor)),
        },
        _ => Lens {
            sees_seller_side: true,
            buyer: None,
        },
    }
}

fn one_of(field: &str, value: Option<&str>, allowed: &[&str]) -> ApiResult<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
        Some(v) => Err(ApiError::invalid(
            field,
            format!("`{v}` is not one of {}", allowed.join(", ")),
        )),
    }
}

/// A page of listings the caller may see, ranked (seller tier, freshness, age).
pub async fn listings(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: ListingQuery,
) -> ApiResult<Page<Listing>> {
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor.clone())?;
    if limit > MAX_LISTINGS_PAGE {
        return Err(ApiError::invalid(
            "limit",
            format!("at most {MAX_LISTINGS_PAGE} listings a page"),
        ));
    }
    if let Some(code) = &query.commodity_code {
        validate::commodity_code("commodity_code", code)?;
    }
    let grade = match &query.grade {
        Some(g) => Some(validate::text("grade", g, 20)?),
        None => None,
    };
    let filters = Filters {
        id: None,
        commodity_code: query.commodity_code.clone(),
        grade,
        warehouse_id: query.warehouse_id,
        mode: one_of("mode", query.mode.as_deref(), &MODES)?,
        status: one_of("status", query.status.as_deref(), &STATUSES)?,
        min_quantity: query.min_quantity.map(|q| q.value()),
        max_price: query.max_price.map(|p| p.value()),
    };
    let reader = reader_of(conn, principal).await?;
    let today = business_date(conn).await?;
    let offset = after.unwrap_or(0);
    let rows = store::listings(conn, &reader, &filters, today, offset, limit + 1).await?;
    let items: Vec<Listing> = rows
        .into_iter()
        .map(|r| r.into_listing(lens(&reader)))
        .collect();
    Ok(Page::at_offset(items, offset, limit))
}

/// Each tier's delay (minutes) before a new listing reaches its buyers, shortest first.
pub async fn visibility_delays(conn: &mut AsyncPgConnection) -> ApiResult<Vec<(String, i32)>> {
    Ok(store::visibility_delays(conn).await?)
}

/// One listing, if the caller may see it (a buyer: open, and its tier sees it by now).
pub async fn listing(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Listing> {
    let reader = reader_of(conn, principal).await?;
    find(conn, &reader, id).await
}

pub(super) async fn find(
    conn: &mut AsyncPgConnection,
    reader: &Reader,
    id: Uuid,
) -> ApiResult<Listing> {
    let today = business_date(conn).await?;
    let filters = Filters {
        id: Some(id),
        ..Filters::default()
    };
    store::listings(conn, reader, &filters, today, 0, 1)
        .await?
        .into_iter()
        .next()
        .map(|r| r.into_listing(lens(reader)))
        .ok_or_else(listing_not_found)
}

/// A seller lists goods it holds: a supplier its own lot, a lender a lot pledged to its
/// liquidating loan (`loan_id`). Nothing is reserved until an offer is accepted.
pub async fn create_listing(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewListing,
) -> ApiResult<Listing> {
    let currency = validate::currency("currency", &new.currency)?;
    let terms = terms_of(new)?;
    let lot = match (principal.kind, new.loan_id) {
        (OrgKind::Supplier, loan) => {
            let lot = lots::find_visible(conn, Viewer::Owner(principal.org_id), new.lot_id)
                .await?
                .ok_or_else(lot_not_found)?;
            if loan.is_some() {
                return Err(ApiError::forbidden(
                    "only a lender names a loan: it lists the goods of its liquidating loan",
                )
                .with("field", "loan_id"));
            }
            lot
        }
        (OrgKind::Lender, None) => {
            return Err(ApiError::invalid(
                "loan_id",
                "a lender lists the goods of its liquidating loan: name the loan",
            ));
        }
        (OrgKind::Lender, Some(loan_id)) => {
            let loan = crate::lending::service::loan(conn, principal, loan_id).await?;
            if loan.status != LoanStatus::Liquidating {
                return Err(ApiError::conflict(
                    "loan_status",
                    format!(
                        "the loan is {}; only a liquidating loan's goods are listed",
                        loan.status
                    ),
                )
                .with("status", loan.status));
            }
            if !loan.collateral.iter().any(|c| c.lot_id == new.lot_id) {
                return Err(ApiError::invalid(
                    "lot_id",
                    "this lot is not pledged to the loan",
                ));
            }
            lots::find_visible(conn, Viewer::Lender(principal.org_id), new.lot_id)
                .await?
                .ok_or_else(lot_not_found)?
        }
        _ => {
            return Err(ApiError::forbidden(
                "only a supplier or a lender lists goods",
            ));
        }
    };
    if !matches!(lot.status, LotStatus::InCustody | LotStatus::InTransit) {
        return Err(ApiError::conflict(
            "lot_status",
            format!(
                "the lot is {}; goods are listed in custody or in transit",
                lot.status
            ),
        )
        .with("status", lot.status));
    }
    if new.mode == "forward" && lot.status != LotStatus::InTransit {
        return Err(ApiError::conflict(
            "lot_status",
            format!(
                "the lot is {}; goods are sold forward while in transit",
                lot.status
            ),
        )
        .with("status", lot.status));
    }
    let quantity = validate::quantity("quantity", new.quantity.value(), &lot.unit)?;
    if let Some((minimum, _)) = terms.group
        && minimum > quantity
    {
        return Err(ApiError::invalid(
            "group.min_total_quantity",
            "at most the quantity listed",
        ));
    }
    let free = lot.quantity_on_hand - lot.quantity_reserved;
    if quantity > free {
        return Err(
            ApiError::conflict("quantity_not_free", "more than the lot has free to sell")
                .with("field", "quantity")
                .with("quantity_free", free.to_string()),
        );
    }
    let tier = store::tier_of(conn, principal.org_id).await?;
    let id = Uuid::new_v4();
    let inserted = store::insert_listing(
        conn,
        store::NewListingRow {
            id,
            lot_id: lot.id,
            seller_org_id: principal.org_id,
            loan_id: new.loan_id,
            mode: &new.mode,
            currency: &currency,
            quantity,
            unit_price: terms.unit_price,
            seller_tier: &tier,
            created_by: principal.user_id,
            auction: terms.auction,
            relisted_from: None,
            group: terms.group,
            forward: terms.forward,
        },
    )
    .await?;
    if !inserted {
        return Err(ApiError::conflict(
            "listing_exists",
            "the lot already has an open listing: withdraw it first",
        ));
    }
    let listing = find(conn, &Reader::Seller(principal.org_id), id).await?;
    let mut org_ids = vec![principal.org_id];
    if lot.owner_org_id != principal.org_id {
        org_ids.push(lot.owner_org_id);
    }
    event(
        conn,
        principal,
        "listing.opened",
        "listing",
        id,
        org_ids,
        &listing,
    )
    .await?;
    Ok(listing)
}

/// A new listing's terms, checked: its price, and its mode's own terms.
struct Terms {
    unit_price: Option<rust_decimal::Decimal>,
    auction: Option<store::AuctionRow>,
    group: Option<(rust_decimal::Decimal, chrono::DateTime<Utc>)>,
    forward: Option<(rust_decimal::Decimal, i32)>,
}

fn terms_of(new: &NewListing) -> ApiResult<Terms> {
    let mut terms = Terms {
        unit_price: None,
        auction: None,
        group: None,
        forward: None,
    };
    // Each mode's terms, and no other mode's.
    let named = [
        ("auction", new.auction.is_some()),
        ("group", new.group.is_some()),
        ("forward", new.forward.is_some()),
    ];
    if let Some((other, _)) = named.iter().find(|(m, given)| *given && *m != new.mode) {
        return Err(ApiError::invalid(
            other,
            format!("{other} terms are for a {other} listing"),
        ));
    }
    let asking = match &new.unit_price {
        Some(price) => Some(validate::unit_price("unit_price", price.value(), 6)?),
        None => None,
    };
    match new.mode.as_str() {
        "fixed" | "forward" => {
            terms.unit_price = Some(asking.ok_or_else(|| {
                ApiError::invalid(
                    "unit_price",
                    "a fixed-price or forward listing names its price",
                )
            })?);
            if new.mode == "forward" {
                let f = new.forward.as_ref();
                terms.forward = Some((
                    f.and_then(|f| f.margin_rate.as_ref())
                        .map_or(super::forward::default_margin_rate(), |r| r.value()),
                    match f.and_then(|f| f.payment_days) {
                        None => super::auction::DEFAULT_PAYMENT_DAYS,
                        Some(days @ 1..=30) => days,
                        Some(_) => {
                            return Err(ApiError::invalid("forward.payment_days", "from 1 to 30"));
                        }
                    },
                ));
            }
        }
        "auction" | "group" if asking.is_some() => {
            return Err(ApiError::invalid(
                "unit_price",
                if new.mode == "auction" {
                    "an auction's bids set its price, from the reserve in its terms"
                } else {
                    "a group's price is group.group_price"
                },
            ));
        }
        "auction" => {
            let given = new.auction.as_ref().ok_or_else(|| {
                ApiError::invalid(
                    "auction",
                    "an auction listing gives its terms (reserve_price, min_increment, ends_at, …)",
                )
            })?;
            terms.auction = Some(super::auction::terms(given)?);
        }
        "group" => {
            let given = new.group.as_ref().ok_or_else(|| {
                ApiError::invalid(
                    "group",
                    "a group listing gives its terms (group_price, min_total_quantity, deadline)",
                )
            })?;
            let (price, minimum, deadline) = super::group::terms(given)?;
            terms.unit_price = Some(price);
            terms.group = Some((minimum, deadline));
        }
        other => {
            return Err(ApiError::invalid(
                "mode",
                format!("`{other}` is not one of {}", MODES.join(", ")),
            ));
        }
    }
    Ok(terms)
}

pub(super) async fn event(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    action: &'static str,
    kind: &'static str,
    id: Uuid,
    org_ids: Vec<Uuid>,
    after: &impl serde::Serialize,
) -> ApiResult<()> {
    integrity::record(
        conn,
        Some(principal),
        Change {
            action,
            object_kind: kind,
            object_id: id.to_string(),
            org_ids,
            before: None,
            after: Some(to_json(after)?),
        },
    )
    .await?;
    Ok(())
}

/// The caller's listing, locked; another's is not found.
async fn own_listing(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<ListingLock> {
    store::lock_listing(conn, id)
        .await?
        .filter(|l| l.seller_org_id == principal.org_id)
        .ok_or_else(listing_not_found)
}

pub(super) fn must_be_open(listing: &ListingLock) -> ApiResult<()> {
    if listing.status != "open" {
        return Err(ApiError::conflict(
            "listing_status",
            format!("the listing is {}", listing.status),
        )
        .with("status", listing.status.clone()));
    }
    Ok(())
}

/// The seller withdraws an open listing; its open offers are rejected (`listing_withdrawn`).
pub async fn withdraw(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Listing> {
    let locked = own_listing(conn, principal, id).await?;
    must_be_open(&locked)?;
    if locked.bid_count > 0 {
        return Err(ApiError::conflict(
            "auction_has_bids",
            "bidders hold deposits on this auction: it runs to its close",
        )
        .with("bid_count", locked.bid_count));
    }
    if locked.mode == "group" && locked.quantity_committed > Decimal::ZERO {
        return Err(ApiError::conflict(
            "group_has_members",
            "members have paid into this group: it runs to its deadline",
        ));
    }
    store::withdraw_listing(conn, id).await?;
    let ended = store::end_open_offers(conn, id, "listing_withdrawn").await?;
    for offer in &ended {
        event(
            conn,
            principal,
            "offer.rejected",
            "offer",
            offer.id,
            vec![offer.buyer_org_id, principal.org_id],
            offer,
        )
        .await?;
    }
    let listing = find(conn, &Reader::Seller(principal.org_id), id).await?;
    event(
        conn,
        principal,
        "listing.withdrawn",
        "listing",
        id,
        vec![principal.org_id],
        &listing,
    )
    .await?;
    Ok(listing)
}

/// A buyer offers a quantity at a price on an open fixed-price listing its tier sees.
pub async fn make_offer(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    listing_id: Uuid,
    new: &NewOffer,
) -> ApiResult<Offer> {
    let hours = new.valid_hours.unwrap_or(DEFAULT_OFFER_HOURS);
    if !(1..=168).contains(&hours) {
        return Err(ApiError::invalid(
            "valid_hours",
            "an offer stands 1 to 168 hours",
        ));
    }
    let unit_price = validate::unit_price("unit_price", new.unit_price.value(), 6)?;
    let reader = reader_of(conn, principal).await?;
    // Seen as the buyer sees it (open, its tier's time come), then locked.
    let seen = find(conn, &reader, listing_id).await?;
    let locked = store::lock_listing(conn, listing_id)
        .await?
        .ok_or_else(listing_not_found)?;
    must_be_open(&locked)?;
    if !matches!(locked.mode.as_str(), "fixed" | "forward") {
        return Err(ApiError::conflict(
            "listing_mode",
            "offers are made on fixed-price and forward listings",
        ));
    }
    let quantity = validate::quantity("quantity", new.quantity.value(), &seen.verified.unit)?;
    let available = locked.quantity - locked.quantity_committed;
    if quantity > available {
        return Err(ApiError::conflict(
            "quantity_not_available",
            "more than the listing has available",
        )
        .with("field", "quantity")
        .with("quantity_available", available.to_string()));
    }
    let offer = store::insert_offer(
        conn,
        store::NewOfferRow {
            id: Uuid::new_v4(),
            listing_id,
            buyer_org_id: principal.org_id,
            quantity,
            unit_price,
            expires_at: Utc::now() + chrono::Duration::hours(i64::from(hours)),
            created_by: principal.user_id,
        },
    )
    .await?;
    event(
        conn,
        principal,
        "offer.made",
        "offer",
        offer.id,
        vec![principal.org_id, locked.seller_org_id],
        &offer,
    )
    .await?;
    Ok(offer)
}

/// The offers the caller may see: a buyer's own, a seller's on its listings, all for the
/// platform; oldest first.
pub async fn offers(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: OfferQuery,
) -> ApiResult<Page<Offer>> {
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let status = one_of("status", query.status.as_deref(), &OFFER_STATUSES)?;
    let scope = match principal.kind {
        OrgKind::Buyer => OfferScope::Buyer(principal.org_id),
        OrgKind::Platform => OfferScope::All,
        _ => OfferScope::Seller(principal.org_id),
    };
    let rows = store::offers(
        conn,
        scope,
        query.listing_id,
        status.as_deref(),
        after,
        limit,
    )
    .await?;
    let now = Utc::now();
    let rows = rows.into_iter().map(|o| o.as_of(now)).collect();
    Ok(Page::from_rows(rows, limit, |o: &Offer| o.seq))
}

/// The offer and its listing, both locked (listing first), for the listing's seller.
async fn seller_offer(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<(ListingLock, Offer)> {
    let offer = store::find_offer(conn, id)
        .await?
        .ok_or_else(offer_not_found)?;
    let listing = store::lock_listing(conn, offer.listing_id)
        .await?
        .filter(|l| l.seller_org_id == principal.org_id)
        .ok_or_else(offer_not_found)?;
    let offer = store::lock_offer(conn, id)
        .await?
        .ok_or_else(offer_not_found)?;
    let now = Utc::now();
    let offer = offer.as_of(now);
    if offer.status != "open" {
        return Err(
            ApiError::conflict("offer_status", format!("the offer is {}", offer.status))
                .with("status", offer.status),
        );
    }
    Ok((listing, offer))
}

/// The seller accepts an open offer: a sale to the buyer at the offer's price and quantity
/// (reserving the goods, as any sale does); the listing closes when nothing is left, and its
/// other open offers are rejected (`sold_out`).
pub async fn accept(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Accepted> {
    let (listing, offer) = seller_offer(conn, principal, id).await?;
    must_be_open(&listing)?;
    let available = listing.quantity - listing.quantity_committed;
    if offer.quantity > available {
        return Err(ApiError::conflict(
            "quantity_not_available",
            "the listing has less left than this offer asks",
        )
        .with("quantity_available", available.to_string()));
    }
    let sale = crate::sales::service::create(
        conn,
        principal,
        NewSale {
            buyer_org_id: offer.buyer_org_id,
            currency: listing.currency.clone(),
            lines: vec![NewSaleLine {
                lot_id: listing.lot_id,
                quantity: offer.quantity.into(),
                unit_price: offer.unit_price.into(),
            }],
            loan_id: listing.loan_id,
        },
    )
    .await?;
    // A forward sale: the buyer's margin into escrow now, or nothing is accepted.
    if listing.mode == "forward" {
        super::forward::take_margin(conn, principal, &listing, &sale, offer.quantity).await?;
    }
    let accepted = store::accept_offer(conn, id, sale.id, principal.user_id).await?;
    store::commit_quantity(conn, listing.id, offer.quantity).await?;
    event(
        conn,
        principal,
        "offer.accepted",
        "offer",
        id,
        vec![offer.buyer_org_id, principal.org_id],
        &accepted,
    )
    .await?;
    if offer.quantity == available {
        let ended = store::end_open_offers(conn, listing.id, "sold_out").await?;
        for other in &ended {
            event(
                conn,
                principal,
                "offer.rejected",
                "offer",
                other.id,
                vec![other.buyer_org_id, principal.org_id],
                other,
            )
            .await?;
        }
        event(
            conn,
            principal,
            "listing.closed",
            "listing",
            listing.id,
            vec![principal.org_id],
            &serde_json::json!({"id": listing.id, "status": "closed"}),
        )
        .await?;
    }
    Ok(Accepted {
        offer: accepted,
        sale,
    })
}

/// The seller rejects an open offer, optionally saying why.
pub async fn reject(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    rejection: &Rejection,
) -> ApiResult<Offer> {
    let reason = match &rejection.reason {
        Some(r) => Some(validate::text("reason", r, 500)?),
        None => None,
    };
    let (_, offer) = seller_offer(conn, principal, id).await?;
    let ended = store::end_offer(
        conn,
        id,
        "rejected",
        reason.as_deref(),
        Some(principal.user_id),
    )
    .await?;
    event(
        conn,
        principal,
        "offer.rejected",
        "offer",
        id,
        vec![offer.buyer_org_id, principal.org_id],
        &ended,
    )
    .await?;
    Ok(ended)
}
