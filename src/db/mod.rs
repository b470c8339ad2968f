//! Database access: the connection pool, the embedded migrations and the private PostgreSQL.

pub mod embedded;
pub mod locks;
pub mod numeric;
pub mod pipeline;
pub mod prepared;
pub mod schema;
pub mod text_enum;

use diesel::Connection;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::time::Duration;

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The advisory lock key that serialises migrations across instances starting together.
const MIGRATION_LOCK_KEY: i64 = 0x486f_6c64_6661_7374; // "Holdfast"

/// How long a statement may run and a lock may be waited for on a pool's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeouts {
    /// Serving requests: a lock is waited for 5 s (then 409 `locked`), a statement runs 60 s
    /// at most (then 503 `database_busy`), a transaction left idle is ended after 60 s.
    Requests,
    /// Jobs over the whole book (the daily close, revaluing every loan): no statement limit,
    /// locks waited for 60 s.
    Batch,
}

impl Timeouts {
    fn settings(self) -> &'static str {
        match self {
            Timeouts::Requests => {
                "SET jit = off; SET lock_timeout = '5s'; SET statement_timeout = '60s'; \
                 SET idle_in_transaction_session_timeout = '60s'"
            }
            Timeouts::Batch => {
                "SET jit = off; SET lock_timeout = '60s'; SET statement_timeout = 0; \
                 SET idle_in_transaction_session_timeout = '10min'"
            }
        }
    }
}

/// Opens up to `n` of the pool's connections before the first request needs them (each one
/// a TCP connection, authentication and its settings: a few milliseconds the first requests
/// after a start would otherwise wait), and readies each with `ready` (statements the first
/// requests run, prepared and planned once on every connection). A database that cannot be
/// reached yet, or a connection that cannot be readied, is not an error here: the requests
/// will say so.
pub async fn warm<F>(pool: &DbPool, n: usize, ready: F)
where
    F: AsyncFn(&mut AsyncPgConnection) -> anyhow::Result<()>,
{
    let opened = futures_util::future::join_all((0..n).map(|_| pool.get())).await;
    let failed = opened.iter().filter(|c| c.is_err()).count();
    if failed > 0 {
        tracing::warn!(
            failed,
            "could not open every connection of the pool ahead of requests"
        );
    }
    let mut open: Vec<DbConn> = opened.into_iter().filter_map(Result::ok).collect();
    let readied =
        futures_util::future::join_all(open.iter_mut().map(|conn| ready(&mut **conn))).await;
    if let Some(Err(error)) = readied.iter().find(|r| r.is_err()) {
        tracing::warn!(%error, "could not ready every connection of the pool ahead of requests");
    }
}

/// Builds the pool that serves requests ([`Timeouts::Requests`]).
pub fn pool(database_url: &str, max_size: usize) -> anyhow::Result<DbPool> {
    pool_with(database_url, max_size, Timeouts::Requests)
}

/// Builds a pool. Waiting for a connection is bounded so that an exhausted or unreachable
/// database answers 503 instead of hanging the request. Every connection runs with JIT
/// compilation off and the given timeouts (see [`connect_with`]).
pub fn pool_with(
    database_url: &str,
    max_size: usize,
    timeouts: Timeouts,
) -> anyhow::Result<DbPool> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(move |url| Box::pin(connect_with(url, timeouts)));
    // A connection handed out again is not pinged first (`SELECT 1`, a round trip on every
    // checkout, two per API write): one whose server went away is already closed and is
    // dropped, and a statement on one that breaks meanwhile answers 503 as any fault does.
    config.recycling_method = RecyclingMethod::Fast;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    // The most recently returned connection is handed out first: at light load a few warm
    // connections serve every request (their prepared statements, plans and caches ready)
    // instead of each request taking the coldest of the pool.
    let pool = Pool::builder(manager)
        .max_size(max_size)
        .queue_mode(deadpool::managed::QueueMode::Lifo)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(pool)
}

/// Opens a connection for the pool with `jit = off`. The service's statements are short or
/// set-based over rows it has just written; on the big ones (revaluation, exposure) the
/// planner's row estimates after a bulk change are loose, and JIT compilation then cost
/// seconds for a statement that runs in a fraction of that (`docs/benchmarks.md`).
pub async fn connect(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    connect_with(url, Timeouts::Batch).await
}

