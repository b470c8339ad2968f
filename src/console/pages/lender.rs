//! The lender's pages: the book at a glance (`/dashboard`, with charts drawn here as SVG),
//! the stress test (`/stress`), the approvals inbox (`/approvals`), loans (`/loans`,
//! `/loans/{id}`).

use crate::auth::browser::BrowserSession;
use crate::auth::tokens::random_token;
use crate::auth::{OrgKind, Permission};
use crate::console::i18n::{Arg, Lang};
use crate::console::service::{Inbox, LoanPage};
use crate::console::view;
use crate::lending::exposure::Exposure;
use crate::lending::model::{Facility, Loan};
use crate::orgs::model::DirectoryEntry;
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde_json::Value;

fn text<'v>(value: &'v Value, field: &str) -> &'v str {
    value.get(field).and_then(Value::as_str).unwrap_or("")
}

fn decimal(value: &Value, field: &str) -> Decimal {
    text(value, field).parse().unwrap_or_default()
}

fn count(value: &Value, field: &str) -> i64 {
    value.get(field).and_then(Value::as_i64).unwrap_or(0)
}

fn items(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// A horizontal bar chart: one bar per (label, amount, caption). Drawn on the server; the
/// numbers are in the table beside it too, for screen readers and for copying.
pub fn bars(title: &str, rows: &[(String, Decimal, String)]) -> Markup {
    let max = rows
        .iter()
        .map(|(_, v, _)| *v)
        .max()
        .unwrap_or_default()
        .max(Decimal::ONE);
    let row_height = 30;
    let height = 16 + row_height * rows.len().max(1);
    let (label_width, bar_width) = (130, 180);
    html! {
        svg.chart role="img" aria-label=(title) viewBox={ "0 0 440 " (height) }
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            @for (i, (label, value, caption)) in rows.iter().enumerate() {
                @let y = 8 + i * row_height;
                @let width = (*value * Decimal::from(bar_width) / max).round().try_into().unwrap_or(0i64).max(1);
                text x="0" y=(y + 17) { (truncate(label, 14)) }
                rect x=(label_width) y=(y + 4) width=(width) height="18" rx="3" fill="#0b5d4b" {}
                text x=(label_width + width + 6) y=(y + 17) { (caption) }
            }
        }
    }
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(chars - 1).collect();
        cut.push('…');
        cut
    }
}

