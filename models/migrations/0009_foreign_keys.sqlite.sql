-- Foreign keys with ON DELETE CASCADE (or SET NULL for optional links)
-- wherever a row belongs to a parent, so that deleting a mailbox, message,
-- contact, account, case, user or organization removes what hangs off it
-- in the same statement and a write that races a delete fails instead of
-- leaving an orphan.
-- Never edit a shipped migration: add a new numbered file instead.

--
-- SQLite cannot add a constraint to an existing table, so each table is
-- rebuilt as https://www.sqlite.org/lang_altertable.html#otheralter
-- describes: create the new table, copy the rows, drop the old one, rename,
-- recreate its indexes. Triggers are dropped before and recreated after
-- all rebuilds (SQLite checks every trigger's body on a rename). Tables
-- are rebuilt parents first, so no table is dropped while a rebuilt one
-- refers to it (with foreign_keys on, dropping a referenced table would
-- cascade). Orphans left by earlier releases are not copied (rows) or have
-- their optional link cleared (SET NULL). AUTOINCREMENT counters carry
-- over, so no id is ever handed out twice. The migration runs in one
-- transaction: a failure keeps the old tables.
--
-- Generated from the schema of the migrations before it by
-- models/fkmigration_test.go (TIDINGS_WRITE_FK_MIGRATION=1); do not edit
-- by hand.

DROP TRIGGER search_outbox_account_domains_delete;
DROP TRIGGER search_outbox_account_domains_insert;
DROP TRIGGER search_outbox_account_domains_update;
DROP TRIGGER search_outbox_attachments_delete;
DROP TRIGGER search_outbox_attachments_insert;
DROP TRIGGER search_outbox_attachments_update;
DROP TRIGGER search_outbox_case_messages_delete;
DROP TRIGGER search_outbox_case_messages_insert;
DROP TRIGGER search_outbox_case_messages_update;
DROP TRIGGER search_outbox_contact_emails_delete;
DROP TRIGGER search_outbox_contact_emails_insert;
DROP TRIGGER search_outbox_contact_emails_update;
DROP TRIGGER search_outbox_contacts_delete;
DROP TRIGGER search_outbox_contacts_update;
DROP TRIGGER search_outbox_labels_delete;
DROP TRIGGER search_outbox_labels_insert;
DROP TRIGGER search_outbox_labels_update;
DROP TRIGGER search_outbox_message_addresses_delete;
DROP TRIGGER search_outbox_message_addresses_insert;
DROP TRIGGER search_outbox_message_addresses_update;
DROP TRIGGER search_outbox_message_labels_delete;
DROP TRIGGER search_outbox_message_labels_insert;
DROP TRIGGER search_outbox_message_labels_update;
DROP TRIGGER search_outbox_messages_delete;
DROP TRIGGER search_outbox_messages_insert;
DROP TRIGGER search_outbox_messages_update;

CREATE TABLE `memberships__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`user_id` integer NOT NULL,`role` text NOT NULL,`created_at` datetime,FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE,FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON DELETE CASCADE);
INSERT INTO `memberships__new` (`id`,`tenant_id`,`user_id`,`role`,`created_at`) SELECT `id`,`tenant_id`,`user_id`,`role`,`created_at` FROM `memberships` WHERE `tenant_id` IN (SELECT `id` FROM `tenants`) AND `user_id` IN (SELECT `id` FROM `users`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'memberships__new', seq FROM sqlite_sequence WHERE name = 'memberships' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'memberships__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'memberships') WHERE name = 'memberships__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'memberships');
DROP TABLE `memberships`;
ALTER TABLE `memberships__new` RENAME TO `memberships`;
CREATE UNIQUE INDEX `ux_membership` ON `memberships`(`tenant_id`,`user_id`);
CREATE INDEX `idx_memberships_user_id` ON `memberships`(`user_id`);

CREATE TABLE `api_tokens__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`user_id` integer NOT NULL,`name` text NOT NULL,`hash` blob NOT NULL,`last_used_at` datetime,`created_at` datetime,FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE,FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON DELETE CASCADE);
INSERT INTO `api_tokens__new` (`id`,`tenant_id`,`user_id`,`name`,`hash`,`last_used_at`,`created_at`) SELECT `id`,`tenant_id`,`user_id`,`name`,`hash`,`last_used_at`,`created_at` FROM `api_tokens` WHERE `tenant_id` IN (SELECT `id` FROM `tenants`) AND `user_id` IN (SELECT `id` FROM `users`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'api_tokens__new', seq FROM sqlite_sequence WHERE name = 'api_tokens' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'api_tokens__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'api_tokens') WHERE name = 'api_tokens__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'api_tokens');
DROP TABLE `api_tokens`;
ALTER TABLE `api_tokens__new` RENAME TO `api_tokens`;
CREATE UNIQUE INDEX `idx_api_tokens_hash` ON `api_tokens`(`hash`);
CREATE INDEX `idx_api_tokens_tenant_id` ON `api_tokens`(`tenant_id`);
CREATE INDEX `idx_api_tokens_user_id` ON `api_tokens`(`user_id`);

