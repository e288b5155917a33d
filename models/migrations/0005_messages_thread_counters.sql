-- Thread counters (message_count, last_message_at) are recomputed for the
-- threads a page touches with COUNT(*) and MAX(date) per thread. With date
-- in the index both aggregates are answered from the index alone, without
-- reading message rows (which carry the bodies); it replaces the narrower
-- index of migration 3.
CREATE INDEX IF NOT EXISTS ix_messages_thread_date ON messages (mailbox_id, gmail_thread_id, date);
DROP INDEX IF EXISTS ix_messages_mailbox_thread;
