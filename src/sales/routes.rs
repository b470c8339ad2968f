//! Sales: `POST /v1/sales`, `GET /v1/sales`, `GET /v1/sales/{id}`, `POST /v1/sales/{id}/cancel`,
//! `POST /v1/sales/{id}/payments`, `POST /v1/sales/{id}/consent`.
//!
//! A sale reserves its quantities at once. Payments accumulate in the platform's escrow; the
//! payment that completes the total settles the sale in the same transaction
//! (`sales::settle`), unless a lender's consent is still needed, in which case the consent
//! settles it. A sale is visible to its supplier, its buyer, the lenders of loans secured on its
//! goods, and the platform.

use super::fees;
use super::model::{
    Payment, Sale, SaleLine, SaleLineRow, SaleReleaseOrder, SaleRow, SettledLoan, Settlement,
    SettlementRow,
};
use super::settle::{self, lines_of, platform_org};
use crate::auth::{OrgKind, Principal};
use crate::calendar::business_date;
use crate::db::schema::{
    lots as lots_table, pledges, release_orders, sale_consents, sale_lines, sale_payments, sales,
    settlement_loans, settlements,
};
use crate::domain::lending::round_half_even;
use crate::domain::valuation::{at_minor_unit, minor_units};
use crate::error::{ApiError, ApiResult};
use crate::http::idempotency::{KeyOptional, KeyRequired};
use crate::http::validate::{money, quantity};
use crate::http::{Page, PageQuery, ValidJson, validate};
use crate::integrity::to_json;
use crate::integrity::{self, Change};
use crate::ledger::{self, AccountKind, Entry, Line};
use crate::lending::model::{LIVE, PENDING};
use crate::lending::store::{self as lending, Party};
use crate::lots::store as lots;
use crate::orgs::store as orgs;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub fn sale_not_found() -> ApiError {
    ApiError::not_found("sale_not_found", "no such sale")
}

/// Who may see a sale: its supplier, its buyer, the platform, and lenders with a loan secured
/// (now or at settlement) on its goods, or whose liquidation it is.
const VISIBLE: &str = "($1::uuid IS NULL OR s.supplier_org_id = $1 OR s.buyer_org_id = $1 \
    OR EXISTS (SELECT 1 FROM loans ln WHERE ln.id = s.loan_id AND ln.lender_org_id = $1) \
    OR EXISTS (SELECT 1 FROM sale_lines sl JOIN pledges p ON p.lot_id = sl.lot_id AND p.quantity > 0 \
               JOIN loans ln ON ln.id = p.loan_id \
               WHERE sl.sale_id = s.id AND ln.lender_org_id = $1) \
    OR EXISTS (SELECT 1 FROM settlement_loans st JOIN loans ln ON ln.id = st.loan_id \
               WHERE st.sale_id = s.id AND ln.lender_org_id = $1))";

