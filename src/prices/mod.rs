//! Commodity prices: posted one by one or imported as a daily CSV feed, kept as history.

pub mod csv;
pub mod routes;
pub mod service;
pub mod store;
