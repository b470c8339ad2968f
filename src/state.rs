//! What every handler can reach: the pool, the token keys, the metrics and the settings the
//! handlers read. It lives outside `app.rs` so that handlers depend on it without depending
//! on the route table that names them.

use crate::auth;
use crate::db::DbPool;
use crate::metrics::Metrics;

pub struct AppState {
    /// The pool this worker's requests use.
    pub pool: DbPool,
    /// Every worker's pool, for the metrics.
    pub pools: std::sync::Arc<[DbPool]>,
    pub jwt: auth::jwt::JwtKeys,
    pub metrics: Metrics,
    pub refresh_token_ttl_days: i64,
    /// Set on SIGTERM: answers close their connections and `/readyz` says 503, while the
    /// server drains before it stops. Shared by every worker's state.
    pub draining: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn new(pool: DbPool, config: &crate::config::Config) -> Self {
        Self::over_pools(&[pool], config)
    }

    /// The state of a server whose workers each have one of `pools` (the first until
    /// [`Self::with_pool`] gives another).
    pub fn over_pools(pools: &[DbPool], config: &crate::config::Config) -> Self {
        Self {
            pool: pools[0].clone(),
            pools: pools.into(),
            jwt: auth::jwt::JwtKeys::new(&config.jwt_secret, config.access_token_ttl_seconds),
            metrics: Metrics::new(),
            refresh_token_ttl_days: config.refresh_token_ttl_days,
            draining: Default::default(),
        }
    }

    /// The same state over another pool: a server worker's own (`crate::cli`), whose
    /// connections live on the worker's thread.
    pub fn with_pool(&self, pool: DbPool) -> Self {
        Self {
            pool,
            pools: self.pools.clone(),
            jwt: self.jwt.clone(),
            metrics: self.metrics.clone(),
            refresh_token_ttl_days: self.refresh_token_ttl_days,
            draining: self.draining.clone(),
        }
    }
}
