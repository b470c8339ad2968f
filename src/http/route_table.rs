//! The access rule of every route, looked up by the authorisation middleware. The table is
//! filled by `app.rs` from its route list, so the middleware needs no knowledge of handlers.

use crate::auth::Access;
use actix_web::http::Method;
use std::collections::HashMap;

/// Who a route answers: programs with bearer tokens, or people in a browser with the console's
/// session cookie (whose refusals are pages: sign in, or "no such page").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    Api,
    Page,
}

/// Path pattern → method → rule: a request's rule is two hash lookups.
pub struct RouteTable {
    access: HashMap<&'static str, HashMap<Method, (Access, Surface)>>,
}

impl RouteTable {
    pub fn new(routes: impl IntoIterator<Item = (Method, &'static str, Access, Surface)>) -> Self {
        let mut access: HashMap<&'static str, HashMap<Method, (Access, Surface)>> = HashMap::new();
        for (method, path, rule, surface) in routes {
            access
                .entry(path)
                .or_default()
                .insert(method, (rule, surface));
        }
        Self { access }
    }

    pub fn access(&self, method: &Method, path: &str) -> Option<(Access, Surface)> {
        self.access.get(path)?.get(method).copied()
    }

    pub fn has_path(&self, path: &str) -> bool {
        self.access.contains_key(path)
    }

    /// The methods a path answers, for a 405's `Allow`.
    pub fn methods(&self, path: &str) -> Vec<&str> {
        let mut methods: Vec<&str> = self
            .access
            .get(path)
            .map(|by_method| by_method.keys().map(Method::as_str).collect())
            .unwrap_or_default();
        methods.sort_unstable();
        methods
    }
}
