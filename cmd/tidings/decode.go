package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"tidings/mail"
)

// runDecode implements `tidings decode FILE...`: it prints one JSON object
// per file with what mail.Decode made of it. Malformed messages are not
// errors (their problems are in "warnings"/"error"); the exit status is
// non-zero only when a file cannot be read.
func runDecode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: tidings decode FILE...")
		return 2
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	status := 0
	for _, path := range args {
		if err := ctx.Err(); err != nil {
			fmt.Fprintf(stderr, "tidings decode: %v\n", err)
			return 1
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "tidings decode: %v\n", err)
			status = 1
			continue
		}
		r := decodeResult(path, mail.Decode(raw, mail.Options{}))
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "tidings decode: writing output: %v\n", err)
			return 1
		}
	}
	return status
}

// decodedAttachment is an attachment in decode's output.
type decodedAttachment struct {
	PartID      string `json:"part_id"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	ContentID   string `json:"content_id,omitempty"`
	Size        int64  `json:"size"`
	Inline      bool   `json:"inline"`
}

// decoded is one file in decode's output.
type decoded struct {
	File        string              `json:"file"`
	Subject     string              `json:"subject"`
	From        []string            `json:"from"`
	To          []string            `json:"to"`
	Cc          []string            `json:"cc"`
	Date        string              `json:"date,omitempty"`
	DateSource  string              `json:"date_source,omitempty"`
	Text        string              `json:"text"`
	HTML        string              `json:"html"`
	Attachments []decodedAttachment `json:"attachments"`
	Warnings    []string            `json:"warnings"`
	Error       *string             `json:"error"`
	RawHeaders  map[string]string   `json:"raw_headers,omitempty"`
}

// addressStrings formats addresses as "Name <addr>".
func addressStrings(list []mail.Address) []string {
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, a.String())
	}
	return out
}

// decodeResult is what decode prints for the file at path.
func decodeResult(path string, m *mail.Message) decoded {
	r := decoded{
		File:        path,
		Subject:     m.Subject,
		From:        addressStrings(m.From),
		To:          addressStrings(m.To),
		Cc:          addressStrings(m.Cc),
		DateSource:  m.DateSource,
		Text:        m.Text,
		HTML:        m.HTML,
		Attachments: make([]decodedAttachment, 0, len(m.Attachments)),
		Warnings:    m.Warnings,
		RawHeaders:  m.RawHeaders,
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	if !m.Date.IsZero() {
		r.Date = m.Date.Format(time.RFC3339)
	}
	for _, a := range m.Attachments {
		r.Attachments = append(r.Attachments, decodedAttachment(a))
	}
	if m.Err != nil {
		s := m.Err.Error()
		r.Error = &s
	}
	return r
}
