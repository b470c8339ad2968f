//! Black-box API tests: the real app over HTTP against a real PostgreSQL database per test.

mod support;

mod access;
mod auctions;
mod auth;
mod cli;
mod coldchain;
mod console;
mod custody;
mod deals;
mod demo;
mod errors;
mod fixtures;
mod hardening;
mod inspections;
mod integrity;
mod lending;
mod market;
mod ops;
mod orgs;
mod prices;
mod sales;
