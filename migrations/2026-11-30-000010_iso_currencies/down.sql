CREATE OR REPLACE FUNCTION minor_units(currency text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN currency IN ('JPY', 'KRW', 'VND') THEN 0
                WHEN currency IN ('BHD', 'KWD', 'OMR', 'JOD', 'TND') THEN 3
                WHEN currency IS NOT NULL THEN 2 END
$$;
