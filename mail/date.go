package mail

import (
	netmail "net/mail"
	"regexp"
	"strings"
	"time"
)

// dateLayouts are tried after net/mail.ParseDate, which implements RFC 5322
// §3.3 plus the obsolete forms of §4.3. They cover what it rejects in real
// mail: missing seconds, ISO 8601, asctime, dashes, two-digit years, zone
// names that are not RFC 822 ones.
var dateLayouts = []string{
	"Mon, 2 Jan 2006 15:04 -0700",
	"2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04:05",
	"Mon, 2 Jan 2006 15:04:05 -0700 MST",
	"Mon, 2 Jan 2006 03:04:05 PM -0700",
	"2 Jan 2006 03:04:05 PM -0700",
	"Mon, 2 Jan 06 15:04:05",
	"2 Jan 06 3:04:05 PM",
	"2006/01/02 Mon 15:04:05",
	"Mon, 02-Jan-2006 15:04:05 -0700",
	"02-Jan-2006 15:04:05 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"Mon, 2 January 2006 15:04:05 -0700",
	"Monday, 2 January 2006 15:04:05 -0700",
	"Monday, January 2, 2006 15:04:05 -0700",
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon, Jan 2 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15.04.05 -0700",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05",
	time.RFC3339,
	"2006-01-02T15:04:05",
	"01/02/2006 15:04:05",
	"Mon, 2 Jan 2006",
	"2 Jan 2006",
}

var (
	dateCommentRe = regexp.MustCompile(`\([^()]*\)`)
	dateSpaceRe   = regexp.MustCompile(`\s+`)
	// "GMT+0100", "UTC-05:00" → "+0100", "-0500"
	dateGMTOffsetRe = regexp.MustCompile(`(?i)\b(?:GMT|UTC|UT)\s*([+-])(\d{1,2}):?(\d{2})\b`)
	dateColonZoneRe = regexp.MustCompile(`([+-])(\d{2}):(\d{2})$`)
	dateCommaRe     = regexp.MustCompile(`,\s*`)
	// "16:54:6" → "16:54:06"
	dateOneDigitRe  = regexp.MustCompile(`(:)(\d)\b`)
	dateTimeOfDayRe = regexp.MustCompile(`\b\d{1,2}:\d{2}(:\d{2})?\b`)
	dateOffsetRe    = regexp.MustCompile(`^[+-]\d{4}$`)
)

// rfc5322Date is RFC 5322 §3.3's date-time with a day name and a numeric
// zone, one of the layouts net/mail.ParseDate tries.
const rfc5322Date = "Mon, 2 Jan 2006 15:04:05 -0700"

// parseDateLenient parses a Date header value.
func parseDateLenient(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 200 {
		return time.Time{}, false
	}
	// The form nearly all mail uses (RFC 5322 §3.3 with a day name and a
	// numeric zone) first: net/mail.ParseDate tries its layouts in turn,
	// and the failed ones cost a dozen allocations per message. A value
	// this layout reads whole is one ParseDate reads the same way
	// (FuzzParseDateFastPath).
	if t, err := time.Parse(rfc5322Date, v); err == nil && plausibleDate(t) {
		return t, true
	}
	if t, err := netmail.ParseDate(v); err == nil && plausibleDate(t) {
		return t, true
	}
	s := dateCommentRe.ReplaceAllString(v, " ")
	s = strings.ReplaceAll(s, "+-", "-") // "+-0700": a sign printed twice
	s = dateCommaRe.ReplaceAllString(s, ", ")
	s = dateOneDigitRe.ReplaceAllString(s, "${1}0$2")
	s = dateGMTOffsetRe.ReplaceAllStringFunc(s, func(m string) string {
		p := dateGMTOffsetRe.FindStringSubmatch(m)
		h := p[2]
		if len(h) == 1 {
			h = "0" + h
		}
		return p[1] + h + p[3]
	})
	s = strings.Trim(dateSpaceRe.ReplaceAllString(s, " "), " ,.")
	s = dateColonZoneRe.ReplaceAllString(s, "$1$2$3")
	// Drop a trailing zone name after a numeric offset ("+0200 CEST").
	if f := strings.Fields(s); len(f) > 2 {
		last := f[len(f)-1]
		prev := f[len(f)-2]
		if (strings.HasPrefix(prev, "+") || strings.HasPrefix(prev, "-")) && isAlpha(last) {
			s = strings.Join(f[:len(f)-1], " ")
		}
	}
	if t, err := netmail.ParseDate(s); err == nil && plausibleDate(fixCenturyBug(t)) {
		return fixCenturyBug(t), true
	}
	// Day names are often misspelt or localised; try without them too.
	candidates := []string{s}
	if i := strings.IndexAny(s, ", "); i > 0 && isAlpha(s[:i]) && len(s[:i]) > 3 || i > 0 && s[i] == ',' {
		candidates = append(candidates, strings.TrimSpace(s[i+1:]))
	}
	// Last resort: whatever follows the time of day is junk or a zone
	// name Go cannot resolve ("Eastern Daylight Time"): keep a numeric
	// offset if there is one, else read the time as UTC.
	if m := dateTimeOfDayRe.FindStringIndex(s); m != nil {
		head, tail := s[:m[1]], strings.Fields(s[m[1]:])
		if len(tail) > 0 && dateOffsetRe.MatchString(tail[0]) {
			head += " " + tail[0]
		} else if len(tail) > 0 && strings.EqualFold(tail[0], "PM") || len(tail) > 0 && strings.EqualFold(tail[0], "AM") {
			head += " " + strings.ToUpper(tail[0])
			if len(tail) > 1 && dateOffsetRe.MatchString(tail[1]) {
				head += " " + tail[1]
			}
		}
		if head != s {
			candidates = append(candidates, head)
			if i := strings.IndexByte(head, ','); i > 0 {
				candidates = append(candidates, strings.TrimSpace(head[i+1:]))
			}
		}
	}
	for _, c := range candidates {
		for _, layout := range dateLayouts {
			if t, err := time.Parse(layout, c); err == nil && plausibleDate(fixCenturyBug(t)) {
				return fixCenturyBug(t), true
			}
		}
	}
	return time.Time{}, false
}

func isAlpha(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// plausibleDate rejects years that only come from garbage (e.g. "0000").
func plausibleDate(t time.Time) bool {
	y := t.Year()
	return y >= 1970 && y <= 2200
}

// fixCenturyBug repairs years printed as "0102" by software that wrote
// struct tm's years-since-1900 (common in 2002 spam).
func fixCenturyBug(t time.Time) time.Time {
	if y := t.Year(); y >= 100 && y < 200 {
		return t.AddDate(1900, 0, 0)
	}
	return t
}
