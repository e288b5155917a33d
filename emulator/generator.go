package emulator

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"strings"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// GeneratorOptions tunes the synthetic mailbox. Zero values pick defaults.
type GeneratorOptions struct {
	Owner           string        // mailbox owner, default "me@example.com"
	Start           time.Time     // date of message 0, default 2021-01-04 09:00 UTC
	Interval        time.Duration // mean gap between messages, default 7 min
	ReplyRate       float64       // share of replies, default 0.45
	AttachmentRate  float64       // share of messages with attachments, default 0.15; negative for none
	AttachmentSizes []int         // attachment sizes to draw from, default 3 KiB, 48 KiB, 300 KiB
	MalformedRate   float64       // share of malformed messages, default 0.02; negative for none
	UserLabels      []string      // user label names messages may carry, default Work, Receipts, Travel/2024
	Participants    int           // distinct correspondents, default 200
}

// Generator builds a deterministic synthetic mailbox: message i is rebuilt
// from (seed, i) on every call, so a million-message mailbox costs only the
// emulator's compact per-message state. It is safe for concurrent use.
type Generator struct {
	seed uint64
	o    GeneratorOptions
}

// NewGenerator returns a generator for seed.
func NewGenerator(seed int64, opts GeneratorOptions) *Generator {
	if opts.Owner == "" {
		opts.Owner = "me@example.com"
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2021, 1, 4, 9, 0, 0, 0, time.UTC)
	}
	if opts.Interval <= 0 {
		opts.Interval = 7 * time.Minute
	}
	if opts.ReplyRate == 0 {
		opts.ReplyRate = 0.45
	}
	if opts.AttachmentRate == 0 {
		opts.AttachmentRate = 0.15
	}
	if len(opts.AttachmentSizes) == 0 {
		opts.AttachmentSizes = []int{3 << 10, 48 << 10, 300 << 10}
	}
	if opts.MalformedRate == 0 {
		opts.MalformedRate = 0.02
	}
	if opts.UserLabels == nil {
		opts.UserLabels = []string{"Work", "Receipts", "Travel/2024"}
	}
	opts.AttachmentRate = max(opts.AttachmentRate, 0)
	opts.MalformedRate = max(opts.MalformedRate, 0)
	if opts.Participants <= 0 {
		opts.Participants = 200
	}
	return &Generator{seed: uint64(seed), o: opts}
}

// Options returns the effective options.
func (g *Generator) Options() GeneratorOptions { return g.o }

// MessageMeta is what the emulator needs to index message i without
// building it.
type MessageMeta struct {
	Parent     int // index of the message replied to, -1 for a thread start
	Root       int // index of the thread's first message
	Date       time.Time
	Labels     []string // system label ids
	UserLabels []string // user label names
}

type genDraws struct {
	parent     int
	date       time.Time
	sent       bool
	labels     []string
	userLabels []string
	subject    int
	variant    int
	structure  int
	attach     int
	malformed  int // 0 = well-formed
	peer       int
}

func (g *Generator) draws(i int) (genDraws, *rand.Rand) {
	r := rand.New(rand.NewPCG(g.seed, uint64(i)))
	d := genDraws{parent: -1}
	if i > 0 && r.Float64() < g.o.ReplyRate {
		d.parent = i - 1 - r.IntN(min(i, 40))
	}
	d.date = g.o.Start.Add(time.Duration(i)*g.o.Interval + time.Duration(r.Int64N(int64(g.o.Interval))))
	d.sent = r.Float64() < 0.2
	if d.sent {
		d.labels = append(d.labels, "SENT")
	} else {
		if r.Float64() < 0.7 {
			d.labels = append(d.labels, "INBOX")
		}
		if r.Float64() < 0.3 {
			d.labels = append(d.labels, "UNREAD")
		}
		d.labels = append(d.labels, []string{"CATEGORY_PERSONAL", "CATEGORY_UPDATES", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "CATEGORY_FORUMS"}[r.IntN(5)])
		switch x := r.Float64(); {
		case x < 0.01:
			d.labels = append(d.labels, "SPAM")
		case x < 0.02:
			d.labels = append(d.labels, "TRASH")
		}
	}
	if r.Float64() < 0.05 {
		d.labels = append(d.labels, "STARRED")
	}
	if r.Float64() < 0.2 {
		d.labels = append(d.labels, "IMPORTANT")
	}
	for _, l := range g.o.UserLabels {
		if r.Float64() < 0.1 {
			d.userLabels = append(d.userLabels, l)
		}
	}
	d.subject = r.IntN(len(genSubjects))
	d.variant = r.IntN(len(genVariants))
	d.structure = r.IntN(3)
	if r.Float64() < g.o.AttachmentRate {
		d.attach = 1 + r.IntN(2)
	}
	if r.Float64() < g.o.MalformedRate {
		d.malformed = 1 + r.IntN(7)
	}
	d.peer = r.IntN(g.o.Participants)
	return d, r
}

