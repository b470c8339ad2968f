-- The exposure read lists a book's breaching loans and open margin calls lender by lender, from
-- the per-lender indexes, merging them for every lender's book (`lending::exposure::kept!`).
-- The every-lender indexes it used before were also chosen by the generic plan of one lender's
-- book, which then walked every lender's loans; and each was one more index for every change
-- of a loan's LTV (a revaluation changes every loan's) to keep.
DROP INDEX exposure_loans_breaching_all_idx;
DROP INDEX exposure_loans_calls_all_idx;
