package search

import (
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types/enums/dynamicmapping"
)

// Analysis in Elasticsearch produces the tokens the embedded engines
// produce (fold.go, fold_text.go), with built-in components only (no
// analysis-icu plugin to install):
//
//   - char filter "fold_marks" (mapping): every precomposed letter whose
//     canonical decomposition (NFD, UAX #15) carries combining marks that
//     the asciifolding filter leaves alone, mapped to the letter without
//     them — "ё" → "е", "й" → "и", "ά" → "α". The table is generated from
//     Go's Unicode tables by esMarkFolds, the same decomposition the
//     embedded engines apply.
//   - char filter "strip_marks" (pattern_replace \p{Mn}): combining marks
//     already decomposed in the text ("e" + U+0301).
//   - tokenizer "words" (pattern, group 0: emit the matches): each Han,
//     Hiragana, Katakana or Hangul character is a token of its own, as in
//     the embedded tokenizer, so a CJK word in a query is a phrase of its
//     characters found anywhere inside a run; other tokens are runs of
//     letters and digits with marks, so "p.jansen@acme.com" gives p,
//     jansen, acme, com.
//   - token filters lowercase and asciifolding (Lucene's ASCIIFoldingFilter,
//     the table bleve ported: "ß" → "ss", "ø" → "o", "ł" → "l").
//   - "*.prefix" subfields index edge n-grams of those tokens (1–20, the
//     word itself kept), so a word prefix is a term lookup; the search side
//     uses "words", so the query word is not n-grammed. The body is too
//     large for n-grams and uses index_prefixes instead.
//   - addresses are objects {name, address}: the name is text, the address
//     a keyword (lower-cased by a normalizer) for exact and prefix matches
//     ("from:sanne@tyr"), with "words" and "prefix" subfields so its parts
//     match as words ("from:jans").
//
// Dynamic mapping is strict so a typo in a field name fails loudly.
// References (8.19): analysis-pattern-tokenizer.html,
// analysis-mapping-charfilter.html, analysis-pattern-replace-charfilter.html,
// analysis-asciifolding-tokenfilter.html, analysis-edgengram-tokenfilter.html,
// index-prefixes.html, normalizer.html.

// Names of the analysis components.
const (
	esAnalyzerWords  = "words"
	esAnalyzerPrefix = "words_prefix"
	esNormAddress    = "address"
)

// esCJK is the Java regular expression class of the characters the
// embedded tokenizer treats as CJK (isCJK): Han, Hiragana, Katakana and
// Hangul from U+2E80 on (the Hangul Jamo below are ordinary letters there).
const esCJK = `[\p{IsHan}\p{IsHiragana}\p{IsKatakana}\p{IsHangul}&&[^\x{0}-\x{2E7F}]]`

// esWordsPattern matches one token: a CJK character, or a run of letters
// and digits (marks allowed after the first) without CJK characters.
const esWordsPattern = esCJK + `|(?:(?!` + esCJK + `)[\p{L}\p{N}])(?:(?!` + esCJK + `)[\p{L}\p{N}\p{M}])*`