fn viewer(principal: &Principal) -> Option<Uuid> {
    (!principal.is_platform()).then_some(principal.org_id)
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

async fn find_visible(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<Option<SaleRow>> {
    let found: Option<Id> = diesel::sql_query(format!(
        "SELECT s.id FROM sales s WHERE s.id = $2 AND {VISIBLE}"
    ))
    .bind::<Nullable<SqlUuid>, _>(viewer(principal))
    .bind::<SqlUuid, _>(id)
    .get_result(conn)
    .await
    .optional()?;
    match found {
        Some(found) => Ok(Some(
            sales::table
                .find(found.id)
                .select(SaleRow::as_select())
                .first(conn)
                .await?,
        )),
        None => Ok(None),
    }
}

/// The sale, locked for the rest of the transaction, if the caller may see it.
async fn lock_visible(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<SaleRow> {
    find_visible(conn, principal, id)
        .await?
        .ok_or_else(sale_not_found)?;
    Ok(sales::table
        .find(id)
        .select(SaleRow::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn present(conn: &mut AsyncPgConnection, row: SaleRow) -> ApiResult<Sale> {
    // The columns keep three places for every currency.
    let cur = row.currency.clone();
    let m = |v: Decimal| at_minor_unit(v, &cur);
    let lines: Vec<(SaleLineRow, String, String, String)> = sale_lines::table
        .inner_join(lots_table::table)
        .filter(sale_lines::sale_id.eq(row.id))
        .order(sale_lines::line_no)
        .select((
            SaleLineRow::as_select(),
            lots_table::code,
            lots_table::commodity_code,
            lots_table::unit,
        ))
        .load(conn)
        .await?;
    let mut payments: Vec<Payment> = sale_payments::table
        .filter(sale_payments::sale_id.eq(row.id))
        .order(sale_payments::seq)
        .select(Payment::as_select())
        .load(conn)
        .await?;
    for p in payments.iter_mut() {
        p.amount = m(p.amount);
    }
    let settlement: Option<SettlementRow> = settlements::table
        .find(row.id)
        .select(SettlementRow::as_select())
        .first(conn)
        .await
        .optional()?;
    let settlement = match settlement {
        Some(s) => {
            let mut loans: Vec<SettledLoan> = settlement_loans::table
                .filter(settlement_loans::sale_id.eq(row.id))
                .order(settlement_loans::loan_id)
                .select(SettledLoan::as_select())
                .load(conn)
                .await?;
            for l in loans.iter_mut() {
                l.fees = m(l.fees);
                l.interest = m(l.interest);
                l.principal = m(l.principal);
                l.quantity_released = l.quantity_released.normalize();
            }
            Some(Settlement {
                business_date: s.business_date,
                gross: m(s.gross),
                fee: m(s.fee),
                fee_detail: s.fee_detail,
                loan_fees_repaid: m(s.loan_fees_repaid),
                interest_repaid: m(s.interest_repaid),
                principal_repaid: m(s.principal_repaid),
                to_supplier: m(s.to_supplier),
                loans,
                journal_entry_id: s.journal_entry_id,
                settled_at: s.settled_at,
            })
        }
        None => None,
    };
    let orders: Vec<(Uuid, Uuid, Decimal, Decimal, String)> = release_orders::table
        .filter(release_orders::sale_id.eq(row.id))
        .order(release_orders::lot_id)
        .select((
            release_orders::id,
            release_orders::lot_id,
            release_orders::quantity,
            release_orders::quantity_released,
            release_orders::status,
        ))
        .load(conn)
        .await?;
    let lender_consents = if row.status == "pending" {
        let raw: Vec<SaleLineRow> = lines.iter().map(|(l, _, _, _)| l.clone()).collect();
        // A preview that cannot be worked out now (say, a storage rate gone) shows nothing;
        // the payment that would settle answers why.
        settle::plan(conn, &row, &raw, false)
            .await
            .map(|plan| plan.consents)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(Sale {
        id: row.id,
        kind: row.kind,
        supplier_org_id: row.supplier_org_id,
        buyer_org_id: row.buyer_org_id,
        loan_id: row.loan_id,
        currency: row.currency,
        status: row.status,
        lines: lines
            .into_iter()
            .map(|(l, code, commodity, unit)| SaleLine {
                line_no: l.line_no,
                lot_id: l.lot_id,
                lot_code: code,
                commodity_code: commodity,
                unit,
                quantity: l.quantity.normalize(),
                unit_price: l.unit_price.normalize(),
                amount: m(l.amount),
            })
            .collect(),
        total: m(row.total),
        paid: m(row.paid),
        payments,
        settlement,
        release_orders: orders
            .into_iter()
            .map(
                |(id, lot_id, quantity, quantity_released, status)| SaleReleaseOrder {
                    id,
                    lot_id,
                    quantity: quantity.normalize(),
                    quantity_released: quantity_released.normalize(),
                    status,
                },
            )
            .collect(),
        lender_consents,
        created_at: row.created_at,
        cancelled_at: row.cancelled_at,
        settled_at: row.settled_at,
    })
}

async fn current(conn: &mut AsyncPgConnection, id: Uuid) -> ApiResult<Sale> {
    let row = sales::table
        .find(id)
        .select(SaleRow::as_select())
        .first(conn)
        .await?;
    present(conn, row).await
}

fn audit<'a>(
    action: &'a str,
    sale: &Sale,
    before: Option<serde_json::Value>,
) -> ApiResult<Change<'a>> {
    Ok(Change {
        action,
        object_kind: "sale",
        object_id: sale.id.to_string(),
        org_ids: vec![sale.supplier_org_id, sale.buyer_org_id],
        before,
        after: Some(to_json(sale)?),
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSaleLine {
    pub lot_id: Uuid,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub unit_price: Decimal,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSale {
    pub buyer_org_id: Uuid,
    pub currency: String,
    pub lines: Vec<NewSaleLine>,
    /// A lender selling the goods of its liquidating loan names the loan.
    pub loan_id: Option<Uuid>,
}

/// Sell goods (supplier with `sales:write`; or the lender of a `liquidating` loan, with
/// `credit:write` and `loan_id`, selling the goods pledged to it). The quantities are reserved
/// at once: 409 `quantity_not_free` when they are not. Pledged goods may be sold: settlement
/// repays their loans first.
#[utoipa::path(post, path = "/v1/sales", tag = "sales", request_body = NewSale,
    params(("Idempotency-Key" = Option<String>, Header, description = "optional")),
    responses((status = 201, body = Sale), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: ValidJson<NewSale>,
    idem: KeyOptional,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let new = body.value;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { create_sale(conn, &principal, new).await }),
    )
    .await
}

/// Creates a sale in the caller's transaction: checks, reserves, records.
pub async fn create_sale(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: NewSale,
) -> ApiResult<Sale> {
    let currency = validate::currency("currency", &new.currency)?;
    if new.lines.is_empty() || new.lines.len() > 100 {
        return Err(ApiError::invalid("lines", "a sale has 1 to 100 lines"));
    }
    let mut indexed: Vec<(usize, &NewSaleLine)> = new.lines.iter().enumerate().collect();
    indexed.sort_by_key(|(_, l)| l.lot_id);
    if let Some(pair) = indexed.windows(2).find(|w| w[0].1.lot_id == w[1].1.lot_id) {
        return Err(ApiError::invalid(
            &format!("lines[{}].lot_id", pair[1].0),
            "each lot appears once",
        ));
    }
    for (i, line) in &indexed {
        if line.unit_price <= Decimal::ZERO || line.unit_price.normalize().scale() > 6 {
            return Err(ApiError::invalid(
                &format!("lines[{i}].unit_price"),
                "unit_price is above zero, with at most 6 decimal places",
            ));
        }
    }
    match (principal.kind, new.loan_id) {
        (OrgKind::Supplier, None) | (OrgKind::Lender, Some(_)) => {}
        (OrgKind::Supplier, Some(_)) => {
            return Err(ApiError::invalid(
                "loan_id",
                "loan_id names the loan a lender liquidates",
            ));
        }
        _ => {
            return Err(ApiError::invalid(
                "loan_id",
                "a lender sells only the goods of a liquidating loan, named by loan_id",
            ));
        }
    }
    let sorted: Vec<(usize, Uuid, Decimal, Decimal)> = indexed
        .iter()
        .map(|(i, l)| (*i, l.lot_id, l.quantity, l.unit_price))
        .collect();
    let buyer = orgs::find_org(conn, new.buyer_org_id)
        .await?
        .filter(|o| o.kind == OrgKind::Buyer.as_str())
        .ok_or_else(|| ApiError::invalid("buyer_org_id", "no such buyer"))?;
    // A liquidation: the lender's liquidating loan, locked before the lots.
    let loan = match new.loan_id {
        Some(id) => {
            let loan = lending::lock_loan(conn, Party::of(principal), id)
                .await?
                .ok_or_else(crate::lending::model::loan_not_found)?;
            if loan.status != "liquidating" {
                return Err(ApiError::conflict(
                    "loan_status",
                    format!(
                        "the loan is {}; liquidation sales are for liquidating loans",
                        loan.status
                    ),
                )
                .with("status", &loan.status));
            }
            Some(loan)
        }
        None => None,
    };
    let supplier = loan
        .as_ref()
        .map(|l| l.supplier_org_id)
        .unwrap_or(principal.org_id);
    let places = minor_units(&currency);
    let mut rows = Vec::with_capacity(sorted.len());
    let mut line_fees = Vec::with_capacity(sorted.len());
    let mut total = Decimal::ZERO;
    for (i, lot_id, qty, price) in &sorted {
        let lot = lots::lock(conn, *lot_id)
            .await
            .optional()?
            .filter(|l| l.owner_org_id == supplier)
            .ok_or_else(|| {
                ApiError::invalid(&format!("lines[{i}].lot_id"), "no such lot of the seller's")
            })?;
        let qty = quantity(&format!("lines[{i}].quantity"), *qty, &lot.unit)?;
        if !matches!(lot.status.as_str(), "in_custody" | "in_transit") {
            return Err(ApiError::conflict(
                "lot_status",
                format!(
                    "the lot is {}; goods are sold while in custody or in transit",
                    lot.status
                ),
            )
            .with("field", format!("lines[{i}].lot_id"))
            .with("status", &lot.status));
        }
        // Goods pledged to loans not yet paid out stay with those requests.
        let pending: Vec<Decimal> = pledges::table
            .inner_join(crate::db::schema::loans::table)
            .filter(pledges::lot_id.eq(lot.id))
            .filter(crate::db::schema::loans::status.eq_any(PENDING))
            .select(pledges::quantity)
            .load(conn)
            .await?;
        let mut sellable =
            lot.quantity_on_hand - lot.quantity_reserved - pending.into_iter().sum::<Decimal>();
        if let Some(loan) = &loan {
            let pledged: Option<Decimal> = pledges::table
                .find((loan.id, lot.id))
                .select(pledges::quantity)
                .first(conn)
                .await
                .optional()?;
            sellable = sellable.min(pledged.unwrap_or(Decimal::ZERO));
        }
        if qty > sellable {
            return Err(ApiError::conflict(
                "quantity_not_free",
                "the quantity is reserved for another sale or release, or pledged to a loan not yet paid out",
            )
            .with("field", format!("lines[{i}].quantity"))
            .with("lot_id", lot.id)
            .with("quantity_available", sellable.max(Decimal::ZERO).normalize().to_string()));
        }
        let amount = round_half_even(qty * price, places);
        if amount <= Decimal::ZERO {
            return Err(ApiError::invalid(
                &format!("lines[{i}].unit_price"),
                "the line is worth less than the currency's minor unit",
            ));
        }
        line_fees.push(fees::line_fee(conn, &lot, qty, amount, &currency).await?);
        total += amount;
        rows.push((*i, lot, qty, *price, amount));
    }
    let fee = fees::total(
        line_fees,
        crate::tiers::of_org(conn, supplier).await?,
        &currency,
    );
    if fee.fee >= total {
        return Err(ApiError::invalid(
            "lines",
            "the sale total does not cover the transaction fee",
        )
        .with("fee", fee.fee.to_string()));
    }
    let id = Uuid::new_v4();
    let total_money = at_minor_unit(total, &currency);
    diesel::insert_into(sales::table)
        .values((
            sales::id.eq(id),
            sales::kind.eq(if loan.is_some() {
                "liquidation"
            } else {
                "sale"
            }),
            sales::supplier_org_id.eq(supplier),
            sales::buyer_org_id.eq(buyer.id),
            sales::loan_id.eq(loan.as_ref().map(|l| l.id)),
            sales::currency.eq(&currency),
            sales::total.eq(total_money),
            sales::created_by.eq(principal.user_id),
        ))
        .execute(conn)
        .await?;
    for (i, lot, qty, price, amount) in &rows {
        diesel::insert_into(sale_lines::table)
            .values((
                sale_lines::sale_id.eq(id),
                sale_lines::line_no.eq(*i as i32 + 1),
                sale_lines::lot_id.eq(lot.id),
                sale_lines::quantity.eq(qty),
                sale_lines::unit_price.eq(price),
                sale_lines::amount.eq(amount),
            ))
            .execute(conn)
            .await?;
        lots::add_reserved(conn, lot.id, *qty).await?;
    }
    let sale = current(conn, id).await?;
    let mut change = audit("sale.created", &sale, None)?;
    if let Some(loan) = &loan {
        change.org_ids.push(loan.lender_org_id);
    }
    integrity::record(conn, Some(principal), change).await?;
    Ok(sale)
}

/// A sale with its lines, payments, settlement and release orders.
#[utoipa::path(get, path = "/v1/sales/{id}", tag = "sales",
    responses((status = 200, body = Sale), (status = 404, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let row = find_visible(&mut conn, &principal, *id)
        .await?
        .ok_or_else(sale_not_found)?;
    Ok(HttpResponse::Ok().json(present(&mut conn, row).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SaleQuery {
    /// `pending`, `settled` or `cancelled`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(QueryableByName)]
struct Listed {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

/// The sales the caller may see, oldest first.
#[utoipa::path(get, path = "/v1/sales", tag = "sales", params(SaleQuery),
    responses((status = 200, body = Page<Sale>)), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<SaleQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let mut conn = state.pool.get().await?;
    let ids: Vec<Listed> = diesel::sql_query(format!(
        "SELECT s.id, s.seq FROM sales s WHERE s.seq > $2 AND ($3::text IS NULL OR s.status = $3) \
         AND {VISIBLE} ORDER BY s.seq LIMIT $4"
    ))
    .bind::<Nullable<SqlUuid>, _>(viewer(&principal))
    .bind::<BigInt, _>(after.unwrap_or(0))
    .bind::<Nullable<Text>, _>(query.status)
    .bind::<BigInt, _>(limit + 1)
    .load(&mut conn)
    .await?;
    let page = Page::from_rows(ids, limit, |r| r.seq);
    let mut items = Vec::with_capacity(page.items.len());
    for listed in page.items {
        items.push(current(&mut conn, listed.id).await?);
    }
    Ok(HttpResponse::Ok().json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// Cancel an unpaid sale (its seller); the reserved quantities are free again.
#[utoipa::path(post, path = "/v1/sales/{id}/cancel", tag = "sales",
    responses((status = 200, body = Sale), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = *id;
    let mut conn = state.pool.get().await?;
    let sale = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let row = lock_visible(conn, &principal, id).await?;
            let seller = match row.loan_id {
                Some(loan) => {
                    lending::find_loan(conn, Party::All, loan)
                        .await?
                        .map(|l| l.lender_org_id)
                        == Some(principal.org_id)
                }
                None => row.supplier_org_id == principal.org_id,
            };
            if !seller {
                return Err(ApiError::forbidden("only the seller cancels a sale"));
            }
            if row.status != "pending" {
                return Err(ApiError::conflict(
                    "sale_status",
                    format!("the sale is {}", row.status),
                )
                .with("status", &row.status));
            }
            if row.paid > Decimal::ZERO {
                return Err(ApiError::conflict(
                    "sale_paid",
                    "the buyer has paid part of the sale; it can no longer be cancelled",
                )
                .with("paid", row.paid.to_string()));
            }
            let before = to_json(&row)?;
            let lines = lines_of(conn, id).await?;
            settle::lock_lots(conn, &lines).await?;
            for line in &lines {
                lots::add_reserved(conn, line.lot_id, -line.quantity).await?;
            }
            diesel::update(sales::table.find(id))
                .set((
                    sales::status.eq("cancelled"),
                    sales::cancelled_at.eq(chrono::Utc::now()),
                ))
                .execute(conn)
                .await?;
            let sale = current(conn, id).await?;
            integrity::record(
                conn,
                Some(&principal),
                audit("sale.cancelled", &sale, Some(before))?,
            )
            .await?;
            Ok(sale)
        })
        .await?;
    Ok(HttpResponse::Ok().json(sale))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub amount: Decimal,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaymentResult {
    pub payment: Payment,
    pub sale: Sale,
}

/// Pay for a sale (its buyer with `payments:write`, or the platform recording money received;
/// `Idempotency-Key` required). Partial payments accumulate in escrow; the one that completes
/// the total settles the sale in the same transaction, unless a lender must consent first.
#[utoipa::path(post, path = "/v1/sales/{id}/payments", tag = "sales", request_body = NewPayment,
    params(("Idempotency-Key" = String, Header, description = "required")),
    responses((status = 201, body = PaymentResult), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn pay(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: ValidJson<NewPayment>,
    idem: KeyRequired,
) -> ApiResult<HttpResponse> {
    let body_sha256 = body.body_sha256;
    let amount = body.value.amount;
    let id = *id;
    idem.run(
        &state.pool,
        principal.user_id,
        &body_sha256,
        StatusCode::CREATED,
        move |conn| Box::pin(async move { record_payment(conn, &principal, id, amount).await }),
    )
    .await
}

/// Records a payment for the sale in the caller's transaction; the one that completes the
/// total settles the sale (unless a lender must consent first).
pub async fn record_payment(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    amount: Decimal,
) -> ApiResult<PaymentResult> {
    let row = lock_visible(conn, principal, id).await?;
    if !principal.is_platform() && row.buyer_org_id != principal.org_id {
        return Err(ApiError::forbidden("only the buyer pays for a sale"));
    }
    if row.status != "pending" {
        return Err(
            ApiError::conflict("sale_status", format!("the sale is {}", row.status))
                .with("status", &row.status),
        );
    }
    let amount = money("amount", amount, &row.currency)?;
    let due = row.total - row.paid;
    if due.is_zero() {
        return Err(ApiError::conflict(
            "sale_paid",
            "the sale is paid in full and waits for a lender's consent",
        ));
    }
    if amount > due {
        return Err(ApiError::invalid("amount", "more than is due on the sale")
            .with("amount_due", due.to_string()));
    }
    let before = to_json(&row)?;
    let today = business_date(conn).await?;
    let platform = platform_org(conn).await?;
    let entry = ledger::post(
        conn,
        Entry {
            kind: "sale_payment",
            loan_id: None,
            sale_id: Some(id),
            memo: format!("payment for sale {id}"),
            currency: &row.currency,
            business_date: today,
            created_by: Some(principal.user_id),
            lines: vec![
                Line::credit(row.buyer_org_id, AccountKind::Cash, amount),
                Line::debit(platform, AccountKind::Escrow, amount),
            ],
        },
    )
    .await?;
    let mut payment: Payment = diesel::insert_into(sale_payments::table)
        .values((
            sale_payments::id.eq(Uuid::new_v4()),
            sale_payments::sale_id.eq(id),
            sale_payments::amount.eq(amount),
            sale_payments::paid_by.eq(principal.user_id),
            sale_payments::journal_entry_id.eq(entry),
        ))
        .returning(Payment::as_returning())
        .get_result(conn)
        .await?;
    payment.amount = at_minor_unit(payment.amount, &row.currency);
    let row: SaleRow = diesel::update(sales::table.find(id))
        .set(sales::paid.eq(row.paid + amount))
        .returning(SaleRow::as_returning())
        .get_result(conn)
        .await?;
    if row.paid == row.total {
        settle::settle(conn, principal, &row, today).await?;
    }
    let sale = current(conn, id).await?;
    integrity::record(
        conn,
        Some(principal),
        audit("sale.payment", &sale, Some(before))?,
    )
    .await?;
    Ok(PaymentResult { payment, sale })
}

/// A lender consents that the sale settle although its proceeds do not pay one of the
/// lender's loans what it needs (lender with `credit:write`). A fully paid sale settles now.
#[utoipa::path(post, path = "/v1/sales/{id}/consent", tag = "sales",
    responses((status = 200, body = Sale), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn consent(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = *id;
    let mut conn = state.pool.get().await?;
    let sale = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let row = lock_visible(conn, &principal, id).await?;
            if row.status != "pending" {
                return Err(ApiError::conflict(
                    "sale_status",
                    format!("the sale is {}", row.status),
                )
                .with("status", &row.status));
            }
            let lines = lines_of(conn, id).await?;
            let lot_ids: Vec<Uuid> = lines.iter().map(|l| l.lot_id).collect();
            let mine: Vec<Uuid> = pledges::table
                .inner_join(crate::db::schema::loans::table)
                .filter(pledges::lot_id.eq_any(&lot_ids))
                .filter(pledges::quantity.gt(Decimal::ZERO))
                .filter(crate::db::schema::loans::status.eq_any(LIVE))
                .filter(crate::db::schema::loans::lender_org_id.eq(principal.org_id))
                .select(pledges::loan_id)
                .distinct()
                .load(conn)
                .await?;
            if mine.is_empty() {
                return Err(ApiError::conflict(
                    "no_loan_secured",
                    "none of your loans is secured on these goods",
                ));
            }
            let before = to_json(&row)?;
            for loan in &mine {
                diesel::insert_into(sale_consents::table)
                    .values((
                        sale_consents::sale_id.eq(id),
                        sale_consents::loan_id.eq(loan),
                        sale_consents::consented_by.eq(principal.user_id),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
            }
            if row.paid == row.total {
                let today = business_date(conn).await?;
                settle::settle(conn, &principal, &row, today).await?;
            }
            let sale = current(conn, id).await?;
            let mut change = audit("sale.lender_consented", &sale, Some(before))?;
            change.org_ids.push(principal.org_id);
            integrity::record(conn, Some(&principal), change).await?;
            Ok(sale)
        })
        .await?;
    Ok(HttpResponse::Ok().json(sale))
}
