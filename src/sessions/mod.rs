//! Sessions: signing in and out, refreshing tokens, and who the caller is (`/v1/auth/*`,
//! `/v1/me`). Built on `auth` (passwords, tokens, the principal) and the org's users.

pub mod model;
pub mod routes;
pub mod service;
