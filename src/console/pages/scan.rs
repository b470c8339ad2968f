//! The warehouse scan station (`/scan`) and the lot card a scan shows.
//!
//! The page is usable without its script as far as a page can be (the lot is looked up by a
//! plain form); with it (`/assets/scan.js`), one field keeps the focus, a function key picks the
//! action, each scan is sent with its own `Idempotency-Key`, and scans made while the network
//! is down wait in a queue on the device until it returns.

use crate::auth::browser::BrowserSession;
use crate::console::i18n::{Arg, Lang};
use crate::console::service::{ScannedLot, Station};
use crate::console::view;
use crate::domain::states::ScanAction;
use maud::{Markup, html};

/// The station's actions with the key that picks each (F1 … F6, or Alt+digit).
pub const ACTIONS: [(ScanAction, &str); 6] = [
    (ScanAction::Receive, "F1"),
    (ScanAction::Release, "F2"),
    (ScanAction::Count, "F3"),
    (ScanAction::Load, "F4"),
    (ScanAction::Unload, "F5"),
    (ScanAction::Transfer, "F6"),
];

fn action_key(action: ScanAction) -> &'static str {
    match action {
        ScanAction::Receive => "action-receive",
        ScanAction::Release => "action-release",
        ScanAction::Count => "action-count",
        ScanAction::Load => "action-load",
        ScanAction::Unload => "action-unload",
        ScanAction::Transfer => "action-transfer",
    }
}

fn done_key(action: ScanAction) -> &'static str {
    match action {
        ScanAction::Receive => "done-receive",
        ScanAction::Release => "done-release",
        ScanAction::Count => "done-count",
        ScanAction::Load => "done-load",
        ScanAction::Unload => "done-unload",
        ScanAction::Transfer => "done-transfer",
    }
}

/// The station. `card` is a lot looked up without script (`?code=`), or its refusal.
pub fn station(
    lang: Lang,
    session: &BrowserSession,
    station: &Station,
    card: Option<Markup>,
) -> Markup {
    let own: Vec<_> = station
        .warehouses
        .iter()
        .filter(|w| w.operator_org_id == session.principal.org_id)
        .collect();
    // The words the script shows after a scan: each action done, each status.
    let mut words = serde_json::Map::new();
    for (action, _) in ACTIONS {
        words.insert(
            format!("done.{}", action.as_str()),
            lang.t(done_key(action)).into(),
        );
    }
    for status in crate::domain::states::LotStatus::ALL {
        let key = format!("status-{}", status.as_str().replace('_', "-"));
        words.insert(format!("status.{}", status.as_str()), lang.t(&key).into());
    }
    let words = serde_json::Value::Object(words).to_string();
    let content = html! {
        div #station .station data-csrf=(session.csrf_token) data-lang=(lang.tag()) data-words=(words)
            data-msg-queued=(lang.t("scan-queued"))
            data-msg-sent=(lang.t("scan-sent"))
            data-msg-offline=(lang.t("scan-offline"))
            data-msg-online=(lang.t("scan-online"))
            data-msg-need-order=(lang.t("scan-need-order"))
            data-msg-need-quantity=(lang.t("scan-need-quantity"))
            data-msg-need-reason=(lang.t("scan-need-reason"))
            data-msg-lookup=(lang.t("scan-lookup"))
            data-msg-failed=(lang.t("scan-failed"))
            data-label-code=(lang.t("scan-field"))
            data-label-quantity=(lang.t("scan-field-quantity"))
            data-label-reason=(lang.t("scan-field-reason")) {
            form #scan-form .scan-form method="get" action="/scan" autocomplete="off" {
                label #scan-label for="scan-input" { (lang.t("scan-field")) }
                div.scan-row {
                    input #scan-input .scan-input name="code" type="text" autofocus
                        autocomplete="off" autocapitalize="off" spellcheck="false"
                        inputmode="text" enterkeyhint="send"
                        aria-describedby="scan-help";
                    button.primary type="submit" { (lang.t("scan-go")) }
                }
                p #scan-help .help { (lang.t("scan-help")) }
            }
            div #scan-outcome .outcome role="status" aria-live="assertive" {}
            fieldset.modes {
                legend { (lang.t("scan-action")) }
                div.mode-buttons {
                    button type="button" .mode data-action="" aria-pressed="true" {
                        kbd { "Esc" } " " (lang.t("action-lookup"))
                    }
                    @for (action, key) in ACTIONS {
                        button type="button" .mode data-action=(action.as_str()) aria-pressed="false" {
                            kbd { (key) } " " (lang.t(action_key(action)))
                        }
                    }
                }
            }
            details.settings open[own.len() != 1] {
                summary { (lang.t("scan-settings")) }
                div.settings-grid {
                    label { (lang.t("scan-here"))
                        select #scan-warehouse {
                            @for w in &own { option value=(w.id) { (w.name) } }
                        }
                    }
                    label { (lang.t("scan-transfer-to"))
                        select #scan-destination {
                            @for w in &station.warehouses { option value=(w.id) { (w.name) } }
                        }
                    }
                    label { (lang.t("scan-voyage"))
                        select #scan-voyage {
                            option value="" { "—" }
                            @for v in &station.voyages {
                                option value=(v.id) { (v.vessel_name) " → " (v.destination) }
                            }
                        }
                    }
                    label { (lang.t("scan-gs-standin"))
                        input #scan-gs type="text" maxlength="1" size="2" value="^"
                            aria-describedby="scan-gs-help";
                    }
                }
                p #scan-gs-help .help { (lang.t("scan-gs-help")) }
            }
            div #scan-card .card-slot {
                @if let Some(card) = card { (card) }
            }
            section.queue aria-labelledby="queue-title" {
                h2 #queue-title { (lang.t("scan-queue")) " " span #queue-count .count { "0" } }
                p #net-state .net { (lang.t("scan-online")) }
                ol #queue-list .queue-list {}
            }
            section aria-labelledby="log-title" {
                h2 #log-title { (lang.t("scan-log")) }
                ol #scan-log .scan-log {}
            }
        }
        script src="/assets/scan.js" defer {}
    };
    view::page(lang, Some(session), &lang.t("scan-title"), "/scan", content)
}

