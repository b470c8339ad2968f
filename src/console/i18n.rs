//! The console's languages: Chinese (zh-CN) and English. Every string a page shows comes from
//! the Fluent catalogues in `src/console/locales/` (compiled into the binary); money and dates
//! are written as each language writes them. The language is the browser's choice
//! (`Accept-Language`) until the user picks one (a cookie).

use actix_web::HttpRequest;
use chrono::{DateTime, NaiveDate, Utc};
use fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid};
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::collections::HashMap;

fluent_templates::static_loader! {
    static CATALOGUE = {
        locales: "./src/console/locales",
        fallback_language: "en",
        // Pages are HTML: no Unicode isolation marks around arguments.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// The cookie that keeps a user's choice of language.
pub const COOKIE: &str = "holdfast_lang";

static ZH: LanguageIdentifier = langid!("zh-CN");
static EN: LanguageIdentifier = langid!("en");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    /// The tag pages carry in `lang` and the cookie keeps.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }

    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The user's choice (cookie), else the browser's first language we have (by `q`), else
    /// Chinese: the people at the cold store and the bank read it.
    pub fn of(req: &HttpRequest) -> Lang {
        if let Some(lang) = req.cookie(COOKIE).and_then(|c| Lang::parse(c.value())) {
            return lang;
        }
        req.headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::from_accept_language)
            .unwrap_or(Lang::Zh)
    }

    /// The best of our languages in an `Accept-Language` header (at most 32 entries read).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, usize, Lang)> = None;
        for (position, entry) in header.split(',').take(32).enumerate() {
            let mut parts = entry.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map(|q| (q.trim().parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0) * 1000.0) as u16)
                .unwrap_or(1000);
            if weight == 0 {
                continue;
            }
            // The higher weight wins; at equal weight, the earlier entry.
            if best.is_none_or(|(w, p, _)| weight > w || (weight == w && position < p)) {
                best = Some((weight, position, lang));
            }
        }
        best.map(|(_, _, lang)| lang)
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }

    /// The message `key`.
    pub fn t(self, key: &str) -> String {
        CATALOGUE.lookup(self.id(), key)
    }

    /// The message `key` with named arguments (text or numbers).
    pub fn f(self, key: &str, args: &[(&'static str, Arg)]) -> String {
        let args: HashMap<Cow<'static, str>, FluentValue> = args
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Arg::Text(text) => FluentValue::from(text.clone()),
                    Arg::Number(n) => FluentValue::from(*n),
                };
                (Cow::Borrowed(*name), value)
            })
            .collect();
        CATALOGUE.lookup_with_args(self.id(), key, &args)
    }

    /// Whether the catalogue has `key` in this language itself (not by fallback).
    pub fn has(self, key: &str) -> bool {
        CATALOGUE.try_lookup(self.id(), key).is_some()
    }

    /// Money as this language writes it: `¥1,234.50` (zh-CN, yuan) or `CNY 1,234.50`.
    pub fn money(self, amount: Decimal, currency: &str) -> String {
        let places = crate::domain::valuation::minor_units(currency);
        let digits = grouped(crate::domain::valuation::at_minor_unit(
            amount.abs().round_dp(places),
            currency,
        ));
        let sign = if amount.is_sign_negative() && !amount.is_zero() {
            "-"
        } else {
            ""
        };
        match (self, currency) {
            (Lang::Zh, "CNY") => format!("{sign}¥{digits}"),
            _ => format!("{sign}{currency} {digits}"),
        }
    }

    /// A plain number with thousands grouped, as many places as it has.
    pub fn number(self, value: Decimal) -> String {
        let sign = if value.is_sign_negative() && !value.is_zero() {
            "-"
        } else {
            ""
        };
        format!("{sign}{}", grouped(value.abs().normalize()))
    }

    /// A share as a percentage with one decimal: `12.5%`.
    pub fn percent(self, fraction: Decimal) -> String {
        format!("{}%", (fraction * Decimal::ONE_HUNDRED).round_dp(1))
    }

    /// A date: `2026年12月1日` or `1 Dec 2026`.
    pub fn date(self, date: NaiveDate) -> String {
        match self {
            Lang::Zh => date.format("%Y年%-m月%-d日").to_string(),
            Lang::En => date.format("%-d %b %Y").to_string(),
        }
    }

    /// A moment, in UTC: `2026年12月1日 08:30 UTC` or `1 Dec 2026 08:30 UTC`.
    pub fn moment(self, at: DateTime<Utc>) -> String {
        format!("{} {} UTC", self.date(at.date_naive()), at.format("%H:%M"))
    }
}

