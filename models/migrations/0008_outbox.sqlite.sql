-- The outbox: outgoing actions (send, drafts, mailbox actions) carried out
-- exactly once by worker tasks, and their stored bytes in 1 MiB chunks.
ALTER TABLE `mailboxes` ADD COLUMN `scopes` text;
CREATE TABLE `outbox_items` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`mailbox_id` integer NOT NULL,`user_id` integer NOT NULL,`kind` text NOT NULL,`state` text NOT NULL,`idempotency_key` text,`spec` text,`subject` text,`recipients` text,`case_id` integer,`rfc_message_id` text,`gmail_thread_id` text,`gmail_message_id` text,`gmail_draft_id` text,`message_id` integer,`send_at` datetime,`attempts` integer,`last_error` text,`in_flight` numeric,`upload_uri` text,`upload_offset` integer,`size` integer,`composed` numeric,`sent_at` datetime,`lease_until` datetime,`created_at` datetime,`updated_at` datetime);
CREATE INDEX `idx_outbox_items_tenant_id` ON `outbox_items`(`tenant_id`);
CREATE INDEX `idx_outbox_items_mailbox_id` ON `outbox_items`(`mailbox_id`);
CREATE INDEX `idx_outbox_items_state` ON `outbox_items`(`state`);
CREATE INDEX `idx_outbox_items_send_at` ON `outbox_items`(`send_at`);
CREATE INDEX `idx_outbox_items_rfc_message_id` ON `outbox_items`(`rfc_message_id`);
CREATE UNIQUE INDEX `ux_outbox_idem` ON `outbox_items`(`tenant_id`,`idempotency_key`);
CREATE TABLE `outbox_chunks` (`tenant_id` integer NOT NULL,`outbox_id` integer,`stream` text,`seq` integer,`data` blob,PRIMARY KEY (`outbox_id`,`stream`,`seq`));
CREATE INDEX `idx_outbox_chunks_tenant_id` ON `outbox_chunks`(`tenant_id`);
