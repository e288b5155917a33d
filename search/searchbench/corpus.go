// Package searchbench owns the benchmark corpus of `tidings bench search`:
// deterministic generated mail, kept out of the production search package.
package searchbench

import (
	"tidings/search"

	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// CorpusConfig shapes a generated corpus.
type CorpusConfig struct {
	Seed      uint64
	TenantID  int64
	FirstID   int64 // id of the first document; ids are consecutive
	Mailboxes int   // mailbox ids 1..Mailboxes
	Contacts  int   // contact ids 1..Contacts
	Accounts  int
	Cases     int
	// End is the newest date; documents spread over the three years before it.
	End time.Time
}

// DefaultCorpus is the configuration the benchmark uses.
func DefaultCorpus() CorpusConfig {
	return CorpusConfig{Seed: 42, TenantID: 1, FirstID: 1, Mailboxes: 20, Contacts: 5000, Accounts: 500, Cases: 2000,
		End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
}

// Corpus generates realistic-looking messages deterministically: the same
// config and index always give the same document, so benchmark runs and
// backends are compared on identical data.
type Corpus struct {
	cfg    CorpusConfig
	people []search.Address
}

// NewCorpus returns a generator for cfg.
func NewCorpus(cfg CorpusConfig) *Corpus {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7469646e6773))
	c := &Corpus{cfg: cfg}
	seen := map[string]bool{}
	for len(c.people) < 3000 {
		first := firstNames[rng.IntN(len(firstNames))]
		last := lastNames[rng.IntN(len(lastNames))]
		dom := domains[rng.IntN(len(domains))]
		local := strings.ToLower(asciiOnly(first) + "." + strings.ReplaceAll(asciiOnly(last), " ", ""))
		p := search.Address{Name: first + " " + last, Address: local + "@" + dom}
		if !seen[p.String()] {
			seen[p.String()] = true
			c.people = append(c.people, p)
		}
	}
	return c
}

func asciiOnly(s string) string {
	r := strings.NewReplacer("ü", "u", "ö", "o", "ä", "a", "é", "e", "è", "e", "ç", "c", "ñ", "n", "ø", "o", "å", "a",
		"ł", "l", "ó", "o", "í", "i", "á", "a", "ë", "e", "ß", "ss", "Ø", "O", "Ł", "L", "Á", "A", "É", "E", "Ö", "O", "Ü", "U", "ú", "u", "ş", "s", "ı", "i")
	return r.Replace(s)
}

// Person returns the i-th generated person.
func (c *Corpus) Person(i int) search.Address { return c.people[i%len(c.people)] }

