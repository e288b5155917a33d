-- Postgres only: its TOAST compression of raw_messages.data and of the
-- message bodies becomes lz4 (see the .postgres.sql file). SQLite does
-- not compress values.
SELECT 1;
