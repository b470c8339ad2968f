-- Room on every page of the pledges and the loans for a new version of each of its rows, so that
-- a revaluation, which rewrites every live pledge's value and every live loan's value and LTV,
-- writes each new version beside the old one (a HOT update: no column it changes is in an index)
-- instead of on another page with a new entry in each of the table's indexes. Packed full, as
-- before, no page had room: of 8,000,000 pledge updates in the revaluation bench 477 were HOT,
-- and every revaluation added two index entries per pledge and six per loan. At 50% the tables
-- take twice the pages (a million pledges: 178 MB), which a statement reading either whole (the
-- revaluation, the daily close, the from-scratch check) reads; at a million pledges the
-- revaluation's scan of them took 0.2 s, the index entries it no longer writes about half of its
-- 30 s (docs/benchmarks.md, 2026-12-03, sixth session). The old versions a revaluation
-- leaves are pruned from a page the next time it is read once nothing can see them, which frees
-- the room for the next one.
--
-- The setting applies to pages as they are filled from now on: an existing database's packed
-- pages empty as their rows move (each update that does not fit goes to a page filled to 50%), or
-- at once with `VACUUM FULL pledges, loans`.
ALTER TABLE pledges SET (fillfactor = 50);
ALTER TABLE loans SET (fillfactor = 50);
