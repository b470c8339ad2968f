//! A transaction whose `BEGIN` travels with its first statements and whose `COMMIT` with its
//! last: two round trips fewer than diesel's `transaction`, which waits for `BEGIN` before the
//! first statement and for the last statement before `COMMIT`.
//!
//! Statements sent on one connection through shared references (`&AsyncPgConnection`) go out
//! together and PostgreSQL runs them in the order sent. Each statement diesel-async sends takes
//! the connection's statement cache (a first-come, first-served lock) and sends its `Bind` and
//! `Execute` in the same poll that releases it — after a `Parse` of its own when the
//! connection has not prepared it yet — so statements polled in order are sent in order.
//! `BEGIN` is sent at its future's first poll, before anything polled after it.
//!
//! The connection's transaction manager is told of the transaction before `BEGIN` is sent and
//! of its end after `COMMIT` answered: a future dropped between the two leaves the connection
//! counted as in a transaction, and the pool discards it instead of handing it out again.

use diesel::QueryResult;
use diesel::connection::{TransactionDepthChange, TransactionManagerStatus};
use diesel::pg::Pg;
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::result::Error;
use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    TransactionManager,
};
use std::future::Future;
use std::num::NonZeroU32;

use super::prepared::prepared;

fn status(conn: &mut AsyncPgConnection) -> &mut TransactionManagerStatus {
    <AnsiTransactionManager as TransactionManager<AsyncPgConnection>>::transaction_manager_status_mut(
        conn,
    )
}

/// Opens a transaction and runs `first` in the same round trip as its `BEGIN`. `first` sends
/// its statements on the shared connection it is given, all at its first poll (through
/// `tokio::try_join!`, say). On an error the transaction is still open: [`rollback`] it.
pub async fn begin_with<'c, T, F, Fut>(conn: &'c mut AsyncPgConnection, first: F) -> QueryResult<T>
where
    F: FnOnce(&'c AsyncPgConnection) -> Fut,
    Fut: Future<Output = QueryResult<T>> + 'c,
{
    let state = status(conn).transaction_state()?;
    if state.transaction_depth().is_some() {
        return Err(Error::AlreadyInTransaction);
    }
    state.change_transaction_depth(TransactionDepthChange::IncreaseDepth)?;
    let shared: &'c AsyncPgConnection = conn;
    let mut begin_on = shared;
    together(begin_on.batch_execute("BEGIN"), first(shared))
        .await
        .map(|((), result)| result)
}

/// Sends two statements on one connection together (one round trip; polled in this order, so
/// run in this order) and answers both — or the first's error first: after a failed statement
/// PostgreSQL refuses the next one as aborted, which says less.
pub async fn together<A, B>(
    first: impl Future<Output = QueryResult<A>>,
    second: impl Future<Output = QueryResult<B>>,
) -> QueryResult<(A, B)> {
    let (first, second) = tokio::join!(first, second);
    Ok((first?, second?))
}

/// Rolls back the transaction [`begin_with`] opened; a failure leaves the connection broken,
/// and the pool discards it.
pub async fn rollback(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    <AnsiTransactionManager as TransactionManager<AsyncPgConnection>>::rollback_transaction(conn)
        .await
}

/// Commits the transaction [`begin_with`] opened, with nothing sent before.
pub async fn commit(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    <AnsiTransactionManager as TransactionManager<AsyncPgConnection>>::commit_transaction(conn)
        .await
}

/// Runs `last` and commits in the same round trip, ending the transaction [`begin_with`]
/// opened whatever happens. When `last` fails, PostgreSQL has aborted the transaction and
/// answers the `COMMIT` with a rollback: nothing is kept, and `last`'s error is answered.
pub async fn commit_with<Q>(conn: &mut AsyncPgConnection, last: Q) -> QueryResult<usize>
where
    Q: QueryFragment<Pg> + QueryId + Send,
{
    if status(conn).transaction_state()?.transaction_depth() != NonZeroU32::new(1) {
        return Err(Error::NotInTransaction);
    }
    let (written, committed) = {
        let (mut last_on, mut commit_on): (&AsyncPgConnection, &AsyncPgConnection) = (conn, conn);
        // `COMMIT` goes through the statement cache too: it is sent after `last`, whatever
        // `last` had to prepare first (see the module's documentation).
        tokio::join!(
            last.execute(&mut last_on),
            prepared("COMMIT").execute(&mut commit_on)
        )
    };
    let state = status(conn);
    match &committed {
        // Committed, or rolled back after `last` failed: over either way.
        Ok(_) | Err(Error::DatabaseError(..)) => state
            .transaction_state()?
            .change_transaction_depth(TransactionDepthChange::DecreaseDepth)?,
        // The connection failed: what the server did is unknown.
        Err(_) => state.set_in_error(),
    }
    let written = written?;
    committed.map(|_| written)
}
