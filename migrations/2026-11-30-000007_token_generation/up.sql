-- Access tokens carry the user's token generation; raising it ends every access token the
-- user holds at once (their next request is refused), without waiting for them to expire.
ALTER TABLE users ADD COLUMN token_generation integer NOT NULL DEFAULT 0;
