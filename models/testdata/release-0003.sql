-- Rows as the release before migration 0004 could leave them (schema
-- version 3): one tenant with CRM records and a synced mailbox, plus the
-- orphans hand-written cascades and unfenced syncs could leave behind
-- (ids 77..99 name parents that do not exist). Portable SQL for both
-- engines; the upgrade test loads it, migrates, and checks every row.
INSERT INTO tenants (id, name, domains) VALUES (1, 'Acme', '[]');
INSERT INTO users (id, email, name, password_hash) VALUES (1, 'admin@acme.example', 'Admin', 'x');
INSERT INTO memberships (id, tenant_id, user_id, role) VALUES (1, 1, 1, 'admin');
INSERT INTO memberships (id, tenant_id, user_id, role) VALUES (2, 1, 99, 'member');
INSERT INTO api_tokens (id, tenant_id, user_id, name, hash) VALUES (1, 1, 1, 'cli', 'h1');
INSERT INTO accounts (id, tenant_id, name, website) VALUES (1, 1, 'Customer', 'https://customer.example');
INSERT INTO account_domains (tenant_id, domain, account_id) VALUES (1, 'customer.example', 1);
INSERT INTO account_domains (tenant_id, domain, account_id) VALUES (1, 'gone.example', 99);
INSERT INTO contacts (id, tenant_id, first_name, last_name, account_id, auto_created) VALUES (1, 1, 'Ann', 'Lee', 1, false);
INSERT INTO contacts (id, tenant_id, first_name, last_name, account_id, auto_created) VALUES (2, 1, 'Bob', 'Orphaned', 99, true);
INSERT INTO contact_emails (tenant_id, address, contact_id) VALUES (1, 'ann@customer.example', 1);
INSERT INTO contact_emails (tenant_id, address, contact_id) VALUES (1, 'ghost@customer.example', 99);
INSERT INTO mailboxes (id, tenant_id, owner_id, provider, email, history_id, sync_state, progress_done, progress_total, needs_reauth, resyncs)
  VALUES (1, 1, 1, 'gmail', 'me@acme.example', 42, 'full_sync', 2, 2, false, 1);
INSERT INTO threads (id, tenant_id, mailbox_id, gmail_thread_id, subject, message_count) VALUES (1, 1, 1, 't1', 'Hello', 2);
INSERT INTO threads (id, tenant_id, mailbox_id, gmail_thread_id, subject, message_count) VALUES (2, 1, 77, 't9', 'Orphan', 1);
INSERT INTO labels (id, tenant_id, mailbox_id, gmail_id, name, type) VALUES (1, 1, 1, 'INBOX', 'INBOX', 'system');
INSERT INTO labels (id, tenant_id, mailbox_id, gmail_id, name, type) VALUES (2, 1, 77, 'Label_1', 'Orphan', 'user');
INSERT INTO messages (id, tenant_id, mailbox_id, gmail_id, gmail_thread_id, subject, from_address, "to", cc, bcc, warnings, snippet, text, html, history_id, bulk, has_attachments)
  VALUES (1, 1, 1, 'g1', 't1', 'Hello', 'ann@customer.example', '["me@acme.example"]', '[]', '[]', '[]', 'Hi', 'Hi there', '<p>Hi there</p>', 40, false, true);
INSERT INTO messages (id, tenant_id, mailbox_id, gmail_id, gmail_thread_id, subject, from_address, "to", cc, bcc, warnings, history_id, bulk, has_attachments)
  VALUES (2, 1, 1, 'g2', 't1', 'Re: Hello', 'me@acme.example', '["ann@customer.example"]', '[]', '[]', '[]', 41, false, false);
INSERT INTO messages (id, tenant_id, mailbox_id, gmail_id, gmail_thread_id, subject, "to", cc, bcc, warnings, history_id, bulk, has_attachments)
  VALUES (3, 1, 77, 'g3', 't9', 'Orphan', '[]', '[]', '[]', '[]', 1, false, false);
INSERT INTO messages (id, tenant_id, mailbox_id, gmail_id, gmail_thread_id, subject, "to", cc, bcc, warnings, history_id, bulk, has_attachments)
  VALUES (5, 1, 1, 'g5', 't1', 'Deleted later', '[]', '[]', '[]', '[]', 1, false, false);
DELETE FROM messages WHERE id = 5;
INSERT INTO message_labels (tenant_id, message_id, label_id) VALUES (1, 1, 'INBOX');
INSERT INTO message_labels (tenant_id, message_id, label_id) VALUES (1, 1, 'UNREAD');
INSERT INTO message_labels (tenant_id, message_id, label_id) VALUES (1, 2, 'SENT');
INSERT INTO message_labels (tenant_id, message_id, label_id) VALUES (1, 3, 'INBOX');
INSERT INTO message_labels (tenant_id, message_id, label_id) VALUES (1, 99, 'INBOX');
INSERT INTO message_addresses (tenant_id, message_id, role, address, domain, name) VALUES (1, 1, 'from', 'ann@customer.example', 'customer.example', 'Ann');
INSERT INTO message_addresses (tenant_id, message_id, role, address, domain, name) VALUES (1, 99, 'from', 'x@y.example', 'y.example', 'X');
INSERT INTO attachments (id, tenant_id, message_id, part_id, gmail_attachment_id, filename, content_type, size, inline) VALUES (1, 1, 1, '2', 'att1', 'a.pdf', 'application/pdf', 10, false);
INSERT INTO attachments (id, tenant_id, message_id, part_id, filename, size, inline) VALUES (2, 1, 99, '2', 'lost.pdf', 1, false);
INSERT INTO raw_messages (tenant_id, mailbox_id, gmail_id, data) VALUES (1, 1, 'g1', 'raw');
INSERT INTO raw_messages (tenant_id, mailbox_id, gmail_id, data) VALUES (1, 77, 'g3', 'raw');
INSERT INTO cases (id, tenant_id, subject, status, priority, assignee_id, account_id, contact_id) VALUES (1, 1, 'Renewal', 'open', 'high', 1, 1, 1);
INSERT INTO cases (id, tenant_id, subject, status, priority, assignee_id, account_id, contact_id) VALUES (2, 1, 'Dangling', 'new', 'low', 99, 99, 99);
INSERT INTO case_messages (tenant_id, case_id, message_id) VALUES (1, 1, 1);
INSERT INTO case_messages (tenant_id, case_id, message_id) VALUES (1, 1, 99);
INSERT INTO case_messages (tenant_id, case_id, message_id) VALUES (1, 99, 1);
