//! An org's books as its people read them: sales and their settlements (`/sales`), and the
//! statement for a period with its CSV (`/statement`).

use crate::auth::browser::BrowserSession;
use crate::console::i18n::{Arg, Lang};
use crate::console::view;
use crate::sales::model::Sale;
use crate::statements::model::Statement;
use maud::{Markup, html};
use rust_decimal::Decimal;

pub fn sales(
    lang: Lang,
    session: &BrowserSession,
    sales: &[Sale],
    flash: Option<Markup>,
) -> Markup {
    let principal = &session.principal;
    let pays = principal.kind == crate::auth::OrgKind::Buyer
        && principal.has(crate::auth::Permission::PaymentsWrite);
    let content = html! {
        @if let Some(flash) = flash { (flash) }
        @if pays {
            @let due: Vec<&Sale> = sales.iter()
                .filter(|s| s.status.as_str() == "pending" && s.total.amount() > s.paid.amount())
                .collect();
            @if !due.is_empty() {
                h2 { (lang.t("to-pay")) " (" (due.len()) ")" }
                @for sale in due {
                    @let owed = sale.total.amount() - sale.paid.amount();
                    form.panel.actions method="post" action={ "/sales/" (sale.id) "/pay" } data-pay=(sale.id) {
                        input type="hidden" name="csrf" value=(session.csrf_token);
                        input type="hidden" name="key" value=(crate::auth::tokens::random_token());
                        div {
                            strong { @for line in &sale.lines { (line.lot_code) " · " (lang.number(line.quantity.value())) " " } }
                            br;
                            (lang.t("col-total")) " " (lang.money(sale.total.amount(), &sale.currency))
                            " · " (lang.t("col-paid")) " " (lang.money(sale.paid.amount(), &sale.currency))
                        }
                        label { (lang.t("pay-amount"))
                            input type="text" inputmode="decimal" name="amount" size="10" required value=(owed); }
                        button.primary type="submit" { (lang.t("pay")) }
                    }
                }
                h2 { (lang.t("purchases-all")) }
            }
        }
        @if sales.is_empty() { p { (lang.t("none")) } } @else {
            div.table-wrap { table {
                thead { tr {
                    th { (lang.t("col-sale")) } th { (lang.t("col-status")) } th { (lang.t("col-lines")) }
                    th.num { (lang.t("col-total")) } th.num { (lang.t("col-paid")) }
                    th.num { (lang.t("col-fee")) } th.num { (lang.t("col-loans-repaid")) } th.num { (lang.t("col-to-seller")) }
                    th { (lang.t("col-settled")) }
                } }
                tbody { @for sale in sales { tr data-sale=(sale.id) {
                    td { (sale.id.to_string().get(..8).unwrap_or("")) }
                    td { (view::badge(lang, sale.status.as_str())) }
                    td { @for line in &sale.lines { (line.lot_code) " · " (lang.number(line.quantity.value())) br; } }
                    td.num { (lang.money(sale.total.amount(), &sale.currency)) }
                    td.num { (lang.money(sale.paid.amount(), &sale.currency)) }
                    @match &sale.settlement {
                        Some(s) => {
                            td.num { (s.fee.map(|f| lang.money(f.amount(), &sale.currency)).unwrap_or_default()) }
                            td.num { (lang.money(
                                s.principal_repaid.map(|m| m.amount()).unwrap_or_default()
                                    + s.interest_repaid.map(|m| m.amount()).unwrap_or_default()
                                    + s.loan_fees_repaid.map(|m| m.amount()).unwrap_or_default(),
                                &sale.currency)) }
                            td.num { (s.to_supplier.map(|m| lang.money(m.amount(), &sale.currency)).unwrap_or_default()) }
                            td { (lang.date(s.business_date)) }
                        }
                        None => { td {} td {} td {} td { "—" } }
                    }
                } } }
            } }
        }
    };
    let title = if session.principal.kind == crate::auth::OrgKind::Buyer {
        lang.t("purchases-title")
    } else {
        lang.t("sales-title")
    };
    view::page(lang, Some(session), &title, "/sales", content)
}

/// The statement, with a refusal of the period asked on top when there was one.
pub fn statement_with(
    lang: Lang,
    session: &BrowserSession,
    statement: &Statement,
    problem: Option<Markup>,
) -> Markup {
    let period = format!("from={}&to={}", statement.from, statement.to);
    let content = html! {
        @if let Some(problem) = problem { (problem) }
        form.actions method="get" action="/statement" {
            label { (lang.t("statement-from")) input type="date" name="from" value=(statement.from); }
            label { (lang.t("statement-to")) input type="date" name="to" value=(statement.to); }
            button type="submit" { (lang.t("statement-show")) }
            a.button href={ "/statement.csv?" (period) } download { (lang.t("download-statement-csv")) }
        }
        p.help { (lang.f("statement-period", &[("from", Arg::from(lang.date(statement.from))), ("to", Arg::from(lang.date(statement.to)))])) }
        @if statement.currencies.is_empty() { p { (lang.t("statement-empty")) } }
        @for section in &statement.currencies {
            h2 { (section.currency) }
            div.grid {
                @for (name, amount) in section.summary.figures() {
                    @if amount != Decimal::ZERO {
                        div.figure {
                            div.label { (lang.t(&format!("figure-{}", name.replace('_', "-")))) }
                            div.value { (lang.money(amount, &section.currency)) }
                        }
                    }
                }
            }
            h3 { (lang.t("statement-entries")) " (" (section.entries.len()) ")" }
            div.table-wrap { table {
                thead { tr { th { (lang.t("col-as-of")) } th { (lang.t("col-entry")) } th { (lang.t("col-lines")) } } }
                tbody { @for entry in &section.entries { tr {
                    td { (lang.date(entry.business_date)) }
                    td title=(entry.memo) {
                        (view::words(lang, "entry", &entry.kind))
                        @if let Some(loan) = entry.loan_id { " · " (lang.t("col-loan")) " " (loan.to_string().get(..8).unwrap_or("")) }
                        @if let Some(sale) = entry.sale_id { " · " (lang.t("col-sale")) " " (sale.to_string().get(..8).unwrap_or("")) }
                    }
                    td { @for (account, amount) in &entry.lines {
                        (view::words(lang, "account", account)) " "
                        (amount.parse::<Decimal>().map(|a| lang.money(a, &section.currency)).unwrap_or_else(|_| amount.clone()))
                        br;
                    } }
                } } }
            } }
        }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("statement-title"),
        "/statement",
        content,
    )
}
