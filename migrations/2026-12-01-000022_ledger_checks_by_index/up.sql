-- The ledger's commit-time checks read one entry's lines. Each runs in PL/pgSQL, which keeps a
-- generic plan per session; a plan made while `journal_lines` was small (a new database, the
-- first minutes of a deployment) scans the whole table, and stays until the next ANALYZE. At
-- ten lines a settlement that cost 0.26 ms a check on a ledger of a few thousand lines and
-- grows with it. With sequential scans off inside these two functions only, the plan reads the
-- entry's lines by `journal_lines_entry_idx` whatever the statistics say.
ALTER FUNCTION journal_entry_balances() SET enable_seqscan = off;
ALTER FUNCTION journal_entry_has_lines() SET enable_seqscan = off;
