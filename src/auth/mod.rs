//! Authentication and authorisation: passwords, tokens, the caller (`Principal`), and the
//! access rules every route declares.

pub mod access;
pub mod browser;
pub mod honoured;
pub mod jwt;
pub mod password;
pub mod principal;
pub mod store;
pub mod tokens;

pub use access::{Access, Grant, Requirement};
pub use principal::{OrgKind, Permission, Principal, Role};
