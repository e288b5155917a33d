package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"slices"
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
	// MalformedRate is the share of deliberately malformed messages (junk
	// in base64, a missing boundary, raw 8-bit headers, an unknown
	// charset, NUL bytes …) that exercise the decoder; default 0.02,
	// negative for none. They carry the user label MalformedLabel when set.
	MalformedRate  float64
	MalformedLabel string
	UserLabels     []string // user label names messages may carry, default Work, Receipts, Travel/2024
	Participants   int      // distinct correspondents, default 200
}

// WithLargeAttachments returns o with 1 % of the messages carrying one
// attachment of mb MiB (mb <= 0 leaves o as it is): the mailbox the
// memory targets of a sync are measured on.
func (o GeneratorOptions) WithLargeAttachments(mb int) GeneratorOptions {
	if mb > 0 {
		o.AttachmentRate = 0.01
		o.AttachmentSizes = []int{mb << 20}
	}
	return o
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
		if g.o.MalformedLabel != "" {
			d.userLabels = append(d.userLabels, g.o.MalformedLabel)
		}
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

// genLocale is one language of the demo world: its people (display name
// and the ASCII form their address uses), its subjects, and the charsets
// its mail is written in (indices into genVariants).
type genLocale struct {
	first, last []string // "Display:ascii"
	subjects    []string
	text        string // a line of body text
	variants    []int
}

var genLocales = []genLocale{
	{ // English
		first:    []string{"John:john", "Emily:emily", "Michael:michael", "Sarah:sarah", "David:david", "Laura:laura", "James:james"},
		last:     []string{"Smith:smith", "Johnson:johnson", "Brown:brown", "Taylor:taylor", "Miller:miller", "Wilson:wilson"},
		subjects: []string{"Invoice 4471 for October", "Quarterly report Q3", "Meeting on Thursday", "Contract draft v2", "Renewal quote for 2027", "Your order has shipped", "Onboarding call next week", "Re-forecast for Q3", "Flight itinerary", "Lunch on Friday?"},
		text:     "Hi, thanks for the call today. As promised, here are the numbers for this quarter — let me know if anything looks off. Best regards",
		variants: []int{0, 3, 8},
	},
	{ // German
		first:    []string{"Jürgen:juergen", "Anna:anna", "Lukas:lukas", "Sophie:sophie", "Matthias:matthias", "Katrin:katrin"},
		last:     []string{"Müller:mueller", "Weiß:weiss", "Schröder:schroeder", "Becker:becker", "Hoffmann:hoffmann", "Groß:gross"},
		subjects: []string{"Angebot für die Größenänderung", "Rechnung Nr. 2231 (Oktober)", "Termin am Donnerstag", "Grüße aus München", "Vertragsentwurf – bitte prüfen"},
		text:     "Guten Tag, vielen Dank für Ihre Anfrage. Anbei unser Angebot; die Preise für Wartung und Größenänderung sind gestiegen. Viele Grüße",
		variants: []int{1, 0, 3},
	},
	{ // French
		first:    []string{"Chloé:chloe", "Étienne:etienne", "Camille:camille", "Léa:lea", "Théo:theo"},
		last:     []string{"Dubois:dubois", "Lefèvre:lefevre", "Moreau:moreau", "Girard:girard", "Rousseau:rousseau"},
		subjects: []string{"Réunion de lancement — ordre du jour", "Facture n° 118 : 20 € de remise", "Devis pour l'œuvre complète", "Café jeudi ?"},
		text:     "Bonjour, le prix est de 20 € pour l'œuvre complète, livraison comprise. Bien à vous",
		variants: []int{7, 0},
	},
	{ // Polish
		first:    []string{"Łukasz:lukasz", "Agnieszka:agnieszka", "Paweł:pawel", "Małgorzata:malgorzata"},
		last:     []string{"Nowak:nowak", "Wiśniewski:wisniewski", "Kowalczyk:kowalczyk", "Wójcik:wojcik"},
		subjects: []string{"Spotkanie w środę", "Faktura za październik", "Oferta – łączna kwota"},
		text:     "Dzień dobry, przesyłam łączną kwotę do zatwierdzenia. Pozdrawiam serdecznie",
		variants: []int{2, 0},
	},
	{ // Russian
		first:    []string{"Ольга:olga", "Дмитрий:dmitry", "Анна:anna", "Сергей:sergey"},
		last:     []string{"Иванова:ivanova", "Смирнов:smirnov", "Кузнецова:kuznetsova", "Попов:popov"},
		subjects: []string{"Отчёт за квартал", "Счёт на оплату № 57", "Встреча в пятницу"},
		text:     "Здравствуйте! Высылаю отчёт за квартал, жду ваших замечаний. С уважением",
		variants: []int{4, 0},
	},
	{ // Japanese
		first:    []string{"太郎:taro", "花子:hanako", "健二:kenji", "由美:yumi"},
		last:     []string{"山田:yamada", "田中:tanaka", "佐藤:sato", "鈴木:suzuki"},
		subjects: []string{"会議の議事録", "見積書の送付について", "来週の打ち合わせ"},
		text:     "お世話になっております。会議の議事録を送付いたします。ご確認のほどよろしくお願いいたします。",
		variants: []int{5, 0},
	},
	{ // Chinese
		first:    []string{"芳:fang", "伟:wei", "静:jing", "强:qiang"},
		last:     []string{"王:wang", "李:li", "张:zhang", "刘:liu"},
		subjects: []string{"项目进度更新", "发票已开具", "下周会议安排"},
		text:     "你好，附件是项目进度更新，请查收。谢谢！",
		variants: []int{6, 0},
	},
	{ // Dutch
		first:    []string{"Peter:peter", "Sanne:sanne", "Daan:daan", "Lotte:lotte", "Joris:joris"},
		last:     []string{"Jansen:jansen", "de Vries:devries", "Bakker:bakker", "Visser:visser", "Janssens:janssens"},
		subjects: []string{"Offerte voor het nieuwe jaar", "Factuur 2026-118", "Afspraak volgende week"},
		text:     "Goedemorgen, hierbij de offerte voor het nieuwe jaar. Laat gerust weten als er vragen zijn. Met vriendelijke groet",
		variants: []int{1, 3, 0},
	},
	{ // Turkish
		first:    []string{"Mehmet:mehmet", "Ayşe:ayse", "Emre:emre", "Zeynep:zeynep"},
		last:     []string{"Yılmaz:yilmaz", "Kaya:kaya", "Demir:demir", "Şahin:sahin"},
		subjects: []string{"Toplantı notları", "Fatura hakkında"},
		text:     "Merhaba, toplantı notlarını ekte bulabilirsiniz. Teşekkürler, iyi çalışmalar",
		variants: []int{0},
	},
}

// genSubjects flattens the locales' subjects; genSubjectLocale[i] is the
// locale of genSubjects[i].
var genSubjects, genSubjectLocale = func() ([]string, []int) {
	var subs []string
	var locs []int
	for li, l := range genLocales {
		for _, s := range l.subjects {
			subs = append(subs, s)
			locs = append(locs, li)
		}
	}
	return subs, locs
}()

var genDomains = []string{"acme.example", "globex.example", "initech.example", "umbrella.example", "mail.example.org", "gmail.example"}

// person p belongs to locale p % len(genLocales).
func (g *Generator) person(p int) (name, addr string) {
	l := genLocales[p%len(genLocales)]
	k := p / len(genLocales)
	fd, fa, _ := strings.Cut(l.first[k%len(l.first)], ":")
	ld, la, _ := strings.Cut(l.last[(k/len(l.first)+k)%len(l.last)], ":")
	name = fd + " " + ld
	if p%len(genLocales) == 5 || p%len(genLocales) == 6 { // family name first
		name = ld + fd
	}
	return name, fmt.Sprintf("%s.%s@%s", fa, la, genDomains[k%len(genDomains)])
}

// peerIn moves a drawn correspondent into locale loc, so a thread's people
// speak its language.
func (g *Generator) peerIn(p, loc int) int {
	n := len(genLocales)
	q := p - p%n + loc
	if q >= g.o.Participants {
		q = loc % max(g.o.Participants, 1)
	}
	return q
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
	if !fits(v.enc, s) {
		// A charset that cannot write the text would turn it into U+001A
		// substitutes; real mailers fall back to UTF-8.
		return mime.BEncoding.Encode("utf-8", s)
	}
	return "=?" + v.charset + "?B?" + base64.StdEncoding.EncodeToString(encodeIn(v.enc, s)) + "?="
}

// fits reports whether enc can write s without loss.
func fits(enc encoding.Encoding, s string) bool {
	if enc == nil {
		return true // UTF-8 writes everything
	}
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		return false
	}
	back, err := enc.NewDecoder().Bytes(b)
	return err == nil && string(back) == s
}

