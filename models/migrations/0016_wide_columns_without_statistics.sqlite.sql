-- Postgres only: SQLite gathers statistics only when asked (ANALYZE), per index.
SELECT 1;
