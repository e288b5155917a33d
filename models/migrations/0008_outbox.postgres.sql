-- The outbox: outgoing actions (send, drafts, mailbox actions) carried out
-- exactly once by worker tasks, and their stored bytes in 1 MiB chunks.
ALTER TABLE mailboxes ADD COLUMN IF NOT EXISTS scopes text;

CREATE TABLE outbox_items (
    id bigserial,
    tenant_id bigint NOT NULL,
    mailbox_id bigint NOT NULL,
    user_id bigint NOT NULL,
    kind text NOT NULL,
    state text NOT NULL,
    idempotency_key text,
    spec text,
    subject text,
    recipients text,
    case_id bigint,
    rfc_message_id text,
    gmail_thread_id text,
    gmail_message_id text,
    gmail_draft_id text,
    message_id bigint,
    send_at timestamp with time zone,
    attempts bigint,
    last_error text,
    in_flight boolean,
    upload_uri text,
    upload_offset bigint,
    size bigint,
    composed boolean,
    sent_at timestamp with time zone,
    lease_until timestamp with time zone,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    PRIMARY KEY (id)
);
CREATE INDEX idx_outbox_items_tenant_id ON outbox_items (tenant_id);
CREATE INDEX idx_outbox_items_mailbox_id ON outbox_items (mailbox_id);
CREATE INDEX idx_outbox_items_state ON outbox_items (state);
CREATE INDEX idx_outbox_items_send_at ON outbox_items (send_at);
CREATE INDEX idx_outbox_items_rfc_message_id ON outbox_items (rfc_message_id);
CREATE UNIQUE INDEX ux_outbox_idem ON outbox_items (tenant_id, idempotency_key);

CREATE TABLE outbox_chunks (
    tenant_id bigint NOT NULL,
    outbox_id bigint NOT NULL,
    stream text NOT NULL,
    seq bigint NOT NULL,
    data bytea,
    PRIMARY KEY (outbox_id, stream, seq)
);
CREATE INDEX idx_outbox_chunks_tenant_id ON outbox_chunks (tenant_id);
