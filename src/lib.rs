//! Holdfast: warehouse-backed supply-chain finance. Suppliers deposit goods the platform
//! controls, lenders advance money against them, and sales repay the loans in one settlement.

pub mod app;
pub mod auth;
pub mod calendar;
pub mod cli;
pub mod coldchain;
pub mod config;
pub mod console;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod fees;
pub mod http;
pub mod incidents;
pub mod inspections;
pub mod integrity;
pub mod jobs;
pub mod ledger;
pub mod lending;
pub mod lots;
pub mod market;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod orgs;
pub mod prices;
pub mod reference;
pub mod sales;
pub mod scans;
pub mod sessions;
pub mod state;
pub mod statements;
pub mod telemetry;
pub mod tiers;