CREATE TABLE `sessions__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`token_hash` blob NOT NULL,`user_id` integer NOT NULL,`tenant_id` integer NOT NULL,`csrf` text NOT NULL,`user_agent` text,`ip` text,`created_at` datetime,`last_seen_at` datetime,`expires_at` datetime NOT NULL,FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON DELETE CASCADE,FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE);
INSERT INTO `sessions__new` (`id`,`token_hash`,`user_id`,`tenant_id`,`csrf`,`user_agent`,`ip`,`created_at`,`last_seen_at`,`expires_at`) SELECT `id`,`token_hash`,`user_id`,`tenant_id`,`csrf`,`user_agent`,`ip`,`created_at`,`last_seen_at`,`expires_at` FROM `sessions` WHERE `user_id` IN (SELECT `id` FROM `users`) AND `tenant_id` IN (SELECT `id` FROM `tenants`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'sessions__new', seq FROM sqlite_sequence WHERE name = 'sessions' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sessions__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'sessions') WHERE name = 'sessions__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'sessions');
DROP TABLE `sessions`;
ALTER TABLE `sessions__new` RENAME TO `sessions`;
CREATE INDEX `idx_sessions_tenant_id` ON `sessions`(`tenant_id`);
CREATE UNIQUE INDEX `idx_sessions_token_hash` ON `sessions`(`token_hash`);
CREATE INDEX `idx_sessions_user_id` ON `sessions`(`user_id`);

CREATE TABLE `invitations__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`email` text NOT NULL,`role` text NOT NULL,`token_hash` blob NOT NULL,`invited_by` integer NOT NULL,`created_at` datetime,`expires_at` datetime NOT NULL,`accepted_at` datetime,`accepted_by` integer,FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE,FOREIGN KEY (`invited_by`) REFERENCES `users`(`id`) ON DELETE CASCADE,FOREIGN KEY (`accepted_by`) REFERENCES `users`(`id`) ON DELETE SET NULL);
INSERT INTO `invitations__new` (`id`,`tenant_id`,`email`,`role`,`token_hash`,`invited_by`,`created_at`,`expires_at`,`accepted_at`,`accepted_by`) SELECT `id`,`tenant_id`,`email`,`role`,`token_hash`,`invited_by`,`created_at`,`expires_at`,`accepted_at`,CASE WHEN `accepted_by` IN (SELECT `id` FROM `users`) THEN `accepted_by` END FROM `invitations` WHERE `tenant_id` IN (SELECT `id` FROM `tenants`) AND `invited_by` IN (SELECT `id` FROM `users`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'invitations__new', seq FROM sqlite_sequence WHERE name = 'invitations' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'invitations__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'invitations') WHERE name = 'invitations__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'invitations');
DROP TABLE `invitations`;
ALTER TABLE `invitations__new` RENAME TO `invitations`;
CREATE INDEX `idx_invitations_tenant_id` ON `invitations`(`tenant_id`);
CREATE UNIQUE INDEX `idx_invitations_token_hash` ON `invitations`(`token_hash`);

