//! Custody incidents: goods a count found missing. The loss comes off the lot's free goods
//! first, then pending sales, then pledges, then release orders; it is valued at market and
//! recorded against the warehouse operator, for everyone it touched to see.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
