//! A lender's exposure, read for `GET /v1/exposure`, `POST /v1/exposure/stress` and
//! `GET /v1/exposure.csv`.
//!
//! The book is read from figures the database keeps up to date in every transaction that
//! changes loans, pledges, lots or facilities (migration 000013: `exposure_loans`, the cells
//! per commodity, location, supplier, status, LTV bucket and expiry date, and their appended
//! deltas), so a read touches a few hundred rows however large the book is. A stress changes
//! prices: it reads each loan's kept value, and the pledges only of loans whose goods are of
//! several commodities or in several places ([`STRESS`]; a value is linear in its price).
//! [`from_scratch`] and [`stress_from_scratch`] compute the same answers from every pledge
//! ([`FIGURES`]), which the tests hold the kept figures equal to.

use crate::auth::{OrgKind, Principal};
use crate::calendar::business_date;
use crate::db::prepared::prepared;
use crate::domain::inputs::PriceChange;
use crate::error::{ApiError, ApiResult};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{Array, Date, Jsonb, Nullable, Numeric, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

type Money = Decimal;

/// The book's loans grouped by status, supplier and LTV bucket (`lg`), for [`FIGURES`] and
/// [`STRESS`], from `lv` (one row per loan: `id`, `supplier_org_id`, `status`, `outstanding`,
/// `interest`, `value`, `ltv`, `margin_call_ltv`, `liquidation_ltv`), with `total`, the book's
/// value and outstanding principal. Every count and sum of the answer is read from these few
/// groups, so the loans are read once for all of them: a stress at 100,000 loans read them a
/// dozen times, once per figure (20–50 ms each). Sums of sums are exact (`numeric`).
macro_rules! lv_groups {
    () => {
        "lg AS MATERIALIZED (
    SELECT status, supplier_org_id,
           CASE WHEN ltv IS NULL THEN 5 WHEN ltv <= 0.5 THEN 1 WHEN ltv <= 0.65 THEN 2 WHEN ltv <= 0.8 THEN 3 ELSE 4 END AS ord,
           count(*) AS loans, sum(outstanding) AS outstanding, sum(interest) AS interest, sum(value) AS value,
           count(*) FILTER (WHERE ltv IS NULL OR ltv > margin_call_ltv) AS above_margin,
           count(*) FILTER (WHERE ltv IS NULL OR ltv > liquidation_ltv) AS above_liquidation
    FROM lv GROUP BY 1, 2, 3),
total AS (SELECT round(coalesce(sum(value), 0), minor_units($2)) AS value,
                  round(coalesce(sum(outstanding), 0), minor_units($2)) AS outstanding FROM lg),
"
    };
}

/// The figures of the book's loans that [`FIGURES`] and [`STRESS`] both compute from `lg` and
/// `total` ([`lv_groups`]): counts, totals and weighted LTV (opening the answer's object),
macro_rules! lv_totals {
    () => {
        "SELECT jsonb_build_object(
  'active_loans', (SELECT coalesce(sum(loans) FILTER (WHERE status = 'active'), 0)::bigint FROM lg),
  'live_loans', (SELECT coalesce(sum(loans), 0)::bigint FROM lg),
  'by_status', (SELECT jsonb_agg(jsonb_build_object('status', s.status, 'loans', coalesce(x.loans, 0),
                   'outstanding_principal', round(coalesce(x.outstanding, 0), minor_units($2))::text) ORDER BY s.ord)
      FROM (VALUES (1, 'active'), (2, 'defaulted'), (3, 'liquidating')) s(ord, status)
      LEFT JOIN (SELECT status, sum(loans)::bigint AS loans, sum(outstanding) AS outstanding FROM lg GROUP BY status) x
        ON x.status = s.status),
  'outstanding_principal', (SELECT outstanding::text FROM total),
  'accrued_interest', (SELECT round_half_even(coalesce(sum(interest), 0), minor_units($2))::text FROM lg),
  'collateral_value', (SELECT value::text FROM total),
  'weighted_ltv', (SELECT CASE WHEN sum(value) > 0 THEN round_half_even(sum(outstanding + interest) / sum(value), 6)::text END FROM lg),
"
    };
}

/// … suppliers and LTV buckets,
macro_rules! lv_spreads {
    () => {
        "  'by_supplier', coalesce((SELECT jsonb_agg(g ORDER BY g.outstanding_principal::numeric DESC) FROM (
      SELECT lg.supplier_org_id, o.name AS supplier_name, sum(lg.loans)::bigint AS loans, sum(lg.outstanding)::text AS outstanding_principal,
             round_half_even(sum(lg.interest), minor_units($2))::text AS accrued_interest, sum(lg.value)::text AS collateral_value,
             CASE WHEN sum(lg.value) > 0 THEN round_half_even(sum(lg.outstanding + lg.interest) / sum(lg.value), 6)::text END AS weighted_ltv,
             CASE WHEN (SELECT outstanding FROM total) > 0 THEN round(sum(lg.outstanding) / (SELECT outstanding FROM total), 4)::text END AS share
      FROM lg JOIN orgs o ON o.id = lg.supplier_org_id GROUP BY lg.supplier_org_id, o.name) g), '[]'),
  'ltv_buckets', (SELECT jsonb_agg(jsonb_build_object('bucket', b.label, 'loans', coalesce(x.loans, 0),
                     'outstanding_principal', round(coalesce(x.outstanding, 0), minor_units($2))::text) ORDER BY b.ord)
      FROM (VALUES (1, 'up to 0.50'), (2, '0.50 to 0.65'), (3, '0.65 to 0.80'), (4, 'above 0.80'), (5, 'no collateral value')) b(ord, label)
      LEFT JOIN (SELECT ord, sum(loans)::bigint AS loans, sum(outstanding) AS outstanding FROM lg GROUP BY 1) x ON x.ord = b.ord),
"
    };
}

/// The loans above their margin-call LTV listed in an answer, as JSON text, from `bl` (their
/// `loan_id`, `supplier_org_id`, `status`, `outstanding`, `value`, `ltv`, `margin_call_ltv`,
/// `liquidation_ltv`, the value rounded as the answer shows it) and `o` (the supplier), highest
/// LTV first. Written as text and parsed once by the service ([`answer`]): built as `jsonb`
/// (`jsonb_agg` of the rows), the list of 500 loans took about half of the exposure read's
/// time in the database (docs/benchmarks.md, 2026-12-03). Money and ratios are strings, as
/// everywhere in the answer; the supplier's name is escaped by `to_json`.
macro_rules! breaching_json {
    () => {
        "coalesce('[' || string_agg(format(
          '{\"loan_id\":\"%s\",\"supplier_org_id\":\"%s\",\"supplier_name\":%s,\"status\":%s,\"outstanding_principal\":\"%s\",'
          '\"collateral_value\":\"%s\",\"ltv\":%s,\"margin_call_ltv\":\"%s\",\"liquidation_ltv\":\"%s\",\"above_liquidation_ltv\":%s}',
          bl.loan_id, bl.supplier_org_id, to_json(o.name), to_json(bl.status), bl.outstanding, bl.value,
          coalesce(to_json(bl.ltv::text)::text, 'null'), bl.margin_call_ltv, bl.liquidation_ltv,
          CASE WHEN bl.ltv IS NULL OR bl.ltv > bl.liquidation_ltv THEN 'true' ELSE 'false' END),
          ',' ORDER BY bl.ltv DESC NULLS FIRST, bl.loan_id) || ']', '[]')"
    };
}

