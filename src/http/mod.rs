//! HTTP edge helpers shared by every area: the JSON body extractor, pagination, idempotency,
//! and the middleware that observes and authorises each request.

pub mod edge;
pub mod gate;
pub mod idempotency;
pub mod json;
pub mod middleware;
pub mod page;
pub mod query;
pub mod retry;
pub mod route_table;
pub mod validate;

pub use json::ValidJson;
pub use page::{Listed, Page, PageQuery};
