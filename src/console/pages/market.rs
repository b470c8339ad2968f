//! The market (`/market`). A buyer browses the listings its tier sees, with what the platform
//! verified about the goods, makes offers and follows them; a seller lists goods and accepts
//! or rejects the offers on its listings; the platform sees every listing.

use crate::auth::browser::BrowserSession;
use crate::auth::tokens::random_token;
use crate::auth::{OrgKind, Permission};
use crate::console::i18n::{Arg, Lang};
use crate::console::service::Market;
use crate::console::view;
use crate::market::model::{Auction, Bid, Group, Listing, Offer};
use maud::{Markup, html};
use rust_decimal::Decimal;

/// The search as typed, to fill the filter form again.
#[derive(Default)]
pub struct Search {
    pub commodity_code: String,
    pub grade: String,
    pub warehouse_id: String,
    pub min_quantity: String,
    pub max_price: String,
}

fn price(lang: Lang, listing_currency: &str, unit: &str, price: Decimal) -> String {
    let shown = crate::domain::decimal::price::shown(price);
    match lang {
        Lang::Zh => format!("{listing_currency} {shown}/{unit}"),
        Lang::En => format!("{listing_currency} {shown} per {unit}"),
    }
}

/// What the platform verified, as a definition list.
fn facts(lang: Lang, l: &Listing) -> Markup {
    let v = &l.verified;
    html! {
        dl.facts {
            dt { (lang.t("lot-grade")) } dd { (v.grade) }
            dt { (lang.t("market-available")) } dd { (lang.number(l.quantity_available)) " " (v.unit) }
            dt { (lang.t("market-where")) } dd {
                @if let Some(vessel) = &v.vessel_name {
                    (lang.t("market-at-sea")) " · " (vessel)
                    @if let Some(eta) = v.eta { " · " (lang.t("col-eta")) " " (lang.date(eta.date_naive())) }
                } @else if let Some(w) = &v.warehouse_name {
                    (w) @if let Some(a) = &v.warehouse_address { br; small { (a) } }
                } @else { "—" }
            }
            dt { (lang.t("lot-packed")) } dd { (lang.date(v.packed_on)) }
            dt { (lang.t("lot-expires")) } dd { (lang.date(v.expires_on)) }
            dt { (lang.t("market-freshness")) } dd { (lang.percent(v.freshness_factor)) }
            dt { (lang.t("market-days-in-custody")) } dd {
                @match v.days_in_custody { Some(d) => (lang.f("days", &[("count", Arg::from(i64::from(d)))])), None => "—" }
            }
            dt { (lang.t("market-breaches")) } dd {
                @if v.breaches_in_custody == 0 { (lang.t("market-no-breaches")) }
                @else { span.badge.badge-hold { (v.breaches_in_custody) } }
            }
            dt { (lang.t("market-seller")) } dd { (l.seller_name) " " span.chip { (view::words(lang, "tier", &l.seller_tier)) } }
        }
    }
}

/// The terms of a new listing, shared by a supplier's form and a lender's: a fixed asking
/// price, or an auction's reserve, increment and how long it runs.
pub fn listing_terms(lang: Lang, id: &str) -> Markup {
    html! {
        p.field { label for={ (id) "-mode" } { (lang.t("market-mode")) }
            select id={ (id) "-mode" } name="mode" {
                option value="fixed" { (lang.t("market-mode-fixed")) }
                option value="auction" { (lang.t("market-mode-auction")) }
                option value="group" { (lang.t("market-mode-group")) }
                option value="forward" { (lang.t("market-mode-forward")) }
            }
        }
        p.field { label for={ (id) "-price" } { (lang.t("market-asking-price")) }
            input id={ (id) "-price" } name="unit_price" type="text" inputmode="decimal"; }
        p.field { label for={ (id) "-minimum" } { (lang.t("market-group-minimum")) }
            input id={ (id) "-minimum" } name="min_total_quantity" type="text" inputmode="decimal"; }
        p.field { label for={ (id) "-reserve" } { (lang.t("market-reserve")) }
            input id={ (id) "-reserve" } name="reserve_price" type="text" inputmode="decimal"; }
        p.field { label for={ (id) "-increment" } { (lang.t("market-increment")) }
            input id={ (id) "-increment" } name="min_increment" type="text" inputmode="decimal"; }
        p.field { label for={ (id) "-hours" } { (lang.t("market-hours")) }
            select id={ (id) "-hours" } name="hours" {
                @for h in [2, 6, 24, 48, 72, 168] {
                    option value=(h) selected[h == 24] { (lang.f("market-hours-n", &[("count", Arg::from(h))])) }
                }
            }
        }
    }
}

