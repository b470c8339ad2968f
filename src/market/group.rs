//! Group buying: buyers join a group listing with a quantity and pay it in full into escrow
//! (from their market funds); at the deadline, if together they joined the minimum, every
//! member's sale is created and settled at the group price in one transaction, otherwise every
//! payment returns. All or nothing: a member's sale that cannot be made or settled (the goods
//! gone, a lender's consent missing) fails the whole group, and everyone is refunded.
//!
//! Locks: the listing first (joins queue on it), then the joining buyer's funds account; at the
//! deadline, the listing, then what each sale takes.

use super::auction::{return_deposits, seller_principal};
use super::auction_store as store;
use super::escrow;
use super::model::*;
use super::service::{event, find, listing_not_found, must_be_open, reader_of};
use super::store::{self as listings, ListingLock};
use crate::auth::{OrgKind, Principal};
use crate::domain::lending::round_half_even;
use crate::domain::states::SaleStatus;
use crate::domain::valuation::{at_minor_unit, minor_units};
use crate::error::{ApiError, ApiResult};
use crate::http::validate;
use crate::sales::model::{NewSale, NewSaleLine};
use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use rust_decimal::Decimal;
use uuid::Uuid;

/// A group's terms, checked: (group price, minimum total quantity, deadline).
pub fn terms(new: &GroupTerms) -> ApiResult<(Decimal, Decimal, DateTime<Utc>)> {
    let price = validate::unit_price("group.group_price", new.group_price.value(), 6)?;
    let now = Utc::now();
    if new.deadline <= now {
        return Err(ApiError::invalid(
            "group.deadline",
            "a group's deadline is after now",
        ));
    }
    if new.deadline > now + Duration::days(super::auction::MAX_SPAN_DAYS) {
        return Err(ApiError::invalid(
            "group.deadline",
            format!(
                "a group closes within {} days",
                super::auction::MAX_SPAN_DAYS
            ),
        ));
    }
    Ok((price, new.min_total_quantity.value(), new.deadline))
}

fn group_price(locked: &ListingLock) -> ApiResult<Decimal> {
    match (locked.mode.as_str(), locked.unit_price, locked.deadline) {
        ("group", Some(price), Some(_)) => Ok(price),
        _ => Err(ApiError::conflict(
            "listing_mode",
            "buyers join group listings",
        )),
    }
}

/// A buyer joins an open group its tier sees, paying quantity × group price into escrow now.
/// Refused: 409 `group_closed` past the deadline, `quantity_not_available` beyond what is left,
/// `already_joined`, `insufficient_funds`.
pub async fn join(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    listing_id: Uuid,
    new: &NewJoin,
) -> ApiResult<Joined> {
    if principal.kind != OrgKind::Buyer {
        return Err(ApiError::forbidden("only buyers join a group"));
    }
    let reader = reader_of(conn, principal).await?;
    let seen = find(conn, &reader, listing_id).await?;
    let quantity = validate::quantity("quantity", new.quantity.value(), &seen.verified.unit)?;
    let locked = listings::lock_listing(conn, listing_id)
        .await?
        .ok_or_else(listing_not_found)?;
    must_be_open(&locked)?;
    let price = group_price(&locked)?;
    if locked.deadline.is_some_and(|d| d <= Utc::now()) {
        return Err(
            ApiError::conflict("group_closed", "the group's deadline has passed")
                .with("deadline", locked.deadline),
        );
    }
    let left = locked.quantity - locked.quantity_committed;
    if quantity > left {
        return Err(ApiError::conflict(
            "quantity_not_available",
            "more than the group has left to join",
        )
        .with("field", "quantity")
        .with("quantity_available", left.to_string()));
    }
    if store::join_of(conn, listing_id, principal.org_id)
        .await?
        .is_some()
    {
        return Err(ApiError::conflict(
            "already_joined",
            "you have joined this group already",
        ));
    }
    let paid = at_minor_unit(
        round_half_even(quantity * price, minor_units(&locked.currency)),
        &locked.currency,
    );
    escrow::hold(
        conn,
        principal,
        escrow::Hold {
            listing_id,
            buyer_org_id: principal.org_id,
            kind: "group",
            currency: &locked.currency,
            amount: paid,
            quantity: Some(quantity),
            sale_id: None,
            called: "payment",
        },
    )
    .await?;
    store::add_joined(conn, listing_id, quantity).await?;
    event(
        conn,
        principal,
        "group.joined",
        "listing",
        listing_id,
        vec![principal.org_id, locked.seller_org_id],
        &serde_json::json!({
            "listing_id": listing_id, "quantity": quantity.to_string(), "paid": paid.to_string(),
            "joined_quantity": (locked.quantity_committed + quantity).to_string(),
        }),
    )
    .await?;
    let listing = find(conn, &reader, listing_id).await?;
    Ok(Joined {
        listing_id,
        quantity,
        paid,
        currency: locked.currency,
        listing,
    })
}