// Meta returns message i's threading, date and labels.
func (g *Generator) Meta(i int) MessageMeta {
	d, _ := g.draws(i)
	root := i
	for p := d.parent; p >= 0; {
		root = p
		pd, _ := g.draws(p)
		p = pd.parent
	}
	return MessageMeta{Parent: d.parent, Root: root, Date: d.date, Labels: d.labels, UserLabels: d.userLabels}
}

// Subject returns the (decoded) base subject of message i's thread.
func (g *Generator) Subject(i int) string {
	m := g.Meta(i)
	d, _ := g.draws(m.Root)
	return genSubjects[d.subject]
}

func (g *Generator) messageID(i int) string {
	return fmt.Sprintf("<%d.%x.gen@%s>", i, g.seed*0x9e3779b97f4a7c15^uint64(i), "mail.example.net")
}

var genFirst = []string{"Anna", "José", "Zoë", "Łukasz", "Ольга", "山田", "王", "Søren", "Chloé", "Mehmet", "Priya", "John", "Fatima", "Jürgen", "Ana", "Kenji"}
var genLast = []string{"Müller", "García", "Nowak", "Иванова", "太郎", "芳", "Kierkegaard", "Dubois", "Yılmaz", "Patel", "Smith", "Haddad", "Weiß", "Silva", "Tanaka"}
var genDomains = []string{"acme.example", "globex.example", "initech.example", "umbrella.example", "mail.example.org", "gmail.example"}

func (g *Generator) person(p int) (name, addr string) {
	f := genFirst[p%len(genFirst)]
	l := genLast[(p/len(genFirst))%len(genLast)]
	return f + " " + l, fmt.Sprintf("user%d@%s", p, genDomains[p%len(genDomains)])
}

var genSubjects = []string{
	"Quarterly report", "Meeting on Thursday", "Invoice #4471", "Your order has shipped",
	"Café meeting — agenda", "Angebot für Größenänderung", "Spotkanie w środę", "Отчёт за квартал",
	"会議の議事録", "项目进度更新", "Re-forecast for Q3", "Contract draft v2", "Lunch?", "Flight itinerary",
}

type genVariant struct {
	charset string
	enc     encoding.Encoding // nil: UTF-8
	text    string
	cte     string // body transfer encoding
	label   string // declared charset, when it differs (mislabelled)
}

var genVariants = []genVariant{
	{charset: "utf-8", text: "Hello, please find the numbers below. Thanks — see you on Monday ✓", cte: "quoted-printable"},
	{charset: "iso-8859-1", enc: charmap.ISO8859_1, text: "Grüße aus München! Die Preise für Kaffee und Crème brûlée sind gestiegen.", cte: "quoted-printable"},
	{charset: "iso-8859-2", enc: charmap.ISO8859_2, text: "Dzień dobry, przesyłam łączną kwotę. Děkuji, že jste přišli.", cte: "quoted-printable"},
	{charset: "windows-1252", enc: charmap.Windows1252, text: "“Smart quotes” and the € sign – what could go wrong…", cte: "8bit"},
	{charset: "windows-1251", enc: charmap.Windows1251, text: "Здравствуйте! Высылаю отчёт за квартал, жду ваших замечаний.", cte: "base64"},
	{charset: "shift_jis", enc: japanese.ShiftJIS, text: "お世話になっております。会議の議事録を送付いたします。", cte: "base64"},
	{charset: "gb2312", enc: simplifiedchinese.GBK, text: "你好，附件是项目进度更新，请查收。", cte: "base64"},
	{charset: "iso-8859-15", enc: charmap.ISO8859_15, text: "Le prix est de 20 € pour l'œuvre complète.", cte: "quoted-printable"},
	// UTF-8 bytes declared as Latin-1: a classic mislabelling.
	{charset: "utf-8", text: "Mislabelled: naïve café résumé — ünïcödé", cte: "8bit", label: "iso-8859-1"},
}

