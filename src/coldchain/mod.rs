//! The cold chain: temperature readings in batches, breaches found in them, and staff
//! acknowledging breaches (optionally downgrading the goods).

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
