-- The stress test reads the book's lots expiring soon from the kept figures: the pledged lots of
-- a book by expiry date. (Not partial: a predicate on `pledges` would stop its updates being HOT;
-- rows at zero pledges are deleted.)
CREATE INDEX exposure_lots_expiring_idx ON exposure_lots (book, currency, expires_on);
