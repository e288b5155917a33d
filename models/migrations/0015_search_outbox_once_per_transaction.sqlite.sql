-- Postgres only (its statement-level outbox triggers mark a message once
-- per transaction); SQLite's row-level triggers (0007) are unchanged.
SELECT 1;