CREATE TABLE `accounts__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`name` text NOT NULL,`website` text,`created_at` datetime,`updated_at` datetime,FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE);
INSERT INTO `accounts__new` (`id`,`tenant_id`,`name`,`website`,`created_at`,`updated_at`) SELECT `id`,`tenant_id`,`name`,`website`,`created_at`,`updated_at` FROM `accounts` WHERE `tenant_id` IN (SELECT `id` FROM `tenants`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'accounts__new', seq FROM sqlite_sequence WHERE name = 'accounts' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'accounts__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'accounts') WHERE name = 'accounts__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'accounts');
DROP TABLE `accounts`;
ALTER TABLE `accounts__new` RENAME TO `accounts`;
CREATE INDEX `idx_accounts_tenant_id` ON `accounts`(`tenant_id`);

CREATE TABLE `account_domains__new` (`tenant_id` integer,`domain` text,`account_id` integer NOT NULL,PRIMARY KEY (`tenant_id`,`domain`),FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE CASCADE);
INSERT INTO `account_domains__new` (`tenant_id`,`domain`,`account_id`) SELECT `tenant_id`,`domain`,`account_id` FROM `account_domains` WHERE `account_id` IN (SELECT `id` FROM `accounts`);
DROP TABLE `account_domains`;
ALTER TABLE `account_domains__new` RENAME TO `account_domains`;
CREATE INDEX `idx_account_domains_account_id` ON `account_domains`(`account_id`);

CREATE TABLE `contacts__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`first_name` text,`last_name` text,`account_id` integer,`auto_created` numeric,`created_at` datetime,`updated_at` datetime,FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE,FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE SET NULL);
INSERT INTO `contacts__new` (`id`,`tenant_id`,`first_name`,`last_name`,`account_id`,`auto_created`,`created_at`,`updated_at`) SELECT `id`,`tenant_id`,`first_name`,`last_name`,CASE WHEN `account_id` IN (SELECT `id` FROM `accounts`) THEN `account_id` END,`auto_created`,`created_at`,`updated_at` FROM `contacts` WHERE `tenant_id` IN (SELECT `id` FROM `tenants`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'contacts__new', seq FROM sqlite_sequence WHERE name = 'contacts' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'contacts__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'contacts') WHERE name = 'contacts__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'contacts');
DROP TABLE `contacts`;
ALTER TABLE `contacts__new` RENAME TO `contacts`;
CREATE INDEX `idx_contacts_account_id` ON `contacts`(`account_id`);
CREATE INDEX `idx_contacts_tenant_id` ON `contacts`(`tenant_id`);

CREATE TABLE `contact_emails__new` (`tenant_id` integer,`address` text,`contact_id` integer NOT NULL,PRIMARY KEY (`tenant_id`,`address`),FOREIGN KEY (`contact_id`) REFERENCES `contacts`(`id`) ON DELETE CASCADE);
INSERT INTO `contact_emails__new` (`tenant_id`,`address`,`contact_id`) SELECT `tenant_id`,`address`,`contact_id` FROM `contact_emails` WHERE `contact_id` IN (SELECT `id` FROM `contacts`);
DROP TABLE `contact_emails`;
ALTER TABLE `contact_emails__new` RENAME TO `contact_emails`;
CREATE INDEX `idx_contact_emails_contact_id` ON `contact_emails`(`contact_id`);

