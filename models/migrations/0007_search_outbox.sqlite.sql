-- Search index work, committed in the same transaction as the change that
-- causes it: every write to a row a search document is built from (the
-- message, its labels, participants, attachments, case links, and the
-- contact e-mail, contact account, account domain and label name rows the
-- document's links and label names come from) marks the message here, by a
-- trigger, so no code path can forget it. The search indexer drains the
-- table: it rebuilds each marked message's document from the database (or
-- deletes it from the index when the message is gone) and then removes the
-- mark, but only if its version is still the one it read. A crash between
-- the database commit and the index write therefore loses nothing.

CREATE TABLE `search_outbox` (`message_id` integer PRIMARY KEY, `tenant_id` integer NOT NULL, `version` integer NOT NULL DEFAULT 1);

CREATE TRIGGER search_outbox_messages_insert AFTER INSERT ON messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_messages_update AFTER UPDATE ON messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_messages_delete AFTER DELETE ON messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (OLD.id, OLD.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_message_labels_insert AFTER INSERT ON message_labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_message_labels_update AFTER UPDATE ON message_labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_message_labels_delete AFTER DELETE ON message_labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (OLD.message_id, OLD.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_message_addresses_insert AFTER INSERT ON message_addresses BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_message_addresses_update AFTER UPDATE ON message_addresses BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_message_addresses_delete AFTER DELETE ON message_addresses BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (OLD.message_id, OLD.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_attachments_insert AFTER INSERT ON attachments BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_attachments_update AFTER UPDATE ON attachments BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_attachments_delete AFTER DELETE ON attachments BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (OLD.message_id, OLD.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_case_messages_insert AFTER INSERT ON case_messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_case_messages_update AFTER UPDATE ON case_messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (NEW.message_id, NEW.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_case_messages_delete AFTER DELETE ON case_messages BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) VALUES (OLD.message_id, OLD.tenant_id) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_contact_emails_insert AFTER INSERT ON contact_emails BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = NEW.tenant_id AND address = NEW.address ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_account_domains_insert AFTER INSERT ON account_domains BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = NEW.tenant_id AND domain = NEW.domain ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_contact_emails_delete AFTER DELETE ON contact_emails BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = OLD.tenant_id AND address = OLD.address ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_account_domains_delete AFTER DELETE ON account_domains BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = OLD.tenant_id AND domain = OLD.domain ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_contact_emails_update AFTER UPDATE ON contact_emails BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = OLD.tenant_id AND address IN (OLD.address, NEW.address) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_account_domains_update AFTER UPDATE ON account_domains BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = OLD.tenant_id AND domain IN (OLD.domain, NEW.domain) ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_contacts_update AFTER UPDATE OF account_id ON contacts BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ma.message_id, ma.tenant_id FROM contact_emails ce JOIN message_addresses ma ON ma.tenant_id = ce.tenant_id AND ma.address = ce.address WHERE ce.tenant_id = NEW.tenant_id AND ce.contact_id = NEW.id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_contacts_delete AFTER DELETE ON contacts BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ma.message_id, ma.tenant_id FROM contact_emails ce JOIN message_addresses ma ON ma.tenant_id = ce.tenant_id AND ma.address = ce.address WHERE ce.tenant_id = OLD.tenant_id AND ce.contact_id = OLD.id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_labels_insert AFTER INSERT ON labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ml.message_id, ml.tenant_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id WHERE m.mailbox_id = NEW.mailbox_id AND ml.label_id = NEW.gmail_id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_labels_update AFTER UPDATE OF name, gmail_id ON labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ml.message_id, ml.tenant_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id WHERE m.mailbox_id = OLD.mailbox_id AND ml.label_id = OLD.gmail_id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ml.message_id, ml.tenant_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id WHERE m.mailbox_id = NEW.mailbox_id AND ml.label_id = NEW.gmail_id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;

CREATE TRIGGER search_outbox_labels_delete AFTER DELETE ON labels BEGIN
  INSERT INTO search_outbox (message_id, tenant_id) SELECT ml.message_id, ml.tenant_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id WHERE m.mailbox_id = OLD.mailbox_id AND ml.label_id = OLD.gmail_id ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
END;
