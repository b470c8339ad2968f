//! The platform's pages: `/admin` (the organisations with their tiers, commodities,
//! warehouses and their storage rates, voyages, the latest prices, and a form to add each;
//! the daily price feed to import) and `/admin/orgs/{id}` (an organisation's users).
//!
//! A form is offered only to a user holding the permission its call needs. A refused form
//! comes back open, with what was typed and the reason beside it.

use crate::auth::browser::BrowserSession;
use crate::auth::{OrgKind, Permission, Role};
use crate::console::forms::Fields;
use crate::console::i18n::{Arg, Lang};
use crate::console::service::{Admin, OrgUsers};
use crate::console::view;
use crate::domain::quantity::Unit;
use maud::{Markup, html};

/// A form sent back refused: which form, what was typed, and why.
pub struct Draft<'a> {
    pub form: &'static str,
    pub fields: &'a Fields,
    pub problem: Markup,
}

/// What was typed into `name` of `form`, when that form came back refused.
fn typed<'a>(draft: Option<&'a Draft<'a>>, form: &str, name: &str) -> &'a str {
    match draft {
        Some(d) if d.form == form => d.fields.get(name),
        _ => "",
    }
}

/// A form in a disclosure: closed until opened, open with its problem when it came back.
fn new_form(
    lang: Lang,
    session: &BrowserSession,
    draft: Option<&Draft>,
    id: &'static str,
    action: &str,
    summary: &str,
    fields: Markup,
) -> Markup {
    let refused = draft.filter(|d| d.form == id);
    html! {
        details.panel.new-form #(id) open[refused.is_some()] {
            summary { (summary) }
            @if let Some(d) = refused { (d.problem) }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(session.csrf_token);
                (fields)
                p { button.primary type="submit" { (lang.t("admin-create")) } }
            }
        }
    }
}

/// A labelled input; `kind` is the input's type.
fn field(id: &str, label: &str, name: &str, kind: &str, value: &str, required: bool) -> Markup {
    html! {
        p.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind) value=(value) required[required];
        }
    }
}