/// … and the loans above their thresholds (closing the answer's object, whose
/// `breaching_loans` the service fills from the column `breaching` beside it): the 500 with
/// the highest LTV are chosen before their suppliers' names are joined to them.
macro_rules! lv_breaching {
    () => {
        concat!("  'loans_above_margin_call_ltv', (SELECT coalesce(sum(above_margin), 0)::bigint FROM lg),
  'loans_above_liquidation_ltv', (SELECT coalesce(sum(above_liquidation), 0)::bigint FROM lg),
  'breaching_loans', '[]'::jsonb
) AS figures,
(SELECT ", breaching_json!(), "
      FROM (SELECT lv.id AS loan_id, lv.supplier_org_id, lv.status, lv.outstanding, lv.value, lv.ltv, lv.margin_call_ltv,
                   lv.liquidation_ltv
            FROM lv WHERE ltv IS NULL OR ltv > margin_call_ltv
            ORDER BY ltv DESC NULLS FIRST, id LIMIT 500) bl
      JOIN orgs o ON o.id = bl.supplier_org_id) AS breaching
")
    };
}

/// Each commodity of the kept cells held (`held`, `dim` and `key`) with its latest price date
/// in the book's currency and whether it is stale (none in the 7 days before $3): `px`, for
/// [`STRESS`] and [`KEPT_LENDER`].
macro_rules! held_prices {
    () => {
        "px AS (
    SELECT held.key AS commodity_code, latest.as_of,
           (latest.as_of IS NULL OR (latest.as_of AT TIME ZONE 'UTC')::date < $3 - 7) AS stale
    FROM held
    LEFT JOIN LATERAL (SELECT max(as_of) AS as_of FROM prices
                       WHERE commodity_code = held.key AND currency = $2
                         AND as_of < ($3 + 1)::timestamp AT TIME ZONE 'UTC') latest ON true
    WHERE held.dim = 'commodity'),
"
    };
}

