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

CREATE TABLE search_outbox (
    message_id bigint PRIMARY KEY,
    tenant_id bigint NOT NULL,
    version bigint NOT NULL DEFAULT 1
);

CREATE FUNCTION search_outbox_mark(mid bigint, tid bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO search_outbox (message_id, tenant_id) VALUES (mid, tid)
    ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
$$;

-- messages: the row itself.
CREATE FUNCTION search_outbox_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM search_outbox_mark(OLD.id, OLD.tenant_id);
        RETURN OLD;
    END IF;
    PERFORM search_outbox_mark(NEW.id, NEW.tenant_id);
    RETURN NEW;
END $$;
CREATE TRIGGER search_outbox_messages AFTER INSERT OR UPDATE OR DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION search_outbox_messages();

-- Rows that belong to one message (message_id column).
CREATE FUNCTION search_outbox_message_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM search_outbox_mark(OLD.message_id, OLD.tenant_id);
        RETURN OLD;
    END IF;
    PERFORM search_outbox_mark(NEW.message_id, NEW.tenant_id);
    RETURN NEW;
END $$;

CREATE TRIGGER search_outbox_message_labels AFTER INSERT OR UPDATE OR DELETE ON message_labels
    FOR EACH ROW EXECUTE FUNCTION search_outbox_message_rows();

CREATE TRIGGER search_outbox_message_addresses AFTER INSERT OR UPDATE OR DELETE ON message_addresses
    FOR EACH ROW EXECUTE FUNCTION search_outbox_message_rows();

CREATE TRIGGER search_outbox_attachments AFTER INSERT OR UPDATE OR DELETE ON attachments
    FOR EACH ROW EXECUTE FUNCTION search_outbox_message_rows();

CREATE TRIGGER search_outbox_case_messages AFTER INSERT OR UPDATE OR DELETE ON case_messages
    FOR EACH ROW EXECUTE FUNCTION search_outbox_message_rows();

-- A contact e-mail links every message with that participant to the contact.
CREATE FUNCTION search_outbox_contact_emails() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO search_outbox (message_id, tenant_id)
            SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = OLD.tenant_id AND address = OLD.address
            ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO search_outbox (message_id, tenant_id)
            SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = NEW.tenant_id AND address = NEW.address
            ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER search_outbox_contact_emails AFTER INSERT OR UPDATE OR DELETE ON contact_emails
    FOR EACH ROW EXECUTE FUNCTION search_outbox_contact_emails();

-- An account domain links every message with a participant at that domain.
CREATE FUNCTION search_outbox_account_domains() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO search_outbox (message_id, tenant_id)
            SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = OLD.tenant_id AND domain = OLD.domain
            ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO search_outbox (message_id, tenant_id)
            SELECT message_id, tenant_id FROM message_addresses WHERE tenant_id = NEW.tenant_id AND domain = NEW.domain
            ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER search_outbox_account_domains AFTER INSERT OR UPDATE OR DELETE ON account_domains
    FOR EACH ROW EXECUTE FUNCTION search_outbox_account_domains();

-- A contact's account (and the contact itself) is part of its messages' links.
CREATE FUNCTION search_outbox_contacts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_outbox (message_id, tenant_id)
        SELECT ma.message_id, ma.tenant_id FROM contact_emails ce
        JOIN message_addresses ma ON ma.tenant_id = ce.tenant_id AND ma.address = ce.address
        WHERE ce.tenant_id = OLD.tenant_id AND ce.contact_id = OLD.id
        ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER search_outbox_contacts_update AFTER UPDATE OF account_id ON contacts
    FOR EACH ROW EXECUTE FUNCTION search_outbox_contacts();
CREATE TRIGGER search_outbox_contacts_delete AFTER DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION search_outbox_contacts();

-- A user label's name is searchable (label:NAME).
CREATE FUNCTION search_outbox_labels() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO search_outbox (message_id, tenant_id)
            SELECT ml.message_id, ml.tenant_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id
            WHERE m.mailbox_id = OLD.mailbox_id AND ml.label_id = OLD.gmail_id
            ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO search_outbox (message_id, tenant_id)
            SELECT ml.message_id, ml.tenant_id FROM messages m JOIN message_labels ml ON ml.message_id = m.id
            WHERE m.mailbox_id = NEW.mailbox_id AND ml.label_id = NEW.gmail_id
            ON CONFLICT (message_id) DO UPDATE SET version = search_outbox.version + 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER search_outbox_labels_insert AFTER INSERT OR DELETE ON labels
    FOR EACH ROW EXECUTE FUNCTION search_outbox_labels();
CREATE TRIGGER search_outbox_labels_update AFTER UPDATE OF name, gmail_id ON labels
    FOR EACH ROW EXECUTE FUNCTION search_outbox_labels();
