//! Statements: for each currency an org has books in, its opening and closing balances per
//! account (sums of its journal lines up to the day before `from` and up to `to`, so they are
//! the ledger's own figures), the period's advances, interest, fees, principal repaid, sale
//! proceeds and payouts, and every entry that touched its accounts; and the goods it deposited.

use super::model::*;
use super::store::{self, Books};
use crate::auth::Principal;
use crate::calendar::business_date;
use crate::domain::valuation::at_minor_unit;
use crate::error::{ApiError, ApiResult};
use chrono::NaiveDate;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use uuid::Uuid;

/// The statement the caller asked for: its own org's (the platform: any org's), for the
/// period asked (default: the 30 days before the business date), at most ten years.
pub async fn statement(
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
    let books = store::books(conn, org, from, to).await?;
    Ok(assemble(org, (from, to), books))
}

/// The statement made of what the store read: one section per currency.
fn assemble(org: Uuid, (from, to): (NaiveDate, NaiveDate), books: Books) -> Statement {
    let Books {
        balances,
        lines,
        proceeds,
        deposits,
    } = books;
    let deposits = deposits.into_iter().map(Deposit::shown).collect();
    let mut currencies: BTreeMap<String, CurrencyStatement> = BTreeMap::new();
    for b in balances {
        let s = section(&mut currencies, &b.currency);
        s.opening_balances.insert(
            b.account.clone(),
            at_minor_unit(b.opening, &b.currency).to_string(),
        );
        s.closing_balances
            .insert(b.account, at_minor_unit(b.closing, &b.currency).to_string());
    }
    for l in lines {
        let s = section(&mut currencies, &l.currency);
        s.summary.count(&l.kind, &l.account, l.amount);
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
        section(&mut currencies, &p.currency).summary.sale_proceeds = p.gross;
    }
    round_summaries(&mut currencies);
    Statement {
        org_id: org,
        from,
        to,
        currencies: currencies.into_values().collect(),
        deposits,
    }
}

/// The section of currency `c`, opened empty the first time it is named.
fn section<'a>(
    currencies: &'a mut BTreeMap<String, CurrencyStatement>,
    c: &str,
) -> &'a mut CurrencyStatement {
    currencies
        .entry(c.to_owned())
        .or_insert_with(|| CurrencyStatement {
            currency: c.to_owned(),
            opening_balances: BTreeMap::new(),
            closing_balances: BTreeMap::new(),
            summary: Summary::default(),
            entries: Vec::new(),
        })
}

/// The summary figures at each currency's minor unit.
fn round_summaries(currencies: &mut BTreeMap<String, CurrencyStatement>) {
    for s in currencies.values_mut() {
        s.summary.at_minor_unit(&s.currency);
    }
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

/// The statement as CSV: one row per balance, summary figure, entry line and deposit.
pub fn csv(s: &Statement) -> String {
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
        for (item, value) in sum.figures() {
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
            d.quantity,
            d.unit,
            cell(&d.commodity_code)
        );
    }
    out
}