pub fn dashboard(lang: Lang, session: &BrowserSession, book: &Exposure) -> Markup {
    let currency = book.currency.as_deref().unwrap_or("CNY");
    let money = |d: Decimal| lang.money(d, currency);
    let by_commodity: Vec<(String, Decimal, String)> = items(&book.by_commodity)
        .iter()
        .map(|c| {
            let value = decimal(c, "collateral_value");
            (text(c, "commodity_code").to_owned(), value, money(value))
        })
        .collect();
    let by_location: Vec<(String, Decimal, String)> = items(&book.by_location)
        .iter()
        .map(|c| {
            let value = decimal(c, "collateral_value");
            (text(c, "name").to_owned(), value, money(value))
        })
        .collect();
    // The buckets come in their fixed order: up to 0.50, to 0.65, to 0.80, above, no value.
    const BUCKETS: [&str; 5] = ["bucket-1", "bucket-2", "bucket-3", "bucket-4", "bucket-5"];
    let buckets: Vec<(String, Decimal, String)> = items(&book.ltv_buckets)
        .iter()
        .zip(BUCKETS)
        .map(|(b, key)| {
            let loans = count(b, "loans");
            (
                lang.t(key),
                decimal(b, "outstanding_principal"),
                lang.f("loans-count", &[("count", Arg::from(loans))]),
            )
        })
        .collect();
    let content = html! {
        p.help { (lang.f("as-of", &[("date", Arg::from(book.as_of.map(|d| lang.date(d)).unwrap_or_default()))])) }
        div.grid {
            div.figure { div.label { (lang.t("book-outstanding")) } div.value { (money(book.outstanding_principal)) } }
            div.figure { div.label { (lang.t("book-interest")) } div.value { (money(book.accrued_interest)) } }
            div.figure { div.label { (lang.t("book-collateral")) } div.value { (money(book.collateral_value)) } }
            div.figure { div.label { (lang.t("book-ltv")) } div.value { (book.weighted_ltv.map(|l| lang.percent(l)).unwrap_or_else(|| "—".into())) } }
            div.figure { div.label { (lang.t("book-live-loans")) } div.value { (book.live_loans) } }
            div.figure { div.label { (lang.t("book-margin-calls")) } div.value { (count(&book.margin_calls, "open")) } }
        }
        h2 { (lang.t("book-by-status")) }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-status")) } th.num { (lang.t("col-loans")) } th.num { (lang.t("col-outstanding")) } } }
            tbody { @for s in items(&book.by_status) { tr {
                td { (view::badge(lang, text(s, "status"))) }
                td.num { (count(s, "loans")) }
                td.num { (money(decimal(s, "outstanding_principal"))) }
            } } }
        } }
        div.charts {
            section { h2 { (lang.t("book-by-commodity")) } (bars(&lang.t("book-by-commodity"), &by_commodity)) }
            section { h2 { (lang.t("book-by-location")) } (bars(&lang.t("book-by-location"), &by_location)) }
            section { h2 { (lang.t("book-ltv-buckets")) } (bars(&lang.t("book-ltv-buckets"), &buckets)) }
        }
        h2 { (lang.t("book-by-supplier")) }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-supplier")) } th.num { (lang.t("col-loans")) } th.num { (lang.t("col-outstanding")) }
                         th.num { (lang.t("col-collateral")) } th.num { (lang.t("col-ltv")) } th.num { (lang.t("col-share")) } } }
            tbody { @for s in items(&book.by_supplier) { tr {
                td { (text(s, "supplier_name")) }
                td.num { (count(s, "loans")) }
                td.num { (money(decimal(s, "outstanding_principal"))) }
                td.num { (money(decimal(s, "collateral_value"))) }
                td.num { (text(s, "weighted_ltv")) }
                td.num { (lang.percent(decimal(s, "share"))) }
            } } }
        } }
        h2 { (lang.t("book-expiring")) }
        ul {
            li { (lang.f("expiring-7", &[("lots", Arg::from(count(&book.expiring["within_7_days"], "lots"))), ("value", Arg::from(money(decimal(&book.expiring["within_7_days"], "collateral_value"))))])) }
            li { (lang.f("expiring-30", &[("lots", Arg::from(count(&book.expiring["within_30_days"], "lots"))), ("value", Arg::from(money(decimal(&book.expiring["within_30_days"], "collateral_value"))))])) }
        }
        h2 { (lang.t("book-calls")) }
        @if items(&book.margin_calls["items"]).is_empty() { p { (lang.t("none")) } } @else {
            div.table-wrap { table {
                thead { tr { th { (lang.t("col-loan")) } th { (lang.t("col-opened")) } th { (lang.t("col-deadline")) }
                             th.num { (lang.t("col-ltv-at-open")) } th.num { (lang.t("col-ltv")) } } }
                tbody { @for call in items(&book.margin_calls["items"]) { tr {
                    td { a href={ "/loans/" (text(call, "loan_id")) } { (short(text(call, "loan_id"))) } }
                    td { (day(lang, text(call, "opened_on"))) }
                    td { (day(lang, text(call, "deadline"))) }
                    td.num { (text(call, "ltv_at_open")) }
                    td.num { (text(call, "ltv")) }
                } } }
            } }
        }
        h2 { (lang.t("book-breaching")) }
        (breaching(lang, currency, &book.breaching_loans))
        h2 { (lang.t("book-breaches")) }
        @if items(&book.breaches).is_empty() { p { (lang.t("none")) } }
        ul { @for b in items(&book.breaches) {
            li { (text(b, "warehouse_name")) " · " (text(b, "kind")) " · " (lang.f("lots-count", &[("count", Arg::from(count(b, "lots_affected")))])) " · " (money(decimal(b, "collateral_value"))) }
        } }
        p { a.button href="/exposure.csv" download { (lang.t("download-csv")) } }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("dashboard-title"),
        "/dashboard",
        content,
    )
}