// Generate calls fn with batches of n documents in total.
func (c *Corpus) Generate(n, batchSize int, fn func([]search.Document) error) error {
	batch := make([]search.Document, 0, batchSize)
	for i := 0; i < n; i++ {
		batch = append(batch, c.Doc(i))
		if len(batch) == batchSize {
			if err := fn(batch); err != nil {
				return err
			}
			batch = make([]search.Document, 0, batchSize)
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// Doc returns the i-th document. It depends only on cfg and i, so
// documents can be generated in any order or in parallel.
func (c *Corpus) Doc(i int) search.Document {
	rng := rand.New(rand.NewPCG(c.cfg.Seed^uint64(i)*0x9e3779b97f4a7c15, uint64(i)))
	zipf := rand.NewZipf(rng, 1.07, 2, uint64(len(vocabulary)-1))
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	// A few people write most mail, as in real mailboxes.
	person := func() search.Address { return c.people[int(float64(len(c.people))*rng.Float64()*rng.Float64())] }
	span := int64(3 * 365 * 24 * time.Hour)
	d := search.Document{
		ID:        c.cfg.FirstID + int64(i),
		TenantID:  c.cfg.TenantID,
		MailboxID: 1 + int64(rng.IntN(max(c.cfg.Mailboxes, 1))),
		GmailID:   fmt.Sprintf("%016x", rng.Uint64()),
		Date:      c.cfg.End.Add(-time.Duration(rng.Int64N(span))).Truncate(time.Second),
		From:      person(),
	}
	d.ThreadID = d.GmailID
	for k := 0; k < 1+rng.IntN(3); k++ {
		d.To = append(d.To, person())
	}
	if rng.IntN(4) == 0 {
		d.Cc = append(d.Cc, person())
	}
	subj := pick(subjectTemplates)
	subj = strings.NewReplacer("{product}", pick(products), "{topic}", pick(topics), "{n}", fmt.Sprint(1000+rng.IntN(90000)),
		"{q}", fmt.Sprint(1+rng.IntN(4)), "{day}", pick(days), "{company}", pick(companies)).Replace(subj)
	if rng.IntN(3) == 0 {
		subj = "Re: " + subj
	}
	d.Subject = subj
	var b strings.Builder
	name := d.To[0].Name
	if j := strings.IndexByte(name, ' '); j > 0 {
		name = name[:j]
	}
	b.WriteString(pick(greetings) + " " + name + ",\n\n")
	words := 30 + rng.IntN(120)
	for w := 0; w < words; w++ {
		if w > 0 {
			if w%14 == 0 {
				b.WriteString(".\n")
			} else {
				b.WriteByte(' ')
			}
		}
		switch rng.IntN(40) {
		case 0:
			b.WriteString(pick(products))
		case 1:
			b.WriteString(pick(companies))
		case 2:
			b.WriteString(fmt.Sprint(rng.IntN(10000)))
		default:
			b.WriteString(vocabulary[zipf.Uint64()])
		}
	}
	b.WriteString(".\n\n" + pick(closings) + "\n" + d.From.Name + "\n")
	d.Body = b.String()
	d.LabelIDs = []string{"INBOX"}
	if rng.IntN(5) == 0 {
		d.LabelIDs = []string{"SENT"}
	}
	for _, l := range []struct {
		id  string
		pct int
	}{{"UNREAD", 30}, {"STARRED", 5}, {"IMPORTANT", 10}, {"TRASH", 2}, {"SPAM", 1}, {"CATEGORY_UPDATES", 10}, {"CATEGORY_PROMOTIONS", 5}} {
		if rng.IntN(100) < l.pct {
			d.LabelIDs = append(d.LabelIDs, l.id)
		}
	}
	if rng.IntN(4) == 0 {
		k := rng.IntN(len(userLabels))
		d.LabelIDs = append(d.LabelIDs, fmt.Sprintf("Label_%d", k+1))
		d.LabelNames = append(d.LabelNames, userLabels[k])
	}
	if rng.IntN(7) == 0 {
		d.HasAttachment = true
		d.Filenames = []string{strings.ToLower(pick(topics)) + "-" + fmt.Sprint(rng.IntN(100)) + pick([]string{".pdf", ".xlsx", ".docx", ".png"})}
	}
	if c.cfg.Contacts > 0 {
		d.ContactIDs = []int64{1 + int64(rng.IntN(c.cfg.Contacts))}
	}
	if c.cfg.Accounts > 0 && rng.IntN(2) == 0 {
		d.AccountIDs = []int64{1 + int64(rng.IntN(c.cfg.Accounts))}
	}
	if c.cfg.Cases > 0 && rng.IntN(10) == 0 {
		d.CaseIDs = []int64{1 + int64(rng.IntN(c.cfg.Cases))}
	}
	return d
}

var (
	firstNames = []string{"Peter", "Anna", "Jürgen", "Sophie", "José", "María", "François", "Zoë", "Øystein", "Łukasz",
		"Renée", "Björn", "Ingrid", "Mohammed", "Fatima", "Chen", "Aiko", "Olga", "Liam", "Emma", "Noah", "Olivia",
		"Lucas", "Mila", "Daan", "Sanne", "Thomas", "Julia", "Marco", "Giulia", "Ahmet", "Elif", "Søren", "Astrid",
		"Pieter", "Femke", "Hélène", "Agnieszka", "Ramón", "Inês", "David", "Sarah", "James", "Laura", "Kevin", "Nina"}
	lastNames = []string{"Jansen", "Müller", "de Vries", "Bakker", "Smith", "García", "Núñez", "Kowalski", "Schröder",
		"van den Berg", "Visser", "Meijer", "Dubois", "Lefèvre", "Rossi", "Bianchi", "Nakamura", "Ivanova", "Öztürk",
		"Yılmaz", "Johansson", "Lindqvist", "Hansen", "Nielsen", "Fernández", "Brown", "Wilson", "Taylor", "Dekker",
		"Mulder", "Bos", "Vos", "Peters", "Hendriks", "Wagner", "Becker", "Hoffmann", "Schäfer", "Novák", "Horváth"}
	domains = []string{"acme.com", "globex.nl", "initech.io", "umbrella.co.uk", "hooli.com", "example.org", "gmail.com",
		"outlook.com", "stark-industries.com", "wayne.enterprises", "vandelay.com", "tyrell.nl", "cyberdyne.de", "soylent.fr"}
	companies = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Tyrell", "Cyberdyne", "Soylent", "Wonka", "Stark"}
	products  = []string{"Enterprise plan", "CRM license", "support contract", "onboarding package", "API quota", "storage upgrade",
		"consulting hours", "training session", "hardware lease", "maintenance renewal"}
	topics = []string{"Budget", "Roadmap", "Invoice", "Contract", "Proposal", "Onboarding", "Renewal", "Migration",
		"Workshop", "Quarterly", "Forecast", "Offerte", "Factuur", "Rechnung", "Planning", "Hiring", "Release", "Audit"}
	days             = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}
	subjectTemplates = []string{"Invoice {n} for {product}", "{topic} meeting on {day}", "Quarterly report Q{q}",
		"Your {product} order {n}", "Follow-up: {topic} with {company}", "{company} {topic} proposal",
		"Question about {product}", "Reminder: {topic} due {day}", "Signed contract {company} {n}",
		"Welcome to {company}", "Payment received for invoice {n}", "{topic} update", "Lunch on {day}?",
		"Ticket {n}: problem with {product}", "Résumé and references", "Café meeting with {company} on {day}"}
	greetings  = []string{"Hi", "Hello", "Dear", "Hey", "Good morning", "Hallo", "Bonjour"}
	closings   = []string{"Best regards,", "Kind regards,", "Thanks,", "Cheers,", "Met vriendelijke groet,", "Mit freundlichen Grüßen,"}
	userLabels = []string{"Clients", "Projects/Alpha", "Projects/Beta", "Finance", "Hiring", "Legal", "Partners", "Support", "Travel", "Newsletters"}
	vocabulary = strings.Fields(`the to and of a in for is on that with this be we you it as are will at have from
		please our your can by an or not was if all about more would could should meeting project invoice payment
		contract proposal customer client account team schedule deadline budget report review update question
		attached attachment document draft version release deploy server database migration integration pricing
		quote discount order delivery shipment warehouse inventory supplier vendor partner agreement renewal
		license subscription support ticket issue problem solution feature request feedback roadmap milestone
		quarter forecast revenue expense approval signature legal compliance audit security privacy policy
		training workshop onboarding presentation slides agenda minutes notes call conference travel hotel
		flight booking reservation lunch dinner coffee office remote holiday vacation leave sick available
		tomorrow today yesterday next week month year monday tuesday wednesday thursday friday morning afternoon
		evening confirm confirmed cancel cancelled reschedule postpone urgent important asap thanks thank
		regards appreciate help assist provide send sent receive received forward reply discuss discussed
		agree agreed suggest recommend consider decision plan planning strategy marketing sales campaign lead
		opportunity pipeline prospect demo trial evaluation implementation rollout performance metrics
		dashboard analytics data export import sync synchronisation calendar email message inbox thread
		colleague manager director engineer designer developer consultant accountant lawyer recruiter
		candidate interview offer hiring salary benefits invoice overdue reminder balance statement receipt
		refund credit transfer bank wire amount total tax vat currency euro dollar estimate estimate hours
		rate scope requirements specification architecture backend frontend mobile website portal login
		password access permissions backup restore outage incident postmortem maintenance window downtime
		upgrade patch bug fix test testing quality acceptance sign approve approved pending waiting status
		progress complete completed finished started kickoff followup follow checklist template spreadsheet
		café résumé naïve über façade jalapeño coöperation zoë müller straße`)
)
