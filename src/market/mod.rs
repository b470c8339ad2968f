//! The market (`docs/market.md`): listings of goods the platform holds, ranked and shown to
//! buyers by tier, offers on fixed-price listings that become sales, and auctions with their
//! deposits.

pub mod auction;
pub mod auction_store;
pub mod escrow;
pub mod forward;
pub mod group;
pub mod job;
pub mod model;
pub mod routes;
pub mod service;
pub mod store;