CREATE TABLE `mailboxes__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`owner_id` integer,`provider` text NOT NULL,`email` text NOT NULL,`token_ciphertext` blob,`history_id` integer,`sync_state` text NOT NULL,`full_sync_history_id` integer,`full_sync_page_token` text,`progress_done` integer,`progress_total` integer,`last_error` text,`needs_reauth` numeric,`resyncs` integer,`last_sync_at` datetime,`watch_expiration` datetime,`created_at` datetime,`updated_at` datetime, `scopes` text,FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE);
INSERT INTO `mailboxes__new` (`id`,`tenant_id`,`owner_id`,`provider`,`email`,`token_ciphertext`,`history_id`,`sync_state`,`full_sync_history_id`,`full_sync_page_token`,`progress_done`,`progress_total`,`last_error`,`needs_reauth`,`resyncs`,`last_sync_at`,`watch_expiration`,`created_at`,`updated_at`,`scopes`) SELECT `id`,`tenant_id`,`owner_id`,`provider`,`email`,`token_ciphertext`,`history_id`,`sync_state`,`full_sync_history_id`,`full_sync_page_token`,`progress_done`,`progress_total`,`last_error`,`needs_reauth`,`resyncs`,`last_sync_at`,`watch_expiration`,`created_at`,`updated_at`,`scopes` FROM `mailboxes` WHERE `tenant_id` IN (SELECT `id` FROM `tenants`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'mailboxes__new', seq FROM sqlite_sequence WHERE name = 'mailboxes' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'mailboxes__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'mailboxes') WHERE name = 'mailboxes__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'mailboxes');
DROP TABLE `mailboxes`;
ALTER TABLE `mailboxes__new` RENAME TO `mailboxes`;
CREATE INDEX `idx_mailboxes_owner_id` ON `mailboxes`(`owner_id`);
CREATE UNIQUE INDEX `ux_mailbox_email` ON `mailboxes`(`tenant_id`,`email`);

CREATE TABLE `threads__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`mailbox_id` integer NOT NULL,`gmail_thread_id` text NOT NULL,`subject` text,`last_message_at` datetime,`message_count` integer,FOREIGN KEY (`mailbox_id`) REFERENCES `mailboxes`(`id`) ON DELETE CASCADE);
INSERT INTO `threads__new` (`id`,`tenant_id`,`mailbox_id`,`gmail_thread_id`,`subject`,`last_message_at`,`message_count`) SELECT `id`,`tenant_id`,`mailbox_id`,`gmail_thread_id`,`subject`,`last_message_at`,`message_count` FROM `threads` WHERE `mailbox_id` IN (SELECT `id` FROM `mailboxes`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'threads__new', seq FROM sqlite_sequence WHERE name = 'threads' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'threads__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'threads') WHERE name = 'threads__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'threads');
DROP TABLE `threads`;
ALTER TABLE `threads__new` RENAME TO `threads`;
CREATE INDEX `idx_threads_last_message_at` ON `threads`(`last_message_at`);
CREATE INDEX `idx_threads_tenant_id` ON `threads`(`tenant_id`);
CREATE UNIQUE INDEX `ux_thread` ON `threads`(`mailbox_id`,`gmail_thread_id`);