fn breaching(lang: Lang, currency: &str, loans: &Value) -> Markup {
    html! {
        @if items(loans).is_empty() { p { (lang.t("none")) } } @else {
            div.table-wrap { table {
                thead { tr { th { (lang.t("col-loan")) } th { (lang.t("col-supplier")) } th.num { (lang.t("col-outstanding")) }
                             th.num { (lang.t("col-collateral")) } th.num { (lang.t("col-ltv")) } th.num { (lang.t("col-margin-call-ltv")) } } }
                tbody { @for l in items(loans) { tr {
                    td { a href={ "/loans/" (text(l, "loan_id")) } { (short(text(l, "loan_id"))) } }
                    td { (text(l, "supplier_name")) }
                    td.num { (lang.money(decimal(l, "outstanding_principal"), currency)) }
                    td.num { (lang.money(decimal(l, "collateral_value"), currency)) }
                    td.num { (text(l, "ltv")) }
                    td.num { (text(l, "margin_call_ltv")) }
                } } }
            } }
        }
    }
}

/// A date the figures carry as text, written as the page's language writes dates.
fn day(lang: Lang, text: &str) -> String {
    text.parse::<chrono::NaiveDate>()
        .map(|d| lang.date(d))
        .unwrap_or_else(|_| text.to_owned())
}

/// The first eight characters of an id: enough to tell loans apart on a screen.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The stress form, and its answer when one was asked.
pub fn stress(
    lang: Lang,
    session: &BrowserSession,
    commodities: &[String],
    asked: &[(String, String)],
    answer: Option<Result<Exposure, Markup>>,
) -> Markup {
    let content = html! {
        p.help { (lang.t("stress-help")) }
        form.panel method="post" action="/stress" {
            input type="hidden" name="csrf" value=(session.csrf_token);
            div.grid {
                @for code in commodities {
                    @let value = asked.iter().find(|(c, _)| c == code).map(|(_, v)| v.as_str()).unwrap_or("");
                    label { (code) " (" (lang.t("stress-change")) ")"
                        input type="text" inputmode="decimal" name={ "shock." (code) } value=(value) placeholder="-0.30";
                    }
                }
            }
            p { button.primary type="submit" { (lang.t("stress-run")) } }
        }
        @match &answer {
            Some(Ok(book)) => {
                @let currency = book.currency.as_deref().unwrap_or("CNY");
                div.grid {
                    div.figure { div.label { (lang.t("book-collateral")) } div.value { (lang.money(book.collateral_value, currency)) } }
                    div.figure { div.label { (lang.t("book-ltv")) } div.value { (book.weighted_ltv.map(|l| lang.percent(l)).unwrap_or_else(|| "—".into())) } }
                    div.figure { div.label { (lang.t("stress-above-margin")) } div.value { (book.loans_above_margin_call_ltv) } }
                    div.figure { div.label { (lang.t("stress-above-liquidation")) } div.value { (book.loans_above_liquidation_ltv) } }
                }
                h2 { (lang.t("stress-breaching")) }
                (breaching(lang, currency, &book.breaching_loans))
            }
            Some(Err(problem)) => { (problem) }
            None => {}
        }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("stress-title"),
        "/stress",
        content,
    )
}

fn loan_row(lang: Lang, loan: &Loan) -> Markup {
    html! {
        td { a href={ "/loans/" (loan.id) } { (short(&loan.id.to_string())) } }
        td { (view::badge(lang, loan.status.as_str())) }
        td.num { (lang.money(loan.principal.amount(), &loan.currency)) }
        td.num { (lang.money(loan.collateral_value.amount(), &loan.currency)) }
        td.num { (loan.ltv.map(|l| lang.percent(l)).unwrap_or_else(|| "—".into())) }
        td { (lang.moment(loan.requested_at)) }
    }
}

