//! The platform's page (`/admin`): the organisations with their tiers, commodities,
//! warehouses, voyages, the latest prices, and the daily price feed to import.

use crate::auth::browser::BrowserSession;
use crate::console::i18n::{Arg, Lang};
use crate::console::service::Admin;
use crate::console::view;
use maud::{Markup, html};

pub fn admin(lang: Lang, session: &BrowserSession, admin: &Admin, flash: Option<Markup>) -> Markup {
    let content = html! {
        @if let Some(flash) = flash { (flash) }
        nav.toc aria-label=(lang.t("admin-sections")) {
            a href="#orgs" { (lang.t("admin-orgs")) } " · "
            a href="#commodities" { (lang.t("admin-commodities")) } " · "
            a href="#warehouses" { (lang.t("admin-warehouses")) } " · "
            a href="#voyages" { (lang.t("admin-voyages")) } " · "
            a href="#prices" { (lang.t("admin-prices")) }
        }
        h2 #orgs { (lang.t("admin-orgs")) " (" (admin.orgs.len()) ")" }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-name")) } th { (lang.t("col-kind")) } th { (lang.t("col-tier")) } } }
            tbody { @for o in &admin.orgs { tr {
                td { (o.name) } td { (lang.t(&format!("kind-{}", o.kind.replace('_', "-")))) } td { (o.tier) }
            } } }
        } }
        h2 #commodities { (lang.t("admin-commodities")) }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-code")) } th { (lang.t("col-name")) } th { (lang.t("col-unit")) }
                         th.num { (lang.t("col-shelf-life")) } th { (lang.t("col-grades")) } } }
            tbody { @for c in &admin.commodities { tr {
                td { (c.code) } td { (c.name) } td { (c.unit.as_str()) }
                td.num { (lang.f("days", &[("count", Arg::from(i64::from(c.shelf_life_days)))])) }
                td { @if let Some(grades) = c.grades.as_object() {
                    @for (grade, factor) in grades { (grade) " ×" (factor.as_str().unwrap_or("")) " " }
                } }
            } } }
        } }
        h2 #warehouses { (lang.t("admin-warehouses")) }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-name")) } th { (lang.t("col-address")) } th { (lang.t("col-kind")) } th { (lang.t("col-temperature")) } } }
            tbody { @for w in &admin.warehouses { tr {
                td { (w.name) } td { (w.address) } td { (w.kind) }
                td { @match (w.temperature_min_c, w.temperature_max_c) {
                    (Some(min), Some(max)) => { (min) " … " (max) " °C" },
                    _ => "—",
                } }
            } } }
        } }
        h2 #voyages { (lang.t("admin-voyages")) }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-vessel")) } th { (lang.t("col-route")) } th { (lang.t("col-eta")) } th { (lang.t("col-status")) } } }
            tbody { @for v in &admin.voyages { tr {
                td { (v.vessel_name) } td { (v.origin) " → " (v.destination) } td { (lang.moment(v.eta)) }
                td { (view::badge(lang, v.status.as_str())) }
            } } }
        } }
        h2 #prices { (lang.t("admin-prices")) }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-code")) } th.num { (lang.t("col-price")) } th { (lang.t("col-as-of")) } th { (lang.t("col-source")) } } }
            tbody { @for p in &admin.prices { tr {
                td { (p.commodity_code) } td.num { (p.price_per_unit) " " (p.currency) } td { (lang.moment(p.as_of)) } td { (p.source) }
            } } }
        } }
        form.panel #feed method="post" action="/admin/prices" {
            input type="hidden" name="csrf" value=(session.csrf_token);
            label for="feed-csv" { (lang.t("admin-feed")) }
            p.help #feed-help { (lang.t("admin-feed-help")) }
            textarea #feed-csv name="csv" rows="6" required aria-describedby="feed-help"
                placeholder="commodity_code,price_per_unit,currency,as_of,source" {}
            p { button.primary type="submit" { (lang.t("admin-feed-import")) } }
        }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("admin-title"),
        "/admin",
        content,
    )
}
