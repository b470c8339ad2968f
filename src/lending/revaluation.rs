//! Revaluation and margin calls, set-based: one statement values every pledge of every loan
//! in scope (price × grade × freshness × quantity, the same formula as
//! `domain::valuation`, in SQL functions of the same names), then loans get their collateral
//! value and LTV, then margin calls are cured, loans past their deadline or above the
//! liquidation LTV default, and new margin calls open. No query runs per loan.
//!
//! Lock order: loan rows first, then pledge rows. Handlers that change one loan lock it
//! before its pledges; a revaluation of every loan locks every loan in scope, by id
//! (`crate::db::locks`), before the statement that values them, and two revaluations of every
//! loan take turns under an advisory lock.
//!
//! Why the loans are locked in a statement of their own: a statement reads the book as it was
//! when it started. Had the valuing statement waited for a loan a settlement held, it would
//! have gone on, once the settlement committed, with that loan's pledges as they were before
//! it: their old quantities valued and written over the settlement's values, the loan's value
//! moved by them, and their change added to the exposure figures a second time. Locked
//! first, every loan in scope is held before the valuing statement starts, so it sees every
//! change committed to them, and no other change can start until it commits.

use crate::db::prepared::prepared;
use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Date, Nullable, Text, Uuid as SqlUuid};
use diesel::{QueryResult, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::sync::LazyLock;
use uuid::Uuid;

/// Which loans to revalue.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// Every loan that is requested, approved or live.
    All,
    /// One loan, already locked by the caller.
    Loan(Uuid),
}

impl Scope {
    fn filter(self) -> &'static str {
        match self {
            Scope::All => "$2::uuid IS NULL",
            Scope::Loan(_) => "ln.id = $2",
        }
    }

    fn id(self) -> Option<Uuid> {
        match self {
            Scope::All => None,
            Scope::Loan(id) => Some(id),
        }
    }
}

/// The statuses of the loans a revaluation values, and so the loans a revaluation of every
/// loan locks first.
pub const REVALUED: &str = "('requested', 'approved', 'active', 'defaulted', 'liquidating')";

const REVALUATION_LOCK: i64 = 0x686f_6c64_7265_7661;

/// What a revaluation changed.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Outcome {
    pub loans_revalued: i64,
    pub pledges_revalued: i64,
    pub margin_calls_cured: i64,
    pub loans_defaulted: i64,
    pub margin_calls_opened: i64,
}

#[derive(QueryableByName)]
struct Written {
    #[diesel(sql_type = BigInt)]
    loans: i64,
    #[diesel(sql_type = BigInt)]
    pledges: i64,
}