func esSettings() *types.IndexSettings {
	group, maxNgramDiff := 0, 19
	pattern, marks, empty := esWordsPattern, `\p{Mn}`, ""
	minGram, maxGram := 1, 20
	words := []string{"fold_marks", "strip_marks"}
	return &types.IndexSettings{
		Index: &types.IndexSettings{MaxNgramDiff: &maxNgramDiff, RefreshInterval: "1s"},
		Analysis: &types.IndexSettingsAnalysis{
			CharFilter: map[string]types.CharFilter{
				"fold_marks":  types.MappingCharFilter{Mappings: esMarkFolds()},
				"strip_marks": types.PatternReplaceCharFilter{Pattern: marks, Replacement: &empty},
			},
			Tokenizer: map[string]types.Tokenizer{
				"words": types.PatternTokenizer{Pattern: &pattern, Group: &group},
			},
			Filter: map[string]types.TokenFilter{
				"fold":     types.AsciiFoldingTokenFilter{PreserveOriginal: false},
				"prefixes": types.EdgeNGramTokenFilter{MinGram: &minGram, MaxGram: &maxGram, PreserveOriginal: true},
			},
			Analyzer: map[string]types.Analyzer{
				esAnalyzerWords:  types.CustomAnalyzer{CharFilter: words, Tokenizer: "words", Filter: []string{"lowercase", "fold"}},
				esAnalyzerPrefix: types.CustomAnalyzer{CharFilter: words, Tokenizer: "words", Filter: []string{"lowercase", "fold", "prefixes"}},
			},
			Normalizer: map[string]types.Normalizer{
				esNormAddress: types.CustomNormalizer{Filter: []string{"lowercase"}},
			},
		},
	}
}

// esMarkFolds lists the mapping rules of "fold_marks", as "X => Y": each
// letter whose folding in Elasticsearch (lowercase, then asciifolding)
// would differ from the embedded engines' (lower case, marks stripped
// after canonical decomposition, then the same ASCII folding table), mapped
// to itself without its marks.
var esMarkFolds = sync.OnceValue(func() []string {
	fold := func(s string) string { return string(asciiFolder.Filter([]byte(s))) }
	var out []string
	for r := rune(0x80); r <= 0x2FFFF; r++ {
		if !unicode.IsLetter(r) || isCJK(r) {
			continue
		}
		lower := strings.ToLower(string(r))
		if fold(lower) == fold(stripMarks(lower)) {
			continue
		}
		out = append(out, string(r)+" => "+stripMarks(string(r)))
	}
	slices.Sort(out)
	return out
})

func esMappings() *types.TypeMapping {
	long := func() types.Property { return types.LongNumberProperty{} }
	keyword := func(indexed bool) types.Property { return types.KeywordProperty{Index: &indexed} }
	return &types.TypeMapping{
		Dynamic: &dynamicmapping.Strict,
		Properties: map[string]types.Property{
			"id": long(), "tenant_id": long(), "mailbox_id": long(),
			"contact_ids": long(), "account_ids": long(), "case_ids": long(),
			"gmail_id": keyword(false), "thread_id": keyword(true),
			"labels": keyword(true), "label_ids": keyword(false), "label_names": keyword(false),
			"hash":           keyword(false),
			"date":           types.DateProperty{},
			"has_attachment": types.BooleanProperty{},
			"subject":        esWordsField(),
			"filenames":      esWordsField(),
			"from":           esAddressField(), "to": esAddressField(), "cc": esAddressField(), "bcc": esAddressField(),
			"body": func() types.Property {
				an, minC, maxC := esAnalyzerWords, 1, 10
				return types.TextProperty{Analyzer: &an, IndexPrefixes: &types.TextIndexPrefixes{MinChars: &minC, MaxChars: &maxC}}
			}(),
		},
	}
}

// esWordsField is a text field analyzed into words, with a "prefix"
// subfield of their edge n-grams.
func esWordsField() types.Property {
	an := esAnalyzerWords
	return types.TextProperty{Analyzer: &an, Fields: map[string]types.Property{"prefix": esPrefixField()}}
}

func esPrefixField() types.Property {
	an, search := esAnalyzerPrefix, esAnalyzerWords
	return types.TextProperty{Analyzer: &an, SearchAnalyzer: &search}
}

// esAddressField maps one address or a list of them: {name, address}.
func esAddressField() types.Property {
	norm, words := esNormAddress, esAnalyzerWords
	return types.ObjectProperty{Properties: map[string]types.Property{
		"name": esWordsField(),
		"address": types.KeywordProperty{Normalizer: &norm, Fields: map[string]types.Property{
			"words":  types.TextProperty{Analyzer: &words},
			"prefix": esPrefixField(),
		}},
	}}
}
