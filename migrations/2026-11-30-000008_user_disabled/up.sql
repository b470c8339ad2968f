-- A disabled user can no longer log in, refresh or use a token it holds.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;
