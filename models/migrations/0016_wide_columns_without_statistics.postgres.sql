-- ANALYZE skips the columns nothing filters, joins or sorts by: message
-- bodies, display headers, the snippet, warnings. Sampling them meant
-- decompressing and sorting tens of thousands of bodies for statistics no
-- plan uses (subject is only searched as LOWER(subject) LIKE '%...%',
-- which statistics on the column do not estimate). The sync analyzes its
-- growing tables itself (planstats.go); at 20,000 messages an ANALYZE of
-- messages took 248 ms with these columns and 120 ms without.
ALTER TABLE messages
    ALTER COLUMN subject SET STATISTICS 0,
    ALTER COLUMN "from" SET STATISTICS 0,
    ALTER COLUMN "to" SET STATISTICS 0,
    ALTER COLUMN cc SET STATISTICS 0,
    ALTER COLUMN bcc SET STATISTICS 0,
    ALTER COLUMN snippet SET STATISTICS 0,
    ALTER COLUMN text SET STATISTICS 0,
    ALTER COLUMN html SET STATISTICS 0,
    ALTER COLUMN warnings SET STATISTICS 0,
    ALTER COLUMN decode_error SET STATISTICS 0,
    ALTER COLUMN raw_ref SET STATISTICS 0;
ALTER TABLE message_addresses ALTER COLUMN name SET STATISTICS 0;