/// A buyer's own market funds, and the form that adds to them: folded into one line once it
/// has some.
fn funds_panel(lang: Lang, page: &Market, csrf: &str) -> Markup {
    let empty = page.funds.iter().all(|f| f.available.is_zero());
    html! {
        details.panel.new-form #funds open[empty] {
            summary {
                (lang.t("market-funds"))
                @for f in &page.funds {
                    " · " (lang.t("market-funds-available")) " "
                    strong data-funds=(f.currency) { (lang.money(f.available, &f.currency)) }
                    @if !f.held.is_zero() {
                        " · " (lang.t("market-funds-held")) " " strong { (lang.money(f.held, &f.currency)) }
                    }
                }
            }
            @if page.funds.is_empty() { p { (lang.t("market-no-funds")) } }
            form.actions method="post" action="/market/funds" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="key" value=(random_token());
                label { (lang.t("market-amount"))
                    input type="text" inputmode="decimal" name="amount" size="10" required; }
                label { (lang.t("col-currency"))
                    input type="text" name="currency" value="CNY" size="3" maxlength="3" required; }
                button type="submit" { (lang.t("market-add-funds")) }
            }
            p.help { (lang.t("market-funds-help")) }
        }
    }
}

/// An auction on its card: the price so far, the clock, the caller's deposit and, for a buyer,
/// the bid form; the latest bids.
fn auction_block(
    lang: Lang,
    l: &Listing,
    a: &Auction,
    bids: &[&Bid],
    may_bid: bool,
    csrf: &str,
    name_of: &dyn Fn(uuid::Uuid) -> String,
) -> Markup {
    let unit = &l.verified.unit;
    html! {
        div.auction {
            p.price {
                @if let Some(high) = l.high_bid {
                    (lang.t("market-high-bid")) " " strong { (price(lang, &l.currency, unit, high)) } " · "
                }
                (lang.t("market-reserve-short")) " " (price(lang, &l.currency, unit, a.reserve_price))
                " · " (lang.f("market-bid-count", &[("count", Arg::from(i64::from(a.bid_count)))]))
            }
            @if l.status == "scheduled" {
                p.clock { (lang.t("market-starts")) " " (lang.moment(a.starts_at)) }
            } @else if l.status == "open" {
                @if let Some(end) = l.ends_at {
                    p.clock {
                        (lang.t("market-ends-in")) " "
                        strong.countdown data-ends-at=(end.to_rfc3339()) data-ended=(lang.t("market-ended"))
                            data-late-ms=(i64::from(a.extension_minutes) * 60_000) { (lang.moment(end)) }
                        " · " (lang.moment(end))
                        @if let Some(used) = l.extensions_used.filter(|u| *u > 0) {
                            " · " (lang.f("market-extended", &[("used", Arg::from(i64::from(used))), ("max", Arg::from(i64::from(a.max_extensions)))]))
                        }
                    }
                    p.help { (lang.f("market-late-bids", &[("minutes", Arg::from(i64::from(a.extension_minutes)))])) }
                }
            } @else {
                p {
                    @if let Some(outcome) = &a.outcome { (view::words(lang, "outcome", outcome)) }
                    @if let Some(due) = a.payment_due_at.filter(|_| l.status == "awarded") {
                        (lang.t("market-pay-by")) " " (lang.moment(due))
                        @if a.sale_id.is_some() { " · " a href="/sales" { (lang.t("market-to-pay")) } }
                    }
                }
            }
            @if let Some(deposit) = a.your_deposit {
                p {
                    (lang.t("market-your-deposit")) " " (lang.money(deposit, &l.currency))
                    @if a.you_lead == Some(true) { " " span.badge.badge-open { (lang.t("market-you-lead")) } }
                }
            }
            @if may_bid && l.status == "open" {
                form.bid.actions method="post" action={ "/market/" (l.id) "/bid" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="key" value=(random_token());
                    label { (lang.t("market-your-bid"))
                        input type="text" inputmode="decimal" name="unit_price" size="8" required
                            value=(crate::domain::decimal::price::shown(a.minimum_bid)); }
                    button.primary type="submit" { (lang.t("market-bid")) }
                }
            }
            @if !bids.is_empty() {
                div.table-wrap { table.bids {
                    caption { (lang.t("market-bids")) }
                    thead { tr { th { (lang.t("market-placed")) } th.num { (lang.t("col-price")) } th { (lang.t("market-bidder")) } } }
                    tbody { @for b in bids { tr {
                        td { (lang.moment(b.placed_at)) }
                        td.num { (crate::domain::decimal::price::shown(b.unit_price)) }
                        td { @match (b.mine, b.buyer_org_id) {
                            (Some(true), _) => (lang.t("market-you")),
                            (_, Some(org)) => (name_of(org)),
                            _ => "—",
                        } }
                    } } }
                } }
            }
        }
    }
}

