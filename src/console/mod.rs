//! The console (issue 15, design §9): pages for the people who use Holdfast — the warehouse
//! worker's scan station, the lender's dashboard and approvals, the supplier's lots — served by
//! the same binary at `/`, rendered on the server in Chinese or English, with nothing fetched
//! from outside (it works on a warehouse LAN with no internet).
//!
//! Layers as everywhere: `routes` (handlers, registered in `app.rs` with their access rules)
//! call `service`, which calls the services of the areas that own the data; `pages` and
//! `view` turn the answers into HTML. A browser signs in with a session cookie
//! (`auth::browser`); forms carry its form token (`forms`).

pub mod forms;
pub mod i18n;
pub mod pages;
pub mod routes;
pub mod service;
pub mod view;
