ALTER FUNCTION journal_entry_balances() RESET enable_seqscan;
ALTER FUNCTION journal_entry_has_lines() RESET enable_seqscan;
