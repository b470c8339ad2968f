//! Forward sales of goods in transit (the boards at sea): a forward listing takes offers as a
//! fixed-price one does; accepting one creates the sale (reserving the goods aboard) and moves
//! the buyer's margin — `margin_rate` of the sale's total — from its market funds into escrow.
//! When the goods are unloaded the sale falls due: the margin, in proportion to what arrived,
//! becomes its first payment and the rest of it returns (goods that arrive short shrink the
//! sale, as a count does); the buyer pays the rest within `payment_days` business days, or
//! forfeits what the margin paid to the seller's side of the waterfall.

use super::auction::{kept, seller_principal};
use super::auction_store::{self as store, Arrived};
use super::escrow;
use super::service::event;
use super::store::{self as listings, ListingLock};
use crate::auth::Principal;
use crate::domain::auction::payment_due;
use crate::domain::lending::round_half_even;
use crate::domain::valuation::{at_minor_unit, minor_units};
use crate::error::{ApiError, ApiResult};
use crate::sales::model::Sale;
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use rust_decimal::Decimal;

pub fn default_margin_rate() -> Decimal {
    Decimal::new(10, 2)
}

fn money(value: Decimal, currency: &str) -> Decimal {
    at_minor_unit(round_half_even(value, minor_units(currency)), currency)
}

/// The margin of an accepted forward offer's `sale`, from the buyer's funds into escrow
/// (409 `insufficient_funds` naming `margin` when its funds do not cover it: nothing is
/// accepted). `seller` accepts.
pub async fn take_margin(
    conn: &mut AsyncPgConnection,
    seller: &Principal,
    locked: &ListingLock,
    sale: &Sale,
    quantity: Decimal,
) -> ApiResult<Decimal> {
    let rate = locked
        .margin_rate
        .ok_or_else(|| ApiError::internal("a forward listing without its margin rate"))?;
    let margin = money(sale.total.amount() * rate, &sale.currency);
    if margin.is_zero() {
        return Ok(margin);
    }
    escrow::hold(
        conn,
        seller,
        escrow::Hold {
            listing_id: locked.id,
            buyer_org_id: sale.buyer_org_id,
            kind: "margin",
            currency: &sale.currency,
            amount: margin,
            quantity: Some(quantity),
            sale_id: Some(sale.id),
            called: "margin",
        },
    )
    .await?;
    Ok(margin)
}

/// What the forward part of one market run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    /// Sales whose goods were unloaded, now due.
    pub due: usize,
    /// Margins returned whole: the sale was paid, or cancelled, before the goods arrived.
    pub returned: usize,
    pub forfeited: usize,
}

/// The margins whose goods were unloaded by now: each sale falls due (at most `limit`).
pub async fn arrivals(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
    done: &mut Forwarded,
) -> ApiResult<()> {
    for margin in store::margins_arrived(conn, limit).await? {
        let handled = conn
            .transaction::<_, ApiError, _>(async |conn| arrived(conn, &margin, now, done).await)
            .await;
        kept("forward arrival", margin.sale_id, handled)?;
    }
    Ok(())
}

/// One margin whose goods arrived (or whose sale ended).
async fn arrived(
    conn: &mut AsyncPgConnection,
    margin: &Arrived,
    now: DateTime<Utc>,
    done: &mut Forwarded,
) -> ApiResult<()> {
    let Some(locked) = listings::lock_listing(conn, margin.listing_id).await? else {
        return Ok(());
    };
    let seller = seller_principal(conn, &locked).await?;
    if margin.sale_status != "pending" || margin.delivered.is_zero() {
        // Paid in full before arrival, or cancelled (nothing arrived): all of it back.
        let entry = escrow::give_back(
            conn,
            margin.buyer_org_id,
            &margin.currency,
            margin.amount,
            locked.id,
        )
        .await?;
        store::end_deposit(
            conn,
            margin.id,
            "returned",
            Some(margin.sale_id),
            Some(entry),
        )
        .await?;
        done.returned += 1;
        return Ok(());
    }
    fall_due(conn, &seller, &locked, margin, now).await?;
    done.due += 1;
    Ok(())
}

/// The margin in proportion to what arrived becomes the sale's first payment, the rest goes
/// back; the sale is due `payment_days` business days on.
async fn fall_due(
    conn: &mut AsyncPgConnection,
    seller: &Principal,
    locked: &ListingLock,
    margin: &Arrived,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let share = (margin.delivered / margin.quantity).min(Decimal::ONE);
    let kept = money(margin.amount * share, &margin.currency).min(margin.amount);
    let sale = if kept > Decimal::ZERO {
        crate::sales::service::apply_held_payment(conn, seller, margin.sale_id, kept).await?
    } else {
        crate::sales::service::sale(conn, seller, margin.sale_id).await?
    };
    // A payment is capped at what is due: whatever the margin did not pay goes back too.
    let applied = kept.min(sale.paid.amount());
    let back = margin.amount - applied;
    let entry = if back > Decimal::ZERO {
        Some(escrow::give_back(conn, margin.buyer_org_id, &margin.currency, back, locked.id).await?)
    } else {
        None
    };
    let due = payment_due(now, locked.payment_days.unwrap_or(2));
    store::margin_applied(conn, margin.id, due, entry).await?;
    event(
        conn,
        seller,
        "forward.due",
        "sale",
        margin.sale_id,
        vec![locked.seller_org_id, margin.buyer_org_id],
        &serde_json::json!({
            "sale_id": margin.sale_id, "listing_id": locked.id, "due_at": due,
            "quantity_sold": margin.quantity.to_string(),
            "quantity_delivered": margin.delivered.to_string(),
            "margin": margin.amount.to_string(), "margin_applied": applied.to_string(),
            "margin_returned": back.to_string(), "total": sale.total.to_string(),
        }),
    )
    .await?;
    Ok(())
}

/// Forward sales past their due date unpaid (at most `limit`): the buyer forfeits what its
/// margin paid, to the seller's side of the waterfall.
pub async fn forfeit_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
    done: &mut Forwarded,
) -> ApiResult<()> {
    for margin in store::margins_overdue(conn, now, limit).await? {
        let forfeited = conn
            .transaction::<_, ApiError, _>(async |conn| forfeit_one(conn, &margin).await)
            .await;
        if kept("forward forfeiture", margin.sale_id, forfeited)? {
            done.forfeited += 1;
        }
    }
    Ok(())
}

async fn forfeit_one(conn: &mut AsyncPgConnection, margin: &Arrived) -> ApiResult<()> {
    let Some(locked) = listings::lock_listing(conn, margin.listing_id).await? else {
        return Ok(());
    };
    let seller = seller_principal(conn, &locked).await?;
    let sale = crate::sales::forfeit::forfeit(conn, &seller, margin.sale_id).await?;
    store::forfeit_deposit_of_sale(conn, margin.sale_id).await?;
    event(
        conn,
        &seller,
        "forward.forfeited",
        "sale",
        margin.sale_id,
        vec![locked.seller_org_id, margin.buyer_org_id],
        &serde_json::json!({"sale_id": margin.sale_id, "listing_id": locked.id,
            "forfeited": sale.paid.to_string()}),
    )
    .await?;
    Ok(())
}
