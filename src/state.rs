//! What every handler can reach: the pool, the token keys, the metrics and the settings the
//! handlers read. It lives outside `app.rs` so that handlers depend on it without depending
//! on the route table that names them.

use crate::auth;
use crate::db::DbPool;
use crate::metrics::Metrics;

pub struct AppState {
    pub pool: DbPool,
    pub jwt: auth::jwt::JwtKeys,
    pub metrics: Metrics,
    pub refresh_token_ttl_days: i64,
    /// Turns for requests that settle a sale (`HOLDFAST_SETTLING_TURNS`).
    pub settling: crate::http::gate::Gate,
    /// Set on SIGTERM: answers close their connections and `/readyz` says 503, while the
    /// server drains before it stops.
    pub draining: std::sync::atomic::AtomicBool,
}

impl AppState {
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn new(pool: DbPool, config: &crate::config::Config) -> Self {
        Self {
            pool,
            jwt: auth::jwt::JwtKeys::new(&config.jwt_secret, config.access_token_ttl_seconds),
            metrics: Metrics::new(),
            refresh_token_ttl_days: config.refresh_token_ttl_days,
            settling: crate::http::gate::Gate::new(config.settling_turns, "settlements"),
            draining: std::sync::atomic::AtomicBool::new(false),
        }
    }
}