pub fn admin(
    lang: Lang,
    session: &BrowserSession,
    admin: &Admin,
    flash: Option<Markup>,
    draft: Option<&Draft>,
) -> Markup {
    let may = |p: Permission| session.principal.has(p);
    let operators: Vec<_> = admin
        .orgs
        .iter()
        .filter(|o| o.kind == OrgKind::WarehouseOperator.as_str())
        .collect();
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
        @if may(Permission::OrgsWrite) {
            (new_form(lang, session, draft, "new-org", "/admin/orgs", &lang.t("admin-new-org"), html! {
                (field("org-name", &lang.t("col-name"), "name", "text", typed(draft, "new-org", "name"), true))
                p.field {
                    label for="org-kind" { (lang.t("col-kind")) }
                    select #org-kind name="kind" {
                        @for kind in OrgKind::ALL {
                            option value=(kind.as_str()) selected[typed(draft, "new-org", "kind") == kind.as_str()] {
                                (view::words(lang, "kind", kind.as_str()))
                            }
                        }
                    }
                }
            }))
        }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-name")) } th { (lang.t("col-kind")) } th { (lang.t("col-tier")) } } }
            tbody { @for o in &admin.orgs { tr {
                td { @if may(Permission::OrgsWrite) { a href={ "/admin/orgs/" (o.id) } { (o.name) } } @else { (o.name) } }
                td { (view::words(lang, "kind", &o.kind)) } td { (o.tier) }
            } } }
        } }
        h2 #commodities { (lang.t("admin-commodities")) }
        @if may(Permission::ReferenceWrite) {
            (new_form(lang, session, draft, "new-commodity", "/admin/commodities", &lang.t("admin-new-commodity"), html! {
                div.fields {
                    (field("c-code", &lang.t("col-code"), "code", "text", typed(draft, "new-commodity", "code"), true))
                    (field("c-name", &lang.t("col-name"), "name", "text", typed(draft, "new-commodity", "name"), true))
                    p.field {
                        label for="c-unit" { (lang.t("col-unit")) }
                        select #c-unit name="unit" {
                            @for unit in [Unit::Kg, Unit::T, Unit::M3, Unit::Piece] {
                                option value=(unit.as_str()) selected[typed(draft, "new-commodity", "unit") == unit.as_str()] { (unit.as_str()) }
                            }
                        }
                    }
                    (field("c-shelf", &lang.t("admin-shelf-life-days"), "shelf_life_days", "number", typed(draft, "new-commodity", "shelf_life_days"), true))
                    (field("c-fresh", &lang.t("admin-fresh-days"), "fresh_days", "number", typed(draft, "new-commodity", "fresh_days"), true))
                    (field("c-end", &lang.t("admin-end-factor"), "end_freshness_factor", "text", typed(draft, "new-commodity", "end_freshness_factor"), false))
                    (field("c-min", &lang.t("admin-temperature-min"), "temperature_min_c", "text", typed(draft, "new-commodity", "temperature_min_c"), false))
                    (field("c-max", &lang.t("admin-temperature-max"), "temperature_max_c", "text", typed(draft, "new-commodity", "temperature_max_c"), false))
                }
                p.field {
                    label for="c-grades" { (lang.t("col-grades")) }
                    input #c-grades name="grades" type="text" required aria-describedby="c-grades-help"
                        placeholder="A=1.00 B=0.85" value=(typed(draft, "new-commodity", "grades"));
                    span.help #c-grades-help { (lang.t("admin-grades-help")) }
                }
            }))
        }
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
        @if may(Permission::ReferenceWrite) {
            (new_form(lang, session, draft, "new-warehouse", "/admin/warehouses", &lang.t("admin-new-warehouse"), html! {
                div.fields {
                    (field("w-name", &lang.t("col-name"), "name", "text", typed(draft, "new-warehouse", "name"), true))
                    p.field {
                        label for="w-operator" { (lang.t("admin-operator")) }
                        select #w-operator name="operator_org_id" required {
                            @for o in &operators {
                                option value=(o.id) selected[typed(draft, "new-warehouse", "operator_org_id") == o.id.to_string()] { (o.name) }
                            }
                        }
                    }
                    (field("w-address", &lang.t("col-address"), "address", "text", typed(draft, "new-warehouse", "address"), true))
                    p.field {
                        label for="w-kind" { (lang.t("col-kind")) }
                        select #w-kind name="kind" {
                            @for kind in ["cold_storage", "ambient"] {
                                option value=(kind) selected[typed(draft, "new-warehouse", "kind") == kind] { (view::words(lang, "warehouse", kind)) }
                            }
                        }
                    }
                    (field("w-min", &lang.t("admin-temperature-min"), "temperature_min_c", "text", typed(draft, "new-warehouse", "temperature_min_c"), false))
                    (field("w-max", &lang.t("admin-temperature-max"), "temperature_max_c", "text", typed(draft, "new-warehouse", "temperature_max_c"), false))
                    (field("w-grace", &lang.t("admin-grace-minutes"), "breach_grace_minutes", "number", typed(draft, "new-warehouse", "breach_grace_minutes"), false))
                    (field("w-currency", &lang.t("col-currency"), "currency", "text",
                        match typed(draft, "new-warehouse", "currency") { "" => "CNY", typed => typed }, false))
                }
                fieldset {
                    legend { (lang.t("admin-storage-rates")) }
                    p.help { (lang.t("admin-storage-rates-help")) }
                    div.fields {
                        @for c in &admin.commodities {
                            @let name = format!("rate.{}", c.code);
                            (field(&format!("w-rate-{}", c.code), &format!("{} ({}/{})", c.name, c.code, c.unit.as_str()), &name, "text", typed(draft, "new-warehouse", &name), false))
                        }
                    }
                }
            }))
        }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-name")) } th { (lang.t("col-address")) } th { (lang.t("col-kind")) }
                         th { (lang.t("col-temperature")) } th { (lang.t("admin-storage-rates")) } } }
            tbody { @for w in &admin.warehouses { tr {
                td { (w.name) } td { (w.address) } td { (view::words(lang, "warehouse", &w.kind)) }
                td { @match (w.temperature_min_c, w.temperature_max_c) {
                    (Some(min), Some(max)) => { (min) " … " (max) " °C" },
                    _ => "—",
                } }
                td { @for r in &w.storage_rates { (r.commodity_code) " " (r.rate_per_unit_day) " " (r.currency) br; } }
            } } }
        } }
        h2 #voyages { (lang.t("admin-voyages")) }
        @if may(Permission::ReferenceWrite) {
            (new_form(lang, session, draft, "new-voyage", "/admin/voyages", &lang.t("admin-new-voyage"), html! {
                div.fields {
                    (field("v-vessel", &lang.t("col-vessel"), "vessel_name", "text", typed(draft, "new-voyage", "vessel_name"), true))
                    p.field {
                        label for="v-carrier" { (lang.t("admin-carrier")) }
                        select #v-carrier name="carrier_org_id" required {
                            @for o in &operators {
                                option value=(o.id) selected[typed(draft, "new-voyage", "carrier_org_id") == o.id.to_string()] { (o.name) }
                            }
                        }
                    }
                    (field("v-origin", &lang.t("admin-origin"), "origin", "text", typed(draft, "new-voyage", "origin"), true))
                    (field("v-destination", &lang.t("admin-destination"), "destination", "text", typed(draft, "new-voyage", "destination"), true))
                    p.field {
                        label for="v-warehouse" { (lang.t("admin-destination-warehouse")) }
                        select #v-warehouse name="destination_warehouse_id" {
                            option value="" { (lang.t("none")) }
                            @for w in &admin.warehouses {
                                option value=(w.id) selected[typed(draft, "new-voyage", "destination_warehouse_id") == w.id.to_string()] { (w.name) }
                            }
                        }
                    }
                    (field("v-departs", &lang.t("admin-departs-utc"), "departs_at", "datetime-local", typed(draft, "new-voyage", "departs_at"), true))
                    (field("v-eta", &lang.t("admin-eta-utc"), "eta", "datetime-local", typed(draft, "new-voyage", "eta"), true))
                }
            }))
        }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-vessel")) } th { (lang.t("col-route")) } th { (lang.t("col-eta")) } th { (lang.t("col-status")) } } }
            tbody { @for v in &admin.voyages { tr {
                td { (v.vessel_name) } td { (v.origin) " → " (v.destination) } td { (lang.moment(v.eta)) }
                td { (view::badge(lang, v.status.as_str())) }
            } } }
        } }
        h2 #prices { (lang.t("admin-prices")) }
        @if may(Permission::PricesWrite) {
            (new_form(lang, session, draft, "new-price", "/admin/price", &lang.t("admin-new-price"), html! {
                div.fields {
                    p.field {
                        label for="p-commodity" { (lang.t("col-code")) }
                        select #p-commodity name="commodity_code" required {
                            @for c in &admin.commodities {
                                option value=(c.code) selected[typed(draft, "new-price", "commodity_code") == c.code] { (c.code) " · " (c.name) }
                            }
                        }
                    }
                    (field("p-price", &lang.t("admin-price-per-unit"), "price_per_unit", "text", typed(draft, "new-price", "price_per_unit"), true))
                    (field("p-currency", &lang.t("col-currency"), "currency", "text",
                        match typed(draft, "new-price", "currency") { "" => "CNY", typed => typed }, true))
                    (field("p-as-of", &lang.t("admin-as-of-utc"), "as_of", "datetime-local", typed(draft, "new-price", "as_of"), false))
                    (field("p-source", &lang.t("col-source"), "source", "text",
                        match typed(draft, "new-price", "source") { "" => "console", typed => typed }, true))
                }
                p.help { (lang.t("admin-price-help")) }
            }))
        }
        div.table-wrap { table {
            thead { tr { th { (lang.t("col-code")) } th.num { (lang.t("col-price")) } th { (lang.t("col-as-of")) } th { (lang.t("col-source")) } } }
            tbody { @for p in &admin.prices { tr {
                td { (p.commodity_code) } td.num { (p.price_per_unit) " " (p.currency) } td { (lang.moment(p.as_of)) } td { (p.source) }
            } } }
        } }
        @if may(Permission::PricesWrite) {
            form.panel #feed method="post" action="/admin/prices" {
                input type="hidden" name="csrf" value=(session.csrf_token);
                label for="feed-csv" { (lang.t("admin-feed")) }
                p.help #feed-help { (lang.t("admin-feed-help")) }
                @if let Some(d) = draft.filter(|d| d.form == "feed") { (d.problem) }
                textarea #feed-csv name="csv" rows="6" required aria-describedby="feed-help"
                    placeholder="commodity_code,price_per_unit,currency,as_of,source" { (typed(draft, "feed", "csv")) }
                p { button.primary type="submit" { (lang.t("admin-feed-import")) } }
            }
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

