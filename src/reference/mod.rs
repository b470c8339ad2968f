//! Reference data the platform admin keeps: commodities, warehouses (with storage rates) and
//! voyages.

pub mod model;
pub mod routes;
pub mod store;
