//! Lending: facilities, loans against pledged goods, interest, revaluation and margin calls,
//! the daily job, and lenders' exposure.
//!
//! `routes` (handlers) → `service` (one use case each) → `store` (queries); API types in
//! `model`; the arithmetic in `domain::lending`.

pub mod daily;
pub mod exposure;
pub mod model;
pub mod revaluation;
pub mod routes;
pub mod service;
pub mod store;