func wrap76(b []byte) []byte {
	return appendWrap76(nil, b)
}

// appendWrap76 appends b in base64 to dst, 76 characters (57 bytes) per
// CRLF-terminated line (RFC 2045 §6.8), encoding line by line into dst.
func appendWrap76(dst, b []byte) []byte {
	lines := max((len(b)+56)/57, 1)
	dst = slices.Grow(dst, base64.StdEncoding.EncodedLen(len(b))+2*lines)
	for len(b) > 57 {
		dst = append(base64.StdEncoding.AppendEncode(dst, b[:57]), '\r', '\n')
		b = b[57:]
	}
	return append(base64.StdEncoding.AppendEncode(dst, b), '\r', '\n')
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
func (g *Generator) Message(i int) []byte { return g.appendMessage(nil, i) }

// attachmentBytes bounds the bytes of message i's attachments (before
// transfer encoding), without building it.
func (g *Generator) attachmentBytes(i int) int {
	d, _ := g.draws(i)
	return d.attach * slices.Max(g.o.AttachmentSizes)
}

// appendMessage appends message i to dst: a renderer reuses one buffer
// for all messages, instead of leaving one message-sized buffer of
// garbage behind per message (25 MB ones took its heap to 380 MB).
func (g *Generator) appendMessage(dst []byte, i int) []byte {
	d, r := g.draws(i)
	// A thread speaks its subject's language: its variant (charset) and
	// its correspondents come from that locale.
	rootDraws, _ := g.draws(g.Meta(i).Root)
	loc := genSubjectLocale[rootDraws.subject]
	vs := genLocales[loc].variants
	v := genVariants[vs[d.variant%len(vs)]]
	if !fits(v.enc, genLocales[loc].text) { // a charset that cannot write the language
		v = genVariants[0]
	}
	peer := g.peerIn(rootDraws.peer, loc)
	if r.Float64() < 0.25 { // now and then a colleague of theirs answers
		peer = g.peerIn(d.peer, loc)
	}
	b := bytes.NewBuffer(dst)
	g.writeHeaders(b, i, d, r, v, loc, peer)
	g.writeBody(b, i, d, r, v, loc, peer)
	return b.Bytes()
}

// writeHeaders writes the header of message i up to MIME-Version.
func (g *Generator) writeHeaders(b *bytes.Buffer, i int, d genDraws, r *rand.Rand, v genVariant, loc, peer int) {
	rootDraws, _ := g.draws(g.Meta(i).Root)
	subjText := genSubjects[rootDraws.subject]
	if d.parent >= 0 {
		subjText = "Re: " + subjText
	}
	peerName, peerAddr := g.person(peer)
	from, to := mime.QEncoding.Encode("utf-8", peerName)+" <"+peerAddr+">", g.o.Owner
	if d.sent {
		from, to = g.o.Owner, mime.QEncoding.Encode("utf-8", peerName)+" <"+peerAddr+">"
	}
	h := func(k, val string) { b.WriteString(k + ": " + val + "\r\n") }
	h("Date", d.date.Format(time.RFC1123Z))
	h("From", from)
	h("To", to)
	if r.Float64() < 0.3 {
		cn, ca := g.person(g.peerIn((peer+len(genLocales))%g.o.Participants, loc))
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

// writeBody writes the MIME body of message i with its Content-Type to
// p: plain text or text and HTML, with attachments (written straight into
// p, which holds the message's bytes once), or one of the malformations.
func (g *Generator) writeBody(p *bytes.Buffer, i int, d genDraws, r *rand.Rand, v genVariant, loc, peer int) {
	declared := v.charset
	if v.label != "" {
		declared = v.label
	}
	if d.malformed == 4 {
		declared = "x-unknown-8bit"
	}
	peerName, _ := g.person(peer)
	text := fmt.Sprintf("%s\n\n%s\n", genLocales[loc].text, peerSignature(g.o.Owner, d.sent, peerName))
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
		p.WriteString("Content-Type: multipart/mixed\r\n\r\n--nobound\r\nContent-Type: text/plain\r\n\r\nboundary parameter missing\r\n--nobound--\r\n")
		return
	case d.attach > 0:
		fmt.Fprintf(p, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\nThis is a multi-part message in MIME format.\r\n", bnd(0))
		fmt.Fprintf(p, "--%s\r\n", bnd(0))
		if d.structure == 0 {
			p.Write(leaf("text/plain", plain))
		} else {
			p.Write(alt())
		}
		for a := 0; a < d.attach; a++ {
			fmt.Fprintf(p, "--%s\r\n", bnd(0))
			g.writeAttachment(p, i, a, g.o.AttachmentSizes[r.IntN(len(g.o.AttachmentSizes))])
		}
		if d.malformed != 1 { // 1: closing boundary missing
			fmt.Fprintf(p, "--%s--\r\n", bnd(0))
		}
		return
	case d.structure == 0:
		p.Write(leaf("text/plain", plain))
		return
	}
	body := alt()
	if d.malformed == 1 {
		body = bytes.TrimSuffix(body, []byte("--"+bnd(1)+"--\r\n"))
	}
	p.Write(body)
}

// writeAttachment writes attachment a of message i: a PDF-looking part of
// size random bytes from a stream of its own; the second one has an RFC
// 2047 encoded non-ASCII file name.
func (g *Generator) writeAttachment(p *bytes.Buffer, i, a, size int) {
	name := fmt.Sprintf("report-%d-%d.pdf", i, a)
	disp := fmt.Sprintf("attachment; filename=\"%s\"", name)
	if a == 1 {
		name = fmt.Sprintf("Übersicht %d.pdf", i)
		disp = "attachment; filename=\"" + mime.BEncoding.Encode("utf-8", name) + "\""
	}
	fmt.Fprintf(p, "Content-Type: application/pdf; name=\"%s\"\r\nContent-Disposition: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n", name, disp)
	// The data is drawn and encoded a chunk at a time, straight into p:
	// 456 bytes are 8 draws of the stream and 8 lines of 57 bytes, so the
	// bytes and their wrapping are those of drawing all of them first.
	// Bytes after the last whole draw stay zero.
	p.Grow(base64.StdEncoding.EncodedLen(size) + 2*max((size+56)/57, 1))
	ar := rand.New(rand.NewPCG(g.seed^uint64(i), uint64(a)))
	var chunk [456]byte
	for off := 0; off < size; off += len(chunk) {
		n := min(len(chunk), size-off)
		clear(chunk[:n])
		for k := 0; k+8 <= n; k += 8 {
			binary.LittleEndian.PutUint64(chunk[k:], ar.Uint64())
		}
		if off == 0 {
			copy(chunk[:n], "%PDF-1.4\n")
		}
		p.Write(appendWrap76(p.AvailableBuffer(), chunk[:n]))
	}
	if size == 0 {
		p.WriteString("\r\n")
	}
}

// genLabelColors are colours from Gmail's label palette (users.labels
// color.backgroundColor/textColor), given to generated user labels in turn.
var genLabelColors = []apiLabelColor{
	{BackgroundColor: "#16a766", TextColor: "#ffffff"}, {BackgroundColor: "#4a86e8", TextColor: "#ffffff"},
	{BackgroundColor: "#ffad47", TextColor: "#ffffff"}, {BackgroundColor: "#e07798", TextColor: "#ffffff"},
	{BackgroundColor: "#8e63ce", TextColor: "#ffffff"},
}

// peerSignature closes a body with its writer's name.
func peerSignature(owner string, sent bool, peer string) string {
	if sent {
		local, _, _ := strings.Cut(owner, "@")
		return "-- \n" + local
	}
	return "-- \n" + peer
}
