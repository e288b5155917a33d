-- The search index inside Postgres (search.PGIndex), used whenever the
-- database is Postgres and no Elasticsearch is configured, so that the web
-- process and any number of workers on any number of machines search one
-- index. One row per indexed message document, written only by the search
-- indexer from the search outbox (0007) and by `tidings reindex`; it is
-- derived data, so it has no foreign keys: a document whose message is gone
-- is removed by the indexer when it drains the message's outbox mark.
--
-- terms holds every searchable token, folded and tokenized in Go by the
-- same code as the embedded index (search/fold_text.go), so that index and
-- query fold alike: plain words of all text fields for free words, the
-- same words tagged by field ("f~jansen") for from:/to:/subject:...,
-- whole addresses by role, and keyword tags for labels, attachments and
-- contact/account/case links. The GIN index answers word prefixes
-- ('invo':*), phrases (<->) and the boolean operators; the (tenant_id,
-- date, id) index gives newest-first pages by walking dates when a query
-- matches more documents than are worth sorting. No extension is needed.
--
-- toast_tuple_target = 128 moves terms and doc out of the heap row (to the
-- table's TOAST relation), leaving about 100 bytes per row: counting and
-- sorting the matches of a word visits each matching row's heap tuple,
-- and a narrow heap makes that a fifth of the pages (BENCHMARKS.md).
CREATE TABLE search_documents (
    id bigint PRIMARY KEY,
    tenant_id bigint NOT NULL,
    mailbox_id bigint NOT NULL,
    date timestamptz NOT NULL,
    hash text NOT NULL,
    terms tsvector NOT NULL,
    doc bytea NOT NULL
) WITH (toast_tuple_target = 128);

CREATE INDEX search_documents_terms ON search_documents USING gin (terms);
CREATE INDEX search_documents_tenant_date ON search_documents (tenant_id, date DESC, id DESC);
CREATE INDEX search_documents_tenant_mailbox ON search_documents (tenant_id, mailbox_id);
