//! Sales and what follows them: transaction fees, the atomic settlement that repays loans
//! from the proceeds, customer tiers, and statements.

pub mod forfeit;
pub mod model;
pub mod routes;
pub mod service;
pub mod settle;
pub mod store;
