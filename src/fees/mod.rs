//! Fees on released goods. The fee is found per sale line from the most specific current
//! schedule (warehouse, then commodity, then currency; the default of design §1 otherwise),
//! summed unrounded, multiplied by the supplier's tier factor and rounded half-even to the
//! minor unit once (`domain::settlement`).

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