fn loan_head(lang: Lang) -> Markup {
    html! {
        th { (lang.t("col-loan")) } th { (lang.t("col-status")) } th.num { (lang.t("col-principal")) }
        th.num { (lang.t("col-collateral")) } th.num { (lang.t("col-ltv")) } th { (lang.t("col-requested")) }
    }
}

/// The maker-checker inbox.
pub fn approvals(
    lang: Lang,
    session: &BrowserSession,
    inbox: &Inbox,
    flash: Option<Markup>,
) -> Markup {
    let decide = |loan: &Loan, second: bool| {
        html! {
            div.actions {
                form method="post" action={ "/loans/" (loan.id) "/approve" } {
                    input type="hidden" name="csrf" value=(session.csrf_token);
                    button.primary type="submit" data-loan=(loan.id) {
                        (if second { lang.t("confirm-approval") } else { lang.t("approve") })
                    }
                }
                form method="post" action={ "/loans/" (loan.id) "/reject" } {
                    input type="hidden" name="csrf" value=(session.csrf_token);
                    label.inline-label { (lang.t("reject-reason"))
                        input type="text" name="reason" required maxlength="1000";
                    }
                    button.danger type="submit" { (lang.t("reject")) }
                }
            }
        }
    };
    let content = html! {
        @if let Some(flash) = flash { (flash) }
        h2 { (lang.t("inbox-to-decide")) " (" (inbox.to_decide.len()) ")" }
        @if inbox.to_decide.is_empty() { p { (lang.t("none")) } }
        @for loan in &inbox.to_decide {
            div.card data-inbox="decide" {
                div.table-wrap { table { thead { tr { (loan_head(lang)) } } tbody { tr { (loan_row(lang, loan)) } } } }
                (decide(loan, false))
            }
        }
        h2 { (lang.t("inbox-second")) " (" (inbox.awaiting_second.len()) ")" }
        p.help { (lang.t("inbox-second-help")) }
        @if inbox.awaiting_second.is_empty() { p { (lang.t("none")) } }
        @for loan in &inbox.awaiting_second {
            div.card data-inbox="second" {
                div.table-wrap { table { thead { tr { (loan_head(lang)) } } tbody { tr { (loan_row(lang, loan)) } } } }
                @if loan.approvals.approved_by == Some(session.principal.user_id) {
                    p.notice.bad { (lang.t("inbox-you-approved")) }
                } @else {
                    (decide(loan, true))
                }
            }
        }
        h2 { (lang.t("inbox-to-disburse")) " (" (inbox.to_disburse.len()) ")" }
        @if inbox.to_disburse.is_empty() { p { (lang.t("none")) } }
        @for loan in &inbox.to_disburse {
            div.card data-inbox="disburse" {
                div.table-wrap { table { thead { tr { (loan_head(lang)) } } tbody { tr { (loan_row(lang, loan)) } } } }
                form method="post" action={ "/loans/" (loan.id) "/disburse" } {
                    input type="hidden" name="csrf" value=(session.csrf_token);
                    input type="hidden" name="key" value=(random_token());
                    button.primary type="submit" {
                        (lang.f("disburse-amount", &[("amount", Arg::from(lang.money(loan.principal.amount(), &loan.currency)))]))
                    }
                }
            }
        }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("approvals-title"),
        "/approvals",
        content,
    )
}

pub fn loans(lang: Lang, session: &BrowserSession, loans: &[Loan]) -> Markup {
    let content = html! {
        @if loans.is_empty() { p { (lang.t("none")) } } @else {
            div.table-wrap { table { thead { tr { (loan_head(lang)) } }
                tbody { @for loan in loans { tr { (loan_row(lang, loan)) } } } } }
        }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("loans-title"),
        "/loans",
        content,
    )
}

