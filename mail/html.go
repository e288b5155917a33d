package mail

import (
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/PuerkitoBio/goquery"
	"github.com/k3a/html2text"
	"github.com/microcosm-cc/bluemonday"
)

// htmlPolicy is built once: bluemonday policies are safe for concurrent use
// once built, and building compiles regular expressions. It is immutable, not
// configuration.
var htmlPolicy = sync.OnceValue(newHTMLPolicy)

// newHTMLPolicy starts from bluemonday's UGC policy (no script, style,
// event handlers, forms, iframes, object/embed, javascript: URLs) and adds
// what mail needs: table layout attributes, a few inert CSS properties, and
// the data attributes that keep remote and cid: image references without
// loading them.
func newHTMLPolicy() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowStyling()
	// A short list of CSS properties whose values bluemonday validates
	// itself; everything that can load content (url(), @import) or overlay
	// the page (position, z-index) is absent.
	p.AllowStyles("color", "background-color", "font-weight", "font-style", "font-size",
		"font-family", "text-align", "text-decoration", "vertical-align").Globally()
	p.AllowAttrs("bgcolor", "color").Matching(regexp.MustCompile(`^#?[0-9A-Za-z]{1,20}$`)).Globally()
	p.AllowAttrs("data-remote-src").Matching(regexp.MustCompile(`^https?://[^\s"'<>]+$`)).OnElements("img")
	p.AllowAttrs("data-cid").Matching(regexp.MustCompile(`^[^\s"'<>]+$`)).OnElements("img")
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowURLSchemes("http", "https", "mailto")
	// Belt and braces: any image source that survived the rewrite below is
	// emptied, so no remote fetch (tracking pixel) can happen on display.
	p.RewriteSrc(func(u *url.URL) { *u = url.URL{} })
	return p
}

// sanitizeHTML makes untrusted mail HTML safe to render: remote images are
// disarmed (their URL moves to data-remote-src so a UI can offer "load
// images"), cid: references move to data-cid (the UI maps them to
// attachments), then bluemonday removes everything active.
func sanitizeHTML(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	s = disarmImages(s)
	return strings.TrimSpace(htmlPolicy().Sanitize(s))
}

func disarmImages(s string) string {
	if !containsImgTag(s) {
		return s
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(s))
	if err != nil {
		return s // bluemonday still sanitizes; RewriteSrc empties sources
	}
	doc.Find("img").Each(func(_ int, img *goquery.Selection) {
		src, _ := img.Attr("src")
		src = strings.TrimSpace(src)
		img.RemoveAttr("src")
		img.RemoveAttr("srcset")
		switch l := strings.ToLower(src); {
		case strings.HasPrefix(l, "cid:"):
			img.SetAttr("data-cid", strings.TrimSpace(src[4:]))
		case strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://"):
			img.SetAttr("data-remote-src", src)
		}
	})
	out, err := doc.Find("body").Html()
	if err != nil {
		return s
	}
	return out
}

// containsImgTag reports whether strings.ToLower(s) contains "<img",
// without lower-casing a copy of the whole document. Besides ASCII case,
// that takes 'İ' (U+0130), which unicode.ToLower maps to 'i'; no other
// rune lower-cases to '<', 'i', 'm' or 'g' (FuzzContainsImgTag).
func containsImgTag(s string) bool {
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			return false
		}
		s = s[i+1:]
		rest := s
		switch {
		case len(rest) > 0 && rest[0]|0x20 == 'i':
			rest = rest[1:]
		case strings.HasPrefix(rest, "\u0130"):
			rest = rest[len("\u0130"):]
		default:
			continue
		}
		if len(rest) >= 2 && rest[0]|0x20 == 'm' && rest[1]|0x20 == 'g' {
			return true
		}
	}
}

// htmlToText renders sanitized HTML as plain text for indexing and snippets.
func htmlToText(s string) string {
	return strings.TrimSpace(html2text.HTML2TextWithOptions(s, html2text.WithUnixLineBreaks(), html2text.WithLinksInnerText()))
}
