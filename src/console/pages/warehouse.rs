//! The warehouse's other page: temperature breaches in its stores (`/breaches`), to
//! acknowledge with what was found and, where the goods suffered, a downgrade.

use crate::auth::browser::BrowserSession;
use crate::coldchain::store::Breach;
use crate::console::i18n::{Arg, Lang};
use crate::console::view;
use crate::lots::service::DayMovement;
use crate::reference::model::Warehouse;
use maud::{Markup, html};

pub fn breaches(
    lang: Lang,
    session: &BrowserSession,
    breaches: &[Breach],
    warehouses: &[Warehouse],
    flash: Option<Markup>,
) -> Markup {
    let name_of = |id| {
        warehouses
            .iter()
            .find(|w| w.id == id)
            .map(|w| w.name.clone())
            .unwrap_or_default()
    };
    let (open, done): (Vec<&Breach>, Vec<&Breach>) =
        breaches.iter().partition(|b| b.acknowledged_at.is_none());
    let content = html! {
        @if let Some(flash) = flash { (flash) }
        p.help { (lang.t("breaches-help")) }
        h2 { (lang.t("breaches-open")) " (" (open.len()) ")" }
        @if open.is_empty() { p { (lang.t("none")) } }
        @for b in &open {
            article.card data-breach=(b.id) {
                h3 { (name_of(b.warehouse_id)) " · " (lang.t(&format!("breach-{}", b.kind.replace('_', "-")))) }
                p {
                    (lang.f("breach-when", &[
                        ("start", Arg::from(lang.moment(b.started_at))),
                        ("end", Arg::from(b.ended_at.map(|e| lang.moment(e)).unwrap_or_else(|| lang.t("breach-ongoing")))),
                    ]))
                    " · " (lang.f("breach-extreme", &[("celsius", Arg::from(b.extreme_celsius.to_string())), ("sensor", Arg::from(b.sensor_id.as_str()))]))
                }
                form method="post" action={ "/breaches/" (b.id) "/acknowledge" } {
                    input type="hidden" name="csrf" value=(session.csrf_token);
                    div.grid {
                        label { (lang.t("breach-comment"))
                            textarea name="comment" required maxlength="2000" rows="2" {}
                        }
                        label { (lang.t("breach-downgrade"))
                            input type="text" name="grade_downgrade" maxlength="16" placeholder="B";
                        }
                    }
                    p { button.primary type="submit" { (lang.t("breach-acknowledge")) } }
                }
            }
        }
        h2 #reading-title { (lang.t("reading-title")) }
        form.panel #reading method="post" action="/readings" aria-labelledby="reading-title" {
            input type="hidden" name="csrf" value=(session.csrf_token);
            p.help { (lang.t("reading-help")) }
            div.grid {
                label { (lang.t("lot-warehouse"))
                    select name="warehouse_id" {
                        @for w in warehouses.iter().filter(|w| w.operator_org_id == session.principal.org_id) {
                            option value=(w.id) { (w.name) }
                        }
                    }
                }
                label { (lang.t("reading-sensor")) input type="text" name="sensor_id" required maxlength="64"; }
                label { (lang.t("reading-celsius")) input type="text" inputmode="decimal" name="celsius" required placeholder="3.5"; }
                label { (lang.t("reading-at"))
                    input type="datetime-local" name="recorded_at" step="60"
                        value=(chrono::Utc::now().format("%Y-%m-%dT%H:%M"));
                }
            }
            p { button.primary type="submit" { (lang.t("reading-record")) } }
        }
        h2 { (lang.t("breaches-done")) }
        @if done.is_empty() { p { (lang.t("none")) } } @else {
            div.table-wrap { table {
                thead { tr { th { (lang.t("lot-warehouse")) } th { (lang.t("breach-kind")) } th { (lang.t("breach-started")) }
                             th { (lang.t("breach-acknowledged")) } th { (lang.t("breach-comment")) } } }
                tbody { @for b in &done { tr {
                    td { (name_of(b.warehouse_id)) }
                    td { (lang.t(&format!("breach-{}", b.kind.replace('_', "-")))) }
                    td { (lang.moment(b.started_at)) }
                    td { (b.acknowledged_at.map(|a| lang.moment(a)).unwrap_or_default()) }
                    td { (b.comment.clone().unwrap_or_default()) }
                } } }
            } }
        }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("breaches-title"),
        "/breaches",
        content,
    )
}

/// What moved today at the operator's warehouses, newest first.
pub fn movements(
    lang: Lang,
    session: &BrowserSession,
    moved: &[DayMovement],
    warehouses: &[Warehouse],
) -> Markup {
    let name_of = |id: Option<uuid::Uuid>| {
        id.and_then(|id| warehouses.iter().find(|w| w.id == id))
            .map(|w| w.name.clone())
            .unwrap_or_default()
    };
    let content = html! {
        p.help { (lang.f("movements-help", &[("count", Arg::from(moved.len() as i64))])) }
        @if moved.is_empty() { p { (lang.t("none")) } } @else {
            div.table-wrap { table {
                thead { tr {
                    th { (lang.t("col-time")) } th { (lang.t("col-lot")) } th { (lang.t("lot-commodity")) }
                    th { (lang.t("col-movement")) } th.num { (lang.t("col-change")) } th.num { (lang.t("col-after")) }
                    th { (lang.t("lot-warehouse")) }
                } }
                tbody { @for m in moved { tr data-movement=(m.movement.id) {
                    td { (m.movement.created_at.format("%H:%M:%S")) }
                    td { (m.lot_code) }
                    td { (m.commodity_code) }
                    td { (lang.t(&format!("movement-{}", m.movement.kind.as_str().replace('_', "-")))) }
                    td.num { (lang.number(m.movement.quantity_change.value())) " " (m.unit) }
                    td.num { (lang.number(m.movement.quantity_after.value())) }
                    td { (name_of(m.movement.warehouse_id)) }
                } } }
            } }
        }
    };
    view::page(
        lang,
        Some(session),
        &lang.t("movements-title"),
        "/movements",
        content,
    )
}
