CREATE OR REPLACE FUNCTION round_half_even(v numeric, places integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT round(CASE WHEN abs(x - trunc(x)) = 0.5 AND mod(trunc(x), 2) = 0 THEN trunc(x) ELSE round(x) END / s, places)
    FROM (SELECT v * s AS x, s FROM (SELECT power(10::numeric, places) AS s) scale) scaled
$$;

CREATE OR REPLACE FUNCTION minor_units(currency text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN currency IN ('JPY', 'KRW', 'VND') THEN 0
                WHEN currency IN ('BHD', 'KWD', 'OMR', 'JOD', 'TND') THEN 3
                ELSE 2 END
$$;

CREATE OR REPLACE FUNCTION freshness_factor(packed_on date, as_of date, fresh_days integer, shelf_life_days integer, end_factor numeric)
RETURNS numeric LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN as_of - packed_on >= shelf_life_days THEN 0::numeric
        WHEN as_of - packed_on <= fresh_days THEN 1::numeric
        ELSE round_half_even(1 - (1 - end_factor) * (as_of - packed_on - fresh_days) / (shelf_life_days - fresh_days)::numeric, 6)
    END
$$;
