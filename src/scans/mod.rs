//! Scanning: warehouse staff and carriers moving lots in, out, onto and off voyages, and
//! counting them.

pub mod routes;