/// Planner settings as they were before the revaluation of every loan changed them.
#[derive(QueryableByName)]
struct Settings {
    #[diesel(sql_type = Text)]
    work_mem: String,
    #[diesel(sql_type = Text)]
    enable_sort: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Writes every pledge in scope whose value on `$1`, in the loan's currency, differs from the
/// one it holds, in one pass: the pledges are read once, joined to their loans and lots, valued
/// and written, and the statement goes on from what the `UPDATE` returns, each pledge's old
/// value (`previous_market_value`, set from it in the same `UPDATE`: PostgreSQL 15's
/// `RETURNING` sees only the row as written) and new value, and its lot's place. `counts`:
/// whether it counts in the exposure figures (live, with some quantity).
///
/// The value is the pledge's quantity times a unit value, price × grade factor × freshness,
/// which depends only on the lot's commodity, grade and packing day, the loan's currency and
/// the day: the unit value is a subquery of its own (`OFFSET 0` keeps it one), so that
/// PostgreSQL computes it, latest price lookup included, once per such combination and
/// remembers it (`Memoize`) instead of once per pledge: a million pledges are packed on a few
/// hundred days. Numeric multiplication is exact, so quantity × (price × grade × freshness) is
/// the same number as the product taken in `domain::valuation`'s order, before the one
/// rounding (`round_half_even_inline`, migration 000024, which PostgreSQL inlines: its
/// argument is one multiplication of two columns).
///
/// Which pledges change is decided without rounding: the stored value, already rounded to the
/// minor unit, is the new value exactly when the unrounded value is within half a minor unit
/// of it (`half`), or exactly half a unit away and the stored value even in its last place
/// (half to even keeps it). That is three operations a pledge instead of the rounding's dozen,
/// and the rounding then runs only for the pledges written: 1.1 and 1.2 s less in two runs
/// at a million pledges, in `psql`, when every pledge changes.
///
/// Before, a first part valued every pledge into a materialized list, and an `UPDATE` then
/// found each changed pledge again by a hash join on its key: at a million pledges that join
/// took 1.0 s, and the list held every pledge, changed or not.
fn revalued(scope: Scope) -> String {
    let value = "round_half_even_inline(p.quantity * u.unit, u.places)";
    format!(
        "UPDATE pledges p SET market_value = {value}, previous_market_value = p.market_value \
         FROM loans ln, lots lot, LATERAL ( \
             SELECT coalesce((SELECT price_per_unit FROM prices \
                              WHERE commodity_code = lot.commodity_code AND currency = ln.currency \
                                AND as_of < ($1 + 1)::timestamp AT TIME ZONE 'UTC' \
                              ORDER BY as_of DESC, id DESC LIMIT 1), 0) \
                    * coalesce((c.grades ->> lot.grade)::numeric, 0) \
                    * freshness_factor(lot.packed_on, $1, c.fresh_days, c.shelf_life_days, c.end_freshness_factor) AS unit, \
                    minor_units(ln.currency) AS places, \
                    0.5 * power(10::numeric, -minor_units(ln.currency)) AS half, \
                    power(10::numeric, minor_units(ln.currency)) AS scale \
             FROM commodities c WHERE c.code = lot.commodity_code OFFSET 0) u \
         WHERE ln.id = p.loan_id AND lot.id = p.lot_id AND ln.status IN {REVALUED} AND {filter} \
           AND (abs(p.quantity * u.unit - p.market_value) > u.half \
                OR (abs(p.quantity * u.unit - p.market_value) = u.half AND mod(p.market_value * u.scale, 2) = 1)) \
         RETURNING p.loan_id, p.quantity > 0 AND exposure_live(ln.status) AS counts, \
                   p.previous_market_value AS old_value, p.market_value AS value, ln.lender_org_id, ln.currency, \
                   lot.commodity_code, lot.warehouse_id, lot.voyage_id, lot.expires_on",
        filter = scope.filter()
    )
}

/// The exposure figures (migration 000013) changed by the statement's new pledge values. The
/// revaluation is the only writer of a pledge's market value, and no trigger watches it: the
/// change is kept here, set-based, from `v` (each pledge's old and new value, and its lot's
/// place) and `changes` (each loan's change). A revaluation changes values only, never which
/// lots or loans a book holds, so of the kept figures only three things move: each changed
/// loan's row in `exposure_loans` (`loans_kept`: its value, and its LTV from it), the value of
/// each commodity, place and expiry cell, and the loan cells (total, status, supplier, LTV
/// bucket, and the counts above the thresholds) by the difference between each loan's row
/// before and after. Those cell changes are appended as deltas (`kept`), as every writer
/// does. The row is changed by the loan's change, not set to the statement's sum, so that a
/// pledge another transaction changed meanwhile keeps its part; its row before is the row
/// after with the change taken back (only the value moved, and its LTV follows from it by the
/// same rule as `exposure_apply`'s).
///
/// Before, the changes went through `exposure_apply`, which looked up and rewrote every loan's
/// row one by one: 2.7 of a 19.2 s revaluation of a million pledges.
///
/// The LTV rule, the bucket bounds and the spreading of a change over the books and keys
/// repeat `exposure_apply`'s (migration 000013): a change to one must be made to the other.
/// They stay inline rather than in shared SQL functions because PostgreSQL would not inline a
/// function whose argument (an LTV computed here) is used more than once, and would call it
/// per loan. The random-operations test, whose price moves shift loans between buckets, fails
/// on any difference between the two.
const KEPT: &str = "loans_kept AS ( \
         UPDATE exposure_loans el \
         SET value = el.value + t.change, \
             ltv = CASE WHEN round(el.value + t.change, minor_units(el.currency)) > 0 \
                        THEN round_half_even((el.outstanding + el.interest) \
                                             / round(el.value + t.change, minor_units(el.currency)), 6) END \
         FROM changes t WHERE el.loan_id = t.loan_id AND t.change <> 0 \
         RETURNING el.lender_org_id, el.currency, el.status, el.supplier_org_id, el.outstanding, el.interest, \
                   el.value, el.ltv, el.margin_call_ltv, el.liquidation_ltv, t.change), \
     loan_rows AS ( \
         SELECT lender_org_id, currency, status, supplier_org_id, 1 AS sign, outstanding, interest, value, ltv, \
                margin_call_ltv, liquidation_ltv \
         FROM loans_kept \
         UNION ALL \
         SELECT lender_org_id, currency, status, supplier_org_id, -1, outstanding, interest, value - change, \
                CASE WHEN round(value - change, minor_units(currency)) > 0 \
                     THEN round_half_even((outstanding + interest) / round(value - change, minor_units(currency)), 6) END, \
                margin_call_ltv, liquidation_ltv \
         FROM loans_kept), \
     loan_groups AS ( \
         SELECT lender_org_id, currency, status, supplier_org_id, \
                CASE WHEN ltv IS NULL THEN '5' WHEN ltv <= 0.5 THEN '1' WHEN ltv <= 0.65 THEN '2' \
                     WHEN ltv <= 0.8 THEN '3' ELSE '4' END AS bucket, \
                sum(sign) AS loans, sum(sign * value) AS value, sum(sign * outstanding) AS outstanding, \
                sum(sign * interest) AS interest, \
                sum(sign * (ltv IS NULL OR ltv > margin_call_ltv)::integer) AS above_margin, \
                sum(sign * (ltv IS NULL OR ltv > liquidation_ltv)::integer) AS above_liquidation \
         FROM loan_rows GROUP BY 1, 2, 3, 4, 5), \
     place_values AS ( \
         SELECT lender_org_id, currency, commodity_code, exposure_location(warehouse_id, voyage_id) AS location, \
                expires_on, sum(value - old_value) AS value \
         FROM v WHERE v.counts \
         GROUP BY lender_org_id, currency, commodity_code, warehouse_id, voyage_id, expires_on), \
     deltas AS ( \
         SELECT b.book, pv.currency, x.dim, x.key, 0 AS loans, pv.value, 0 AS outstanding, 0 AS interest, \
                0 AS above_margin, 0 AS above_liquidation \
         FROM place_values pv \
         CROSS JOIN LATERAL (VALUES (pv.lender_org_id), ('00000000-0000-0000-0000-000000000000'::uuid)) b(book) \
         CROSS JOIN LATERAL (VALUES ('commodity', pv.commodity_code), ('location', pv.location), \
                                    ('expires', pv.expires_on::text)) x(dim, key) \
         UNION ALL \
         SELECT b.book, g.currency, x.dim, x.key, g.loans, g.value, g.outstanding, g.interest, g.above_margin, \
                g.above_liquidation \
         FROM loan_groups g \
         CROSS JOIN LATERAL (VALUES (g.lender_org_id), ('00000000-0000-0000-0000-000000000000'::uuid)) b(book) \
         CROSS JOIN LATERAL (VALUES ('total', ''), ('status', g.status), ('supplier', g.supplier_org_id::text), \
                                    ('bucket', g.bucket)) x(dim, key)), \
     kept AS ( \
         INSERT INTO exposure_cell_deltas (book, currency, dim, key, loans, lots, quantity, value, outstanding, \
                                           interest, above_margin, above_liquidation, margin_calls) \
         SELECT book, currency, dim, key, sum(loans), 0, 0, sum(value), sum(outstanding), sum(interest), \
                sum(above_margin), sum(above_liquidation), 0 \
         FROM deltas GROUP BY 1, 2, 3, 4 \
         HAVING (sum(loans), sum(value), sum(outstanding), sum(interest), sum(above_margin), \
                 sum(above_liquidation)) <> (0, 0, 0, 0, 0, 0) \
         RETURNING 1)";

/// Each changed loan's changes: by how much its pledges' values moved (`moved`), and by how
/// much the value its exposure figures count did (`change`, none when no live pledge of it
/// changed).
const CHANGES: &str = "changes AS ( \
         SELECT loan_id, sum(value - old_value) AS moved, \
                sum(value - old_value) FILTER (WHERE counts) AS change \
         FROM v GROUP BY loan_id)";

/// The debt an LTV measures: the principal asked for until it is paid out, then what is
/// outstanding, plus accrued interest.
const OWED: &str = "(CASE WHEN ln.status IN ('requested', 'approved') THEN ln.principal \
                     ELSE ln.outstanding_principal END + ln.accrued_interest)";

/// Closes the open margin call, if any, of the active loan `id` about to be paid in full, as
/// cured for `reason`. A loan paid off is not revalued (it gives all its collateral back), so
/// this is the one rule that still applies to it. Answers how many calls closed.
pub async fn cure_before_payoff(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    as_of: NaiveDate,
    reason: &str,
) -> QueryResult<i64> {
    static TEXT: LazyLock<String> = LazyLock::new(|| {
        audited(
            "UPDATE margin_calls mc SET status = 'cured', closed_at = now(), closed_reason = $5 \
             FROM loans ln \
             WHERE mc.loan_id = ln.id AND mc.status = 'open' AND ln.status = 'active' AND ln.id = $2 \
               AND $1 IS NOT NULL \
             RETURNING mc.*, ln.lender_org_id, ln.supplier_org_id",
        )
    });
    count(
        conn,
        TEXT.as_str(),
        (as_of, Scope::Loan(id)),
        ("margin_call.cured", "margin_call"),
        reason,
    )
    .await
}

/// Records every live loan's LTV as `day` closes (after its accrual and revaluation): what it
/// owes, what its collateral is worth, the ratio. Run again for the same day, it keeps the
/// latest figures.
pub async fn record_ltv_history(
    conn: &mut AsyncPgConnection,
    day: NaiveDate,
) -> QueryResult<usize> {
    diesel::sql_query(format!(
        "INSERT INTO loan_ltv_history (loan_id, business_date, outstanding, collateral_value, ltv) \
         SELECT ln.id, $1, round_half_even({OWED}, 2), ln.collateral_value, ln.ltv FROM loans ln \
          WHERE ln.status IN ('active', 'defaulted', 'liquidating') \
         ON CONFLICT (loan_id, business_date) DO UPDATE \
            SET outstanding = excluded.outstanding, collateral_value = excluded.collateral_value, \
                ltv = excluded.ltv"
    ))
    .bind::<diesel::sql_types::Date, _>(day)
    .execute(conn)
    .await
}

/// Runs one of the margin-call rules (an [`audited`] statement) and answers how many rows it
/// changed. Every value is bound: $1 the date, $2 the loan (or NULL for all), $3 the audit
/// action, $4 the kind of object, $5 why a cured margin call closed.
async fn count(
    conn: &mut AsyncPgConnection,
    sql: &'static str,
    (as_of, scope): (NaiveDate, Scope),
    (action, object_kind): (&str, &str),
    cure_reason: &str,
) -> QueryResult<i64> {
    let row: Count = prepared(sql)
        .bind::<Date, _>(as_of)
        .bind::<Nullable<SqlUuid>, _>(scope.id())
        .bind::<Text, _>(action)
        .bind::<Text, _>(object_kind)
        .bind::<Text, _>(cure_reason)
        .get_result(conn)
        .await?;
    Ok(row.n)
}

/// An audit event ($3 its action, $4 its kind of object) and an outbox event for every row of
/// the CTE `changed`, which must have `id`, `lender_org_id` and `supplier_org_id` columns;
/// answers how many. `changed_cte` is SQL text of this module, never a value.
fn audited(changed_cte: &str) -> String {
    format!(
        "WITH changed AS ({changed_cte}), \
         audit AS ( \
             INSERT INTO audit_events (org_ids, action, object_kind, object_id, after) \
             SELECT ARRAY[lender_org_id, supplier_org_id], $3, $4, id::text, to_jsonb(changed) \
             FROM changed RETURNING 1), \
         feed AS ( \
             INSERT INTO outbox_events (org_ids, event_type, payload) \
             SELECT ARRAY[lender_org_id, supplier_org_id], $3, \
                    jsonb_build_object('object_kind', $4::text, 'object_id', id, 'actor_user_id', NULL, 'data', to_jsonb(changed)) \
             FROM changed RETURNING 1) \
         SELECT count(*) AS n FROM feed WHERE $5::text IS NOT NULL"
    )
}

/// The revaluation's five statements for one kind of scope, built once: their text depends
/// only on the kind (every loan, or one), so each is prepared once per connection.
struct Texts {
    write: String,
    cured: String,
    defaulted: String,
    calls_defaulted: String,
    opened: String,
}

impl Texts {
    fn of(scope: Scope) -> &'static Texts {
        static ALL: LazyLock<Texts> = LazyLock::new(|| Texts::build(Scope::All));
        static ONE: LazyLock<Texts> = LazyLock::new(|| Texts::build(Scope::Loan(Uuid::nil())));
        match scope {
            Scope::All => &ALL,
            Scope::Loan(_) => &ONE,
        }
    }

