package models

import (
	"slices"
	"testing"
)

func TestParticipantsApply(t *testing.T) {
	p := Participants{
		From: []NameAddr{{Name: "Ann Lee", Address: "Ann@Acme.Example"}},
		To:   []NameAddr{{Address: "bob@beta.example"}, {Name: "Bob again", Address: "BOB@beta.example"}, {Name: "undisclosed-recipients"}},
		Cc:   []NameAddr{{Name: "Ann Lee", Address: "ann@acme.example"}, {Address: "no-at-sign"}},
	}
	var w MessageWrite
	p.apply(&w)
	if w.Message.From != "Ann Lee <Ann@Acme.Example>" || w.Message.FromAddress != "ann@acme.example" {
		t.Errorf("from = %q / %q", w.Message.From, w.Message.FromAddress)
	}
	if want := (StringList{"bob@beta.example", "Bob again <BOB@beta.example>", "undisclosed-recipients"}); !slices.Equal(w.Message.To, want) {
		t.Errorf("to = %q, want %q (every decoded mailbox is displayed)", w.Message.To, want)
	}
	if w.Message.Bcc != nil {
		t.Errorf("bcc = %q, want nil", w.Message.Bcc)
	}
	want := []MessageAddress{
		{Role: "from", Address: "ann@acme.example", Domain: "acme.example", Name: "Ann Lee"},
		{Role: "to", Address: "bob@beta.example", Domain: "beta.example"},
		{Role: "cc", Address: "ann@acme.example", Domain: "acme.example", Name: "Ann Lee"},
	}
	if !slices.Equal(w.Addresses, want) {
		t.Errorf("rows = %+v\nwant   %+v", w.Addresses, want)
	}
}
