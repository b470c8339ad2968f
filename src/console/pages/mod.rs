//! The console's pages, one module per kind of user; the sign-in page is here.

pub mod admin;
pub mod books;
pub mod lender;
pub mod market;
pub mod scan;
pub mod supplier;
pub mod warehouse;

use super::i18n::Lang;
use super::view;
use maud::{Markup, html};

/// The sign-in page, with its own form token (there is no session yet) and, after a refusal,
/// what went wrong.
pub fn login(lang: Lang, csrf: &str, next: &str, email: &str, problem: Option<Markup>) -> Markup {
    let content = html! {
        div.login.panel {
            @if let Some(problem) = problem { (problem) }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="email" { (lang.t("email")) }
                input #email type="email" name="email" required autocomplete="username" value=(email) autofocus;
                label for="password" { (lang.t("password")) }
                input #password type="password" name="password" required autocomplete="current-password";
                button.primary type="submit" { (lang.t("sign-in")) }
            }
            p.help { (lang.t("login-help")) }
        }
    };
    view::page(lang, None, &lang.t("sign-in"), "/login", content)
}
