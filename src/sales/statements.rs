//! Statements: `GET /v1/statements?org_id=&from=&to=` (JSON) and `GET /v1/statements.csv`.
//! For each currency an org has books in: its opening and closing balances per account (sums
//! of its journal lines up to the day before `from` and up to `to`, so they are the ledger's
//! own figures), the period's advances, interest, fees, principal repaid, sale proceeds and
//! payouts, and every entry that touched its accounts; and the goods it deposited.

use crate::auth::Principal;
use crate::calendar::business_date;
use crate::domain::valuation::at_minor_unit;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{Date, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// Whose statement (default: the caller's org; others than one's own: platform only).
    pub org_id: Option<Uuid>,
    /// First business date (default: 30 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last business date (default: the business date).
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Statement {
    pub org_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub currencies: Vec<CurrencyStatement>,
    /// Goods received into custody in the period.
    pub deposits: Vec<Deposit>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CurrencyStatement {
    pub currency: String,
    /// Balance of each of the org's accounts at the start of `from` (debit positive).
    #[schema(value_type = Object)]
    pub opening_balances: BTreeMap<String, String>,
    /// Balance of each account at the end of `to`.
    #[schema(value_type = Object)]
    pub closing_balances: BTreeMap<String, String>,
    pub summary: Summary,
    pub entries: Vec<StatementEntry>,
}

/// The period's figures, from the org's point of view.
#[derive(Debug, Serialize, utoipa::ToSchema, Default)]
pub struct Summary {
    /// Loans paid out to the org.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub advances: Decimal,
    /// Interest it paid.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub interest: Decimal,
    /// Transaction and arrangement fees it paid.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub fees: Decimal,
    /// Loan principal it repaid (by repayment or from sale proceeds).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub principal_repaid: Decimal,
    /// Gross value of its sales settled in the period.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub sale_proceeds: Decimal,
    /// What settlements paid out to it.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub payouts: Decimal,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatementEntry {
    pub business_date: NaiveDate,
    pub entry_id: Uuid,
    pub kind: String,
    pub memo: String,
    pub loan_id: Option<Uuid>,
    pub sale_id: Option<Uuid>,
    /// The org's lines of the entry: account → amount (debit positive).
    #[schema(value_type = Object)]
    pub lines: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema, diesel::QueryableByName)]
pub struct Deposit {
    #[diesel(sql_type = Timestamptz)]
    pub received_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    pub lot_id: Uuid,
    #[diesel(sql_type = Text)]
    pub lot_code: String,
    #[diesel(sql_type = Text)]
    pub commodity_code: String,
    #[diesel(sql_type = Numeric)]
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    #[diesel(sql_type = Text)]
    pub unit: String,
    #[diesel(sql_type = Nullable<Numeric>)]
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub market_value_at_deposit: Option<Decimal>,
    #[diesel(sql_type = Nullable<Text>)]
    pub currency: Option<String>,
}

#[derive(diesel::QueryableByName)]
struct Balance {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Text)]
    account: String,
    #[diesel(sql_type = Numeric)]
    opening: Decimal,
    #[diesel(sql_type = Numeric)]
    closing: Decimal,
}

#[derive(diesel::QueryableByName)]
struct LineRow {
    #[diesel(sql_type = SqlUuid)]
    entry_id: Uuid,
    #[diesel(sql_type = Date)]
    business_date: NaiveDate,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    memo: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    loan_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    sale_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    account: String,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Numeric)]
    amount: Decimal,
}

#[derive(diesel::QueryableByName)]
struct Proceeds {
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = Numeric)]
    gross: Decimal,
}