    fn build(scope: Scope) -> Texts {
        let revalued = revalued(scope);
        let filter = scope.filter();
        let default_reason = "CASE WHEN ln.ltv IS NULL OR ln.ltv > f.liquidation_ltv THEN 'liquidation_ltv' \
                          WHEN ln.maturity_date < $1 THEN 'matured' \
                          ELSE 'margin_call_deadline' END";
        Texts {
            // The pledges are valued and written in one pass (`v`), then the loans. The
            // loans in scope are already locked (by the caller for one loan, by
            // `hold_every_loan` for every loan), so writing the pledges first keeps the lock
            // order.
            //
            // Each loan's new value is the value it holds plus its pledges' changes. A loan's
            // value is the sum of its pledges' values: the revaluation is the only writer of
            // either and writes both in this statement, a pledge enters at zero, and a loan
            // paid off (its value set to zero) leaves the loans a revaluation values; so the
            // sum is not taken again from every pledge (0.9 s of a 20 s statement at a
            // million pledges, in `EXPLAIN ANALYZE`). The API tests hold every loan's value equal to the sum
            // (`fixtures::assert_exposure_kept`). Each LTV is computed once, below an
            // `OFFSET 0`, so that its rounding is inlined and both the filter and the `SET`
            // read it as a column.
            write: format!(
                "WITH v AS ({revalued}), \
         {CHANGES}, \
         next AS ( \
             SELECT id, value, CASE WHEN value > 0 THEN round_half_even_inline(raw, 6) END AS ltv \
             FROM (SELECT ln.id, ln.collateral_value + coalesce(c.moved, 0) AS value, \
                          {OWED} / nullif(ln.collateral_value + coalesce(c.moved, 0), 0) AS raw \
                   FROM loans ln LEFT JOIN changes c ON c.loan_id = ln.id \
                   WHERE ln.status IN {REVALUED} AND {filter} OFFSET 0) owed), \
         loans_written AS ( \
             UPDATE loans ln SET collateral_value = next.value, ltv = next.ltv, revalued_at = now() \
             FROM next WHERE ln.id = next.id \
               AND (ln.collateral_value, ln.ltv) IS DISTINCT FROM (next.value, next.ltv) \
             RETURNING 1), \
         {KEPT} \
         SELECT (SELECT count(*) FROM loans_written) AS loans, \
                (SELECT count(*) FROM v) AS pledges, \
                (SELECT count(*) FROM kept) AS kept"
            ),
            // Cured: back at or below the advance rate, or nothing owed.
            cured: audited(&format!(
                "UPDATE margin_calls mc SET status = 'cured', closed_at = now(), closed_reason = $5 \
                 FROM loans ln JOIN facilities f ON f.id = ln.facility_id \
                 WHERE mc.loan_id = ln.id AND mc.status = 'open' AND ln.status = 'active' AND {filter} \
                   AND ({OWED} = 0 OR ln.ltv <= f.advance_rate) AND $1 IS NOT NULL \
                 RETURNING mc.*, ln.lender_org_id, ln.supplier_org_id"
            )),
            // Defaults: above the liquidation LTV, past a margin call's deadline, or past
            // maturity.
            defaulted: audited(&format!(
                "UPDATE loans ln SET status = 'defaulted', defaulted_at = now(), defaulted_on = $1, default_reason = {default_reason} \
                 FROM facilities f \
                 WHERE f.id = ln.facility_id AND ln.status = 'active' AND {filter} AND {OWED} > 0 \
                   AND (ln.ltv IS NULL OR ln.ltv > f.liquidation_ltv OR ln.maturity_date < $1 \
                        OR EXISTS (SELECT 1 FROM margin_calls mc WHERE mc.loan_id = ln.id \
                                   AND mc.status = 'open' AND mc.deadline < $1)) \
                 RETURNING ln.id, ln.lender_org_id, ln.supplier_org_id, ln.status, ln.default_reason, ln.ltv"
            )),
            // A defaulted loan's open margin call closes with the loan's reason.
            calls_defaulted: audited(&format!(
                "UPDATE margin_calls mc SET status = 'defaulted', closed_at = now(), closed_reason = ln.default_reason \
                 FROM loans ln \
                 WHERE mc.loan_id = ln.id AND mc.status = 'open' AND ln.status = 'defaulted' AND {filter} \
                   AND $1 IS NOT NULL \
                 RETURNING mc.*, ln.lender_org_id, ln.supplier_org_id"
            )),
            // New margin calls: above the margin-call LTV with none open.
            opened: audited(&format!(
                "INSERT INTO margin_calls (id, loan_id, ltv_at_open, opened_on, deadline) \
                 SELECT gen_random_uuid(), ln.id, ln.ltv, $1, $1 + f.cure_period_days \
                 FROM loans ln JOIN facilities f ON f.id = ln.facility_id \
                 WHERE ln.status = 'active' AND {filter} AND {OWED} > 0 \
                   AND (ln.ltv IS NULL OR ln.ltv > f.margin_call_ltv) \
                   AND NOT EXISTS (SELECT 1 FROM margin_calls mc WHERE mc.loan_id = ln.id AND mc.status = 'open') \
                 RETURNING margin_calls.*, \
                     (SELECT lender_org_id FROM loans WHERE id = loan_id) AS lender_org_id, \
                     (SELECT supplier_org_id FROM loans WHERE id = loan_id) AS supplier_org_id"
            )),
        }
    }
}