/// An organisation's users: who they are, their permissions, disabling and enabling them, and
/// a form for a new one.
pub fn org(
    lang: Lang,
    session: &BrowserSession,
    page: &OrgUsers,
    flash: Option<Markup>,
    draft: Option<&Draft>,
) -> Markup {
    let org = &page.org;
    let allowed = Permission::all_for(org.kind);
    let asked: Vec<&str> = draft
        .filter(|d| d.form == "new-user")
        .map(|d| d.fields.all("permissions").collect())
        .unwrap_or_default();
    let content = html! {
        @if let Some(flash) = flash { (flash) }
        @if let Some(d) = draft.filter(|d| d.form != "new-user") { (d.problem) }
        p { a href="/admin#orgs" { "← " (lang.t("admin-orgs")) } }
        p { (view::words(lang, "kind", org.kind.as_str()))
            @if let Some(tier) = &org.tier { " · " (lang.t("col-tier")) " " (tier.tier) } }
        h2 { (lang.t("admin-users")) " (" (page.users.len()) ")" }
        (new_form(lang, session, draft, "new-user", &format!("/admin/orgs/{}/users", org.id), &lang.t("admin-new-user"), html! {
            div.fields {
                (field("u-email", &lang.t("email"), "email", "email", typed(draft, "new-user", "email"), true))
                p.field {
                    label for="u-password" { (lang.t("password")) }
                    input #u-password name="password" type="password" autocomplete="new-password" minlength="12" required aria-describedby="u-password-help";
                    span.help #u-password-help { (lang.t("admin-password-help")) }
                }
                p.field {
                    label for="u-role" { (lang.t("admin-role")) }
                    select #u-role name="role" {
                        @for role in ["staff", "owner"] {
                            option value=(role) selected[typed(draft, "new-user", "role") == role] { (view::words(lang, "role", role)) }
                        }
                    }
                }
            }
            fieldset {
                legend { (lang.t("admin-permissions")) }
                p.help { (lang.t("admin-permissions-help")) }
                @for p in &allowed {
                    label.check {
                        input type="checkbox" name="permissions" value=(p.as_str()) checked[asked.contains(&p.as_str())];
                        " " (view::words(lang, "permission", &p.as_str().replace(':', "-")))
                        " " code { (p.as_str()) }
                    }
                }
            }
        }))
        div.table-wrap { table {
            thead { tr { th { (lang.t("email")) } th { (lang.t("admin-role")) } th { (lang.t("admin-permissions")) }
                         th { (lang.t("col-status")) } th { span.sr-only { (lang.t("admin-actions")) } } } }
            tbody { @for u in &page.users { tr {
                td { (u.email) }
                td { (view::words(lang, "role", role_str(u.role))) }
                td { @for p in &u.permissions { code { (p.as_str()) } " " } }
                td { @if u.disabled { (view::badge(lang, "disabled")) } @else { (view::badge(lang, "enabled")) } }
                td { @if u.id != session.principal.user_id {
                    form.inline method="post" action={ "/admin/users/" (u.id) } {
                        input type="hidden" name="csrf" value=(session.csrf_token);
                        input type="hidden" name="org" value=(org.id);
                        @if u.disabled {
                            input type="hidden" name="disabled" value="false";
                            button type="submit" { (lang.t("admin-enable")) span.sr-only { " " (u.email) } }
                        } @else {
                            input type="hidden" name="disabled" value="true";
                            button.danger type="submit" { (lang.t("admin-disable")) span.sr-only { " " (u.email) } }
                        }
                    }
                } }
            } } }
        } }
    };
    view::page(lang, Some(session), &org.name, "/admin", content)
}

fn role_str(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Staff => "staff",
    }
}
