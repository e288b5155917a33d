package search

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/elastic/go-elasticsearch/v8/typedapi/indices/putindextemplate"
	"github.com/elastic/go-elasticsearch/v8/typedapi/types"
)

// sentTemplate installs the template through the fake and returns it as
// Elasticsearch would read it: the recorded body decoded strictly.
func sentTemplate(t *testing.T) *putindextemplate.Request {
	t.Helper()
	_, f := openFakeES(t)
	rs := f.take(func(r fakeRequest) bool { return r.Path == "/_index_template/tidings-mail" })
	if len(rs) != 1 {
		t.Fatalf("%d template requests", len(rs))
	}
	var tmpl putindextemplate.Request
	if err := specDecode(rs[0].Body, &tmpl); err != nil {
		t.Fatal(err)
	}
	if tmpl.Template == nil || tmpl.Template.Settings == nil || tmpl.Template.Settings.Analysis == nil || tmpl.Template.Mappings == nil {
		t.Fatalf("template without settings or mappings: %s", rs[0].Body)
	}
	return &tmpl
}

// TestElasticsearchMappingComplete checks that every analyzer, normalizer,
// tokenizer and filter the mapping names is defined (or built in), and
// that every field a document source carries is mapped (dynamic mapping
// is strict: an unmapped field would fail the bulk item).
func TestElasticsearchMappingComplete(t *testing.T) {
	tmpl := sentTemplate(t)
	an := tmpl.Template.Settings.Analysis
	builtinFilters := map[string]bool{"lowercase": true}
	for name, a := range an.Analyzer {
		ca, ok := a.(*types.CustomAnalyzer)
		if !ok {
			t.Fatalf("analyzer %s is %T", name, a)
		}
		if _, ok := an.Tokenizer[ca.Tokenizer]; !ok {
			t.Errorf("analyzer %s: tokenizer %s not defined", name, ca.Tokenizer)
		}
		for _, f := range ca.Filter {
			if _, ok := an.Filter[f]; !ok && !builtinFilters[f] {
				t.Errorf("analyzer %s: filter %s not defined", name, f)
			}
		}
		for _, f := range ca.CharFilter {
			if _, ok := an.CharFilter[f]; !ok {
				t.Errorf("analyzer %s: char filter %s not defined", name, f)
			}
		}
	}
	checkProps(t, an, "", tmpl.Template.Mappings.Properties)

	// A document with every field set must fit the mapping.
	d := loadFixture(t)[0]
	d.Cc, d.Bcc, d.Filenames, d.CaseIDs, d.ContactIDs, d.AccountIDs = d.To, d.To, []string{"a.pdf"}, []int64{1}, []int64{2}, []int64{3}
	d.LabelNames = []string{"Projects/Alpha"}
	src, _ := json.Marshal(toESDoc(&d))
	var doc map[string]any
	_ = json.Unmarshal(src, &doc)
	checkSource(t, "", doc, tmpl.Template.Mappings.Properties)
}

