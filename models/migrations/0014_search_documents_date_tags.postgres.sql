-- search.PGIndex: date ranges answered inside the GIN index (BENCHMARKS.md,
-- issue 14's section on the Postgres backend's date-bounded queries).
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

-- The stored JSON copy of a document is moved out of line uncompressed:
-- pglz gave up on ~99.9 % of the benchmark corpus's copies (it needs a
-- 25 % gain), so trying cost time and saved nothing.
ALTER TABLE search_documents ALTER COLUMN doc SET STORAGE EXTERNAL;
