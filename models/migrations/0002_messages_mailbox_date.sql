-- Mailbox timelines read messages of one mailbox newest first.
CREATE INDEX IF NOT EXISTS ix_messages_mailbox_date ON messages (mailbox_id, date DESC);