/// What the group part of one market run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub filled: usize,
    pub failed: usize,
}

/// Ends the groups past their deadline at `now` (at most `limit`).
pub async fn end_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> ApiResult<Ended> {
    let mut done = Ended::default();
    for id in store::groups_due(conn, now, limit).await? {
        let Some(locked) = listings::lock_listing(conn, id).await? else {
            continue;
        };
        let seller = seller_principal(conn, &locked).await?;
        let minimum = locked.min_total_quantity.unwrap_or(locked.quantity);
        let outcome = if locked.quantity_committed < minimum {
            "below_minimum"
        } else {
            // Every member's sale in one savepoint: all settle, or none is kept.
            match conn
                .transaction::<_, ApiError, _>(async |conn| fill(conn, &seller, &locked).await)
                .await
            {
                Ok(members) => {
                    store::end_group(conn, id, "filled", None).await?;
                    event(
                        conn,
                        &seller,
                        "group.filled",
                        "listing",
                        id,
                        members,
                        &serde_json::json!({"id": id, "status": "filled",
                            "joined_quantity": locked.quantity_committed.to_string()}),
                    )
                    .await?;
                    done.filled += 1;
                    continue;
                }
                Err(error) if error.status.is_client_error() => {
                    tracing::warn!(listing = %id, code = error.code, "group could not be filled");
                    "goods_unavailable"
                }
                Err(error) => return Err(error),
            }
        };
        let mut members = return_deposits(conn, &seller, &locked, None).await?;
        members.push(locked.seller_org_id);
        store::end_group(conn, id, "failed", Some(outcome)).await?;
        event(
            conn,
            &seller,
            "group.failed",
            "listing",
            id,
            members,
            &serde_json::json!({"id": id, "status": "failed", "outcome": outcome,
                "joined_quantity": locked.quantity_committed.to_string()}),
        )
        .await?;
        done.failed += 1;
    }
    Ok(done)
}

/// Each member's sale at the group price, paid in full from its escrowed payment and so
/// settled; answers the orgs to tell. Any member's sale not settled fails them all.
async fn fill(
    conn: &mut AsyncPgConnection,
    seller: &Principal,
    locked: &ListingLock,
) -> ApiResult<Vec<Uuid>> {
    let price = group_price(locked)?;
    let mut told = vec![locked.seller_org_id];
    for member in store::held_deposits(conn, locked.id).await? {
        let quantity = member
            .quantity
            .ok_or_else(|| ApiError::internal("a group payment without its quantity"))?;
        let sale = crate::sales::service::create(
            conn,
            seller,
            NewSale {
                buyer_org_id: member.buyer_org_id,
                currency: locked.currency.clone(),
                lines: vec![NewSaleLine {
                    lot_id: locked.lot_id,
                    quantity: quantity.into(),
                    unit_price: price.into(),
                }],
                loan_id: locked.loan_id,
            },
        )
        .await?;
        let sale =
            crate::sales::service::apply_held_payment(conn, seller, sale.id, member.amount).await?;
        if sale.status != SaleStatus::Settled {
            return Err(ApiError::conflict(
                "group_not_settled",
                "a member's sale could not settle at once",
            )
            .with("sale_id", sale.id));
        }
        store::end_deposit(conn, member.id, "applied", Some(sale.id), None).await?;
        told.push(member.buyer_org_id);
    }
    Ok(told)
}
