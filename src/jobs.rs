//! Background work `serve` runs: sealing the audit chain and numbering the outbox ten times a
//! second, folding the exposure deltas into the kept figures every second, closing the business
//! day (interest, revaluation, margin calls) every few minutes once the date turns, the
//! market's deadlines (offers expiring) every minute, and hourly clean-up of expired
//! idempotency keys, throttle rows and tokens. Every instance runs this loop; advisory locks
//! make one of them do each job.

use crate::db::DbPool;
use std::time::Duration;

/// Sealing rewrites every event it links (its number and hash): done once a second under a
/// load of ~900 writes a second, it rewrote ~800 audit and ~800 outbox rows at once, a burst
/// of WAL and CPU that every request in flight waited behind (receive scans at 32 clients:
/// p99 94–105 ms against 73–81 ms sealing every 100 ms; docs/benchmarks.md). Ten small seals
/// a second cost the same rows and spread them out; the feed numbers events sooner too.
pub const SEAL_INTERVAL: Duration = Duration::from_millis(100);
pub const FOLD_INTERVAL: Duration = Duration::from_secs(1);
pub const CLEANUP_INTERVAL: Duration = Duration::from_secs(3600);
pub const DAILY_INTERVAL: Duration = Duration::from_secs(300);
pub const MARKET_INTERVAL: Duration = Duration::from_secs(60);

/// Runs until the task is dropped.
pub async fn run_background(pool: DbPool) {
    let mut seal_tick = tokio::time::interval(SEAL_INTERVAL);
    // A seal slower than its interval is followed by the next one, not by a catch-up burst.
    seal_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut fold_tick = tokio::time::interval(FOLD_INTERVAL);
    let mut cleanup_tick = tokio::time::interval(CLEANUP_INTERVAL);
    let mut daily_tick = tokio::time::interval(DAILY_INTERVAL);
    let mut market_tick = tokio::time::interval(MARKET_INTERVAL);
    loop {
        tokio::select! {
            _ = seal_tick.tick() => {
                if let Err(error) = seal_once(&pool).await {
                    tracing::warn!(%error, "sealing the audit chain failed; will retry");
                }
            }
            _ = fold_tick.tick() => {
                if let Err(error) = fold_exposure_once(&pool).await {
                    tracing::warn!(%error, "folding the exposure deltas failed; will retry");
                }
            }
            _ = daily_tick.tick() => {
                let today = chrono::Utc::now().date_naive();
                match crate::lending::daily::run(&pool, today, false, false).await {
                    Ok(_) | Err(crate::lending::daily::DailyError::Busy) => {}
                    Err(error) => tracing::warn!(%error, "the daily job failed; will retry"),
                }
            }
            _ = market_tick.tick() => {
                if let Err(error) = crate::market::job::run(&pool, chrono::Utc::now()).await {
                    tracing::warn!(error = %error.message, "the market job failed; will retry");
                }
            }
            _ = cleanup_tick.tick() => {
                if let Err(error) = cleanup_once(&pool).await {
                    tracing::warn!(%error, "clean-up failed; will retry");
                }
            }
        }
    }
}

pub async fn seal_once(pool: &DbPool) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    Ok(crate::integrity::audit::seal(&mut conn).await?)
}

/// At most this many exposure deltas are folded a second (a busy second appends a few
/// thousand).
const FOLD_BATCH: i32 = 100_000;

pub async fn fold_exposure_once(pool: &DbPool) -> anyhow::Result<i64> {
    let mut conn = pool.get().await?;
    Ok(crate::lending::exposure::compact(&mut conn, FOLD_BATCH).await?)
}

pub async fn cleanup_once(pool: &DbPool) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let keys = crate::http::idempotency::purge_expired(&mut conn).await?;
    let auth = crate::auth::store::purge_expired(&mut conn).await?;
    let browsers = crate::auth::browser::purge_expired(&mut conn).await?;
    Ok(keys + auth + browsers)
}
