-- Server-side web sessions: the cookie carries a random token, the table
-- its SHA-256, so logout, password and role changes end sessions at once.
CREATE TABLE `sessions` (`id` integer PRIMARY KEY AUTOINCREMENT,`token_hash` blob NOT NULL,`user_id` integer NOT NULL,`tenant_id` integer NOT NULL,`csrf` text NOT NULL,`user_agent` text,`ip` text,`created_at` datetime,`last_seen_at` datetime,`expires_at` datetime NOT NULL);
CREATE UNIQUE INDEX `idx_sessions_token_hash` ON `sessions`(`token_hash`);
CREATE INDEX `idx_sessions_user_id` ON `sessions`(`user_id`);
CREATE INDEX `idx_sessions_tenant_id` ON `sessions`(`tenant_id`);
-- Invitations: a single-use token (stored hashed) that the invitee accepts
-- while signed in; nobody joins an organization without accepting.
CREATE TABLE `invitations` (`id` integer PRIMARY KEY AUTOINCREMENT,`tenant_id` integer NOT NULL,`email` text NOT NULL,`role` text NOT NULL,`token_hash` blob NOT NULL,`invited_by` integer NOT NULL,`created_at` datetime,`expires_at` datetime NOT NULL,`accepted_at` datetime,`accepted_by` integer);
CREATE UNIQUE INDEX `idx_invitations_token_hash` ON `invitations`(`token_hash`);
CREATE INDEX `idx_invitations_tenant_id` ON `invitations`(`tenant_id`);
-- The organization a user worked in last: where their next login lands.
ALTER TABLE `users` ADD COLUMN `last_tenant_id` integer;
