//! Hand-written statements prepared once per connection.
//!
//! Diesel never caches a `sql_query`: it cannot know whether the text was built from values,
//! so every call is parsed and planned again, and diesel-async sends it as two round trips
//! (prepare, then execute). [`prepared`] takes the text as a `&'static str` — fixed at
//! compile time, so the connection's statement cache (keyed by the text and the bind types)
//! holds one entry per statement in the program, however many times it runs — and marks it
//! safe to cache: the first call on a connection prepares it, every later call only binds and
//! executes.
//!
//! Not for a statement whose best plan depends on its values — optional filters
//! (`$1::uuid IS NULL OR org_id = $1`), searches, the exposure's stress: after five runs
//! PostgreSQL may keep one generic plan for every value, which cannot drop a filter that is
//! off (the listing search went from 139 to 419 ms at p99 when it was prepared). Those stay
//! `diesel::sql_query`, planned for their values on every call.

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, BoxedSqlQuery, Query, QueryFragment, QueryId, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::HasSqlType;

/// Has PostgreSQL run every prepared statement of the rest of this transaction on its generic
/// plan: planned once per connection, not for the values of each call.
///
/// For a transaction whose statements all find rows by key — a payment that settles a sale:
/// the sale, its lines, the loans and pledges on its lots, the lots, by id — the generic plan
/// is the plan. PostgreSQL would not keep it by itself for a statement over an array of ids
/// (`= ANY($1)`, `unnest($1)`): a generic plan is costed for ten elements, a custom one for
/// the one or two there are, so it planned each of them again on every call — 2.5 ms of
/// planning per settlement at 32 clients, a quarter of the database's time for it. Not for a
/// transaction that searches or filters optionally (see [`prepared`]). `SET LOCAL`, as a
/// statement that can be prepared; it ends with the transaction.
pub async fn generic_plans_until_commit(
    conn: &mut diesel_async::AsyncPgConnection,
) -> QueryResult<()> {
    use diesel_async::RunQueryDsl;
    prepared("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
        .execute(conn)
        .await
        .map(drop)
}

/// A statement whose text is fixed in the program, bound like `diesel::sql_query`'s and run
/// with `diesel_async::RunQueryDsl`: the text came from a `&'static str` and the values travel
/// as bind parameters, so the same statement always builds the same SQL.
pub fn prepared<'f>(sql: &'static str) -> Prepared<'f> {
    Cached(diesel::sql_query(sql).into_boxed())
}

/// See [`prepared`].
pub type Prepared<'f> = Cached<BoxedSqlQuery<'f, Pg, SqlQuery>>;

impl<'f> Prepared<'f> {
    /// Binds the next `$n` parameter, as `SqlQuery::bind` does.
    pub fn bind<ST, V>(self, value: V) -> Self
    where
        Pg: HasSqlType<ST>,
        V: ToSql<ST, Pg> + Send + 'f,
        ST: Send + 'f,
    {
        Cached(self.0.bind::<ST, V>(value))
    }
}

/// A statement diesel declines to cache although its text takes only a few shapes: a
/// [`prepared`] one, or one built with diesel's DSL such as an `UPDATE … SET` (diesel never
/// caches one, as an `Option` in the changeset may drop a column). Wrap one with [`Cache::cached`] when every shape it can take
/// is fixed by the program, never by a value — no `Vec` of values spelled out, no SQL literal
/// built at run time — so that the connection's cache stays bounded.
#[must_use = "a statement does nothing until it is run"]
pub struct Cached<Q>(Q);

/// See [`Cached`].
pub trait Cache: Sized {
    /// Prepares this statement once per connection (see [`Cached`]).
    fn cached(self) -> Cached<Self> {
        Cached(self)
    }
}

impl<Q: QueryFragment<Pg>> Cache for Q {}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Cached<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}
