-- search.PGIndex, smaller and faster at a million documents (BENCHMARKS.md,
-- "Postgres search backend at 1,000,000 messages").
--
-- Date tags: every document's tsvector also holds its UTC year, month and
-- day as lexemes ('#y:2026', '#mo:2026-01', '#d:2026-01-15'), so that a
-- narrow date range becomes a tsquery the GIN index intersects with the
-- words (search/pgindex_dates.go). New and re-indexed documents get them
-- from Go (pgTerms); this statement adds them to the rows written before,
-- in the same format (to_char's YYYY is four digits within the years
-- that get tags, 1000..9999).
UPDATE search_documents
SET terms = terms || array_to_tsvector(ARRAY[
        '#y:' || to_char(date AT TIME ZONE 'UTC', 'YYYY'),
        '#mo:' || to_char(date AT TIME ZONE 'UTC', 'YYYY-MM'),
        '#d:' || to_char(date AT TIME ZONE 'UTC', 'YYYY-MM-DD')])
WHERE date >= '1000-01-01 00:00:00+00' AND date < '10000-01-01 00:00:00+00';

-- The stored document is now written zstd-compressed by the application
-- (a JSON copy of rows written before stays readable): Postgres's own
-- compression would only spend time on it.
ALTER TABLE search_documents ALTER COLUMN doc SET STORAGE EXTERNAL;
