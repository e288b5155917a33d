-- Thread counters group a mailbox's messages by Gmail thread.
CREATE INDEX IF NOT EXISTS ix_messages_mailbox_thread ON messages (mailbox_id, gmail_thread_id);
