DROP INDEX movements_warehouse_idx;
DROP TABLE console_sessions;
