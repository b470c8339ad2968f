//! The market (`docs/market.md`): listings of goods the platform holds, ranked and shown to
//! buyers by tier, and offers on fixed-price listings that become sales.

pub mod job;
pub mod model;
pub mod routes;
pub mod service;
pub mod store;
