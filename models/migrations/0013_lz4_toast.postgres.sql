-- Large values of the tables a sync writes in bulk are compressed with
-- lz4 instead of Postgres' default pglz when they are TOASTed (PostgreSQL
-- 14+, "ALTER TABLE ... SET COMPRESSION"). The raw bytes kept for a
-- message are mostly base64 (attachments), which pglz spends its time on
-- without shrinking: inserting 4,000 generated messages (144 MB) into a
-- bytea column took 17.8 s with pglz, 4.0 s with lz4 and 3.2 s stored
-- uncompressed, every table the same size on disk (300 MB for two copies).
-- lz4 still compresses what text does compress. Only newly written values
-- are affected. A server built without lz4 keeps pglz: the statement
-- fails with feature_not_supported, which is ignored.
DO $$
BEGIN
    ALTER TABLE raw_messages ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE messages ALTER COLUMN text SET COMPRESSION lz4;
    ALTER TABLE messages ALTER COLUMN html SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available; TOAST compression stays pglz';
END $$;