func encodeIn(enc encoding.Encoding, s string) []byte {
	if enc == nil {
		return []byte(s)
	}
	b, err := encoding.ReplaceUnsupported(enc.NewEncoder()).Bytes([]byte(s))
	if err != nil {
		return []byte(s)
	}
	return b
}

// encodedWord builds an RFC 2047 encoded-word in the variant's charset.
func encodedWord(v genVariant, s string, q bool) string {
	if v.enc == nil {
		if q {
			return mime.QEncoding.Encode("utf-8", s)
		}
		return mime.BEncoding.Encode("utf-8", s)
	}
	return "=?" + v.charset + "?B?" + base64.StdEncoding.EncodeToString(encodeIn(v.enc, s)) + "?="
}

func wrap76(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(enc) > 76 {
		out.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	out.WriteString(enc + "\r\n")
	return out.Bytes()
}

func bodyIn(cte string, b []byte) []byte {
	switch cte {
	case "base64":
		return wrap76(b)
	case "quoted-printable":
		var out bytes.Buffer
		w := quotedprintable.NewWriter(&out)
		_, _ = w.Write(b)
		_ = w.Close()
		out.WriteString("\r\n")
		return out.Bytes()
	default:
		return append(bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")), "\r\n"...)
	}
}

// Message returns the RFC 5322 bytes of message i (CRLF line endings).
// The parts draw from one random stream in a fixed order, so a message
// depends only on the seed and i.
func (g *Generator) Message(i int) []byte {
	d, r := g.draws(i)
	v := genVariants[d.variant]
	var b bytes.Buffer
	g.writeHeaders(&b, i, d, r, v)
	b.Write(g.body(i, d, r, v))
	return b.Bytes()
}

// writeHeaders writes the header of message i up to MIME-Version.
func (g *Generator) writeHeaders(b *bytes.Buffer, i int, d genDraws, r *rand.Rand, v genVariant) {
	rootDraws, _ := g.draws(g.Meta(i).Root)
	subjText := genSubjects[rootDraws.subject]
	if d.parent >= 0 {
		subjText = "Re: " + subjText
	}
	peerName, peerAddr := g.person(d.peer)
	from, to := mime.QEncoding.Encode("utf-8", peerName)+" <"+peerAddr+">", g.o.Owner
	if d.sent {
		from, to = g.o.Owner, mime.QEncoding.Encode("utf-8", peerName)+" <"+peerAddr+">"
	}
	h := func(k, val string) { b.WriteString(k + ": " + val + "\r\n") }
	h("Date", d.date.Format(time.RFC1123Z))
	h("From", from)
	h("To", to)
	if r.Float64() < 0.3 {
		cn, ca := g.person((d.peer + 7) % g.o.Participants)
		h("Cc", encodedWord(v, cn, true)+" <"+ca+">")
	}
	if d.malformed == 7 {
		h("Subject", subjText) // raw 8-bit, unencoded
	} else {
		h("Subject", encodedWord(v, subjText, r.IntN(2) == 0))
	}
	h("Message-ID", g.messageID(i))
	if d.parent >= 0 {
		var refs []string
		for p, n := d.parent, 0; p >= 0 && n < 10; n++ {
			refs = append([]string{g.messageID(p)}, refs...)
			pd, _ := g.draws(p)
			p = pd.parent
		}
		h("In-Reply-To", g.messageID(d.parent))
		h("References", strings.Join(refs, "\r\n "))
	}
	if d.malformed == 3 {
		b.WriteString("this header line has no colon\r\n")
	}
	h("MIME-Version", "1.0")
}

// body returns the MIME body of message i with its Content-Type: plain
// text or text and HTML, with attachments, or one of the malformations.
func (g *Generator) body(i int, d genDraws, r *rand.Rand, v genVariant) []byte {
	declared := v.charset
	if v.label != "" {
		declared = v.label
	}
	if d.malformed == 4 {
		declared = "x-unknown-8bit"
	}
	text := fmt.Sprintf("%s\n\n%s\n\nMessage %d of seed %d.\n", v.text, strings.Repeat(v.text+" ", 1+r.IntN(4)), i, g.seed)
	if d.malformed == 6 {
		text += "NUL\x00byte here\n"
	}
	plain := encodeIn(v.enc, text)
	htmlBody := encodeIn(v.enc, "<html><body><p>"+strings.ReplaceAll(text, "\n\n", "</p><p>")+"</p></body></html>")
	cte := v.cte
	if d.malformed == 2 {
		cte = "base64"
	}
	leaf := func(ct string, body []byte) []byte {
		var p bytes.Buffer
		fmt.Fprintf(&p, "Content-Type: %s; charset=\"%s\"\r\nContent-Transfer-Encoding: %s\r\n\r\n", ct, declared, cte)
		enc := bodyIn(cte, body)
		if d.malformed == 2 {
			enc = append([]byte("@@not*base64@@\r\n"), enc...)
		}
		p.Write(enc)
		return p.Bytes()
	}
	bnd := func(n int) string { return fmt.Sprintf("=_gen_%d_%d_%x", i, n, g.seed) }
	alt := func() []byte {
		var p bytes.Buffer
		fmt.Fprintf(&p, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", bnd(1))
		fmt.Fprintf(&p, "--%s\r\n", bnd(1))
		p.Write(leaf("text/plain", plain))
		fmt.Fprintf(&p, "--%s\r\n", bnd(1))
		p.Write(leaf("text/html", htmlBody))
		fmt.Fprintf(&p, "--%s--\r\n", bnd(1))
		return p.Bytes()
	}
	switch {
	case d.malformed == 5:
		return []byte("Content-Type: multipart/mixed\r\n\r\n--nobound\r\nContent-Type: text/plain\r\n\r\nboundary parameter missing\r\n--nobound--\r\n")
	case d.attach > 0:
		var p bytes.Buffer
		fmt.Fprintf(&p, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\nThis is a multi-part message in MIME format.\r\n", bnd(0))
		fmt.Fprintf(&p, "--%s\r\n", bnd(0))
		if d.structure == 0 {
			p.Write(leaf("text/plain", plain))
		} else {
			p.Write(alt())
		}
		for a := 0; a < d.attach; a++ {
			fmt.Fprintf(&p, "--%s\r\n", bnd(0))
			g.writeAttachment(&p, i, a, g.o.AttachmentSizes[r.IntN(len(g.o.AttachmentSizes))])
		}
		if d.malformed != 1 { // 1: closing boundary missing
			fmt.Fprintf(&p, "--%s--\r\n", bnd(0))
		}
		return p.Bytes()
	case d.structure == 0:
		return leaf("text/plain", plain)
	}
	body := alt()
	if d.malformed == 1 {
		body = bytes.TrimSuffix(body, []byte("--"+bnd(1)+"--\r\n"))
	}
	return body
}

// writeAttachment writes attachment a of message i: a PDF-looking part of
// size random bytes from a stream of its own; the second one has an RFC
// 2047 encoded non-ASCII file name.
func (g *Generator) writeAttachment(p *bytes.Buffer, i, a, size int) {
	data := make([]byte, size)
	ar := rand.New(rand.NewPCG(g.seed^uint64(i), uint64(a)))
	for k := 0; k+8 <= size; k += 8 {
		v := ar.Uint64()
		for s := 0; s < 8; s++ {
			data[k+s] = byte(v >> (8 * s))
		}
	}
	copy(data, "%PDF-1.4\n")
	name := fmt.Sprintf("report-%d-%d.pdf", i, a)
	disp := fmt.Sprintf("attachment; filename=\"%s\"", name)
	if a == 1 {
		name = fmt.Sprintf("Übersicht %d.pdf", i)
		disp = "attachment; filename=\"" + mime.BEncoding.Encode("utf-8", name) + "\""
	}
	fmt.Fprintf(p, "Content-Type: application/pdf; name=\"%s\"\r\nContent-Disposition: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n", name, disp)
	p.Write(wrap76(data))
}
