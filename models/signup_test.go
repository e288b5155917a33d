package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"tidings/models"
)

// TestSignUpFirstOnlyOnce: closed sign-up lets exactly one of several
// concurrent first sign-ups bootstrap the instance; the others are told
// sign-up is closed (never two organizations, never a server error).
func TestSignUpFirstOnlyOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *models.Store) {
		ctx := context.Background()
		if has, err := s.HasTenants(ctx); err != nil || has {
			t.Fatalf("HasTenants on an empty store: %v %v", has, err)
		}
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, _, errs[i] = s.SignUpFirst(ctx, "Org", fmt.Sprintf("first%d@first.example", i), "F", "correct horse battery")
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, models.ErrSignUpClosed):
			default:
				t.Errorf("sign-up %d: %v", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d first sign-ups won, want 1 (%v)", won, errs)
		}
		if has, err := s.HasTenants(ctx); err != nil || !has {
			t.Errorf("HasTenants after bootstrap: %v %v", has, err)
		}
		// Open sign-up (SignUp) is not limited.
		if _, _, err := s.SignUp(ctx, "Second", "second@second.example", "S", "correct horse battery"); err != nil {
			t.Errorf("SignUp after bootstrap: %v", err)
		}
	})
}
