-- Baseline: the schema of tidings as first released (migrations 1-3 were
-- generated from the model structs then; this file freezes that result).
-- Never edit a shipped migration: add a new numbered file instead.

CREATE TABLE account_domains (
    tenant_id bigint NOT NULL,
    domain text NOT NULL,
    account_id bigint NOT NULL,
    PRIMARY KEY (tenant_id, domain)
);

CREATE TABLE accounts (
    id bigserial,
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    website text,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    PRIMARY KEY (id)
);

CREATE TABLE api_tokens (
    id bigserial,
    tenant_id bigint NOT NULL,
    user_id bigint NOT NULL,
    name text NOT NULL,
    hash bytea NOT NULL,
    last_used_at timestamp with time zone,
    created_at timestamp with time zone,
    PRIMARY KEY (id)
);

CREATE TABLE attachments (
    id bigserial,
    tenant_id bigint NOT NULL,
    message_id bigint NOT NULL,
    part_id text NOT NULL,
    gmail_attachment_id text,
    filename text,
    content_type text,
    content_id text,
    size bigint,
    inline boolean,
    PRIMARY KEY (id)
);

CREATE TABLE case_messages (
    tenant_id bigint NOT NULL,
    case_id bigint NOT NULL,
    message_id bigint NOT NULL,
    created_at timestamp with time zone,
    PRIMARY KEY (case_id, message_id)
);

CREATE TABLE cases (
    id bigserial,
    tenant_id bigint NOT NULL,
    subject text NOT NULL,
    description text,
    status text NOT NULL,
    priority text NOT NULL,
    assignee_id bigint,
    account_id bigint,
    contact_id bigint,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    PRIMARY KEY (id)
);

CREATE TABLE contact_emails (
    tenant_id bigint NOT NULL,
    address text NOT NULL,
    contact_id bigint NOT NULL,
    PRIMARY KEY (tenant_id, address)
);

CREATE TABLE contacts (
    id bigserial,
    tenant_id bigint NOT NULL,
    first_name text,
    last_name text,
    account_id bigint,
    auto_created boolean,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    PRIMARY KEY (id)
);

CREATE TABLE labels (
    id bigserial,
    tenant_id bigint NOT NULL,
    mailbox_id bigint NOT NULL,
    gmail_id text NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    PRIMARY KEY (id)
);

CREATE TABLE mailboxes (
    id bigserial,
    tenant_id bigint NOT NULL,
    owner_id bigint,
    provider text NOT NULL,
    email text NOT NULL,
    token_ciphertext bytea,
    history_id bigint,
    sync_state text NOT NULL,
    full_sync_history_id bigint,
    full_sync_page_token text,
    progress_done bigint,
    progress_total bigint,
    last_error text,
    needs_reauth boolean,
    resyncs bigint,
    last_sync_at timestamp with time zone,
    watch_expiration timestamp with time zone,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    PRIMARY KEY (id)
);

CREATE TABLE memberships (
    id bigserial,
    tenant_id bigint NOT NULL,
    user_id bigint NOT NULL,
    role text NOT NULL,
    created_at timestamp with time zone,
    PRIMARY KEY (id)
);

CREATE TABLE message_addresses (
    tenant_id bigint NOT NULL,
    message_id bigint NOT NULL,
    role text NOT NULL,
    address text NOT NULL,
    domain text,
    name text,
    PRIMARY KEY (message_id, role, address)
);

CREATE TABLE message_labels (
    tenant_id bigint NOT NULL,
    message_id bigint NOT NULL,
    label_id text NOT NULL,
    PRIMARY KEY (message_id, label_id)
);

CREATE TABLE messages (
    id bigserial,
    tenant_id bigint NOT NULL,
    mailbox_id bigint NOT NULL,
    gmail_id text NOT NULL,
    gmail_thread_id text,
    rfc_message_id text,
    in_reply_to text,
    subject text,
    "from" text,
    from_address text,
    "to" text,
    cc text,
    bcc text,
    date timestamp with time zone,
    internal_date timestamp with time zone,
    snippet text,
    size bigint,
    text text,
    html text,
    warnings text,
    decode_error text,
    raw_ref text,
    bulk boolean,
    has_attachments boolean,
    history_id bigint,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    PRIMARY KEY (id)
);

