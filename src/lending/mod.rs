//! Lending: facilities, loans against pledged goods, interest, revaluation and margin calls,
//! the daily job, and lenders' exposure.

pub mod daily;
pub mod exposure;
pub mod facilities;
pub mod loans;
pub mod model;
pub mod revaluation;
pub mod store;