/// A message argument.
pub enum Arg {
    Text(String),
    Number(f64),
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Arg::Text(text.to_owned())
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(text)
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Number(n as f64)
    }
}

/// `1234567.5` → `1,234,567.5` (the integer part grouped by threes).
fn grouped(value: Decimal) -> String {
    let text = value.to_string();
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text.as_str(), None),
    };
    let mut out = String::with_capacity(text.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn money_and_dates_per_language() {
        assert_eq!(Lang::Zh.money(dec("1234567.5"), "CNY"), "¥1,234,567.50");
        assert_eq!(Lang::En.money(dec("1234567.5"), "CNY"), "CNY 1,234,567.50");
        assert_eq!(Lang::Zh.money(dec("-12.345"), "USD"), "-USD 12.34");
        assert_eq!(Lang::En.money(dec("0"), "CNY"), "CNY 0.00");
        assert_eq!(Lang::En.money(dec("999"), "CNY"), "CNY 999.00");
        assert_eq!(Lang::En.money(dec("1234.5"), "JPY"), "JPY 1,234");
        assert_eq!(Lang::En.number(dec("12000.500")), "12,000.5");
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(Lang::Zh.date(day), "2026年12月1日");
        assert_eq!(Lang::En.date(day), "1 Dec 2026");
        assert_eq!(Lang::En.percent(dec("0.1254")), "12.5%");
    }

    #[test]
    fn the_browser_language_is_chosen_by_weight() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("fr;q=1, en;q=0.5, zh-CN;q=0.8"),
            Some(Lang::Zh)
        );
        assert_eq!(Lang::from_accept_language("zh-TW, en"), Some(Lang::Zh));
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(Lang::from_accept_language("en;q=0, zh;q=0"), None);
        assert_eq!(Lang::from_accept_language("en;q=abc"), None);
    }

    /// Both catalogues hold the same messages, and every message a page asks for exists.
    #[test]
    fn the_catalogues_agree_and_cover_the_pages() {
        let keys = |lang: &str| -> std::collections::BTreeSet<String> {
            let path = format!(
                "{}/src/console/locales/{lang}/console.ftl",
                env!("CARGO_MANIFEST_DIR")
            );
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
                .filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim().to_owned()))
                .collect()
        };
        let (zh, en) = (keys("zh-CN"), keys("en"));
        assert!(en.len() > 50, "the catalogue was read: {}", en.len());
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(
            only_zh.is_empty() && only_en.is_empty(),
            "zh only {only_zh:?}, en only {only_en:?}"
        );
        // Every `.t("…")` and `.f("…"` in the console's sources names a message.
        let dir = format!("{}/src/console", env!("CARGO_MANIFEST_DIR"));
        let mut missing = Vec::new();
        let mut used = 0;
        for entry in walk(std::path::Path::new(&dir)) {
            let text = std::fs::read_to_string(&entry).unwrap();
            for marker in [".t(\"", ".f(\""] {
                for piece in text.split(marker).skip(1) {
                    let key = piece.split('"').next().unwrap();
                    used += 1;
                    if !en.contains(key) {
                        missing.push(format!("{}: {key}", entry.display()));
                    }
                }
            }
        }
        assert!(used > 50, "message uses were found: {used}");
        assert!(missing.is_empty(), "messages missing: {missing:?}");
        assert!(Lang::Zh.has("sign-in") && Lang::En.has("sign-in"));
    }

    /// The messages pages name by a value (a status, a movement, a kind of org, a reason)
    /// exist for every value, in both languages.
    #[test]
    fn every_status_kind_and_reason_has_its_words() {
        use crate::domain::states::{
            LoanStatus, LotStatus, MovementKind, SaleStatus, VoyageStatus,
        };
        let key = |prefix: &str, value: &str| format!("{prefix}-{}", value.replace('_', "-"));
        let mut keys: Vec<String> = Vec::new();
        keys.extend(LotStatus::ALL.iter().map(|s| key("status", s.as_str())));
        keys.extend(LoanStatus::ALL.iter().map(|s| key("status", s.as_str())));
        keys.extend(VoyageStatus::ALL.iter().map(|s| key("status", s.as_str())));
        keys.extend(SaleStatus::ALL.iter().map(|s| key("status", s.as_str())));
        keys.extend(
            crate::statements::model::Summary::default()
                .figures()
                .iter()
                .map(|(name, _)| key("figure", name)),
        );
        keys.extend(
            MovementKind::ALL
                .iter()
                .map(|s| key("movement", s.as_str())),
        );
        keys.extend(
            crate::auth::OrgKind::ALL
                .iter()
                .map(|k| key("kind", k.as_str())),
        );
        keys.extend(["too_hot", "too_cold"].iter().map(|k| key("breach", k)));
        keys.extend(["owner", "staff"].iter().map(|k| key("role", k)));
        keys.extend(
            ["bronze", "silver", "gold", "platinum"]
                .iter()
                .map(|k| key("tier", k)),
        );
        keys.extend(
            [
                "open",
                "closed",
                "withdrawn",
                "accepted",
                "rejected",
                "expired",
            ]
            .iter()
            .map(|k| key("status", k)),
        );
        keys.extend(
            [
                "scheduled",
                "open",
                "closed",
                "awarded",
                "unsold",
                "withdrawn",
                "filled",
                "failed",
            ]
            .iter()
            .map(|k| key("listing", k)),
        );
        keys.extend(
            [
                "open",
                "accepted",
                "rejected",
                "withdrawn",
                "expired",
                "cancelled",
            ]
            .iter()
            .map(|k| key("offer", k)),
        );
        keys.extend(
            [
                "no_bids",
                "below_reserve",
                "goods_unavailable",
                "unpaid",
                "below_minimum",
            ]
            .iter()
            .map(|k| key("outcome", k)),
        );
        keys.extend(
            ["sold_out", "listing_withdrawn", "sale_cancelled"]
                .iter()
                .map(|k| key("offer-reason", k)),
        );
        keys.extend(
            [
                "repayment",
                "collateral",
                "revaluation",
                "deadline_passed",
                "liquidation_ltv",
                "repaid",
            ]
            .iter()
            .map(|k| key("closed", k)),
        );
        keys.extend(["disabled", "enabled"].iter().map(|k| key("status", k)));
        keys.extend(
            ["cold_storage", "ambient"]
                .iter()
                .map(|k| key("warehouse", k)),
        );
        keys.extend(
            crate::auth::Permission::ALL
                .iter()
                .map(|p| key("permission", &p.as_str().replace(':', "-"))),
        );
        keys.extend(
            [
                "disbursement",
                "repayment",
                "sale_payment",
                "settlement",
                "adjustment",
            ]
            .iter()
            .map(|k| key("entry", k)),
        );
        keys.extend(
            [
                "cash",
                "loans_receivable",
                "loans_payable",
                "interest_income",
                "interest_expense",
                "fee_income",
                "fee_expense",
                "payable",
                "receivable",
                "escrow",
                "sales",
                "purchases",
            ]
            .iter()
            .map(|k| key("account", k)),
        );
        keys.extend(
            [
                "no_price",
                "stale_price",
                "expired",
                "on_hold",
                "not_in_custody",
                "already_pledged",
                "commodity_not_allowed",
                "not_inspected",
                "inspection_overdue",
            ]
            .iter()
            .map(|r| key("reason", r)),
        );
        keys.extend(
            [
                "withdrawal",
                "sale",
                "lender_consent",
                "liquidation",
                "open",
                "cured",
            ]
            .iter()
            .map(|s| key("status", s)),
        );
        for lang in Lang::ALL {
            let missing: Vec<&String> = keys.iter().filter(|k| !lang.has(k)).collect();
            assert!(missing.is_empty(), "{}: {missing:?}", lang.tag());
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs") {
                out.push(path);
            }
        }
        out
    }
}
