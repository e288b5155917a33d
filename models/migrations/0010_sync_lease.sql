-- The per-mailbox sync lease gets an owner and a fencing generation: a
-- worker acquires the lease by writing its owner id, bumping the
-- generation and setting an expiry (unix milliseconds, written by the
-- acquiring process's clock); every sync write checks owner and
-- generation, so a worker that lost its lease can no longer write.
-- Never edit a shipped migration: add a new numbered file instead.
ALTER TABLE mailboxes ADD COLUMN lease_owner text NOT NULL DEFAULT '';
ALTER TABLE mailboxes ADD COLUMN lease_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN lease_expires_at bigint NOT NULL DEFAULT 0;
