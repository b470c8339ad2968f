//! The frame every page shares (head, navigation for the user's kind of org, the language
//! switch, sign-out) and small pieces pages reuse. Built with maud: the markup is Rust,
//! checked when the binary is built, and every value is escaped.

use super::i18n::Lang;
use crate::auth::OrgKind;
use crate::auth::browser::BrowserSession;
use crate::error::ApiError;
use actix_web::HttpResponse;
use maud::{DOCTYPE, Markup, html};

/// One entry of the navigation: where, and its message.
struct NavItem {
    href: &'static str,
    key: &'static str,
}

/// What each kind of user works with, in the order they use it.
fn nav(kind: OrgKind) -> &'static [NavItem] {
    match kind {
        OrgKind::WarehouseOperator => &[
            NavItem {
                href: "/scan",
                key: "nav-scan",
            },
            NavItem {
                href: "/movements",
                key: "nav-movements",
            },
            NavItem {
                href: "/breaches",
                key: "nav-breaches",
            },
        ],
        OrgKind::Lender => &[
            NavItem {
                href: "/dashboard",
                key: "nav-dashboard",
            },
            NavItem {
                href: "/approvals",
                key: "nav-approvals",
            },
            NavItem {
                href: "/loans",
                key: "nav-loans",
            },
            NavItem {
                href: "/facilities",
                key: "nav-facilities",
            },
            NavItem {
                href: "/market",
                key: "nav-market",
            },
            NavItem {
                href: "/stress",
                key: "nav-stress",
            },
            NavItem {
                href: "/statement",
                key: "nav-statement",
            },
        ],
        OrgKind::Supplier => &[
            NavItem {
                href: "/lots",
                key: "nav-lots",
            },
            NavItem {
                href: "/market",
                key: "nav-market",
            },
            NavItem {
                href: "/loans",
                key: "nav-loans",
            },
            NavItem {
                href: "/sales",
                key: "nav-sales",
            },
            NavItem {
                href: "/statement",
                key: "nav-statement",
            },
        ],
        OrgKind::Platform => &[
            NavItem {
                href: "/admin",
                key: "nav-admin",
            },
            NavItem {
                href: "/dashboard",
                key: "nav-dashboard",
            },
            NavItem {
                href: "/loans",
                key: "nav-loans",
            },
        ],
        OrgKind::Buyer => &[
            NavItem {
                href: "/market",
                key: "nav-market",
            },
            NavItem {
                href: "/sales",
                key: "nav-purchases",
            },
            NavItem {
                href: "/statement",
                key: "nav-statement",
            },
        ],
        OrgKind::Inspector => &[],
    }
}

/// Where a user lands after signing in.
pub fn home_of(kind: OrgKind) -> &'static str {
    nav(kind)
        .first()
        .map(|item| item.href)
        .unwrap_or("/welcome")
}

/// A whole page: `title` (a message already in the page's language), the current path (for
/// the navigation and the language switch) and the content.
pub fn page(
    lang: Lang,
    session: Option<&BrowserSession>,
    title: &str,
    current: &str,
    content: Markup,
) -> Markup {
    let here = form_urlencoded::byte_serialize(current.as_bytes()).collect::<String>();
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Holdfast" }
                link rel="stylesheet" href="/assets/console.css";
            }
            body {
                a.skip href="#main" { (lang.t("skip-to-content")) }
                header.top {
                    a.brand href="/" { "Holdfast" span.brand-sub { (lang.t("brand-sub")) } }
                    @if let Some(session) = session {
                        nav aria-label=(lang.t("nav-label")) {
                            ul {
                                @for item in nav(session.principal.kind) {
                                    li {
                                        @if current.starts_with(item.href) {
                                            a href=(item.href) aria-current="page" { (lang.t(item.key)) }
                                        } @else {
                                            a href=(item.href) { (lang.t(item.key)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    div.tools {
                        span.langs role="group" aria-label=(lang.t("language")) {
                            @for other in Lang::ALL {
                                @if other == lang {
                                    span.lang-current lang=(other.tag()) aria-current="true" { (other.name()) }
                                } @else {
                                    a lang=(other.tag()) hreflang=(other.tag())
                                        href={ "/lang/" (other.tag()) "?next=" (here) } { (other.name()) }
                                }
                            }
                        }
                        @if let Some(session) = session {
                            span.who title=(session.email) { (session.org_name) }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(session.csrf_token);
                                button.link type="submit" { (lang.t("sign-out")) }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// The page as a response, never cached (it shows one user's data).
pub fn respond(markup: Markup) -> HttpResponse {
    respond_at(actix_web::http::StatusCode::OK, markup)
}

/// The page at another status: a form's refusal shown on its page (4xx).
pub fn respond_at(status: actix_web::http::StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(markup.into_string())
}

/// A refusal or failure to show on a page: the catalogue's words for its code when it has
/// them, else the service's own sentence.
pub fn problem(lang: Lang, error: &ApiError) -> Markup {
    let key = format!("error-{}", error.code.replace('_', "-"));
    let text = if lang.has(&key) {
        lang.t(&key)
    } else {
        error.message.clone()
    };
    html! {
        p.notice.bad role="alert" { (text) }
    }
}

/// A confirmation shown once after an action.
pub fn done(text: &str) -> Markup {
    html! { p.notice.good role="status" { (text) } }
}

/// A status as a small labelled badge, in the page's language (`status-<value>`).
pub fn badge(lang: Lang, status: &str) -> Markup {
    let key = format!("status-{}", status.replace('_', "-"));
    let text = if lang.has(&key) {
        lang.t(&key)
    } else {
        status.to_owned()
    };
    html! { span class={ "badge badge-" (status) } { (text) } }
}

/// The catalogue's words for a value (`<prefix>-<value>`), or the value itself.
pub fn words(lang: Lang, prefix: &str, value: &str) -> String {
    let key = format!("{prefix}-{}", value.replace('_', "-"));
    if lang.has(&key) {
        lang.t(&key)
    } else {
        value.to_owned()
    }
}