/// Takes the turn of the revaluations of every loan (an advisory lock), then locks every loan
/// such a revaluation values, by id (see the module's comment). A revaluation of every loan
/// does this first; the daily close does it before its accrual, which updates the loans too,
/// so that it takes the loans in the same order as every other writer. Taken again in the
/// same transaction, both are already held.
pub async fn hold_every_loan(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    prepared("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(REVALUATION_LOCK)
        .execute(conn)
        .await?;
    static HOLD: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT count(*) AS n FROM ( \
                 SELECT 1 FROM loans WHERE status IN {REVALUED} ORDER BY id FOR NO KEY UPDATE) held"
        )
    });
    prepared(HOLD.as_str()).get_result::<Count>(conn).await?;
    Ok(())
}

/// Revalues the loans in scope on `as_of` and applies the margin-call rules. Runs in the
/// caller's transaction: five set-based statements ([`Texts`]) in the order the rules need
/// (value, cure, default, close, open).
pub async fn revalue(
    conn: &mut AsyncPgConnection,
    as_of: NaiveDate,
    scope: Scope,
    cure_reason: &str,
) -> QueryResult<Outcome> {
    if let Scope::All = scope {
        hold_every_loan(conn).await?;
    }
    let texts = Texts::of(scope);
    // For the one statement that values every pledge: the pledges it writes, as its `UPDATE`
    // returns them, are held once and read twice, in memory while they fit in 256 MB (one such
    // revaluation runs at a time, under the lock above; a million fit, and beyond that they go
    // to a temporary file, written once and read back twice), as do the hash tables joining
    // the pledges to their lots; and, with no statistics on what the `UPDATE` returns,
    // PostgreSQL expected a cell per pledge and sorted a million pledges to sum a few hundred
    // cells, which a hash table does in one pass (only the sorts a statement cannot do without
    // remain). The settings are put back after it.
    let was: Option<Settings> = match scope {
        Scope::All => Some(
            prepared(
                "SELECT s.work_mem, s.enable_sort, set_config('work_mem', '256MB', true) AS w, \
                        set_config('enable_sort', 'off', true) AS e \
                 FROM (SELECT current_setting('work_mem') AS work_mem, \
                              current_setting('enable_sort') AS enable_sort OFFSET 0) s",
            )
            .get_result(conn)
            .await?,
        ),
        Scope::Loan(_) => None,
    };
    let written: Written = prepared(&texts.write)
        .bind::<Date, _>(as_of)
        .bind::<Nullable<SqlUuid>, _>(scope.id())
        .get_result(conn)
        .await?;
    if let Some(was) = was {
        prepared("SELECT set_config('work_mem', $1, true), set_config('enable_sort', $2, true)")
            .bind::<Text, _>(was.work_mem)
            .bind::<Text, _>(was.enable_sort)
            .execute(conn)
            .await?;
    }
    let mut outcome = Outcome {
        loans_revalued: written.loans,
        pledges_revalued: written.pledges,
        ..Outcome::default()
    };
    if let Scope::Loan(id) = scope
        && !rules_may_apply(conn, id, as_of).await?
    {
        return Ok(outcome);
    }
    // Cured: back at or below the advance rate, or nothing owed.
    outcome.margin_calls_cured = count(
        conn,
        &texts.cured,
        (as_of, scope),
        ("margin_call.cured", "margin_call"),
        cure_reason,
    )
    .await?;
    // Defaults: above the liquidation LTV, past a margin call's deadline, or past maturity.
    outcome.loans_defaulted = count(
        conn,
        &texts.defaulted,
        (as_of, scope),
        ("loan.defaulted", "loan"),
        cure_reason,
    )
    .await?;
    count(
        conn,
        &texts.calls_defaulted,
        (as_of, scope),
        ("margin_call.defaulted", "margin_call"),
        cure_reason,
    )
    .await?;
    outcome.margin_calls_opened = count(
        conn,
        &texts.opened,
        (as_of, scope),
        ("margin_call.opened", "margin_call"),
        cure_reason,
    )
    .await?;
    Ok(outcome)
}

