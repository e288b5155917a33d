package mail

import (
	"strings"
	"time"
)

// maxCalendarLines bounds the scan of one calendar part.
const maxCalendarLines = 20000

// parseCalendar extracts the few iCalendar properties the CRM shows (RFC 5545
// §3.7.2 METHOD, §3.8.4.7 UID, §3.8.1.12 SUMMARY, §3.8.2.4 DTSTART, §3.8.2.2
// DTEND) from the first VEVENT. It is deliberately not a full iCalendar
// parser: Raw keeps the whole text for anything more.
func parseCalendar(text string) CalendarPart {
	cal := CalendarPart{Raw: text}
	inEvent, seenEvent := false, false
	// RFC 5545 §3.1: a line starting with a space or tab continues the
	// previous one.
	var lines []string
	for i, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if i > maxCalendarLines {
			break
		}
		if len(l) > 0 && (l[0] == ' ' || l[0] == '\t') && len(lines) > 0 {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	for _, l := range lines {
		nameParams, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name, params, _ := strings.Cut(nameParams, ";")
		name = strings.ToUpper(strings.TrimSpace(name))
		switch {
		case name == "BEGIN" && strings.EqualFold(value, "VEVENT"):
			inEvent = !seenEvent
			seenEvent = true
		case name == "END" && strings.EqualFold(value, "VEVENT"):
			inEvent = false
		case name == "METHOD" && cal.Method == "":
			cal.Method = strings.ToUpper(strings.TrimSpace(value))
		case !inEvent:
		case name == "UID":
			cal.UID = strings.TrimSpace(value)
		case name == "SUMMARY":
			cal.Summary = unescapeICal(value)
		case name == "DTSTART":
			cal.Start = parseICalTime(params, value)
		case name == "DTEND":
			cal.End = parseICalTime(params, value)
		}
	}
	return cal
}

// unescapeICal undoes RFC 5545 §3.3.11 TEXT escaping.
func unescapeICal(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\N`, "\n", `\,`, ",", `\;`, ";", `\\`, `\`).Replace(strings.TrimSpace(s))
}

// parseICalTime reads DATE-TIME (§3.3.5: UTC "Z", TZID, floating) and DATE
// (§3.3.4) values. Unknown TZIDs fall back to UTC.
func parseICalTime(params, value string) time.Time {
	value = strings.TrimSpace(value)
	loc := time.UTC
	for _, p := range strings.Split(params, ";") {
		if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "TZID") {
			if l, err := time.LoadLocation(strings.Trim(v, `"`)); err == nil {
				loc = l
			}
		}
	}
	for _, layout := range []string{"20060102T150405Z", "20060102T150405", "20060102"} {
		if t, err := time.ParseInLocation(layout, value, loc); err == nil {
			return t
		}
	}
	return time.Time{}
}
