package models

import (
	"strings"
)

// NameAddr is one decoded mailbox of an address header (RFC 5322 §3.4):
// a display name, possibly empty, and an address as it was written.
type NameAddr struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address,omitempty"`
}

// String is the display form kept in the message's header columns.
func (a NameAddr) String() string {
	switch {
	case a.Name == "":
		return a.Address
	case a.Address == "":
		return a.Name
	}
	return a.Name + " <" + a.Address + ">"
}

// Participants are a message's address headers as decoded.
type Participants struct {
	From, To, Cc, Bcc []NameAddr
}

func (p Participants) empty() bool {
	return len(p.From)+len(p.To)+len(p.Cc)+len(p.Bcc) == 0
}

// apply fills w's display columns and participant rows from p: every
// decoded mailbox is displayed; one row per (role, normalized address)
// with a usable address (local@domain) links the message to contacts and
// accounts.
func (p Participants) apply(w *MessageWrite) {
	m := &w.Message
	m.From, m.FromAddress = "", ""
	if len(p.From) > 0 {
		m.From = p.From[0].String()
		m.FromAddress = NormalizeAddress(p.From[0].Address)
	}
	m.To, m.Cc, m.Bcc = display(p.To), display(p.Cc), display(p.Bcc)
	w.Addresses = w.Addresses[:0]
	seen := map[string]bool{}
	for _, role := range []struct {
		name  string
		addrs []NameAddr
	}{{"from", p.From}, {"to", p.To}, {"cc", p.Cc}, {"bcc", p.Bcc}} {
		for _, a := range role.addrs {
			addr := NormalizeAddress(a.Address)
			at := strings.LastIndexByte(addr, '@')
			key := role.name + " " + addr
			if at <= 0 || at == len(addr)-1 || seen[key] {
				continue
			}
			seen[key] = true
			w.Addresses = append(w.Addresses, MessageAddress{
				Role: role.name, Address: addr, Domain: NormalizeDomain(addr[at+1:]), Name: a.Name,
			})
		}
	}
}

func display(as []NameAddr) StringList {
	if len(as) == 0 {
		return nil
	}
	out := make(StringList, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}