/// A loan's LTV over time as a line, with the facility's margin-call and liquidation limits
/// as dashed lines; each point is a business day's close, the last is today's live figure.
/// The figures are in the table below it as well.
pub fn ltv_line(
    title: &str,
    points: &[(String, Option<Decimal>)],
    limits: &[(String, Decimal)],
) -> Markup {
    let (left, top, width, height) = (44i64, 10i64, 380i64, 150i64);
    let highest = points
        .iter()
        .filter_map(|(_, ltv)| *ltv)
        .chain(limits.iter().map(|(_, l)| *l))
        .max()
        .unwrap_or(Decimal::ONE)
        .max(Decimal::new(5, 1));
    // The scale's top: the next tenth above the highest figure.
    let scale = ((highest * Decimal::TEN).floor() + Decimal::ONE) / Decimal::TEN;
    let y = |ltv: Decimal| -> i64 {
        top + height
            - (ltv * Decimal::from(height) / scale)
                .round()
                .try_into()
                .unwrap_or(0i64)
    };
    let step = if points.len() > 1 {
        width / (points.len() as i64 - 1)
    } else {
        0
    };
    let x = |i: usize| left + step * i as i64;
    let line: String = points
        .iter()
        .enumerate()
        .filter_map(|(i, (_, ltv))| ltv.map(|l| format!("{},{}", x(i), y(l))))
        .collect::<Vec<_>>()
        .join(" ");
    let percent = |d: Decimal| format!("{}%", (d * Decimal::ONE_HUNDRED).round());
    html! {
        svg.chart role="img" aria-label=(title) viewBox={ "0 0 440 " (top + height + 30) }
            xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            line x1=(left) y1=(top + height) x2=(left + width) y2=(top + height) stroke="#9aa4b1" {}
            text x="0" y=(top + height + 4) { "0%" }
            text x="0" y=(top + 8) { (percent(scale)) }
            @for (name, limit) in limits {
                line x1=(left) y1=(y(*limit)) x2=(left + width) y2=(y(*limit)) stroke="#b3261e" stroke-dasharray="5 4" {}
                text x=(left + 4) y=(y(*limit) - 4) fill="#b3261e" stroke="#f5f7fa" stroke-width="4" paint-order="stroke" { (name) " " (percent(*limit)) }
            }
            @if points.len() > 1 {
                polyline points=(line) fill="none" stroke="#0b5d4b" stroke-width="2.5" {}
            }
            @for (i, (_, ltv)) in points.iter().enumerate() {
                @if let Some(ltv) = ltv { circle cx=(x(i)) cy=(y(*ltv)) r="3.5" fill="#0b5d4b" {} }
            }
            @if let Some((first, _)) = points.first() { text x=(left) y=(top + height + 22) { (first) } }
            @if points.len() > 1 { @if let Some((last, _)) = points.last() {
                text x=(left + width) y=(top + height + 22) text-anchor="end" { (last) }
            } }
        }
    }
}

