//! Scanning: warehouse staff and carriers moving lots in, out, onto and off voyages, and
//! counting them. `routes` → `service` (the custody state machine is `domain::custody`) →
//! `store` (stock counts) and `lots::store` (the lot and its movements).

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
