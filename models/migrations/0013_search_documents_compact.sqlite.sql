-- Postgres only: date tags and the compact stored document of
-- search.PGIndex (see the .postgres.sql file). SQLite has no
-- search_documents table; its search index is the embedded engine's.
SELECT 1;
