//! The daily job: closes each business day up to a date — accrues interest, revalues every
//! loan's collateral, applies the margin-call rules, recomputes suppliers' tiers, flags lots
//! whose inspection fell overdue — and moves the business date there. Each
//! day is one transaction and is recorded, so a day is never closed twice and missed days are
//! caught up in order. An advisory lock makes one instance of many do the work.

use super::revaluation::{self, Outcome, Scope};
use crate::db::DbPool;
use crate::db::prepared::prepared;
use crate::db::schema::daily_closes;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

const DAILY_LOCK: i64 = 0x686f_6c64_6461_696c;

#[derive(Debug, thiserror::Error)]
pub enum DailyError {
    #[error(
        "{0} is after today (UTC); set HOLDFAST_ALLOW_FUTURE_DATES=true to close future days (tests and demos)"
    )]
    FutureDate(NaiveDate),
    #[error("another instance is running the daily job")]
    Busy,
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
}

/// One closed day.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Closed {
    pub business_date: NaiveDate,
    pub loans_accrued: i64,
    pub revaluation: Outcome,
    /// Suppliers whose tier changed.
    pub tiers_changed: i64,
    /// Lots whose inspection fell overdue that day (their owners, warehouses and lenders are
    /// told: `lot.inspection_overdue`).
    pub inspections_overdue: i64,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Closes every day after the last closed one up to `as_of`. `wait` blocks on another
/// instance's run (the command line); otherwise a busy lock answers `Busy` (the scheduler).
pub async fn run(
    pool: &DbPool,
    as_of: NaiveDate,
    allow_future: bool,
    wait: bool,
) -> Result<Vec<Closed>, DailyError> {
    let today = chrono::Utc::now().date_naive();
    if as_of > today && !allow_future {
        return Err(DailyError::FutureDate(as_of));
    }
    let mut conn = pool.get().await?;
    let lock = if wait {
        "SELECT pg_advisory_lock($1) IS NOT NULL AS locked"
    } else {
        "SELECT pg_try_advisory_lock($1) AS locked"
    };
    let locked: Locked = prepared(lock)
        .bind::<diesel::sql_types::BigInt, _>(DAILY_LOCK)
        .get_result(&mut conn)
        .await?;
    if !locked.locked {
        return Err(DailyError::Busy);
    }
    let outcome = close_through(&mut conn, as_of).await;
    prepared("SELECT pg_advisory_unlock($1)")
        .bind::<diesel::sql_types::BigInt, _>(DAILY_LOCK)
        .execute(&mut conn)
        .await?;
    if outcome.as_ref().is_ok_and(|closed| !closed.is_empty()) {
        tidy_after_close(&mut conn).await;
    }
    outcome
}

/// Vacuums what a close rewrote. Revaluing every loan leaves a dead version of each pledge,
/// loan and kept exposure row; the first reads after the close would otherwise step over
/// them all and clean the indexes as they go (the first `GET /v1/exposure` after a close of
/// 100,000 loans read 3,078 pages of dead index entries for its list of breaching loans,
/// 9.5 ms, then 0.1 ms on the next read). A table another vacuum holds is skipped; a failure
/// is only logged: the close is done, and autovacuum will come.
async fn tidy_after_close(conn: &mut AsyncPgConnection) {
    use diesel_async::SimpleAsyncConnection;
    if let Err(error) = conn
        .batch_execute("VACUUM (SKIP_LOCKED) exposure_loans, loans, pledges")
        .await
    {
        tracing::warn!(%error, "could not vacuum after the daily close");
    }
}

async fn close_through(
    conn: &mut AsyncPgConnection,
    as_of: NaiveDate,
) -> Result<Vec<Closed>, DailyError> {
    let last: Option<NaiveDate> = daily_closes::table
        .select(diesel::dsl::max(daily_closes::business_date))
        .first(conn)
        .await?;
    // The first run closes only `as_of`: loans accrue from their own `accrued_through`.
    let mut day = last.map_or(as_of, |d| d.succ_opt().unwrap_or(d));
    let mut closed = Vec::new();
    while day <= as_of {
        let this = day;
        let result = conn
            .transaction::<_, diesel::result::Error, _>(async move |conn| {
                close_day(conn, this).await
            })
            .await?;
        tracing::info!(business_date = %this, loans_accrued = result.loans_accrued, outcome = ?result.revaluation, "closed a business day");
        closed.push(result);
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    Ok(closed)
}

async fn close_day(conn: &mut AsyncPgConnection, day: NaiveDate) -> QueryResult<Closed> {
    // The loans locked by id before the accrual updates them (in whatever order its scan
    // finds them), as the revaluation below would lock them.
    revaluation::hold_every_loan(conn).await?;
    let loans_accrued = revaluation::accrue(conn, day).await?;
    let outcome = revaluation::revalue(conn, day, Scope::All, "revaluation").await?;
    revaluation::record_ltv_history(conn, day).await?;
    let tiers_changed = crate::tiers::recompute(conn, day).await?;
    let inspections_overdue = crate::lots::store::flag_overdue_inspections(conn, day).await?;
    diesel::insert_into(daily_closes::table)
        .values((
            daily_closes::business_date.eq(day),
            daily_closes::loans_accrued.eq(loans_accrued as i32),
            daily_closes::margin_calls_opened.eq(outcome.margin_calls_opened as i32),
            daily_closes::loans_defaulted.eq(outcome.loans_defaulted as i32),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(Closed {
        business_date: day,
        loans_accrued,
        revaluation: outcome,
        tiers_changed,
        inspections_overdue,
    })
}
