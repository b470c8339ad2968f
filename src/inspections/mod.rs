//! Quality inspection (design §10, "value it accurately"): a commodity's quality rules,
//! inspections of lots by warehouse staff or an assigned inspector, the grade that follows
//! from what was measured (and the revaluation of every loan it touches), photos, the lots
//! due for inspection, and the daily flag on overdue ones.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
