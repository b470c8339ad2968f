//! Organisations and their users.

pub mod model;
pub mod routes;
pub mod service;
pub mod store;