CREATE TABLE `labels__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`mailbox_id` integer NOT NULL,`gmail_id` text NOT NULL,`name` text NOT NULL,`type` text NOT NULL, background_color text NOT NULL DEFAULT '', text_color text NOT NULL DEFAULT '',FOREIGN KEY (`mailbox_id`) REFERENCES `mailboxes`(`id`) ON DELETE CASCADE);
INSERT INTO `labels__new` (`id`,`tenant_id`,`mailbox_id`,`gmail_id`,`name`,`type`,`background_color`,`text_color`) SELECT `id`,`tenant_id`,`mailbox_id`,`gmail_id`,`name`,`type`,`background_color`,`text_color` FROM `labels` WHERE `mailbox_id` IN (SELECT `id` FROM `mailboxes`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'labels__new', seq FROM sqlite_sequence WHERE name = 'labels' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'labels__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'labels') WHERE name = 'labels__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'labels');
DROP TABLE `labels`;
ALTER TABLE `labels__new` RENAME TO `labels`;
CREATE INDEX `idx_labels_tenant_id` ON `labels`(`tenant_id`);
CREATE UNIQUE INDEX `ux_label` ON `labels`(`mailbox_id`,`gmail_id`);

CREATE TABLE `raw_messages__new` (`tenant_id` integer NOT NULL,`mailbox_id` integer,`gmail_id` text,`data` blob,PRIMARY KEY (`mailbox_id`,`gmail_id`),FOREIGN KEY (`mailbox_id`) REFERENCES `mailboxes`(`id`) ON DELETE CASCADE);
INSERT INTO `raw_messages__new` (`tenant_id`,`mailbox_id`,`gmail_id`,`data`) SELECT `tenant_id`,`mailbox_id`,`gmail_id`,`data` FROM `raw_messages` WHERE `mailbox_id` IN (SELECT `id` FROM `mailboxes`);
DROP TABLE `raw_messages`;
ALTER TABLE `raw_messages__new` RENAME TO `raw_messages`;
CREATE INDEX `idx_raw_messages_tenant_id` ON `raw_messages`(`tenant_id`);

CREATE TABLE `messages__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`mailbox_id` integer NOT NULL,`gmail_id` text NOT NULL,`gmail_thread_id` text,`rfc_message_id` text,`in_reply_to` text,`subject` text,`from` text,`from_address` text,`to` text,`cc` text,`bcc` text,`date` datetime,`internal_date` datetime,`snippet` text,`size` integer,`text` text,`html` text,`warnings` text,`decode_error` text,`raw_ref` text,`bulk` numeric,`has_attachments` numeric,`history_id` integer,`created_at` datetime,`updated_at` datetime,FOREIGN KEY (`mailbox_id`) REFERENCES `mailboxes`(`id`) ON DELETE CASCADE);
INSERT INTO `messages__new` (`id`,`tenant_id`,`mailbox_id`,`gmail_id`,`gmail_thread_id`,`rfc_message_id`,`in_reply_to`,`subject`,`from`,`from_address`,`to`,`cc`,`bcc`,`date`,`internal_date`,`snippet`,`size`,`text`,`html`,`warnings`,`decode_error`,`raw_ref`,`bulk`,`has_attachments`,`history_id`,`created_at`,`updated_at`) SELECT `id`,`tenant_id`,`mailbox_id`,`gmail_id`,`gmail_thread_id`,`rfc_message_id`,`in_reply_to`,`subject`,`from`,`from_address`,`to`,`cc`,`bcc`,`date`,`internal_date`,`snippet`,`size`,`text`,`html`,`warnings`,`decode_error`,`raw_ref`,`bulk`,`has_attachments`,`history_id`,`created_at`,`updated_at` FROM `messages` WHERE `mailbox_id` IN (SELECT `id` FROM `mailboxes`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'messages__new', seq FROM sqlite_sequence WHERE name = 'messages' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'messages') WHERE name = 'messages__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'messages');
DROP TABLE `messages`;
ALTER TABLE `messages__new` RENAME TO `messages`;
CREATE INDEX `idx_messages_date` ON `messages`(`date`);
CREATE INDEX `idx_messages_from_address` ON `messages`(`from_address`);
CREATE INDEX `idx_messages_gmail_thread_id` ON `messages`(`gmail_thread_id`);
CREATE INDEX `idx_messages_rfc_message_id` ON `messages`(`rfc_message_id`);
CREATE INDEX `idx_messages_tenant_id` ON `messages`(`tenant_id`);
CREATE INDEX ix_messages_mailbox_date ON messages (mailbox_id, date DESC);
CREATE INDEX ix_messages_thread_date ON messages (mailbox_id, gmail_thread_id, date);
CREATE UNIQUE INDEX `ux_message` ON `messages`(`mailbox_id`,`gmail_id`);

CREATE TABLE `message_addresses__new` (`tenant_id` integer NOT NULL,`message_id` integer,`role` text,`address` text,`domain` text,`name` text,PRIMARY KEY (`message_id`,`role`,`address`),FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON DELETE CASCADE);
INSERT INTO `message_addresses__new` (`tenant_id`,`message_id`,`role`,`address`,`domain`,`name`) SELECT `tenant_id`,`message_id`,`role`,`address`,`domain`,`name` FROM `message_addresses` WHERE `message_id` IN (SELECT `id` FROM `messages`);
DROP TABLE `message_addresses`;
ALTER TABLE `message_addresses__new` RENAME TO `message_addresses`;
CREATE INDEX `idx_message_addresses_domain` ON `message_addresses`(`domain`);
CREATE INDEX `ix_msgaddr_tenant_addr` ON `message_addresses`(`tenant_id`,`address`);

