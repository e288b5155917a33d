-- Postgres only: its search-outbox triggers on the bulk-written tables
-- become statement-level (see the .postgres.sql file). SQLite has no
-- statement-level triggers, and its row-level ones (0007, recreated in
-- 0009) stay as they are.
SELECT 1;