pub fn loan(
    lang: Lang,
    session: &BrowserSession,
    page: &LoanPage,
    flash: Option<Markup>,
) -> Markup {
    let (loan, entries) = (&page.loan, &page.entries);
    let mut points: Vec<(String, Option<Decimal>)> = page
        .history
        .iter()
        .map(|p| (lang.date(p.business_date), p.ltv))
        .collect();
    let live = matches!(loan.status.as_str(), "active" | "defaulted" | "liquidating");
    if live {
        points.push((lang.t("ltv-now"), loan.ltv));
    }
    let limits = [
        (lang.t("col-margin-call-ltv"), page.facility.margin_call_ltv),
        (lang.t("col-liquidation-ltv"), page.facility.liquidation_ltv),
    ];
    let money = |d: Decimal| lang.money(d, &loan.currency);
    let principal = &session.principal;
    let may_repay = matches!(loan.status.as_str(), "active" | "defaulted" | "liquidating")
        && ((principal.kind == OrgKind::Supplier && principal.has(Permission::LoansWrite))
            || (principal.kind == OrgKind::Lender && principal.has(Permission::CreditWrite)));
    let content = html! {
        @if let Some(flash) = flash { (flash) }
        p { (view::badge(lang, loan.status.as_str())) }
        div.grid {
            div.figure { div.label { (lang.t("col-principal")) } div.value { (money(loan.principal.amount())) } }
            div.figure { div.label { (lang.t("col-outstanding")) } div.value { (money(loan.outstanding_principal.amount())) } }
            div.figure { div.label { (lang.t("book-interest")) } div.value { (money(loan.interest_due.amount())) } }
            div.figure { div.label { (lang.t("col-collateral")) } div.value { (money(loan.collateral_value.amount())) } }
            div.figure { div.label { (lang.t("col-ltv")) } div.value { (loan.ltv.map(|l| lang.percent(l)).unwrap_or_else(|| "—".into())) } }
            div.figure { div.label { (lang.t("loan-to-repay")) } div.value { (money(loan.amount_to_repay.amount())) } }
        }
        @if may_repay {
            form.panel #repay method="post" action={ "/loans/" (loan.id) "/repay" } {
                input type="hidden" name="csrf" value=(session.csrf_token);
                input type="hidden" name="key" value=(random_token());
                div.actions {
                    label { (lang.t("repay-amount"))
                        input type="text" inputmode="decimal" name="amount" required
                            value=(loan.amount_to_repay.amount());
                    }
                    button.primary type="submit" { (lang.t("repay")) }
                }
                p.help { (lang.t("repay-help")) }
            }
        }
        h2 { (lang.t("loan-collateral")) }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-lot")) } th { (lang.t("lot-commodity")) } th.num { (lang.t("col-quantity")) } th.num { (lang.t("col-value")) } } }
            tbody { @for c in &loan.collateral { tr {
                td { (c.lot_code) } td { (c.commodity_code) }
                td.num { (lang.number(c.quantity.value())) " " (c.unit) }
                td.num { (money(c.market_value.amount())) }
            } } }
        } }
        @if loan.status.as_str() == "liquidating" && principal.kind == OrgKind::Lender && principal.has(Permission::CreditWrite) {
            h3 { (lang.t("market-sell-collateral")) }
            p.help { (lang.t("market-sell-collateral-help")) }
            @for c in &loan.collateral {
                form.panel.actions method="post" action="/market/list" data-sell=(c.lot_code) {
                    input type="hidden" name="csrf" value=(session.csrf_token);
                    input type="hidden" name="loan_id" value=(loan.id);
                    input type="hidden" name="lot_id" value=(c.lot_id);
                    input type="hidden" name="currency" value=(loan.currency);
                    strong { (c.lot_code) }
                    label { (lang.t("col-quantity"))
                        input type="text" inputmode="decimal" name="quantity" size="10" required value=(c.quantity.value().normalize()); }
                    (crate::console::pages::market::listing_terms(lang, &format!("sell-{}", c.lot_code)))
                    button.primary type="submit" { (lang.t("market-list-go")) }
                }
            }
        }
        h2 { (lang.t("loan-ltv-history")) }
        @if page.history.is_empty() && !live { p { (lang.t("none")) } } @else {
            div.charts {
                (ltv_line(&lang.t("loan-ltv-history"), &points, &limits))
                div.table-wrap { table {
                    thead { tr { th { (lang.t("col-as-of")) } th.num { (lang.t("col-outstanding")) } th.num { (lang.t("col-collateral")) } th.num { (lang.t("col-ltv")) } } }
                    tbody {
                        @for p in page.history.iter().rev().take(30) { tr {
                            td { (lang.date(p.business_date)) } td.num { (money(p.outstanding)) } td.num { (money(p.collateral_value)) }
                            td.num { (p.ltv.map(|l| lang.percent(l)).unwrap_or_else(|| "—".into())) }
                        } }
                    }
                } }
            }
            p.help { (lang.t("loan-ltv-history-help")) }
        }
        h2 { (lang.t("loan-margin-calls")) }
        @if page.margin_calls.is_empty() { p { (lang.t("none")) } } @else {
            div.table-wrap { table {
                thead { tr { th { (lang.t("col-opened")) } th { (lang.t("col-status")) } th.num { (lang.t("col-ltv-at-open")) } th { (lang.t("col-deadline")) } th { (lang.t("col-closed")) } } }
                tbody { @for call in &page.margin_calls { tr {
                    td { (lang.date(call.opened_on)) } td { (view::badge(lang, call.status.as_str())) }
                    td.num { (call.ltv_at_open.map(|l| lang.percent(l)).unwrap_or_else(|| "—".into())) }
                    td { (lang.date(call.deadline)) }
                    td { @if let Some(closed) = call.closed_at { (lang.moment(closed)) " · " (view::words(lang, "closed", call.closed_reason.as_deref().unwrap_or(""))) } }
                } } }
            } }
        }
        h2 { (lang.t("loan-entries")) " (" (entries.len()) ")" }
        @if entries.is_empty() { p { (lang.t("none")) } } @else {
            div.table-wrap { table {
                thead { tr { th { (lang.t("col-as-of")) } th { (lang.t("col-entry")) } th { (lang.t("col-lines")) } } }
                tbody { @for entry in entries { tr {
                    td { (lang.date(entry.business_date)) }
                    td title=(entry.memo) { (view::words(lang, "entry", &entry.kind)) }
                    td { @for line in entry.lines.iter().filter(|l| l.org_id == session.principal.org_id || session.principal.kind == OrgKind::Platform) {
                        (view::words(lang, "account", &line.account)) " " (lang.money(line.amount, &line.currency)) br;
                    } }
                } } }
            } }
        }
        @if !loan.holds.is_empty() {
            h2 { (lang.t("loan-holds")) }
            ul { @for hold in &loan.holds { li { (lang.moment(hold.started_at)) " · " (hold.kind) } } }
        }
    };
    let title = lang.f(
        "loan-title",
        &[("id", Arg::from(short(&loan.id.to_string()).to_owned()))],
    );
    view::page(lang, Some(session), &title, "/loans", content)
}

