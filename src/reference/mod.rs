//! Reference data the platform admin keeps: commodities, warehouses (with storage rates),
//! voyages, and the history of commodity prices.

pub mod model;
pub mod prices;
pub mod routes;
pub mod service;
pub mod store;
