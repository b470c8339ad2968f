//! The supplier's portal (`/lots`): its lots with their value, whether they may serve as
//! collateral (and why not), what can still be borrowed on them; announcing a lot; labels; a
//! loan request against chosen lots.

use crate::auth::browser::BrowserSession;
use crate::console::i18n::{Arg, Lang};
use crate::console::service::Portal;
use crate::console::view;
use crate::domain::states::LotStatus;
use maud::{Markup, html};
use rust_decimal::Decimal;

/// What may be borrowed on `value` of `commodity` in `currency`: the best advance rate of an
/// open facility that takes it, never more than that facility has available.
pub fn borrowable(portal: &Portal, commodity: &str, currency: &str, value: Decimal) -> Decimal {
    portal
        .facilities
        .iter()
        .filter(|f| f.status == "open" && f.currency == currency)
        .filter(|f| f.eligible_commodities.iter().any(|c| c == commodity))
        .map(|f| (value * f.advance_rate).min(f.available.amount()))
        .max()
        .unwrap_or_default()
        .round_dp(2)
}

pub fn portal(
    lang: Lang,
    session: &BrowserSession,
    portal: &Portal,
    flash: Option<Markup>,
) -> Markup {
    let csrf = &session.csrf_token;
    let content = html! {
        @if let Some(flash) = flash { (flash) }
        h2 { (lang.t("portal-facilities")) }
        @if portal.facilities.is_empty() { p { (lang.t("none")) } } @else {
            div.table-wrap { table {
                thead { tr { th { (lang.t("col-currency")) } th.num { (lang.t("col-advance-rate")) } th.num { (lang.t("col-limit")) }
                             th.num { (lang.t("col-available")) } th { (lang.t("col-commodities")) } th { (lang.t("col-status")) } } }
                tbody { @for f in &portal.facilities { tr {
                    td { (f.currency) }
                    td.num { (lang.percent(f.advance_rate)) }
                    td.num { (lang.money(f.limit.amount(), &f.currency)) }
                    td.num { (lang.money(f.available.amount(), &f.currency)) }
                    td { (f.eligible_commodities.join(", ")) }
                    td { (view::badge(lang, &f.status)) }
                } } }
            } }
        }
        h2 { (lang.t("portal-lots")) }
        @if portal.holdings.is_empty() { p { (lang.t("none")) } } @else {
            form #borrow method="post" action="/lots/borrow" {
                input type="hidden" name="csrf" value=(csrf);
                div.table-wrap { table {
                    thead { tr {
                        th { (lang.t("col-lot")) } th { (lang.t("lot-commodity")) } th { (lang.t("col-status")) }
                        th.num { (lang.t("lot-on-hand")) } th.num { (lang.t("col-value")) } th { (lang.t("col-eligible")) }
                        th.num { (lang.t("col-free")) } th.num { (lang.t("col-borrowable")) } th { (lang.t("col-pledge")) } th {}
                    } }
                    tbody { @for h in &portal.holdings {
                        @let lot = &h.lot;
                        @let currency = h.valuation.currency.clone().unwrap_or_else(|| "CNY".into());
                        tr data-lot=(lot.code) {
                            td { (lot.code) br; small { (lot.grade) " · " (lang.date(lot.expires_on)) } }
                            td { (lot.commodity_code) }
                            td { (view::badge(lang, lot.status.as_str())) }
                            td.num { (lang.number(lot.quantity_on_hand.value())) " " (lot.unit) }
                            td.num { @match &h.valuation.market_value { Some(v) => (lang.money(v.amount(), &currency)), None => "—" } }
                            td {
                                @if h.valuation.eligible { span.badge.badge-active { "✓ " (lang.t("eligible")) } }
                                @for reason in &h.valuation.ineligible_reasons {
                                    span.badge.badge-hold { (lang.t(&format!("reason-{}", reason.as_str().replace('_', "-")))) } " "
                                }
                            }
                            td.num { (lang.number(h.free.value())) }
                            td.num {
                                @match &h.free_value {
                                    Some(v) if h.valuation.eligible => (lang.money(borrowable(portal, &lot.commodity_code, &currency, v.amount()), &currency)),
                                    _ => "—",
                                }
                            }
                            td {
                                @if h.valuation.eligible && h.free.value() > Decimal::ZERO {
                                    label.sr-only for={ "pledge-" (lot.id) } { (lang.f("pledge-of", &[("lot", Arg::from(lot.code.as_str()))])) }
                                    input id={ "pledge-" (lot.id) } type="text" inputmode="decimal" size="8"
                                        name={ "pledge." (lot.id) } placeholder=(lang.number(h.free.value()));
                                }
                            }
                            td { @if lot.status != LotStatus::Released {
                                a href={ "/lots/" (lot.id) "/label.svg" } target="_blank" { (lang.t("label")) }
                            } }
                        }
                    } }
                } }
                div.panel {
                    h3 { (lang.t("portal-borrow")) }
                    p.help { (lang.t("portal-borrow-help")) }
                    div.actions {
                        label { (lang.t("col-facility"))
                            select name="facility_id" {
                                @for f in portal.facilities.iter().filter(|f| f.status == "open") {
                                    option value=(f.id) { (f.currency) " · " (lang.percent(f.advance_rate)) " · " (lang.money(f.available.amount(), &f.currency)) }
                                }
                            }
                        }
                        label { (lang.t("col-principal"))
                            input type="text" inputmode="decimal" name="principal" required;
                        }
                        button.primary type="submit" { (lang.t("portal-request-loan")) }
                    }
                }
            }
        }
        h2 { (lang.t("portal-announce")) }
        form.panel #announce method="post" action="/lots/announce" {
            input type="hidden" name="csrf" value=(csrf);
            div.grid {
                label { (lang.t("lot-commodity"))
                    select name="commodity_code" { @for c in &portal.commodities { option value=(c.code) { (c.name) " (" (c.code) ")" } } }
                }
                label { (lang.t("lot-grade")) input type="text" name="grade" required maxlength="8" value="A"; }
                label { (lang.t("col-quantity")) input type="text" inputmode="decimal" name="quantity" required; }
                label { (lang.t("lot-packed")) input type="date" name="packed_on" required; }
                label { (lang.t("lot-warehouse"))
                    select name="warehouse_id" { @for w in &portal.warehouses { option value=(w.id) { (w.name) } } }
                }
            }
            p { button.primary type="submit" { (lang.t("portal-announce-go")) } }
        }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("portal-title"),
        "/lots",
        content,
    )
}
