package emulator

import (
	"errors"
	"testing"
)

func TestGoAPIErrors(t *testing.T) {
	srv, _ := setup(t)
	id := deliver(t, srv, fixture(t, "simple.eml"))
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate user", func() error { _, err := srv.AddUser("BOB@example.com"); return err }(), ErrUserExists},
		{"not an address", func() error { _, err := srv.AddUser("bob"); return err }(), ErrInvalidInput},
		{"deliver to unknown user", func() error { _, err := srv.Deliver("nobody@example.com", []byte("x")); return err }(), ErrUnknownUser},
		{"deliver with unknown label", func() error { _, err := srv.Deliver(testUser, []byte("x"), "Label_9"); return err }(), ErrInvalidInput},
		{"modify unknown message", srv.ModifyLabels(testUser, "00000000000000ff", []string{"STARRED"}, nil), ErrNotFound},
		{"modify with unknown label", srv.ModifyLabels(testUser, id, []string{"Label_9"}, nil), ErrInvalidInput},
		{"trash bad id", srv.Trash(testUser, "zz"), ErrNotFound},
		{"delete system label", srv.DeleteLabel(testUser, "INBOX"), ErrInvalidInput},
		{"delete unknown label", srv.DeleteLabel(testUser, "Label_77"), ErrNotFound},
		{"expire unknown user", srv.ExpireHistory("nobody@example.com"), ErrUnknownUser},
		{"revoke unknown user", srv.RevokeRefreshToken("nobody@example.com"), ErrUnknownUser},
		{"generate nil", srv.AddGenerated(testUser, nil, 1), ErrInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Errorf("got %v, want %v", tc.err, tc.want)
			}
		})
	}
	if len(srv.Snapshot("nobody@example.com")) != 0 || srv.HistoryID("nobody@example.com") != 0 {
		t.Error("unknown user has state")
	}
	if got := srv.Users(); len(got) != 1 || got[0] != testUser {
		t.Errorf("Users() = %v", got)
	}
}
