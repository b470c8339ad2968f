//! Lots of goods in custody: announcing, reading, splitting, withdrawing, labels, and the
//! movement ledger the lot rows are a projection of.

pub mod label;
pub mod model;
pub mod routes;
pub mod service;
pub mod store;
pub mod valuation;
