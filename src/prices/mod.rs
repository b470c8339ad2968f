//! Posting commodity prices, one by one or as a daily CSV feed, and revaluing the collateral
//! they value. The price history itself is reference data (`reference::prices`); the feed's
//! format is `domain::price_feed`.

pub mod routes;
pub mod service;
