//! Money the market holds for buyers: taken from a buyer's market funds into the platform's
//! held `deposits` by a balanced journal entry (refused, 409 `insufficient_funds`, when the
//! funds do not cover it), and given back the same way. An auction deposit, a group member's
//! full payment and a forward buyer's margin are all held like this, so the platform's
//! `deposits` balance is always the sum of the deposits held.

use super::auction_store::{self as store, NewDeposit};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::ledger::{self, AccountKind, Entry, postings};
use crate::sales::settle::booking_day;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use uuid::Uuid;

/// What to hold, for whom, on what.
pub struct Hold<'a> {
    pub listing_id: Uuid,
    pub buyer_org_id: Uuid,
    pub kind: &'a str,
    pub currency: &'a str,
    pub amount: Decimal,
    pub quantity: Option<Decimal>,
    pub sale_id: Option<Uuid>,
    /// How a refusal names the amount (`deposit`, `payment`, `margin`).
    pub called: &'static str,
}

/// Moves `hold.amount` from the buyer's funds (its account locked, so two holds of one buyer
/// queue) into the platform's held deposits, and records the deposit. `by` made the change.
pub async fn hold(conn: &mut AsyncPgConnection, by: &Principal, hold: Hold<'_>) -> ApiResult<()> {
    let available =
        ledger::locked_balance(conn, hold.buyer_org_id, AccountKind::Funds, hold.currency).await?;
    if available < hold.amount {
        return Err(ApiError::conflict(
            "insufficient_funds",
            format!(
                "the buyer's market funds do not cover the {}: add funds first",
                hold.called
            ),
        )
        .with(hold.called, hold.amount.to_string())
        .with("funds_available", available.to_string()));
    }
    let (today, platform) = booking_day(conn).await?;
    let entry = ledger::post(
        conn,
        Entry {
            kind: "deposit",
            loan_id: None,
            sale_id: hold.sale_id,
            memo: format!("{} held on listing {}", hold.called, hold.listing_id),
            currency: hold.currency,
            business_date: today,
            created_by: Some(by.user_id),
            lines: postings::deposit_taken(hold.buyer_org_id, platform, hold.amount),
        },
    )
    .await?;
    store::insert_deposit(
        conn,
        NewDeposit {
            listing_id: hold.listing_id,
            buyer_org_id: hold.buyer_org_id,
            kind: hold.kind,
            currency: hold.currency,
            amount: hold.amount,
            entry,
            quantity: hold.quantity,
            sale_id: hold.sale_id,
        },
    )
    .await?;
    Ok(())
}

/// Gives `amount` of a held deposit back to its buyer's funds; answers the entry. The caller
/// marks the deposit.
pub async fn give_back(
    conn: &mut AsyncPgConnection,
    buyer: Uuid,
    currency: &str,
    amount: Decimal,
    listing_id: Uuid,
) -> ApiResult<Uuid> {
    let (today, platform) = booking_day(conn).await?;
    ledger::post(
        conn,
        Entry {
            kind: "deposit_return",
            loan_id: None,
            sale_id: None,
            memo: format!("deposit returned, listing {listing_id}"),
            currency,
            business_date: today,
            created_by: None,
            lines: postings::deposit_returned(buyer, platform, amount),
        },
    )
    .await
}
