//! The access rule of every route, looked up by the authorisation middleware. The table is
//! filled by `app.rs` from its route list, so the middleware needs no knowledge of handlers.

use crate::auth::Access;
use actix_web::http::Method;
use std::collections::{HashMap, HashSet};

pub struct RouteTable {
    access: HashMap<(Method, &'static str), Access>,
    paths: HashSet<&'static str>,
}

impl RouteTable {
    pub fn new(routes: impl IntoIterator<Item = (Method, &'static str, Access)>) -> Self {
        let mut access = HashMap::new();
        let mut paths = HashSet::new();
        for (method, path, rule) in routes {
            paths.insert(path);
            access.insert((method, path), rule);
        }
        Self { access, paths }
    }

    pub fn access(&self, method: &Method, path: &str) -> Option<Access> {
        self.access
            .iter()
            .find(|((m, p), _)| m == method && *p == path)
            .map(|(_, access)| *access)
    }

    pub fn has_path(&self, path: &str) -> bool {
        self.paths.contains(path)
    }

    /// The methods a path answers, for a 405's `Allow`.
    pub fn methods(&self, path: &str) -> Vec<&str> {
        let mut methods: Vec<&str> = self
            .access
            .keys()
            .filter(|(_, p)| *p == path)
            .map(|(m, _)| m.as_str())
            .collect();
        methods.sort_unstable();
        methods
    }
}
