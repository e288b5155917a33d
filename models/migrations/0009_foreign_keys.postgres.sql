-- Foreign keys with ON DELETE CASCADE (or SET NULL for optional links)
-- wherever a row belongs to a parent, so that deleting a mailbox, message,
-- contact, account, case, user or organization removes what hangs off it
-- in the same statement and a write that races a delete fails instead of
-- leaving an orphan.
-- Never edit a shipped migration: add a new numbered file instead.

--
-- Orphans left by earlier releases are removed first (parents before
-- children), optional links to missing rows are cleared, then each
-- constraint is added (Postgres validates it against the existing rows).


DELETE FROM memberships WHERE NOT EXISTS (SELECT 1 FROM tenants p WHERE p.id = memberships.tenant_id);
DELETE FROM memberships WHERE NOT EXISTS (SELECT 1 FROM users p WHERE p.id = memberships.user_id);
ALTER TABLE memberships ADD CONSTRAINT fk_memberships_tenant_id FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
ALTER TABLE memberships ADD CONSTRAINT fk_memberships_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX idx_memberships_user_id ON memberships USING btree (user_id);

DELETE FROM api_tokens WHERE NOT EXISTS (SELECT 1 FROM tenants p WHERE p.id = api_tokens.tenant_id);
DELETE FROM api_tokens WHERE NOT EXISTS (SELECT 1 FROM users p WHERE p.id = api_tokens.user_id);
ALTER TABLE api_tokens ADD CONSTRAINT fk_api_tokens_tenant_id FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
ALTER TABLE api_tokens ADD CONSTRAINT fk_api_tokens_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;

DELETE FROM sessions WHERE NOT EXISTS (SELECT 1 FROM users p WHERE p.id = sessions.user_id);
DELETE FROM sessions WHERE NOT EXISTS (SELECT 1 FROM tenants p WHERE p.id = sessions.tenant_id);
ALTER TABLE sessions ADD CONSTRAINT fk_sessions_user_id FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD CONSTRAINT fk_sessions_tenant_id FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

DELETE FROM invitations WHERE NOT EXISTS (SELECT 1 FROM tenants p WHERE p.id = invitations.tenant_id);
DELETE FROM invitations WHERE NOT EXISTS (SELECT 1 FROM users p WHERE p.id = invitations.invited_by);
UPDATE invitations SET accepted_by = NULL WHERE accepted_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users p WHERE p.id = invitations.accepted_by);
ALTER TABLE invitations ADD CONSTRAINT fk_invitations_tenant_id FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
ALTER TABLE invitations ADD CONSTRAINT fk_invitations_invited_by FOREIGN KEY (invited_by) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE invitations ADD CONSTRAINT fk_invitations_accepted_by FOREIGN KEY (accepted_by) REFERENCES users (id) ON DELETE SET NULL;

DELETE FROM accounts WHERE NOT EXISTS (SELECT 1 FROM tenants p WHERE p.id = accounts.tenant_id);
ALTER TABLE accounts ADD CONSTRAINT fk_accounts_tenant_id FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

DELETE FROM account_domains WHERE NOT EXISTS (SELECT 1 FROM accounts p WHERE p.id = account_domains.account_id);
ALTER TABLE account_domains ADD CONSTRAINT fk_account_domains_account_id FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE CASCADE;

DELETE FROM contacts WHERE NOT EXISTS (SELECT 1 FROM tenants p WHERE p.id = contacts.tenant_id);
UPDATE contacts SET account_id = NULL WHERE account_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM accounts p WHERE p.id = contacts.account_id);
ALTER TABLE contacts ADD CONSTRAINT fk_contacts_tenant_id FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
ALTER TABLE contacts ADD CONSTRAINT fk_contacts_account_id FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE SET NULL;

DELETE FROM contact_emails WHERE NOT EXISTS (SELECT 1 FROM contacts p WHERE p.id = contact_emails.contact_id);
ALTER TABLE contact_emails ADD CONSTRAINT fk_contact_emails_contact_id FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE CASCADE;

