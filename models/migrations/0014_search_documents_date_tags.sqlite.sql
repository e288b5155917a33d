-- Postgres only: the date tags of search.PGIndex and the storage of its
-- stored copy (see the .postgres.sql file). SQLite has no
-- search_documents table; its search index is the embedded engine's.
SELECT 1;