CREATE TABLE `message_labels__new` (`tenant_id` integer NOT NULL,`message_id` integer,`label_id` text,PRIMARY KEY (`message_id`,`label_id`),FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON DELETE CASCADE);
INSERT INTO `message_labels__new` (`tenant_id`,`message_id`,`label_id`) SELECT `tenant_id`,`message_id`,`label_id` FROM `message_labels` WHERE `message_id` IN (SELECT `id` FROM `messages`);
DROP TABLE `message_labels`;
ALTER TABLE `message_labels__new` RENAME TO `message_labels`;
CREATE INDEX `idx_message_labels_tenant_id` ON `message_labels`(`tenant_id`);

CREATE TABLE `attachments__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`message_id` integer NOT NULL,`part_id` text NOT NULL,`gmail_attachment_id` text,`filename` text,`content_type` text,`content_id` text,`size` integer,`inline` numeric,FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON DELETE CASCADE);
INSERT INTO `attachments__new` (`id`,`tenant_id`,`message_id`,`part_id`,`gmail_attachment_id`,`filename`,`content_type`,`content_id`,`size`,`inline`) SELECT `id`,`tenant_id`,`message_id`,`part_id`,`gmail_attachment_id`,`filename`,`content_type`,`content_id`,`size`,`inline` FROM `attachments` WHERE `message_id` IN (SELECT `id` FROM `messages`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'attachments__new', seq FROM sqlite_sequence WHERE name = 'attachments' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'attachments__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'attachments') WHERE name = 'attachments__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'attachments');
DROP TABLE `attachments`;
ALTER TABLE `attachments__new` RENAME TO `attachments`;
CREATE INDEX `idx_attachments_tenant_id` ON `attachments`(`tenant_id`);
CREATE UNIQUE INDEX `ux_attachment` ON `attachments`(`message_id`,`part_id`);

CREATE TABLE `cases__new` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`subject` text NOT NULL,`description` text,`status` text NOT NULL,`priority` text NOT NULL,`assignee_id` integer,`account_id` integer,`contact_id` integer,`created_at` datetime,`updated_at` datetime,FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON DELETE CASCADE,FOREIGN KEY (`assignee_id`) REFERENCES `users`(`id`) ON DELETE SET NULL,FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE SET NULL,FOREIGN KEY (`contact_id`) REFERENCES `contacts`(`id`) ON DELETE SET NULL);
INSERT INTO `cases__new` (`id`,`tenant_id`,`subject`,`description`,`status`,`priority`,`assignee_id`,`account_id`,`contact_id`,`created_at`,`updated_at`) SELECT `id`,`tenant_id`,`subject`,`description`,`status`,`priority`,CASE WHEN `assignee_id` IN (SELECT `id` FROM `users`) THEN `assignee_id` END,CASE WHEN `account_id` IN (SELECT `id` FROM `accounts`) THEN `account_id` END,CASE WHEN `contact_id` IN (SELECT `id` FROM `contacts`) THEN `contact_id` END,`created_at`,`updated_at` FROM `cases` WHERE `tenant_id` IN (SELECT `id` FROM `tenants`);
INSERT INTO sqlite_sequence (name, seq) SELECT 'cases__new', seq FROM sqlite_sequence WHERE name = 'cases' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'cases__new');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'cases') WHERE name = 'cases__new' AND seq < (SELECT seq FROM sqlite_sequence WHERE name = 'cases');
DROP TABLE `cases`;
ALTER TABLE `cases__new` RENAME TO `cases`;
CREATE INDEX `idx_cases_account_id` ON `cases`(`account_id`);
CREATE INDEX `idx_cases_assignee_id` ON `cases`(`assignee_id`);
CREATE INDEX `idx_cases_contact_id` ON `cases`(`contact_id`);
CREATE INDEX `idx_cases_status` ON `cases`(`status`);
CREATE INDEX `idx_cases_tenant_id` ON `cases`(`tenant_id`);

CREATE TABLE `case_messages__new` (`tenant_id` integer NOT NULL,`case_id` integer,`message_id` integer,`created_at` datetime,PRIMARY KEY (`case_id`,`message_id`),FOREIGN KEY (`case_id`) REFERENCES `cases`(`id`) ON DELETE CASCADE,FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON DELETE CASCADE);
INSERT INTO `case_messages__new` (`tenant_id`,`case_id`,`message_id`,`created_at`) SELECT `tenant_id`,`case_id`,`message_id`,`created_at` FROM `case_messages` WHERE `case_id` IN (SELECT `id` FROM `cases`) AND `message_id` IN (SELECT `id` FROM `messages`);
DROP TABLE `case_messages`;
ALTER TABLE `case_messages__new` RENAME TO `case_messages`;
CREATE INDEX `idx_case_messages_message_id` ON `case_messages`(`message_id`);
CREATE INDEX `idx_case_messages_tenant_id` ON `case_messages`(`tenant_id`);

CREATE TRIGGER search_outbox_account_domains_delete AFTER DELETE ON account_domains BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = OLD.tenant_id AND domain = OLD.domain ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_account_domains_insert AFTER INSERT ON account_domains BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = NEW.tenant_id AND domain = NEW.domain ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_account_domains_update AFTER UPDATE ON account_domains BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = OLD.tenant_id AND domain IN (OLD.domain, NEW.domain) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_attachments_delete AFTER DELETE ON attachments BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (OLD.message_id, OLD.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_attachments_insert AFTER INSERT ON attachments BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_attachments_update AFTER UPDATE ON attachments BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_case_messages_delete AFTER DELETE ON case_messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (OLD.message_id, OLD.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_case_messages_insert AFTER INSERT ON case_messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_case_messages_update AFTER UPDATE ON case_messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_contact_emails_delete AFTER DELETE ON contact_emails BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = OLD.tenant_id AND address = OLD.address ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_contact_emails_insert AFTER INSERT ON contact_emails BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = NEW.tenant_id AND address = NEW.address ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_contact_emails_update AFTER UPDATE ON contact_emails BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = OLD.tenant_id AND address IN (OLD.address, NEW.address) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_contacts_delete AFTER DELETE ON contacts BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ma.message_id, ma.tenant_id FROM contact_emails ce JOIN message_addresses ma ON ma.tenant_id = ce.tenant_id AND ma.address = ce.address WHERE ce.tenant_id = OLD.tenant_id AND ce.contact_id = OLD.id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_contacts_update AFTER UPDATE OF account_id ON contacts BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ma.message_id, ma.tenant_id FROM contact_emails ce JOIN message_addresses ma ON ma.tenant_id = ce.tenant_id AND ma.address = ce.address WHERE ce.tenant_id = NEW.tenant_id AND ce.contact_id = NEW.id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_labels_delete AFTER DELETE ON labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ml.message_id, ml.tenant_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id WHERE m.mailbox_id = OLD.mailbox_id AND ml.label_id = OLD.gmail_id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_labels_insert AFTER INSERT ON labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ml.message_id, ml.tenant_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id WHERE m.mailbox_id = NEW.mailbox_id AND ml.label_id = NEW.gmail_id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_labels_update AFTER UPDATE OF name, gmail_id ON labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ml.message_id, ml.tenant_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id WHERE m.mailbox_id = OLD.mailbox_id AND ml.label_id = OLD.gmail_id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ml.message_id, ml.tenant_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id WHERE m.mailbox_id = NEW.mailbox_id AND ml.label_id = NEW.gmail_id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_message_addresses_delete AFTER DELETE ON message_addresses BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (OLD.message_id, OLD.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_message_addresses_insert AFTER INSERT ON message_addresses BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_message_addresses_update AFTER UPDATE ON message_addresses BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_message_labels_delete AFTER DELETE ON message_labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (OLD.message_id, OLD.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_message_labels_insert AFTER INSERT ON message_labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_message_labels_update AFTER UPDATE ON message_labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_messages_delete AFTER DELETE ON messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (OLD.id, OLD.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_messages_insert AFTER INSERT ON messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
CREATE TRIGGER search_outbox_messages_update AFTER UPDATE ON messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