/// Opens a connection with JIT off and `timeouts`.
pub async fn connect_with(
    url: &str,
    timeouts: Timeouts,
) -> diesel::ConnectionResult<AsyncPgConnection> {
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};
    let mut conn = AsyncPgConnection::establish(url).await?;
    conn.batch_execute(timeouts.settings())
        .await
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// Applies every pending migration under a Postgres advisory lock, so that several instances
/// starting at once apply each migration exactly once. Returns the versions applied.
pub async fn migrate(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)
            .map_err(|e| unreachable_database(&e))?;
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT pg_advisory_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY)
            .execute(&mut conn)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>())
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
        diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY)
            .execute(&mut conn)?;
        applied
    })
    .await?
}

/// Checks that the database answers, with one clear sentence when it does not.
pub async fn check_reachable(database_url: &str) -> anyhow::Result<()> {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let mut conn = tokio::time::timeout(
        Duration::from_secs(10),
        AsyncPgConnection::establish(database_url),
    )
    .await
    .map_err(|_| anyhow::anyhow!("could not reach the database at DATABASE_URL within 10 s: check that PostgreSQL is running and the URL's host and port are right, or unset DATABASE_URL to let Holdfast start its own"))?
    .map_err(|e| unreachable_database(&e))?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}

fn unreachable_database(error: &dyn std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "could not connect to the database at DATABASE_URL ({error}): check that PostgreSQL is running and that the URL's host, port, user, password and database are right, or unset DATABASE_URL to let Holdfast start its own"
    )
}

/// Replaces the database name in a `postgres://` URL, keeping any query string.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// The database the service uses: an external one from `DATABASE_URL`, or the private
/// cluster (stopped when this is dropped, if this process started it).
pub struct Database {
    pub url: String,
    pub embedded: Option<embedded::EmbeddedPostgres>,
}

/// The database name used inside the private cluster.
pub const EMBEDDED_DATABASE: &str = "holdfast";

/// Connects to `DATABASE_URL`, or starts the private cluster in the data directory.
pub async fn open(config: &crate::config::Config) -> anyhow::Result<Database> {
    if let Some(url) = &config.database_url {
        check_reachable(url).await?;
        return Ok(Database {
            url: url.clone(),
            embedded: None,
        });
    }
    let data_dir = config.data_dir.clone();
    let cluster = tokio::task::spawn_blocking(move || {
        embedded::EmbeddedPostgres::start(&data_dir, &embedded::Options::default())
    })
    .await??;
    tracing::info!(port = cluster.port(), "private PostgreSQL is running");
    create_database(&cluster.url("postgres"), EMBEDDED_DATABASE).await?;
    Ok(Database {
        url: cluster.url(EMBEDDED_DATABASE),
        embedded: Some(cluster),
    })
}

/// Creates `name` (optionally from a template) unless it exists. `maintenance_url` points at
/// any database of the same server.
pub async fn create_database_from(
    maintenance_url: &str,
    name: &str,
    template: Option<&str>,
) -> anyhow::Result<()> {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let valid = |n: &str| {
        !n.is_empty() && n.len() < 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    anyhow::ensure!(
        valid(name) && template.is_none_or(valid),
        "invalid database name"
    );
    let mut conn = AsyncPgConnection::establish(maintenance_url).await?;
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Int4)]
        #[allow(dead_code)]
        found: i32,
    }
    let exists = diesel::sql_query("SELECT 1 AS found FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .load::<Found>(&mut conn)
        .await?;
    if !exists.is_empty() {
        return Ok(());
    }
    let sql = match template {
        Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        None => format!("CREATE DATABASE \"{name}\""),
    };
    if let Err(error) = diesel::sql_query(sql).execute(&mut conn).await {
        // Another instance may have created it between the check and here.
        let again = diesel::sql_query("SELECT 1 AS found FROM pg_database WHERE datname = $1")
            .bind::<diesel::sql_types::Text, _>(name)
            .load::<Found>(&mut conn)
            .await?;
        anyhow::ensure!(
            !again.is_empty(),
            "could not create database {name}: {error}"
        );
    }
    Ok(())
}

pub async fn create_database(maintenance_url: &str, name: &str) -> anyhow::Result<()> {
    create_database_from(maintenance_url, name, None).await
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/app?sslmode=disable", "other"),
            "postgres://u:p@h:5432/other?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
        assert_eq!(with_database("postgresql://h/db", "y"), "postgresql://h/y");
    }
}