/// The book computed from every pledge, with the stress's price changes: the loans in the book
/// with their (stressed) collateral values, `lv` (one row per loan) and `pv` (one row per
/// pledge), then every figure. The pledges are summed once per loan, commodity and place
/// (`lcl`), which the per-loan, per-commodity and per-place figures share; counting distinct
/// loans by sorting every pledge cost seconds at a million pledges. A price change applies to
/// each such sum, rounded once (to each pledge for the figures of a few lots: expiring,
/// breached, overdue for inspection), as [`STRESS`] applies it. $1 lender (NULL: every lender), $2 currency, $3 business date,
/// $4 commodity codes and $5 price changes of a stress.
const FIGURES: &str = concat!("
WITH shock AS (SELECT * FROM unnest($4::text[], $5::numeric[]) AS s(commodity_code, change)),
live AS (
    SELECT ln.id, ln.supplier_org_id, ln.status, ln.outstanding_principal AS outstanding,
           ln.accrued_interest AS interest, f.advance_rate, f.margin_call_ltv, f.liquidation_ltv
    FROM loans ln JOIN facilities f ON f.id = ln.facility_id
    WHERE ln.status IN ('active', 'defaulted', 'liquidating') AND ln.currency = $2
      AND ($1::uuid IS NULL OR ln.lender_org_id = $1)),
pv AS (
    SELECT p.loan_id, p.lot_id, lot.commodity_code, exposure_location(lot.warehouse_id, lot.voyage_id) AS location,
           lot.warehouse_id, lot.expires_on, lot.warehouse_since, p.quantity, p.market_value, s.change,
           CASE WHEN s.change IS NULL THEN p.market_value
                ELSE round_half_even(p.market_value * (1 + s.change), minor_units($2)) END AS value
    FROM pledges p JOIN live ON live.id = p.loan_id JOIN lots lot ON lot.id = p.lot_id
    LEFT JOIN shock s ON s.commodity_code = lot.commodity_code
    WHERE p.quantity > 0),
lcl AS (
    SELECT loan_id, commodity_code, location, sum(quantity) AS quantity,
           CASE WHEN min(change) IS NULL THEN sum(market_value)
                ELSE round_half_even(sum(market_value) * (1 + min(change)), minor_units($2)) END AS value
    FROM pv GROUP BY 1, 2, 3),
lv AS (
    SELECT live.*, round(coalesce(v.value, 0), minor_units($2)) AS value,
           CASE WHEN coalesce(v.value, 0) > 0
                THEN round_half_even((live.outstanding + live.interest) / v.value, 6) END AS ltv
    FROM live LEFT JOIN (SELECT loan_id, sum(value) AS value FROM lcl GROUP BY loan_id) v ON v.loan_id = live.id),
", lv_groups!(), "px AS (
    SELECT c.commodity_code, latest.as_of,
           (latest.as_of IS NULL OR (latest.as_of AT TIME ZONE 'UTC')::date < $3 - 7) AS stale
    FROM (SELECT DISTINCT commodity_code FROM lcl) c
    LEFT JOIN LATERAL (SELECT max(as_of) AS as_of FROM prices
                       WHERE commodity_code = c.commodity_code AND currency = $2
                         AND as_of < ($3 + 1)::timestamp AT TIME ZONE 'UTC') latest ON true)
", lv_totals!(), "  'by_commodity', coalesce((SELECT jsonb_agg(g ORDER BY g.collateral_value::numeric DESC) FROM (
      SELECT lc.commodity_code, count(*) AS loans, sum(lc.quantity)::text AS quantity,
             sum(lc.value)::text AS collateral_value,
             CASE WHEN (SELECT value FROM total) > 0 THEN round(sum(lc.value) / (SELECT value FROM total), 4)::text END AS share,
             px.as_of AS price_as_of, px.stale AS price_stale
      FROM (SELECT loan_id, commodity_code, sum(quantity) AS quantity, sum(value) AS value FROM lcl GROUP BY 1, 2) lc
      JOIN px ON px.commodity_code = lc.commodity_code
      GROUP BY lc.commodity_code, px.as_of, px.stale) g), '[]'),
  'stale_prices', (SELECT jsonb_build_object('commodities', coalesce(jsonb_agg(DISTINCT pv.commodity_code), '[]'),
                       'lots', count(DISTINCT pv.lot_id), 'loans', count(DISTINCT pv.loan_id),
                       'collateral_value', (SELECT round(coalesce(sum(lcl.value), 0), minor_units($2))::text
                                            FROM lcl JOIN px ON px.commodity_code = lcl.commodity_code WHERE px.stale))
      FROM pv JOIN px ON px.commodity_code = pv.commodity_code WHERE px.stale),
  'by_location', coalesce((SELECT jsonb_agg(g ORDER BY g.collateral_value::numeric DESC) FROM (
      SELECT ll.warehouse_id, ll.voyage_id,
             CASE WHEN ll.voyage_id IS NOT NULL THEN 'voyage' ELSE 'warehouse' END AS kind,
             coalesce(w.name, vy.vessel_name) AS name, coalesce(w.address, vy.destination) AS place,
             count(*) AS loans, sum(ll.value)::text AS collateral_value,
             CASE WHEN (SELECT value FROM total) > 0 THEN round(sum(ll.value) / (SELECT value FROM total), 4)::text END AS share
      FROM (SELECT loan_id, CASE WHEN location LIKE 'w:%' THEN substr(location, 3)::uuid END AS warehouse_id,
                   CASE WHEN location LIKE 'v:%' THEN substr(location, 3)::uuid END AS voyage_id, sum(value) AS value
            FROM lcl GROUP BY 1, 2, 3) ll
      LEFT JOIN warehouses w ON w.id = ll.warehouse_id
      LEFT JOIN voyages vy ON vy.id = ll.voyage_id
      GROUP BY ll.warehouse_id, ll.voyage_id, w.name, w.address, vy.vessel_name, vy.destination) g), '[]'),
", lv_spreads!(), "  'expiring', jsonb_build_object(
      'within_7_days', (SELECT jsonb_build_object('lots', count(DISTINCT lot_id), 'collateral_value', round(coalesce(sum(value), 0), minor_units($2))::text) FROM pv WHERE expires_on <= $3 + 7),
      'within_30_days', (SELECT jsonb_build_object('lots', count(DISTINCT lot_id), 'collateral_value', round(coalesce(sum(value), 0), minor_units($2))::text) FROM pv WHERE expires_on <= $3 + 30)),
  'margin_calls', jsonb_build_object(
      'open', (SELECT count(*) FROM margin_calls mc JOIN lv ON lv.id = mc.loan_id WHERE mc.status = 'open'),
      'items', coalesce((SELECT jsonb_agg(m ORDER BY m.deadline, m.id) FROM (
          SELECT mc.id, mc.loan_id, mc.opened_on, mc.deadline, mc.ltv_at_open::text AS ltv_at_open, lv.ltv::text AS ltv
          FROM margin_calls mc JOIN lv ON lv.id = mc.loan_id WHERE mc.status = 'open'
          ORDER BY mc.deadline, mc.id LIMIT 100) m), '[]')),
  'breaches', coalesce((SELECT jsonb_agg(b ORDER BY b.started_at) FROM (
      SELECT br.id, br.warehouse_id, w.name AS warehouse_name, br.kind, br.started_at, br.ended_at,
             count(DISTINCT pv.lot_id) AS lots_affected, sum(pv.value)::text AS collateral_value
      FROM breaches br JOIN pv ON pv.warehouse_id = br.warehouse_id
       AND (br.ended_at IS NULL OR pv.warehouse_since IS NULL OR pv.warehouse_since < br.ended_at)
      JOIN warehouses w ON w.id = br.warehouse_id
      WHERE br.acknowledged_at IS NULL
        AND EXISTS (SELECT 1 FROM breaches ob WHERE ob.acknowledged_at IS NULL)
      GROUP BY br.id, w.name) b), '[]'),
  'inspection_overdue', (SELECT jsonb_build_object('lots', count(DISTINCT pv.lot_id), 'loans', count(DISTINCT pv.loan_id),
                       'collateral_value', round(coalesce(sum(pv.value), 0), minor_units($2))::text)
      FROM pv JOIN lots lot ON lot.id = pv.lot_id JOIN commodities c ON c.code = lot.commodity_code AND c.inspection_required
      WHERE lot.inspection_due_on < $3 AND lot.status IN ('in_custody', 'in_transit')),
", lv_breaching!(), "");

/// A stress from the kept figures: [`FIGURES`]'s answer with the price changes, without
/// reading every pledge. Each loan's goods are valued per commodity and place (`lcl`): a loan
/// whose goods are of one commodity in one place — most loans — is its kept value
/// (`exposure_loans`, with its commodity and place from `exposure_loan_parts`: `base`); only
/// the others are summed from their pledges (`spread`, by index, loan by loan). A price change
/// applies to each of those values, rounded once, as in [`FIGURES`]. Lot and loan counts and
/// quantities, which no price changes, come from the kept cells; the figures of a few lots
/// (expiring soon — `exposure_lots` by date —, in a breached warehouse, overdue for
/// inspection) from their pledges. $1 the book (a lender, or the nil UUID for every lender), $2 currency, $3 business
/// date, $4 commodity codes and $5 price changes.
const STRESS: &str = concat!("
WITH shock AS (SELECT * FROM unnest($4::text[], $5::numeric[]) AS s(commodity_code, change)),
parts AS (
    SELECT loan_id,
           count(*) FILTER (WHERE dim = 'commodity') AS commodities, min(key) FILTER (WHERE dim = 'commodity') AS commodity_code,
           count(*) FILTER (WHERE dim = 'location') AS places, min(key) FILTER (WHERE dim = 'location') AS location
    FROM exposure_loan_parts WHERE pledges > 0 GROUP BY loan_id),
base AS MATERIALIZED (
    SELECT el.loan_id AS id, el.supplier_org_id, el.status, el.outstanding, el.interest, el.margin_call_ltv,
           el.liquidation_ltv, el.call_id, el.call_deadline, pt.commodity_code, pt.location,
           coalesce(pt.commodities = 1 AND pt.places = 1, true) AS simple,
           CASE WHEN pt.loan_id IS NULL THEN 0
                WHEN pt.commodities = 1 AND pt.places = 1 THEN
                     CASE WHEN s.change IS NULL THEN el.value
                          ELSE round_half_even(el.value * (1 + s.change), minor_units($2)) END END AS value
    FROM exposure_loans el LEFT JOIN parts pt ON pt.loan_id = el.loan_id
    LEFT JOIN shock s ON s.commodity_code = pt.commodity_code
    WHERE el.currency = $2 AND ($1 = '00000000-0000-0000-0000-000000000000' OR el.lender_org_id = $1)),
spread AS MATERIALIZED (
    SELECT base.id AS loan_id, g.commodity_code, g.location,
           CASE WHEN s.change IS NULL THEN g.value
                ELSE round_half_even(g.value * (1 + s.change), minor_units($2)) END AS value
    FROM base CROSS JOIN LATERAL (
        SELECT lot.commodity_code, exposure_location(lot.warehouse_id, lot.voyage_id) AS location,
               sum(pl.market_value) AS value
        FROM pledges pl JOIN lots lot ON lot.id = pl.lot_id
        WHERE pl.loan_id = base.id AND pl.quantity > 0
        GROUP BY 1, 2) g
    LEFT JOIN shock s ON s.commodity_code = g.commodity_code
    WHERE NOT base.simple),
lcl AS (
    SELECT id AS loan_id, commodity_code, location, value FROM base WHERE simple AND commodity_code IS NOT NULL
    UNION ALL SELECT * FROM spread),
lcg AS MATERIALIZED (SELECT commodity_code, location, sum(value) AS value FROM lcl GROUP BY 1, 2),
lv AS MATERIALIZED (
    SELECT base.id, base.supplier_org_id, base.status, base.outstanding, base.interest, base.margin_call_ltv,
           base.liquidation_ltv, base.call_id, base.call_deadline, v.value,
           CASE WHEN v.value > 0 THEN round_half_even((base.outstanding + base.interest) / v.value, 6) END AS ltv
    FROM base LEFT JOIN (SELECT loan_id, sum(value) AS value FROM spread GROUP BY loan_id) sp ON sp.loan_id = base.id
    CROSS JOIN LATERAL (SELECT round(coalesce(base.value, sp.value, 0), minor_units($2)) AS value) v),
", lv_groups!(), "c AS (
    SELECT dim, key, sum(loans)::bigint AS loans, sum(lots)::bigint AS lots, sum(quantity) AS quantity
    FROM (SELECT dim, key, loans, lots, quantity FROM exposure_cells WHERE book = $1 AND currency = $2
          UNION ALL
          SELECT dim, key, loans, lots, quantity FROM exposure_cell_deltas WHERE book = $1 AND currency = $2) x
    WHERE dim IN ('commodity', 'location', 'expires')
    GROUP BY dim, key),
held AS (SELECT * FROM c WHERE dim = 'commodity' AND lots > 0),
", held_prices!(), "stale AS (SELECT held.* FROM held JOIN px ON px.commodity_code = held.key WHERE px.stale),
soon AS (
    SELECT el.lot_id, el.expires_on,
           CASE WHEN s.change IS NULL THEN pl.market_value
                ELSE round_half_even(pl.market_value * (1 + s.change), minor_units($2)) END AS value
    FROM exposure_lots el
    JOIN pledges pl ON pl.lot_id = el.lot_id AND pl.quantity > 0
    JOIN exposure_loans b ON b.loan_id = pl.loan_id AND b.currency = $2
     AND ($1 = '00000000-0000-0000-0000-000000000000' OR b.lender_org_id = $1)
    LEFT JOIN shock s ON s.commodity_code = el.commodity_code
    WHERE el.book = $1 AND el.currency = $2 AND el.expires_on <= $3 + 30 AND el.pledges > 0)
", lv_totals!(), "  'by_commodity', coalesce((SELECT jsonb_agg(g ORDER BY g.collateral_value::numeric DESC) FROM (
      SELECT lc.commodity_code, held.loans, held.quantity::text AS quantity, lc.value::text AS collateral_value,
             CASE WHEN (SELECT value FROM total) > 0 THEN round(lc.value / (SELECT value FROM total), 4)::text END AS share,
             px.as_of AS price_as_of, px.stale AS price_stale
      FROM (SELECT commodity_code, sum(value) AS value FROM lcg GROUP BY 1) lc
      JOIN px ON px.commodity_code = lc.commodity_code JOIN held ON held.key = lc.commodity_code) g), '[]'),
  'stale_prices', (SELECT jsonb_build_object('commodities', coalesce(jsonb_agg(DISTINCT key), '[]'),
                       'lots', coalesce(sum(lots), 0)::bigint,
                       'loans', CASE WHEN count(*) <= 1 THEN coalesce(sum(loans), 0)::bigint
                                ELSE (SELECT count(DISTINCT lcl.loan_id) FROM lcl WHERE lcl.commodity_code IN (SELECT key FROM stale)) END,
                       'collateral_value', (SELECT round(coalesce(sum(lcg.value), 0), minor_units($2))::text
                                            FROM lcg WHERE lcg.commodity_code IN (SELECT key FROM stale)))
      FROM stale),
  'by_location', coalesce((SELECT jsonb_agg(g ORDER BY g.collateral_value::numeric DESC) FROM (
      SELECT ll.warehouse_id, ll.voyage_id,
             CASE WHEN ll.voyage_id IS NOT NULL THEN 'voyage' ELSE 'warehouse' END AS kind,
             coalesce(w.name, vy.vessel_name) AS name, coalesce(w.address, vy.destination) AS place,
             p.loans, ll.value::text AS collateral_value,
             CASE WHEN (SELECT value FROM total) > 0 THEN round(ll.value / (SELECT value FROM total), 4)::text END AS share
      FROM (SELECT location, CASE WHEN location LIKE 'w:%' THEN substr(location, 3)::uuid END AS warehouse_id,
                   CASE WHEN location LIKE 'v:%' THEN substr(location, 3)::uuid END AS voyage_id, sum(value) AS value
            FROM lcg GROUP BY 1) ll
      JOIN c p ON p.dim = 'location' AND p.key = ll.location
      LEFT JOIN warehouses w ON w.id = ll.warehouse_id
      LEFT JOIN voyages vy ON vy.id = ll.voyage_id) g), '[]'),
", lv_spreads!(), "  'expiring', jsonb_build_object(
      'within_7_days', jsonb_build_object(
          'lots', (SELECT coalesce(sum(lots), 0)::bigint FROM c WHERE dim = 'expires' AND lots > 0 AND key::date <= $3 + 7),
          'collateral_value', (SELECT round(coalesce(sum(value), 0), minor_units($2))::text FROM soon WHERE expires_on <= $3 + 7)),
      'within_30_days', jsonb_build_object(
          'lots', (SELECT coalesce(sum(lots), 0)::bigint FROM c WHERE dim = 'expires' AND lots > 0 AND key::date <= $3 + 30),
          'collateral_value', (SELECT round(coalesce(sum(value), 0), minor_units($2))::text FROM soon))),
  'margin_calls', jsonb_build_object(
      'open', (SELECT count(*) FROM lv WHERE call_id IS NOT NULL),
      'items', coalesce((SELECT jsonb_agg(m ORDER BY m.deadline, m.id) FROM (
          SELECT mc.id, mc.loan_id, mc.opened_on, mc.deadline, mc.ltv_at_open::text AS ltv_at_open, lv.ltv::text AS ltv
          FROM (SELECT * FROM lv WHERE call_id IS NOT NULL ORDER BY call_deadline, call_id LIMIT 100) lv
          JOIN margin_calls mc ON mc.id = lv.call_id) m), '[]')),
  'breaches', coalesce((SELECT jsonb_agg(b ORDER BY b.started_at) FROM (
      SELECT br.id, br.warehouse_id, w.name AS warehouse_name, br.kind, br.started_at, br.ended_at,
             count(DISTINCT lot.id) AS lots_affected,
             sum(CASE WHEN s.change IS NULL THEN pl.market_value
                      ELSE round_half_even(pl.market_value * (1 + s.change), minor_units($2)) END)::text AS collateral_value
      FROM breaches br JOIN warehouses w ON w.id = br.warehouse_id
      JOIN lots lot ON lot.warehouse_id = br.warehouse_id
       AND (br.ended_at IS NULL OR lot.warehouse_since IS NULL OR lot.warehouse_since < br.ended_at)
      JOIN pledges pl ON pl.lot_id = lot.id AND pl.quantity > 0
      JOIN exposure_loans b ON b.loan_id = pl.loan_id AND b.currency = $2
       AND ($1 = '00000000-0000-0000-0000-000000000000' OR b.lender_org_id = $1)
      LEFT JOIN shock s ON s.commodity_code = lot.commodity_code
      WHERE br.acknowledged_at IS NULL
      GROUP BY br.id, w.name) b), '[]'),
  'inspection_overdue', (SELECT jsonb_build_object('lots', count(DISTINCT lot.id), 'loans', count(DISTINCT pl.loan_id),
                       'collateral_value', round(coalesce(sum(CASE WHEN s.change IS NULL THEN pl.market_value
                            ELSE round_half_even(pl.market_value * (1 + s.change), minor_units($2)) END), 0), minor_units($2))::text)
      FROM lots lot JOIN commodities c ON c.code = lot.commodity_code AND c.inspection_required
      JOIN pledges pl ON pl.lot_id = lot.id AND pl.quantity > 0
      JOIN exposure_loans b ON b.loan_id = pl.loan_id
      LEFT JOIN shock s ON s.commodity_code = lot.commodity_code
      WHERE lot.inspection_due_on < $3 AND lot.status IN ('in_custody', 'in_transit')
        AND b.currency = $2 AND ($1 = '00000000-0000-0000-0000-000000000000' OR b.lender_org_id = $1)),
", lv_breaching!(), "");

/// The book from the kept figures, `$book` the condition on a loan `bl` of `exposure_loans`
/// that puts it in the book. $1 the book (a lender, or the nil UUID for every lender), $2
/// currency, $3 business date. Every figure is formatted as [`FIGURES`] formats it.
///
/// Two texts, one for a lender's book and one for every lender's ([`KEPT_LENDER`],
/// [`KEPT_ALL`]), so that each can be planned once for any book: a condition such as
/// `$1 = <nil> OR bl.lender_org_id = $1` is only simplified in a plan made for the value.
/// Planning the statement for each read took 3 ms (about 60% of the database's time for a
/// read; see [`book`]). For the same reason the book's pledges are found by probing their
/// loan (`in_book!`), not by a join that a plan made for any lender may make by hashing every
/// loan of the book.
///
/// The lists (the loans above their margin-call LTV, the open margin calls) are read lender by
/// lender, `$lenders` the book's lenders, each from its lender's index, and merged: a single
/// list of every lender's loans had an index of its own, which the generic plan of a lender's
/// book also chose, with two lenders, filtering out the other lender's loans as it walked it
/// (a book of 10,000 loans beside one of 100,000: 5 ms of its 11 ms read). Migration 000025
/// dropped those every-lender indexes.
macro_rules! kept {
    ($book:literal, $lenders:literal) => { concat!("
WITH c AS (
    SELECT dim, key, sum(loans)::bigint AS loans, sum(lots)::bigint AS lots, sum(quantity) AS quantity,
           sum(value) AS value, sum(outstanding) AS outstanding, sum(interest) AS interest,
           sum(above_margin)::bigint AS above_margin, sum(above_liquidation)::bigint AS above_liquidation,
           sum(margin_calls)::bigint AS margin_calls
    FROM (SELECT dim, key, loans, lots, quantity, value, outstanding, interest, above_margin, above_liquidation,
                 margin_calls
          FROM exposure_cells WHERE book = $1 AND currency = $2
          UNION ALL
          SELECT dim, key, loans, lots, quantity, value, outstanding, interest, above_margin, above_liquidation,
                 margin_calls
          FROM exposure_cell_deltas WHERE book = $1 AND currency = $2) x
    GROUP BY dim, key),
total AS (
    SELECT coalesce(sum(loans), 0)::bigint AS loans, coalesce(sum(value), 0) AS raw_value,
           round(coalesce(sum(value), 0), minor_units($2)) AS value,
           coalesce(sum(outstanding), 0) AS raw_outstanding,
           round(coalesce(sum(outstanding), 0), minor_units($2)) AS outstanding,
           coalesce(sum(interest), 0) AS interest,
           coalesce(sum(above_margin), 0)::bigint AS above_margin,
           coalesce(sum(above_liquidation), 0)::bigint AS above_liquidation,
           coalesce(sum(margin_calls), 0)::bigint AS margin_calls
    FROM c WHERE dim = 'total'),
held AS (SELECT * FROM c WHERE dim IN ('commodity', 'location') AND lots > 0),
", held_prices!(), "stale AS (SELECT held.* FROM held JOIN px ON px.commodity_code = held.key WHERE held.dim = 'commodity' AND px.stale),
places AS (
    SELECT held.*, CASE WHEN held.key LIKE 'w:%' THEN substr(held.key, 3)::uuid END AS warehouse_id,
           CASE WHEN held.key LIKE 'v:%' THEN substr(held.key, 3)::uuid END AS voyage_id
    FROM held WHERE held.dim = 'location')
SELECT jsonb_build_object(
  'active_loans', coalesce((SELECT loans FROM c WHERE dim = 'status' AND key = 'active'), 0),
  'live_loans', (SELECT loans FROM total),
  'by_status', (SELECT jsonb_agg(jsonb_build_object('status', s.status, 'loans', coalesce(x.loans, 0),
                   'outstanding_principal', round(coalesce(x.outstanding, 0), minor_units($2))::text) ORDER BY s.ord)
      FROM (VALUES (1, 'active'), (2, 'defaulted'), (3, 'liquidating')) s(ord, status)
      LEFT JOIN c x ON x.dim = 'status' AND x.key = s.status),
  'outstanding_principal', (SELECT outstanding::text FROM total),
  'accrued_interest', (SELECT round_half_even(interest, minor_units($2))::text FROM total),
  'collateral_value', (SELECT value::text FROM total),
  'weighted_ltv', (SELECT CASE WHEN raw_value > 0 THEN round_half_even((raw_outstanding + interest) / raw_value, 6)::text END FROM total),
  'by_commodity', coalesce((SELECT jsonb_agg(g ORDER BY g.collateral_value::numeric DESC) FROM (
      SELECT held.key AS commodity_code, held.loans, held.quantity::text AS quantity, held.value::text AS collateral_value,
             CASE WHEN (SELECT value FROM total) > 0 THEN round(held.value / (SELECT value FROM total), 4)::text END AS share,
             px.as_of AS price_as_of, px.stale AS price_stale
      FROM held JOIN px ON px.commodity_code = held.key WHERE held.dim = 'commodity') g), '[]'),
  'stale_prices', (SELECT jsonb_build_object('commodities', coalesce(jsonb_agg(DISTINCT key), '[]'),
                       'lots', coalesce(sum(lots), 0)::bigint,
                       'loans', CASE WHEN count(*) <= 1 THEN coalesce(sum(loans), 0)::bigint
                                ELSE (SELECT count(DISTINCT lp.loan_id) FROM exposure_loan_parts lp
                                      WHERE lp.dim = 'commodity' AND lp.key IN (SELECT key FROM stale)
                                        AND EXISTS (", in_book!("lp", $book), ")) END,
                       'collateral_value', round(coalesce(sum(value), 0), minor_units($2))::text)
      FROM stale),
  'by_location', coalesce((SELECT jsonb_agg(g ORDER BY g.collateral_value::numeric DESC) FROM (
      SELECT p.warehouse_id, p.voyage_id, CASE WHEN p.voyage_id IS NOT NULL THEN 'voyage' ELSE 'warehouse' END AS kind,
             coalesce(w.name, vy.vessel_name) AS name, coalesce(w.address, vy.destination) AS place,
             p.loans, p.value::text AS collateral_value,
             CASE WHEN (SELECT value FROM total) > 0 THEN round(p.value / (SELECT value FROM total), 4)::text END AS share
      FROM places p LEFT JOIN warehouses w ON w.id = p.warehouse_id
      LEFT JOIN voyages vy ON vy.id = p.voyage_id) g), '[]'),
  'by_supplier', coalesce((SELECT jsonb_agg(g ORDER BY g.outstanding_principal::numeric DESC) FROM (
      SELECT x.key::uuid AS supplier_org_id, o.name AS supplier_name, x.loans, x.outstanding::text AS outstanding_principal,
             round_half_even(x.interest, minor_units($2))::text AS accrued_interest,
             round(x.value, minor_units($2))::text AS collateral_value,
             CASE WHEN x.value > 0 THEN round_half_even((x.outstanding + x.interest) / x.value, 6)::text END AS weighted_ltv,
             CASE WHEN (SELECT outstanding FROM total) > 0 THEN round(x.outstanding / (SELECT outstanding FROM total), 4)::text END AS share
      FROM c x JOIN orgs o ON o.id = x.key::uuid WHERE x.dim = 'supplier' AND x.loans > 0) g), '[]'),
  'ltv_buckets', (SELECT jsonb_agg(jsonb_build_object('bucket', b.label, 'loans', coalesce(x.loans, 0),
                     'outstanding_principal', round(coalesce(x.outstanding, 0), minor_units($2))::text) ORDER BY b.ord)
      FROM (VALUES (1, 'up to 0.50'), (2, '0.50 to 0.65'), (3, '0.65 to 0.80'), (4, 'above 0.80'), (5, 'no collateral value')) b(ord, label)
      LEFT JOIN c x ON x.dim = 'bucket' AND x.key = b.ord::text),
  'expiring', (SELECT jsonb_build_object(
      'within_7_days', jsonb_build_object('lots', coalesce(sum(lots) FILTER (WHERE key::date <= $3 + 7), 0)::bigint,
          'collateral_value', round(coalesce(sum(value) FILTER (WHERE key::date <= $3 + 7), 0), minor_units($2))::text),
      'within_30_days', jsonb_build_object('lots', coalesce(sum(lots) FILTER (WHERE key::date <= $3 + 30), 0)::bigint,
          'collateral_value', round(coalesce(sum(value) FILTER (WHERE key::date <= $3 + 30), 0), minor_units($2))::text))
      FROM c WHERE dim = 'expires' AND lots > 0),
  'margin_calls', jsonb_build_object(
      'open', (SELECT margin_calls FROM total),
      'items', coalesce((SELECT jsonb_agg(m ORDER BY m.deadline, m.id) FROM (
          SELECT mc.id, mc.loan_id, mc.opened_on, mc.deadline, mc.ltv_at_open::text AS ltv_at_open, bl.ltv::text AS ltv
          FROM (SELECT x.* FROM (", $lenders, ") f CROSS JOIN LATERAL (
                    SELECT * FROM exposure_loans bl
                    WHERE bl.call_id IS NOT NULL AND bl.currency = $2 AND bl.lender_org_id = f.lender_org_id
                    ORDER BY bl.call_deadline, bl.call_id LIMIT 100) x
                ORDER BY x.call_deadline, x.call_id LIMIT 100) bl
          JOIN margin_calls mc ON mc.id = bl.call_id) m), '[]')),
  'breaches', coalesce((SELECT jsonb_agg(b ORDER BY b.started_at) FROM (
      SELECT br.id, br.warehouse_id, w.name AS warehouse_name, br.kind, br.started_at, br.ended_at,
             p.lots - coalesce(late.lots, 0) AS lots_affected, (p.value - coalesce(late.value, 0))::text AS collateral_value
      FROM breaches br JOIN places p ON p.warehouse_id = br.warehouse_id
      JOIN warehouses w ON w.id = br.warehouse_id
      LEFT JOIN LATERAL (
          SELECT count(DISTINCT lot.id) AS lots, sum(pl.market_value) AS value
          FROM lots lot JOIN pledges pl ON pl.lot_id = lot.id AND pl.quantity > 0
          WHERE br.ended_at IS NOT NULL AND lot.warehouse_id = br.warehouse_id AND lot.voyage_id IS NULL
            AND lot.warehouse_since >= br.ended_at AND EXISTS (", in_book!("pl", $book), ")) late ON true
      WHERE br.acknowledged_at IS NULL AND p.lots > coalesce(late.lots, 0)) b), '[]'),
  'inspection_overdue', (SELECT jsonb_build_object('lots', count(DISTINCT lot.id), 'loans', count(DISTINCT pl.loan_id),
                       'collateral_value', round(coalesce(sum(pl.market_value), 0), minor_units($2))::text)
      FROM lots lot JOIN commodities c ON c.code = lot.commodity_code AND c.inspection_required
      JOIN pledges pl ON pl.lot_id = lot.id AND pl.quantity > 0
      WHERE lot.inspection_due_on < $3 AND lot.status IN ('in_custody', 'in_transit')
        AND EXISTS (", in_book!("pl", $book), ")),
  'loans_above_margin_call_ltv', (SELECT above_margin FROM total),
  'loans_above_liquidation_ltv', (SELECT above_liquidation FROM total),
  'breaching_loans', '[]'::jsonb
) AS figures,
(SELECT ", breaching_json!(), "
      FROM (SELECT x.loan_id, x.supplier_org_id, x.status, x.outstanding, round(x.value, minor_units($2)) AS value, x.ltv,
                   x.margin_call_ltv, x.liquidation_ltv
            FROM (", $lenders, ") f CROSS JOIN LATERAL (
                SELECT * FROM exposure_loans bl
                WHERE bl.currency = $2 AND bl.lender_org_id = f.lender_org_id
                  AND (bl.ltv IS NULL OR bl.ltv > bl.margin_call_ltv)
                ORDER BY bl.ltv DESC NULLS FIRST, bl.loan_id LIMIT 500) x
            ORDER BY x.ltv DESC NULLS FIRST, x.loan_id LIMIT 500) bl
      JOIN orgs o ON o.id = bl.supplier_org_id) AS breaching
")
    };
}

/// Whether the pledge or loan part `$of` (by its `loan_id`) is of a loan in the book: a probe
/// of the loan by its key, which `OFFSET 0` keeps a probe rather than a join.
macro_rules! in_book {
    ($of:literal, $book:literal) => {
        concat!(
            "SELECT 1 FROM exposure_loans bl WHERE bl.loan_id = ",
            $of,
            ".loan_id AND bl.currency = $2 AND ",
            $book,
            " OFFSET 0"
        )
    };
}

/// A lender's book ($1), planned once for every lender.
const KEPT_LENDER: &str = kept!("bl.lender_org_id = $1", "SELECT $1::uuid AS lender_org_id");

/// Every lender's book ($1 the nil UUID): its lists merged from each lender's.
const KEPT_ALL: &str = kept!(
    "true",
    "SELECT DISTINCT lender_org_id FROM facilities WHERE currency = $2"
);

/// Readies a connection for the first `GET /v1/exposure` after the server starts: its
/// statements run once, for an empty book (a lender's and every lender's, in `XXX`, the code
/// for no currency), so that they are prepared and planned and the backend has read the
/// tables, indexes and functions they use. Without it the first read after a start took
/// 19–43 ms, the next ones 6–9 ms (the revaluation bench, 2026-12-02). Any currency answer
/// will do: only the statements are wanted.
pub async fn warm(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    let _any = currency_of(conn, None, None).await;
    let today = business_date(conn).await?;
    for book in [Some(EVERY_LENDER), None] {
        kept(conn, book, "XXX", today).await?;
    }
    Ok(())
}

/// The book `lender` (None: every lender's) in `currency` on `today`, from the kept figures.
///
/// Under the statement's generic plan, made once per connection (`plan_cache_mode`, for this
/// transaction only): the plan does not depend on the book, the currency or the date, and
/// PostgreSQL would otherwise plan the statement anew on each read, because its estimate of
/// the generic plan's cost, for a book of unknown size, is above that of the plans it makes
/// for each value. Planning took 3 ms a read; the read's own statements take about 2 ms
/// (`BENCH_PROFILE=1` on the revaluation bench). A plan made once lives until the tables'
/// statistics change (ANALYZE, as autovacuum does when a table grows), when it is made again.
async fn kept(
    conn: &mut AsyncPgConnection,
    lender: Option<Uuid>,
    currency: &str,
    today: NaiveDate,
) -> diesel::QueryResult<Figures> {
    use diesel_async::AsyncConnection;
    let text = if lender.is_some() {
        KEPT_LENDER
    } else {
        KEPT_ALL
    };
    conn.transaction(async |conn| {
        prepared("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
            .execute(conn)
            .await?;
        prepared(text)
            .bind::<SqlUuid, _>(lender.unwrap_or(EVERY_LENDER))
            .bind::<Text, _>(currency)
            .bind::<Date, _>(today)
            .get_result(conn)
            .await
    })
    .await
}

/// The book of every lender together, in the kept figures.
const EVERY_LENDER: Uuid = Uuid::nil();

#[derive(diesel::QueryableByName)]
struct Figures {
    #[diesel(sql_type = Jsonb)]
    figures: Value,
    /// `breaching_loans`, as JSON text ([`breaching_json`]).
    #[diesel(sql_type = Text)]
    breaching: String,
}

#[derive(diesel::QueryableByName)]
struct CurrencyRow {
    #[diesel(sql_type = Text)]
    currency: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExposureQuery {
    /// The book's currency; needed only when it lends in more than one.
    #[param(pattern = r"^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// Platform only: one lender's book (default: every lender's).
    pub lender_org_id: Option<Uuid>,
}

/// Price changes per commodity, as fractions: `-0.30` is a 30 % fall. The book is chosen as
/// for `GET /v1/exposure`, by the query's `currency` and `lender_org_id`. A change applies to
/// what each loan holds of the commodity in one place (warehouse or voyage), rounded once to
/// the currency's minor unit; for the lots expiring, breached or overdue, to each pledge.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StressRequest {
    #[schema(min_items = 1, max_items = 100)]
    pub shocks: Vec<Shock>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shock {
    #[schema(pattern = r"^[A-Z][A-Z0-9_]{1,31}$")]
    pub commodity_code: String,
    pub price_change: PriceChange,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Exposure {
    #[serde(default)]
    pub as_of: Option<NaiveDate>,
    #[serde(default)]
    pub lender_org_id: Option<Uuid>,
    #[serde(default)]
    pub currency: Option<String>,
    /// Loans in status `active` (disbursed, not repaid, not in default).
    pub active_loans: i64,
    /// Every loan with money out: `active`, `defaulted` and `liquidating`.
    #[serde(default)]
    pub live_loans: i64,
    /// Loans and outstanding principal by status: `active`, `defaulted`, `liquidating`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub by_status: Value,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub outstanding_principal: Money,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub accrued_interest: Money,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub collateral_value: Money,
    /// (outstanding principal + accrued interest) / collateral value over the whole book.
    #[serde(with = "crate::domain::decimal::plain_option")]
    #[schema(value_type = Option<String>)]
    pub weighted_ltv: Option<Decimal>,
    /// With each commodity's latest price date in the book's currency (`price_as_of`) and
    /// whether it is stale (`price_stale`: none in the 7 days before the business date).
    #[schema(value_type = Vec<Object>)]
    pub by_commodity: Value,
    /// The pledged goods valued on a stale price: their commodities, lots, loans and value.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub stale_prices: Value,
    /// By warehouse (goods in custody) or voyage (goods in transit), with its `kind`, `name`
    /// (warehouse, or vessel) and `place` (address, or destination).
    #[schema(value_type = Vec<Object>)]
    pub by_location: Value,
    #[schema(value_type = Vec<Object>)]
    pub by_supplier: Value,
    #[schema(value_type = Vec<Object>)]
    pub ltv_buckets: Value,
    /// Pledged lots expiring within 7 and 30 days of the business date.
    #[schema(value_type = Object)]
    pub expiring: Value,
    /// Open margin calls: how many, and the first 100 by deadline.
    #[schema(value_type = Object)]
    pub margin_calls: Value,
    /// Unacknowledged temperature breaches in warehouses holding pledged goods.
    #[schema(value_type = Vec<Object>)]
    pub breaches: Value,
    /// Pledged lots whose required inspection is overdue (or that were never inspected after
    /// their day of intake): `{lots, loans, collateral_value}`.
    #[schema(value_type = Object)]
    pub inspection_overdue: Value,
    pub loans_above_margin_call_ltv: i64,
    pub loans_above_liquidation_ltv: i64,
    /// Loans above their margin-call LTV (first 500, highest LTV first).
    #[schema(value_type = Vec<Object>)]
    pub breaching_loans: Value,
    /// The shocks applied (stress only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shocks: Option<Vec<Shock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computed_at: Option<DateTime<Utc>>,
}

/// The lender whose book the caller reads: its own, or any (or all) for the platform.
fn book_of(principal: &Principal, asked: Option<Uuid>) -> ApiResult<Option<Uuid>> {
    match (principal.kind, asked) {
        (OrgKind::Platform, asked) => Ok(asked),
        (OrgKind::Lender, None) => Ok(Some(principal.org_id)),
        (OrgKind::Lender, Some(org)) if org == principal.org_id => Ok(Some(org)),
        _ => Err(ApiError::invalid(
            "lender_org_id",
            "a lender reads only its own book",
        )),
    }
}

/// The currency of the book: the one asked for, or the only one it lends in.
async fn currency_of(
    conn: &mut AsyncPgConnection,
    lender: Option<Uuid>,
    asked: Option<String>,
) -> ApiResult<String> {
    if let Some(currency) = asked {
        return crate::http::validate::currency("currency", &currency);
    }
    let rows: Vec<CurrencyRow> = prepared(
        "SELECT DISTINCT currency FROM facilities WHERE $1::uuid IS NULL OR lender_org_id = $1 ORDER BY currency",
    )
    .bind::<Nullable<SqlUuid>, _>(lender)
    .load(conn)
    .await?;
    match rows.as_slice() {
        [] => Ok("CNY".to_owned()),
        [only] => Ok(only.currency.clone()),
        many => Err(ApiError::invalid(
            "currency",
            format!(
                "the book lends in {}: choose one",
                many.iter()
                    .map(|r| r.currency.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The book computed from the pledges, with the stress's price changes (none: today's book).
async fn figures(
    conn: &mut AsyncPgConnection,
    lender: Option<Uuid>,
    currency: String,
    shocks: &[Shock],
) -> ApiResult<Exposure> {
    let today = business_date(conn).await?;
    let (codes, changes) = shock_columns(shocks);
    let row: Figures = diesel::sql_query(FIGURES)
        .bind::<Nullable<SqlUuid>, _>(lender)
        .bind::<Text, _>(&currency)
        .bind::<Date, _>(today)
        .bind::<Array<Text>, _>(&codes)
        .bind::<Array<Numeric>, _>(&changes)
        .get_result(conn)
        .await?;
    answer(row, today, lender, currency)
}

fn answer(
    row: Figures,
    today: NaiveDate,
    lender: Option<Uuid>,
    currency: String,
) -> ApiResult<Exposure> {
    let mut exposure: Exposure = serde_json::from_value(row.figures).map_err(ApiError::internal)?;
    exposure.breaching_loans = serde_json::from_str(&row.breaching).map_err(ApiError::internal)?;
    exposure.as_of = Some(today);
    exposure.lender_org_id = lender;
    exposure.currency = Some(currency);
    exposure.computed_at = Some(Utc::now());
    Ok(exposure)
}

/// The lender's book today: loans, outstanding, interest, collateral, LTV, concentrations,
/// LTV buckets, expiring collateral, margin calls and breaches touching the collateral — from
/// the kept figures.
pub async fn book(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: ExposureQuery,
) -> ApiResult<Exposure> {
    let lender = book_of(principal, query.lender_org_id)?;
    let currency = currency_of(conn, lender, query.currency).await?;
    let today = business_date(conn).await?;
    let row = kept(conn, lender, &currency, today).await?;
    answer(row, today, lender, currency)
}

/// The same answer as [`book`], computed from every pledge of the book: what the kept figures
/// must always equal.
pub async fn from_scratch(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: ExposureQuery,
) -> ApiResult<Exposure> {
    let lender = book_of(principal, query.lender_org_id)?;
    let currency = currency_of(conn, lender, query.currency).await?;
    figures(conn, lender, currency, &[]).await
}

#[derive(diesel::QueryableByName)]
struct Folded {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    folded: i64,
}

/// Folds the deltas appended since the last fold into the kept cells (at most `batch`);
/// answers how many. The background loop runs it every second.
pub async fn compact(conn: &mut AsyncPgConnection, batch: i32) -> diesel::QueryResult<i64> {
    let row: Folded = prepared("SELECT exposure_compact($1) AS folded")
        .bind::<diesel::sql_types::Integer, _>(batch)
        .get_result(conn)
        .await?;
    Ok(row.folded)
}

/// Each price change is a fraction from -1 to 10, each commodity once.
pub fn check_shocks(shocks: &[Shock]) -> ApiResult<()> {
    if shocks.is_empty() {
        return Err(ApiError::invalid(
            "shocks",
            "give at least one price change",
        ));
    }
    if shocks.len() > 100 {
        return Err(ApiError::invalid("shocks", "at most 100 price changes"));
    }
    for (i, shock) in shocks.iter().enumerate() {
        crate::http::validate::commodity_code(
            &format!("shocks[{i}].commodity_code"),
            &shock.commodity_code,
        )?;
        if shock.price_change.value() < Decimal::NEGATIVE_ONE
            || shock.price_change.value() > Decimal::from(10)
        {
            return Err(ApiError::invalid(
                &format!("shocks[{i}].price_change"),
                "a price change is a fraction from -1 (prices fall to zero) to 10",
            ));
        }
        if shocks[..i]
            .iter()
            .any(|s| s.commodity_code == shock.commodity_code)
        {
            return Err(ApiError::invalid(
                &format!("shocks[{i}].commodity_code"),
                "each commodity appears once",
            ));
        }
    }
    Ok(())
}

/// What-if: the book's figures after the (checked) price changes. Nothing is written.
pub async fn stress(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: ExposureQuery,
    request: StressRequest,
) -> ApiResult<Exposure> {
    let lender = book_of(principal, query.lender_org_id)?;
    let currency = currency_of(conn, lender, query.currency).await?;
    let today = business_date(conn).await?;
    let (codes, changes) = shock_columns(&request.shocks);
    let row: Figures = diesel::sql_query(STRESS)
        .bind::<SqlUuid, _>(lender.unwrap_or(EVERY_LENDER))
        .bind::<Text, _>(&currency)
        .bind::<Date, _>(today)
        .bind::<Array<Text>, _>(codes)
        .bind::<Array<Numeric>, _>(changes)
        .get_result(conn)
        .await?;
    let mut exposure = answer(row, today, lender, currency)?;
    exposure.shocks = Some(request.shocks);
    Ok(exposure)
}

/// The same answer as [`stress`], computed from every pledge of the book: what the stress
/// from the kept figures must always equal.
pub async fn stress_from_scratch(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: ExposureQuery,
    request: StressRequest,
) -> ApiResult<Exposure> {
    check_shocks(&request.shocks)?;
    let lender = book_of(principal, query.lender_org_id)?;
    let currency = currency_of(conn, lender, query.currency).await?;
    let mut exposure = figures(conn, lender, currency, &request.shocks).await?;
    exposure.shocks = Some(request.shocks);
    Ok(exposure)
}

/// A stress's commodity codes and price changes, as the two arrays its statements take.
fn shock_columns(shocks: &[Shock]) -> (Vec<String>, Vec<Decimal>) {
    shocks
        .iter()
        .map(|s| (s.commodity_code.clone(), s.price_change.value()))
        .unzip()
}

#[derive(diesel::QueryableByName)]
struct CsvLine {
    #[diesel(sql_type = Text)]
    line: String,
}

const CSV_HEADER: &str = "loan_id,supplier_org_id,supplier_name,status,outstanding_principal,accrued_interest,collateral_value,ltv,margin_call_ltv,liquidation_ltv,margin_call_deadline\n";

const CSV_LINES: &str = "SELECT concat_ws(',', el.loan_id, el.supplier_org_id, \
         '\"' || replace(CASE WHEN left(o.name, 1) IN ('=', '+', '-', '@') THEN '''' || o.name ELSE o.name END, '\"', '\"\"') || '\"', \
         el.status, el.outstanding, round_half_even(el.interest, minor_units($2)), round(el.value, minor_units($2)), \
         coalesce(el.ltv::text, ''), el.margin_call_ltv, el.liquidation_ltv, coalesce(mc.deadline::text, '')) AS line \
     FROM exposure_loans el JOIN orgs o ON o.id = el.supplier_org_id \
     LEFT JOIN margin_calls mc ON mc.loan_id = el.loan_id AND mc.status = 'open' \
     WHERE el.currency = $2 AND ($1 = '00000000-0000-0000-0000-000000000000' OR el.lender_org_id = $1) \
     ORDER BY el.ltv DESC NULLS FIRST, el.loan_id";

/// The book as a CSV file, one loan per line.
pub struct Csv {
    pub file_name: String,
    pub body: String,
}

/// The book as CSV, one loan per line, for a risk officer's spreadsheet.
pub async fn csv(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: ExposureQuery,
) -> ApiResult<Csv> {
    let lender = book_of(principal, query.lender_org_id)?;
    let currency = currency_of(conn, lender, query.currency).await?;
    let today = business_date(conn).await?;
    let lines: Vec<CsvLine> = prepared(CSV_LINES)
        .bind::<SqlUuid, _>(lender.unwrap_or(EVERY_LENDER))
        .bind::<Text, _>(&currency)
        .load(conn)
        .await?;
    let mut body = String::with_capacity(CSV_HEADER.len() + lines.len() * 160);
    body.push_str(CSV_HEADER);
    for line in lines {
        body.push_str(&line.line);
        body.push('\n');
    }
    Ok(Csv {
        file_name: format!("exposure-{currency}-{today}.csv"),
        body,
    })
}
