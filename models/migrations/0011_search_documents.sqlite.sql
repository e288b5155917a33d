-- Nothing to do on SQLite: the Postgres search index (search_documents) is
-- used only when the database is Postgres; with SQLite the search index is
-- the embedded one in the data directory.
SELECT 1;
