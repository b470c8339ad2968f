//! Organisations and their users.

pub mod model;
pub mod routes;
pub mod store;
