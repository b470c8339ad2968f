DROP INDEX sales_buyer_created_idx;
DROP TABLE buyer_tier_thresholds;
