package sync

import (
	"testing"

	"tidings/emulator"
	"tidings/models"
)

// TestUnknownLabelsHeal (finding 5): messages.get answers that name a
// label id Gmail does not have (and that the label list lacks) end up
// stored; the next sync notices the unknown id, re-reads those messages
// and stores Gmail's real label sets, though no history record says so.
func TestUnknownLabelsHeal(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		generated(t, e, 60)
		e.emu.SetFaults(emulator.Faults{Rate: 0.5, Kinds: []emulator.FaultKind{emulator.FaultGhostLabel}})
		s := e.syncer()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		e.emu.SetFaults(emulator.Faults{})
		ghosts := countRows(t, store, `SELECT COUNT(*) FROM message_labels WHERE label_id NOT IN (SELECT gmail_id FROM labels)`)
		if ghosts == 0 {
			t.Fatal("the fault stored no unknown label ids; the test proves nothing")
		}
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, store, `SELECT COUNT(*) FROM message_labels WHERE label_id NOT IN (SELECT gmail_id FROM labels)`); n != 0 {
			t.Errorf("%d unknown label ids still stored after a healing sync (were %d)", n, ghosts)
		}
		e.assertExact()
	})
}

// TestProgressCountsStored (finding 6): after a sync the mailbox's
// progress is the number of messages stored, also when mail arrived after
// the full sync's listing.
func TestProgressCountsStored(t *testing.T) {
	forEachEngine(t, func(t *testing.T, store *models.Store) {
		e := newEnv(t, store)
		generated(t, e, 40)
		s := e.syncer()
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		for i := range 7 {
			if _, err := e.emu.Deliver(e.email, rawMessage(500+i, "Later", ""), "INBOX"); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.run(s, false); err != nil {
			t.Fatal(err)
		}
		stored := countRows(t, store, "SELECT COUNT(*) FROM messages WHERE mailbox_id = ?", e.mailboxID)
		if mb := e.mailbox(); mb.ProgressDone != stored || mb.ProgressTotal != stored || stored != 47 {
			t.Errorf("progress %d/%d with %d messages stored (47 in Gmail)", mb.ProgressDone, mb.ProgressTotal, stored)
		}
	})
}