/// The card of a scanned lot: what it is, what may be done, its open release orders
/// (numbered: the digit picks one for a release).
pub fn card(lang: Lang, scanned: &ScannedLot) -> Markup {
    let lot = &scanned.lot;
    html! {
        article.lot-card data-lot-id=(lot.id) data-lot-code=(lot.code) data-status=(lot.status.as_str()) {
            header {
                h2 { (lot.code) }
                (view::badge(lang, lot.status.as_str()))
                @if lot.on_hold { " " span.badge.badge-hold { (lang.t("lot-on-hold")) } }
            }
            dl.facts {
                dt { (lang.t("lot-commodity")) } dd { (lot.commodity_code) }
                dt { (lang.t("lot-grade")) } dd { (lot.grade) }
                dt { (lang.t("lot-on-hand")) } dd { (lang.number(lot.quantity_on_hand.value())) " " (lot.unit) }
                dt { (lang.t("lot-expires")) } dd { (lang.date(lot.expires_on)) }
            }
            p.allowed {
                (lang.t("lot-may"))
                @if scanned.actions.is_empty() { " " (lang.t("lot-may-nothing")) }
                @for action in &scanned.actions {
                    " " span.chip data-action=(action.as_str()) { (lang.t(action_key(*action))) }
                }
            }
            @if !scanned.orders.is_empty() {
                h3 { (lang.t("lot-orders")) }
                ol.orders {
                    @for (i, entry) in scanned.orders.iter().enumerate() {
                        li data-order-id=(entry.order.id) data-left=(entry.quantity_left.value()) {
                            kbd { (i + 1) } " "
                            (view::badge(lang, &entry.order.kind))
                            " " (lang.f("order-left", &[("quantity", Arg::from(lang.number(entry.quantity_left.value()))), ("unit", Arg::from(entry.unit.as_str()))]))
                        }
                    }
                }
            }
        }
    }
}