/// Whether any margin-call rule below could change one loan: not when it has no open margin
/// call and is either not active, owes nothing (just paid off), or is active within its
/// margin-call and liquidation LTVs and not past maturity. Saves four statements on most
/// single-loan revaluations.
async fn rules_may_apply(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    as_of: NaiveDate,
) -> QueryResult<bool> {
    use crate::db::schema::{facilities, loans, margin_calls};
    use diesel::{ExpressionMethods, QueryDsl};
    let open_call: bool = diesel::select(diesel::dsl::exists(
        margin_calls::table
            .filter(margin_calls::loan_id.eq(id))
            .filter(margin_calls::status.eq("open")),
    ))
    .get_result(conn)
    .await?;
    if open_call {
        return Ok(true);
    }
    let (status, ltv, margin_call_ltv, liquidation_ltv, maturity, owed): (
        String,
        Option<rust_decimal::Decimal>,
        rust_decimal::Decimal,
        rust_decimal::Decimal,
        Option<NaiveDate>,
        rust_decimal::Decimal,
    ) = loans::table
        .inner_join(facilities::table)
        .filter(loans::id.eq(id))
        .select((
            loans::status,
            loans::ltv,
            facilities::margin_call_ltv,
            facilities::liquidation_ltv,
            loans::maturity_date,
            loans::outstanding_principal + loans::accrued_interest,
        ))
        .first(conn)
        .await?;
    // Nothing owed (a loan its repayment or sale just paid off): no call to open, no default.
    if status != "active" || owed.is_zero() {
        return Ok(false);
    }
    let within = ltv.is_some_and(|ltv| ltv <= margin_call_ltv && ltv <= liquidation_ltv);
    let matured = maturity.is_some_and(|m| m < as_of);
    Ok(!within || matured)
}

