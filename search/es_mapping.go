package search

// esIndexTemplate is the composable index template for every physical
// index (prefix-<generation>). Analysis choices:
//   - "words": split on anything that is not a letter, digit or mark, so
//     "p.jansen@acme.com" gives p, jansen, acme, com (the same tokens as the
//     embedded index), then lowercase and asciifolding ("Müller" → muller).
//   - "*.prefix" subfields on subject, people and filenames index edge
//     n-grams of those words, so "jans" is a plain term lookup; the search
//     side uses "words" so the query itself is not n-grammed.
//   - the body is too large for n-grams; it uses index_prefixes, which makes
//     a (match_bool_)prefix query on it a term lookup in a hidden field.
//   - "*.addr" subfields use the uax_url_email tokenizer, which keeps whole
//     addresses as one token, for from:p.jansen@acme.com (and its prefixes).
//
// Dynamic mapping is strict so a typo in a field name fails loudly.
// Reference: https://www.elastic.co/guide/en/elasticsearch/reference/8.19/analysis-edgengram-tokenfilter.html,
// index-prefixes.html, analysis-uaxurlemail-tokenizer.html, index-templates.html.
const esIndexTemplate = `{
  "index_patterns": ["%[1]s-*"],
  "priority": 200,
  "template": {
    "settings": {
      "index": {"max_ngram_diff": 19, "refresh_interval": "1s"},
      "analysis": {
        "tokenizer": {
          "words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}\\p{M}]+"},
          "email": {"type": "uax_url_email", "max_token_length": 255}
        },
        "filter": {
          "fold": {"type": "asciifolding", "preserve_original": false},
          "prefixes": {"type": "edge_ngram", "min_gram": 1, "max_gram": 20, "preserve_original": true}
        },
        "analyzer": {
          "words": {"type": "custom", "tokenizer": "words", "filter": ["lowercase", "fold"]},
          "words_prefix": {"type": "custom", "tokenizer": "words", "filter": ["lowercase", "fold", "prefixes"]},
          "email": {"type": "custom", "tokenizer": "email", "filter": ["lowercase", "fold"]}
        }
      }
    },
    "mappings": {
      "dynamic": "strict",
      "properties": {
        "id":          {"type": "long"},
        "tenant_id":   {"type": "long"},
        "mailbox_id":  {"type": "long"},
        "contact_ids": {"type": "long"},
        "account_ids": {"type": "long"},
        "case_ids":    {"type": "long"},
        "gmail_id":    {"type": "keyword", "index": false},
        "thread_id":   {"type": "keyword"},
        "labels":      {"type": "keyword"},
        "label_ids":   {"type": "keyword", "index": false},
        "label_names": {"type": "keyword", "index": false},
        "hash":        {"type": "keyword", "index": false},
        "date":        {"type": "date"},
        "has_attachment": {"type": "boolean"},
        "subject":   {"type": "text", "analyzer": "words", "fields": {
          "prefix": {"type": "text", "analyzer": "words_prefix", "search_analyzer": "words"}}},
        "from":      {"type": "text", "analyzer": "words", "fields": {
          "prefix": {"type": "text", "analyzer": "words_prefix", "search_analyzer": "words"},
          "addr":   {"type": "text", "analyzer": "email", "index_prefixes": {"min_chars": 1, "max_chars": 19}}}},
        "to":        {"type": "text", "analyzer": "words", "fields": {
          "prefix": {"type": "text", "analyzer": "words_prefix", "search_analyzer": "words"},
          "addr":   {"type": "text", "analyzer": "email", "index_prefixes": {"min_chars": 1, "max_chars": 19}}}},
        "cc":        {"type": "text", "analyzer": "words", "fields": {
          "prefix": {"type": "text", "analyzer": "words_prefix", "search_analyzer": "words"},
          "addr":   {"type": "text", "analyzer": "email", "index_prefixes": {"min_chars": 1, "max_chars": 19}}}},
        "bcc":       {"type": "text", "analyzer": "words", "fields": {
          "prefix": {"type": "text", "analyzer": "words_prefix", "search_analyzer": "words"},
          "addr":   {"type": "text", "analyzer": "email", "index_prefixes": {"min_chars": 1, "max_chars": 19}}}},
        "filenames": {"type": "text", "analyzer": "words", "fields": {
          "prefix": {"type": "text", "analyzer": "words_prefix", "search_analyzer": "words"}}},
        "body":      {"type": "text", "analyzer": "words", "index_prefixes": {"min_chars": 1, "max_chars": 10}}
      }
    }
  }
}`
