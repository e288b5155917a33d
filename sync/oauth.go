package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"golang.org/x/oauth2"
	"google.golang.org/api/gmail/v1"

	"tidings/models"
)

// AuthCodeURL returns the consent URL of the authorization-code flow
// (RFC 6749 §4.1) with offline access, so Google issues a refresh token,
// and prompt=consent, so it issues one again when a user reconnects.
// Callers add oauth2.S256ChallengeOption (PKCE, RFC 7636) and
// oauth2.SetAuthURLParam("login_hint", email) as they see fit.
func (s *Syncer) AuthCodeURL(state string, opts ...oauth2.AuthCodeOption) string {
	opts = append([]oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent")}, opts...)
	return s.oauth.AuthCodeURL(state, opts...)
}

// OAuthConfig returns a copy of the OAuth client configuration.
func (s *Syncer) OAuthConfig() oauth2.Config { return *s.oauth }

// Connect finishes the authorization-code flow: it exchanges code, reads
// the address of the authorized Gmail account, creates (or reconnects)
// the tenant's mailbox, seals the token into the store, clears a previous
// needs-reauthorization state, and enqueues a sync (a full one for a new
// mailbox). opts carry e.g. oauth2.VerifierOption for PKCE.
func (s *Syncer) Connect(ctx context.Context, tenantID, ownerID int64, code string, opts ...oauth2.AuthCodeOption) (*models.Mailbox, error) {
	octx := context.WithValue(ctx, oauth2.HTTPClient, s.http)
	tok, err := s.oauth.Exchange(octx, code, opts...)
	if err != nil {
		return nil, fmt.Errorf("sync: exchange authorization code: %w", err)
	}
	if tok.RefreshToken == "" {
		return nil, errors.New("sync: Google returned no refresh token (offline access was not granted)")
	}
	hc := &http.Client{Transport: &oauth2.Transport{Source: oauth2.StaticTokenSource(tok), Base: s.http.Transport}, Timeout: s.http.Timeout}
	svc, err := s.service(ctx, hc)
	if err != nil {
		return nil, err
	}
	var prof *gmail.Profile
	api := &gmailClient{svc: svc, conc: newAdaptiveLimit(1), retry: s.retry, log: s.log, tokens: newTokenSource(s.oauthContext(), s.oauth, tok, func(*oauth2.Token) error { return nil })}
	err = api.call(ctx, costGetProfile, func(o ...gmailCallOption) (err error) {
		prof, err = svc.Users.GetProfile("me").Context(ctx).Do(o...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sync: read Gmail profile: %w", err)
	}
	mb := &models.Mailbox{OwnerID: ownerID, Email: prof.EmailAddress, Provider: "gmail"}
	if err := s.store.CreateMailbox(ctx, tenantID, mb); err != nil {
		return nil, err
	}
	if err := s.store.SaveToken(ctx, tenantID, mb.ID, tok); err != nil {
		return nil, fmt.Errorf("sync: store token: %w", err)
	}
	// What Google granted decides what the mailbox may do (permanent
	// delete needs more than gmail.modify).
	if scope, _ := tok.Extra("scope").(string); scope != "" {
		if err := s.store.UpdateMailbox(ctx, tenantID, mb.ID, map[string]any{"scopes": scope}); err != nil {
			return nil, err
		}
	}
	if mb.NeedsReauth {
		if err := s.store.UpdateMailbox(ctx, tenantID, mb.ID, map[string]any{
			"needs_reauth": false, "sync_state": models.SyncPending, "last_error": "",
		}); err != nil {
			return nil, err
		}
	}
	if mb, err = s.store.GetMailbox(ctx, tenantID, mb.ID); err != nil {
		return nil, err
	}
	kind := KindIncremental // becomes a full sync while there is no cursor
	if err := s.enqueue(ctx, tenantID, mb.ID, kind, QueueCritical); err != nil && !errors.Is(err, ErrNoQueue) {
		// The scheduler picks the mailbox up anyway.
		s.log.Warn("sync: enqueue first sync", slog.Int64("mailbox", mb.ID), slog.Any("err", err))
	}
	if err := s.RenewWatch(ctx, tenantID, mb.ID); err != nil {
		s.log.Warn("sync: watch", slog.Int64("mailbox", mb.ID), slog.Any("err", err))
	}
	return mb, nil
}