func checkProps(t *testing.T, an *types.IndexSettingsAnalysis, path string, props map[string]types.Property) {
	for name, p := range props {
		b, _ := json.Marshal(p)
		var ref struct {
			Analyzer       string                     `json:"analyzer"`
			SearchAnalyzer string                     `json:"search_analyzer"`
			Normalizer     string                     `json:"normalizer"`
			Fields         map[string]json.RawMessage `json:"fields"`
			Properties     map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{ref.Analyzer, ref.SearchAnalyzer} {
			if _, ok := an.Analyzer[a]; a != "" && !ok {
				t.Errorf("%s%s: analyzer %s not defined", path, name, a)
			}
		}
		if _, ok := an.Normalizer[ref.Normalizer]; ref.Normalizer != "" && !ok {
			t.Errorf("%s%s: normalizer %s not defined", path, name, ref.Normalizer)
		}
		for _, sub := range []map[string]json.RawMessage{ref.Fields, ref.Properties} {
			if len(sub) == 0 {
				continue
			}
			var tm types.TypeMapping
			raw, _ := json.Marshal(map[string]any{"properties": sub})
			if err := json.Unmarshal(raw, &tm); err != nil {
				t.Fatal(err)
			}
			checkProps(t, an, path+name+".", tm.Properties)
		}
	}
}

// checkSource requires each field of a document source to be mapped.
func checkSource(t *testing.T, path string, doc map[string]any, props map[string]types.Property) {
	for k, v := range doc {
		p, ok := props[k]
		if !ok {
			t.Errorf("source field %s%s is not mapped", path, k)
			continue
		}
		obj, isObj := p.(*types.ObjectProperty)
		var children []map[string]any
		switch v := v.(type) {
		case map[string]any:
			children = append(children, v)
		case []any:
			for _, e := range v {
				if m, ok := e.(map[string]any); ok {
					children = append(children, m)
				}
			}
		}
		if len(children) > 0 && !isObj {
			t.Errorf("source field %s%s is an object, mapped as %T", path, k, p)
		}
		for _, c := range children {
			if isObj {
				checkSource(t, path+k+".", c, obj.Properties)
			}
		}
	}
}

// esChain applies the analysis settings as sent to one word, in
// Elasticsearch's order (char filters, then token filters), standing in
// Lucene's ASCIIFoldingFilter by bleve's port of it: the mapping rules
// parsed from the settings, \p{Mn} removed, lower case, ASCII folding.
func esChain(t *testing.T, an *types.IndexSettingsAnalysis, word string) string {
	ca := an.Analyzer[esAnalyzerWords].(*types.CustomAnalyzer)
	if !reflect.DeepEqual(ca.CharFilter, []string{"fold_marks", "strip_marks"}) || !reflect.DeepEqual(ca.Filter, []string{"lowercase", "fold"}) {
		t.Fatalf("analyzer words = %+v", ca)
	}
	rules := an.CharFilter["fold_marks"].(*types.MappingCharFilter).Mappings
	repl := map[string]string{}
	for _, r := range rules {
		k, v, ok := strings.Cut(r, " => ")
		if !ok {
			t.Fatalf("mapping rule %q", r)
		}
		repl[k] = v
	}
	if p := an.CharFilter["strip_marks"].(*types.PatternReplaceCharFilter); p.Pattern != `\p{Mn}` || derefStr(p.Replacement) != "" {
		t.Fatalf("strip_marks = %+v", p)
	}
	if f := an.Filter["fold"].(*types.AsciiFoldingTokenFilter); f.PreserveOriginal != false {
		t.Fatalf("fold keeps the original: %+v", f)
	}
	var b strings.Builder
	for _, r := range word {
		if v, ok := repl[string(r)]; ok {
			b.WriteString(v)
		} else if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return string(asciiFolder.Filter([]byte(strings.ToLower(b.String()))))
}

// TestElasticsearchAnalysisFolds checks that the settings fold every
// letter as the embedded engines do (NFD marks, ё → е, ß → ss, ø → o).
func TestElasticsearchAnalysisFolds(t *testing.T) {
	an := sentTemplate(t).Template.Settings.Analysis
	for _, w := range []string{"Müller", "отчёт", "ОТЧЁТ", "йогурт", "Straße", "Øresund", "Łódź", "crème brûlée", "e\u0301te", "Αθήνα", "naïve"} {
		for _, word := range strings.Fields(w) {
			want := foldTokens(word)
			if got := esChain(t, an, word); len(want) != 1 || got != want[0] {
				t.Errorf("%q: Elasticsearch folds to %q, the embedded engines to %v", word, got, want)
			}
		}
	}
	// Every letter outside CJK, alone.
	bad := 0
	for r := rune(0x80); r <= 0x2FFFF && bad < 10; r++ {
		// bleve's to_lower writes a word-final capital sigma as ς
		// (Unicode SpecialCasing), Lucene's LowerCaseFilter as σ: an
		// all-capital Greek word ending in Σ is a known difference.
		if !unicode.IsLetter(r) || isCJK(r) || r == 'Σ' {
			continue
		}
		want := foldTokens(string(r))
		if len(want) != 1 {
			continue // not a token on its own in the embedded tokenizer
		}
		if got := esChain(t, an, string(r)); got != want[0] {
			t.Errorf("%U %q: Elasticsearch folds to %q, the embedded engines to %q", r, r, got, want[0])
			bad++
		}
	}
}

// TestElasticsearchTokenizerPattern runs the tokenizer pattern as sent
// through Java's regular expressions (Elasticsearch's pattern tokenizer
// uses java.util.regex) and compares the tokens with the embedded
// tokenizer's. It needs a JDK (java on PATH; CI installs one).
func TestElasticsearchTokenizerPattern(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("java not on PATH: CI installs default-jdk-headless to check the tokenizer pattern")
		}
		t.Skip("java not on PATH: the tokenizer pattern is not checked against java.util.regex")
	}
	an := sentTemplate(t).Template.Settings.Analysis
	tok := an.Tokenizer["words"].(*types.PatternTokenizer)
	if tok.Group == nil || *tok.Group != 0 || tok.Pattern == nil {
		t.Fatalf("tokenizer = %+v, want a pattern emitting group 0", tok)
	}
	inputs := []string{
		"p.jansen@acme.com", "東京都に住む", "abc東x 한국어", "ᄀᄁ jamo", "e-mail 10:30", "Zoë's café",
		"ー々〇 ⺀x", "naïve\u0301 x", "Отчёт за квартал", "القاهرة ٢٠٢٤", "हिन्दी",
	}
	dir := t.TempDir()
	src := `import java.util.regex.*; import java.nio.file.*; import java.util.*;
public class Tok { public static void main(String[] a) throws Exception {
  Pattern p = Pattern.compile(Files.readString(Path.of(a[0])));
  for (String s : Files.readAllLines(Path.of(a[1]))) { Matcher m = p.matcher(s); List<String> out = new ArrayList<>();
    while (m.find()) out.add(m.group(0)); System.out.println(String.join("\u0001", out)); } } }`
	for name, body := range map[string]string{"Tok.java": src, "pattern": *tok.Pattern, "inputs": strings.Join(inputs, "\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, java, filepath.Join(dir, "Tok.java"), filepath.Join(dir, "pattern"), filepath.Join(dir, "inputs")).Output()
	if err != nil {
		t.Fatalf("java: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(inputs) {
		t.Fatalf("java answered %d lines for %d inputs: %q", len(lines), len(inputs), out)
	}
	for i, in := range inputs {
		var want []string
		for _, tk := range (wordsTokenizer{}).Tokenize([]byte(in)) {
			want = append(want, string(tk.Term))
		}
		var got []string
		if lines[i] != "" {
			got = strings.Split(lines[i], "\u0001")
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: Elasticsearch tokens %q, embedded %q", in, got, want)
		}
	}
}