/// A group buy on its card: the group price, how much is joined of the minimum, the clock to
/// the deadline and, for a buyer, the join form.
fn group_block(lang: Lang, l: &Listing, g: &Group, may_join: bool, csrf: &str) -> Markup {
    let unit = &l.verified.unit;
    html! {
        div.group {
            p.price { (lang.t("market-group-price")) " " (price(lang, &l.currency, unit, g.group_price)) }
            p {
                (lang.f("market-group-joined", &[
                    ("joined", Arg::from(lang.number(g.joined_quantity))),
                    ("minimum", Arg::from(lang.number(g.min_total_quantity))),
                    ("unit", Arg::from(unit.as_str())),
                ]))
            }
            progress max=(g.min_total_quantity.to_string()) value=(g.joined_quantity.min(g.min_total_quantity).to_string()) {}
            @if l.status == "open" {
                p.clock {
                    (lang.t("market-group-closes")) " "
                    strong.countdown data-ends-at=(g.deadline.to_rfc3339()) data-ended=(lang.t("market-ended")) { (lang.moment(g.deadline)) }
                    " · " (lang.moment(g.deadline))
                }
                p.help { (lang.t("market-group-help")) }
            } @else if let Some(outcome) = &g.outcome {
                p { (view::words(lang, "outcome", outcome)) }
            }
            @if let Some(mine) = g.your_quantity {
                p { span.badge.badge-open { (lang.f("market-group-yours", &[("quantity", Arg::from(lang.number(mine))), ("unit", Arg::from(unit.as_str()))])) } }
            } @else if may_join && l.status == "open" {
                form.bid.actions method="post" action={ "/market/" (l.id) "/join" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="key" value=(random_token());
                    label { (lang.t("col-quantity"))
                        input type="text" inputmode="decimal" name="quantity" size="8" required; }
                    button.primary type="submit" { (lang.t("market-join")) }
                }
            }
        }
    }
}

/// A listing's or an offer's status as a badge, in the words of its kind.
fn state(lang: Lang, kind: &str, status: &str) -> Markup {
    html! { span class={ "badge badge-" (status) } { (view::words(lang, kind, status)) } }
}

