-- A sync stores a page of messages in one transaction with one statement
-- per table (messages, then their labels, addresses and attachments), and
-- each statement's trigger (0012) marked the same messages again: the
-- first mark inserted the outbox row, every later one rewrote it with a
-- version one higher, three or four row versions per message per page.
-- A mark written earlier in the same transaction needs no further bump:
-- the indexer removes a mark only if its version is still the one it
-- read, and it can only have read a committed version, never this
-- transaction's. So a conflict with a row whose xmin is the current
-- transaction leaves that row alone. (Inside a savepoint xmin is the
-- subtransaction's id, never equal to the top-level id: such rows are
-- bumped as before, which is only slower, never wrong.)

CREATE OR REPLACE FUNCTION search_outbox_messages_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_outbox (message_id, tenant_id)
        SELECT id, tenant_id FROM changed_rows
        ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1
        WHERE search_outbox.xmin <> pg_current_xact_id()::xid;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION search_outbox_message_rows_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One row per message: ON CONFLICT may not update a row twice.
    INSERT INTO search_outbox (message_id, tenant_id)
        SELECT DISTINCT ON (message_id) message_id, tenant_id FROM changed_rows
        WHERE message_id IS NOT NULL
        ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1
        WHERE search_outbox.xmin <> pg_current_xact_id()::xid;
    RETURN NULL;
END $$;