#[derive(QueryableByName)]
struct Accrued {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Accrues interest on every live loan up to the end of `day`: each day not yet accrued adds
/// outstanding principal × annual rate / 365, kept at 8 places (`domain::lending`). The accrued
/// loans' exposure rows are refreshed in the same statement (no trigger watches accrual: it
/// moves `accrued_through`).
pub async fn accrue(conn: &mut AsyncPgConnection, day: NaiveDate) -> QueryResult<i64> {
    let row: Accrued = prepared(
        "WITH accrued AS ( \
             UPDATE loans SET \
                 accrued_interest = accrued_interest \
                     + round_half_even(outstanding_principal * annual_interest_rate / 365, 8) * ($1 - accrued_through), \
                 accrued_through = $1 \
             WHERE status IN ('active', 'defaulted', 'liquidating') AND accrued_through < $1 \
             RETURNING id, lender_org_id, currency), \
         kept AS ( \
             SELECT exposure_apply(array_agg(ROW(lender_org_id, currency, id, NULL, NULL, NULL, NULL, 0, 0, 0)::exposure_work)) \
             FROM accrued) \
         SELECT count(*) AS n FROM accrued WHERE (SELECT count(*) FROM kept) = 1",
    )
    .bind::<Date, _>(day)
    .get_result(conn)
    .await?;
    Ok(row.n)
}