pub fn market(
    lang: Lang,
    session: &BrowserSession,
    page: &Market,
    search: &Search,
    flash: Option<Markup>,
) -> Markup {
    let principal = &session.principal;
    let buyer = principal.kind == OrgKind::Buyer;
    let may_offer = buyer && principal.has(Permission::PaymentsWrite);
    let may_sell = (principal.kind == OrgKind::Supplier && principal.has(Permission::SalesWrite))
        || (principal.kind == OrgKind::Lender && principal.has(Permission::CreditWrite));
    let name_of = |org: uuid::Uuid| {
        page.orgs
            .iter()
            .find(|o| o.id == org)
            .map_or_else(|| org.to_string(), |o| o.name.clone())
    };
    let csrf = &session.csrf_token;
    let content = html! {
        @if let Some(flash) = flash { (flash) }
        @if buyer {
            p.help { (lang.t("market-buyer-help")) }
            @if may_offer { (funds_panel(lang, page, csrf)) }
            @let searching = !(search.commodity_code.is_empty() && search.grade.is_empty() && search.warehouse_id.is_empty()
                && search.min_quantity.is_empty() && search.max_price.is_empty());
            details.panel.new-form #search-panel open[searching] {
            summary { (lang.t("market-search")) }
            form #search method="get" action="/market" role="search" {
                div.fields {
                    p.field { label for="m-commodity" { (lang.t("lot-commodity")) }
                        select #m-commodity name="commodity_code" {
                            option value="" { (lang.t("market-any")) }
                            @for c in &page.commodities {
                                option value=(c.code) selected[search.commodity_code == c.code] { (c.name) }
                            }
                        }
                    }
                    p.field { label for="m-grade" { (lang.t("lot-grade")) }
                        input #m-grade name="grade" type="text" maxlength="20" value=(search.grade); }
                    p.field { label for="m-warehouse" { (lang.t("lot-warehouse")) }
                        select #m-warehouse name="warehouse_id" {
                            option value="" { (lang.t("market-any")) }
                            @for w in &page.warehouses {
                                option value=(w.id) selected[search.warehouse_id == w.id.to_string()] { (w.name) }
                            }
                        }
                    }
                    p.field { label for="m-min" { (lang.t("market-min-quantity")) }
                        input #m-min name="min_quantity" type="text" inputmode="decimal" value=(search.min_quantity); }
                    p.field { label for="m-max" { (lang.t("market-max-price")) }
                        input #m-max name="max_price" type="text" inputmode="decimal" value=(search.max_price); }
                }
                p { button.primary type="submit" { (lang.t("market-search")) } }
            }
            }
        }
        @if may_sell && !page.lots.is_empty() {
            details.panel.new-form #new-listing {
                summary { (lang.t("market-list-goods")) }
                form method="post" action="/market/list" {
                    input type="hidden" name="csrf" value=(csrf);
                    div.fields {
                        p.field { label for="l-lot" { (lang.t("col-lot")) }
                            select #l-lot name="lot_id" required {
                                @for h in &page.lots {
                                    option value=(h.lot.id) {
                                        (h.lot.code) " · " (h.lot.commodity_code) " · " (h.lot.grade) " · "
                                        (lang.number(h.lot.quantity_on_hand.value() - h.lot.quantity_reserved.value())) " " (h.lot.unit)
                                    }
                                }
                            }
                        }
                        p.field { label for="l-quantity" { (lang.t("col-quantity")) }
                            input #l-quantity name="quantity" type="text" inputmode="decimal" required; }
                        p.field { label for="l-currency" { (lang.t("col-currency")) }
                            input #l-currency name="currency" type="text" value="CNY" maxlength="3" required; }
                        (listing_terms(lang, "l"))
                    }
                    p.help { (lang.t("market-list-help")) }
                    p { button.primary type="submit" { (lang.t("market-list-go")) } }
                }
            }
        }
        h2 { @if buyer { (lang.t("market-listings")) } @else { (lang.t("market-my-listings")) } " (" (page.listings.items.len()) ")" }
        @if page.listings.items.is_empty() { p { (lang.t("market-none")) } }
        div.listings {
            @for l in &page.listings.items {
                article.card.listing data-listing=(l.id) aria-labelledby={ "listing-" (l.id) } {
                    h3 #{ "listing-" (l.id) } {
                        (l.verified.commodity_name) " · " (l.lot_code) " "
                        (state(lang, "listing", &l.status))
                    }
                    @if let (Some(p), None) = (l.unit_price, &l.group) {
                        p.price { (price(lang, &l.currency, &l.verified.unit, p)) }
                    }
                    @if let Some(f) = &l.forward {
                        p.help { (lang.f("market-forward-help", &[("margin", Arg::from(lang.percent(f.margin_rate))), ("days", Arg::from(i64::from(f.payment_days)))])) }
                    }
                    @if let Some(g) = &l.group {
                        (group_block(lang, l, g, may_offer, csrf))
                    }
                    @if let Some(a) = &l.auction {
                        @let bids: Vec<&Bid> = page.bids.iter().filter(|b| b.listing_id == l.id).collect();
                        (auction_block(lang, l, a, &bids, may_offer, csrf, &name_of))
                    }
                    (facts(lang, l))
                    @if may_offer && l.status == "open" && (l.mode == "fixed" || l.mode == "forward") {
                        form.offer method="post" action={ "/market/" (l.id) "/offer" } {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="key" value=(random_token());
                            div.actions {
                                label { (lang.t("col-quantity"))
                                    input type="text" inputmode="decimal" name="quantity" size="8" required value=(l.quantity_available.normalize()); }
                                label { (lang.t("market-your-price"))
                                    input type="text" inputmode="decimal" name="unit_price" size="8" required
                                        value=(l.unit_price.map(|p| crate::domain::decimal::price::shown(p).to_string()).unwrap_or_default()); }
                                button.primary type="submit" { (lang.t("market-offer")) }
                            }
                        }
                    }
                    @if !buyer {
                        @let offers: Vec<&Offer> = page.offers.iter().filter(|o| o.listing_id == l.id).collect();
                        p { (lang.f("market-listed", &[("quantity", Arg::from(lang.number(l.quantity))), ("date", Arg::from(lang.date(l.opened_at.date_naive())))])) }
                        @if l.status == "open" {
                            p.help.reaches {
                                (lang.t("market-reaches")) ": "
                                @for (i, (tier, minutes)) in page.delays.iter().enumerate() {
                                    @if i > 0 { " · " }
                                    (view::words(lang, "tier", tier)) " "
                                    (lang.moment(l.opened_at + chrono::Duration::minutes(i64::from(*minutes))))
                                }
                            }
                        }
                        @if l.mode != "fixed" && l.mode != "forward" {} @else if offers.is_empty() { p.help { (lang.t("market-no-offers")) } } @else {
                            div.table-wrap { table {
                                thead { tr { th { (lang.t("market-buyer")) } th.num { (lang.t("col-quantity")) } th.num { (lang.t("col-price")) }
                                             th { (lang.t("market-expires")) } th { (lang.t("col-status")) } th { span.sr-only { (lang.t("admin-actions")) } } } }
                                tbody { @for o in offers { tr data-offer=(o.id) {
                                    td { (name_of(o.buyer_org_id)) } td.num { (lang.number(o.quantity)) }
                                    td.num { (crate::domain::decimal::price::shown(o.unit_price)) }
                                    td { (lang.moment(o.expires_at)) } td { (state(lang, "offer", &o.status)) }
                                    td { @if may_sell && o.status == "open" && l.status == "open" {
                                        div.actions {
                                            form method="post" action={ "/market/offers/" (o.id) "/accept" } {
                                                input type="hidden" name="csrf" value=(csrf);
                                                input type="hidden" name="key" value=(random_token());
                                                button.primary type="submit" { (lang.t("market-accept")) }
                                            }
                                            form method="post" action={ "/market/offers/" (o.id) "/reject" } {
                                                input type="hidden" name="csrf" value=(csrf);
                                                button.danger type="submit" { (lang.t("reject")) }
                                            }
                                        }
                                    } }
                                } } }
                            } }
                        }
                        @if may_sell && l.status == "open" && l.auction.as_ref().is_none_or(|a| a.bid_count == 0)
                            && l.group.as_ref().is_none_or(|g| g.joined_quantity.is_zero()) {
                            form.inline method="post" action={ "/market/" (l.id) "/withdraw" } {
                                input type="hidden" name="csrf" value=(csrf);
                                button.danger type="submit" { (lang.t("market-withdraw")) }
                            }
                        }
                    }
                }
            }
        }
        @if buyer {
            h2 { (lang.t("market-my-offers")) " (" (page.offers.len()) ")" }
            @if page.offers.is_empty() { p { (lang.t("none")) } } @else {
                div.table-wrap { table {
                    thead { tr { th { (lang.t("market-made")) } th.num { (lang.t("col-quantity")) } th.num { (lang.t("col-price")) }
                                 th { (lang.t("market-expires")) } th { (lang.t("col-status")) } } }
                    tbody { @for o in page.offers.iter().rev() { tr data-offer=(o.id) {
                        td { (lang.moment(o.created_at)) } td.num { (lang.number(o.quantity)) }
                        td.num { (crate::domain::decimal::price::shown(o.unit_price)) }
                        td { (lang.moment(o.expires_at)) }
                        td { (state(lang, "offer", &o.status))
                            @if o.sale_id.is_some() { " " a href="/sales" { (lang.t("market-to-pay")) } }
                            @if let Some(r) = &o.reason { " " small { (view::words(lang, "offer-reason", r)) } }
                        }
                    } } }
                } }
            }
        }
    };
    let content = html! {
        (content)
        @if page.listings.items.iter().any(|l| l.auction.is_some() || l.group.is_some()) {
            script src="/assets/market.js" defer {}
        }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("market-title"),
        "/market",
        content,
    )
}