/// The lender's credit facilities: to whom, on what terms, how much is drawn and left.
pub fn facilities(
    lang: Lang,
    session: &BrowserSession,
    facilities: &[Facility],
    orgs: &[DirectoryEntry],
) -> Markup {
    let name_of = |id: uuid::Uuid| {
        orgs.iter()
            .find(|o| o.id == id)
            .map(|o| o.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let content = html! {
        @if facilities.is_empty() { p { (lang.t("none")) } } @else {
            div.table-wrap { table {
                thead { tr {
                    th { (lang.t("col-supplier")) } th { (lang.t("col-status")) } th.num { (lang.t("col-limit")) }
                    th.num { (lang.t("col-drawn")) } th.num { (lang.t("col-committed")) } th.num { (lang.t("col-available")) }
                    th.num { (lang.t("col-borrowing-base")) } th.num { (lang.t("col-advance-rate")) }
                    th.num { (lang.t("col-margin-call-ltv")) } th.num { (lang.t("col-liquidation-ltv")) } th { (lang.t("col-commodities")) }
                } }
                tbody { @for f in facilities { tr data-facility=(f.id) {
                    td { (name_of(f.supplier_org_id)) }
                    td { (view::badge(lang, &f.status)) }
                    td.num { (lang.money(f.limit.amount(), &f.currency)) }
                    td.num { (lang.money(f.drawn.amount(), &f.currency)) }
                    td.num { (lang.money(f.committed.amount(), &f.currency)) }
                    td.num { (lang.money(f.available.amount(), &f.currency)) }
                    td.num { (lang.money(f.borrowing_base.amount(), &f.currency)) }
                    td.num { (lang.percent(f.advance_rate)) }
                    td.num { (lang.percent(f.margin_call_ltv)) }
                    td.num { (lang.percent(f.liquidation_ltv)) }
                    td { (f.eligible_commodities.join(", ")) }
                } } }
            } }
        }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("facilities-title"),
        "/facilities",
        content,
    )
}