CREATE TABLE raw_messages (
    tenant_id bigint NOT NULL,
    mailbox_id bigint NOT NULL,
    gmail_id text NOT NULL,
    data bytea,
    PRIMARY KEY (mailbox_id, gmail_id)
);

CREATE TABLE tenants (
    id bigserial,
    name text,
    domains text,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    PRIMARY KEY (id)
);

CREATE TABLE threads (
    id bigserial,
    tenant_id bigint NOT NULL,
    mailbox_id bigint NOT NULL,
    gmail_thread_id text NOT NULL,
    subject text,
    last_message_at timestamp with time zone,
    message_count bigint,
    PRIMARY KEY (id)
);

CREATE TABLE users (
    id bigserial,
    email text NOT NULL,
    name text,
    password_hash text,
    created_at timestamp with time zone,
    updated_at timestamp with time zone,
    PRIMARY KEY (id)
);

CREATE INDEX idx_account_domains_account_id ON account_domains USING btree (account_id);

CREATE INDEX idx_accounts_tenant_id ON accounts USING btree (tenant_id);

CREATE UNIQUE INDEX idx_api_tokens_hash ON api_tokens USING btree (hash);

CREATE INDEX idx_api_tokens_tenant_id ON api_tokens USING btree (tenant_id);

CREATE INDEX idx_api_tokens_user_id ON api_tokens USING btree (user_id);

CREATE INDEX idx_attachments_tenant_id ON attachments USING btree (tenant_id);

CREATE INDEX idx_case_messages_message_id ON case_messages USING btree (message_id);

CREATE INDEX idx_case_messages_tenant_id ON case_messages USING btree (tenant_id);

CREATE INDEX idx_cases_account_id ON cases USING btree (account_id);

CREATE INDEX idx_cases_assignee_id ON cases USING btree (assignee_id);

CREATE INDEX idx_cases_contact_id ON cases USING btree (contact_id);

CREATE INDEX idx_cases_status ON cases USING btree (status);

CREATE INDEX idx_cases_tenant_id ON cases USING btree (tenant_id);

CREATE INDEX idx_contact_emails_contact_id ON contact_emails USING btree (contact_id);

CREATE INDEX idx_contacts_account_id ON contacts USING btree (account_id);

CREATE INDEX idx_contacts_tenant_id ON contacts USING btree (tenant_id);

CREATE INDEX idx_labels_tenant_id ON labels USING btree (tenant_id);

CREATE INDEX idx_mailboxes_owner_id ON mailboxes USING btree (owner_id);

CREATE INDEX idx_message_addresses_domain ON message_addresses USING btree (domain);

CREATE INDEX idx_message_labels_tenant_id ON message_labels USING btree (tenant_id);

CREATE INDEX idx_messages_date ON messages USING btree (date);

CREATE INDEX idx_messages_from_address ON messages USING btree (from_address);

CREATE INDEX idx_messages_gmail_thread_id ON messages USING btree (gmail_thread_id);

CREATE INDEX idx_messages_rfc_message_id ON messages USING btree (rfc_message_id);

CREATE INDEX idx_messages_tenant_id ON messages USING btree (tenant_id);

CREATE INDEX idx_raw_messages_tenant_id ON raw_messages USING btree (tenant_id);

CREATE INDEX idx_threads_last_message_at ON threads USING btree (last_message_at);

CREATE INDEX idx_threads_tenant_id ON threads USING btree (tenant_id);

CREATE UNIQUE INDEX idx_users_email ON users USING btree (email);

CREATE INDEX ix_msgaddr_tenant_addr ON message_addresses USING btree (tenant_id, address);

CREATE UNIQUE INDEX ux_attachment ON attachments USING btree (message_id, part_id);

CREATE UNIQUE INDEX ux_label ON labels USING btree (mailbox_id, gmail_id);

CREATE UNIQUE INDEX ux_mailbox_email ON mailboxes USING btree (tenant_id, email);

CREATE UNIQUE INDEX ux_membership ON memberships USING btree (tenant_id, user_id);

CREATE UNIQUE INDEX ux_message ON messages USING btree (mailbox_id, gmail_id);

CREATE UNIQUE INDEX ux_thread ON threads USING btree (mailbox_id, gmail_thread_id);
