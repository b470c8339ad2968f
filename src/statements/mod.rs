//! Statements: an org's books for a period, per currency, as JSON or CSV.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