DELETE FROM mailboxes WHERE NOT EXISTS (SELECT 1 FROM tenants p WHERE p.id = mailboxes.tenant_id);
ALTER TABLE mailboxes ADD CONSTRAINT fk_mailboxes_tenant_id FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;

DELETE FROM threads WHERE NOT EXISTS (SELECT 1 FROM mailboxes p WHERE p.id = threads.mailbox_id);
ALTER TABLE threads ADD CONSTRAINT fk_threads_mailbox_id FOREIGN KEY (mailbox_id) REFERENCES mailboxes (id) ON DELETE CASCADE;

DELETE FROM labels WHERE NOT EXISTS (SELECT 1 FROM mailboxes p WHERE p.id = labels.mailbox_id);
ALTER TABLE labels ADD CONSTRAINT fk_labels_mailbox_id FOREIGN KEY (mailbox_id) REFERENCES mailboxes (id) ON DELETE CASCADE;

DELETE FROM raw_messages WHERE NOT EXISTS (SELECT 1 FROM mailboxes p WHERE p.id = raw_messages.mailbox_id);
ALTER TABLE raw_messages ADD CONSTRAINT fk_raw_messages_mailbox_id FOREIGN KEY (mailbox_id) REFERENCES mailboxes (id) ON DELETE CASCADE;

DELETE FROM messages WHERE NOT EXISTS (SELECT 1 FROM mailboxes p WHERE p.id = messages.mailbox_id);
ALTER TABLE messages ADD CONSTRAINT fk_messages_mailbox_id FOREIGN KEY (mailbox_id) REFERENCES mailboxes (id) ON DELETE CASCADE;

DELETE FROM message_addresses WHERE NOT EXISTS (SELECT 1 FROM messages p WHERE p.id = message_addresses.message_id);
ALTER TABLE message_addresses ADD CONSTRAINT fk_message_addresses_message_id FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE;

DELETE FROM message_labels WHERE NOT EXISTS (SELECT 1 FROM messages p WHERE p.id = message_labels.message_id);
ALTER TABLE message_labels ADD CONSTRAINT fk_message_labels_message_id FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE;

DELETE FROM attachments WHERE NOT EXISTS (SELECT 1 FROM messages p WHERE p.id = attachments.message_id);
ALTER TABLE attachments ADD CONSTRAINT fk_attachments_message_id FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE;

DELETE FROM cases WHERE NOT EXISTS (SELECT 1 FROM tenants p WHERE p.id = cases.tenant_id);
UPDATE cases SET assignee_id = NULL WHERE assignee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users p WHERE p.id = cases.assignee_id);
UPDATE cases SET account_id = NULL WHERE account_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM accounts p WHERE p.id = cases.account_id);
UPDATE cases SET contact_id = NULL WHERE contact_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM contacts p WHERE p.id = cases.contact_id);
ALTER TABLE cases ADD CONSTRAINT fk_cases_tenant_id FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
ALTER TABLE cases ADD CONSTRAINT fk_cases_assignee_id FOREIGN KEY (assignee_id) REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE cases ADD CONSTRAINT fk_cases_account_id FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE SET NULL;
ALTER TABLE cases ADD CONSTRAINT fk_cases_contact_id FOREIGN KEY (contact_id) REFERENCES contacts (id) ON DELETE SET NULL;

DELETE FROM case_messages WHERE NOT EXISTS (SELECT 1 FROM cases p WHERE p.id = case_messages.case_id);
DELETE FROM case_messages WHERE NOT EXISTS (SELECT 1 FROM messages p WHERE p.id = case_messages.message_id);
ALTER TABLE case_messages ADD CONSTRAINT fk_case_messages_case_id FOREIGN KEY (case_id) REFERENCES cases (id) ON DELETE CASCADE;
ALTER TABLE case_messages ADD CONSTRAINT fk_case_messages_message_id FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE CASCADE;