async fn build(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: StatementQuery,
) -> ApiResult<Statement> {
    let org = match query.org_id {
        Some(org) if principal.is_platform() || org == principal.org_id => org,
        Some(_) => return Err(ApiError::not_found("org_not_found", "no such organisation")),
        None => principal.org_id,
    };
    let to = match query.to {
        Some(to) => to,
        None => business_date(conn).await?,
    };
    let from = query.from.unwrap_or(to - chrono::Days::new(30));
    if from > to {
        return Err(ApiError::invalid("from", "from is on or before to"));
    }
    if (to - from).num_days() > 3660 {
        return Err(ApiError::invalid(
            "from",
            "a statement covers at most ten years",
        ));
    }
    let balances: Vec<Balance> = diesel::sql_query(
        "SELECT a.currency, a.kind AS account, \
                coalesce(sum(l.amount) FILTER (WHERE e.business_date < $2), 0) AS opening, \
                coalesce(sum(l.amount) FILTER (WHERE e.business_date <= $3), 0) AS closing \
         FROM ledger_accounts a \
         LEFT JOIN journal_lines l ON l.account_id = a.id \
         LEFT JOIN journal_entries e ON e.id = l.entry_id \
         WHERE a.org_id = $1 GROUP BY a.currency, a.kind ORDER BY a.currency, a.kind",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    let lines: Vec<LineRow> = diesel::sql_query(
        "SELECT e.id AS entry_id, e.business_date, e.kind, e.memo, e.loan_id, e.sale_id, \
                a.kind AS account, l.currency, l.amount \
         FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id \
         JOIN journal_entries e ON e.id = l.entry_id \
         WHERE a.org_id = $1 AND e.business_date BETWEEN $2 AND $3 \
         ORDER BY e.business_date, e.seq, l.id",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    let proceeds: Vec<Proceeds> = diesel::sql_query(
        "SELECT s.currency, sum(st.gross) AS gross FROM settlements st JOIN sales s ON s.id = st.sale_id \
         WHERE s.supplier_org_id = $1 AND st.business_date BETWEEN $2 AND $3 GROUP BY s.currency",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    let deposits: Vec<Deposit> = diesel::sql_query(
        "SELECT m.created_at AS received_at, lot.id AS lot_id, lot.code AS lot_code, lot.commodity_code, \
                m.quantity_change AS quantity, lot.unit, lot.market_value_at_deposit, lot.deposit_currency AS currency \
         FROM movements m JOIN lots lot ON lot.id = m.lot_id \
         WHERE lot.owner_org_id = $1 AND m.kind = 'receive' \
           AND (m.created_at AT TIME ZONE 'UTC')::date BETWEEN $2 AND $3 \
         ORDER BY m.id",
    )
    .bind::<SqlUuid, _>(org)
    .bind::<Date, _>(from)
    .bind::<Date, _>(to)
    .load(conn)
    .await?;
    let mut currencies: BTreeMap<String, CurrencyStatement> = BTreeMap::new();
    let section = |currencies: &mut BTreeMap<String, CurrencyStatement>, c: &str| {
        currencies
            .entry(c.to_owned())
            .or_insert_with(|| CurrencyStatement {
                currency: c.to_owned(),
                opening_balances: BTreeMap::new(),
                closing_balances: BTreeMap::new(),
                summary: Summary::default(),
                entries: Vec::new(),
            });
    };
    for b in balances {
        section(&mut currencies, &b.currency);
        let s = currencies.get_mut(&b.currency).expect("section");
        s.opening_balances.insert(
            b.account.clone(),
            at_minor_unit(b.opening, &b.currency).to_string(),
        );
        s.closing_balances
            .insert(b.account, at_minor_unit(b.closing, &b.currency).to_string());
    }
    for l in lines {
        section(&mut currencies, &l.currency);
        let s = currencies.get_mut(&l.currency).expect("section");
        let sum = &mut s.summary;
        match (l.kind.as_str(), l.account.as_str()) {
            ("disbursement", "cash") if l.amount > Decimal::ZERO => sum.advances += l.amount,
            ("settlement", "cash") if l.amount > Decimal::ZERO => sum.payouts += l.amount,
            (_, "interest_expense") => sum.interest += l.amount,
            (_, "fee_expense") => sum.fees += l.amount,
            (_, "loans_payable") if l.amount > Decimal::ZERO => sum.principal_repaid += l.amount,
            _ => {}
        }
        let amount = at_minor_unit(l.amount, &l.currency).to_string();
        match s.entries.last_mut() {
            Some(e) if e.entry_id == l.entry_id => {
                e.lines.insert(l.account, amount);
            }
            _ => s.entries.push(StatementEntry {
                business_date: l.business_date,
                entry_id: l.entry_id,
                kind: l.kind,
                memo: l.memo,
                loan_id: l.loan_id,
                sale_id: l.sale_id,
                lines: BTreeMap::from([(l.account, amount)]),
            }),
        }
    }
    for p in proceeds {
        section(&mut currencies, &p.currency);
        currencies
            .get_mut(&p.currency)
            .expect("section")
            .summary
            .sale_proceeds = p.gross;
    }
    for s in currencies.values_mut() {
        let c = s.currency.clone();
        let sum = &mut s.summary;
        for v in [
            &mut sum.advances,
            &mut sum.interest,
            &mut sum.fees,
            &mut sum.principal_repaid,
            &mut sum.sale_proceeds,
            &mut sum.payouts,
        ] {
            *v = at_minor_unit(*v, &c);
        }
    }
    Ok(Statement {
        org_id: org,
        from,
        to,
        currencies: currencies.into_values().collect(),
        deposits,
    })
}

/// An org's statement for a period (its own users; the platform for any org).
#[utoipa::path(get, path = "/v1/statements", tag = "sales", params(StatementQuery),
    responses((status = 200, body = Statement), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn statement(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatementQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let statement = build(&mut conn, &principal, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(statement))
}

/// A cell that a spreadsheet will not run as a formula.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<Decimal>().is_err() {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The same statement as CSV: one row per balance, summary figure, entry line and deposit.
#[utoipa::path(get, path = "/v1/statements.csv", tag = "sales", params(StatementQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn statement_csv(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<StatementQuery>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    let s = build(&mut conn, &principal, query.into_inner()).await?;
    let mut out = String::from("section,business_date,currency,item,amount,entry_id,kind,memo\n");
    for c in &s.currencies {
        for (account, amount) in &c.opening_balances {
            let _ = writeln!(
                out,
                "opening_balance,{},{},{account},{amount},,,",
                s.from, c.currency
            );
        }
        let sum = &c.summary;
        for (item, value) in [
            ("advances", sum.advances),
            ("interest", sum.interest),
            ("fees", sum.fees),
            ("principal_repaid", sum.principal_repaid),
            ("sale_proceeds", sum.sale_proceeds),
            ("payouts", sum.payouts),
        ] {
            let _ = writeln!(out, "summary,{},{},{item},{value},,,", s.to, c.currency);
        }
        for e in &c.entries {
            for (account, amount) in &e.lines {
                let _ = writeln!(
                    out,
                    "entry,{},{},{account},{amount},{},{},{}",
                    e.business_date,
                    c.currency,
                    e.entry_id,
                    e.kind,
                    cell(&e.memo)
                );
            }
        }
        for (account, amount) in &c.closing_balances {
            let _ = writeln!(
                out,
                "closing_balance,{},{},{account},{amount},,,",
                s.to, c.currency
            );
        }
    }
    for d in &s.deposits {
        let _ = writeln!(
            out,
            "deposit,{},{},{},{},,,{} {} {}",
            d.received_at.date_naive(),
            d.currency.as_deref().unwrap_or(""),
            cell(&d.lot_code),
            d.market_value_at_deposit
                .map(|v| v.to_string())
                .unwrap_or_default(),
            d.quantity.normalize(),
            d.unit,
            cell(&d.commodity_code)
        );
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"statement-{}-{}-{}.csv\"",
                s.org_id, s.from, s.to
            ),
        ))
        .body(out))
}
