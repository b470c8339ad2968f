//! Pure domain logic: no I/O, no database. Parsed at the edge, tested on its own.

pub mod auction;
pub mod code128;
pub mod cold_chain;
pub mod currency;
pub mod custody;
pub mod decimal;
pub mod gs1;
pub mod inputs;
pub mod lending;
pub mod lot_code;
pub mod money;
pub mod photo;
pub mod price_feed;
pub mod quality;
pub mod quantity;
pub mod settlement;
pub mod states;
pub mod valuation;
