-- Minor units of every ISO 4217 currency Holdfast accepts, as `domain::currency`: the codes with
-- no minor unit and those with three decimal places; every other accepted code has two.
CREATE OR REPLACE FUNCTION minor_units(currency text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG',
                                  'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 0
                WHEN currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 3
                WHEN currency IS NOT NULL THEN 2 END
$$;
