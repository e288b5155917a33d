package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Session is a signed-in browser. The cookie carries a random token; only
// its SHA-256 is stored, so a copy of the database does not hold usable
// cookies. Deleting the row ends the session at once: logout, a password
// change, a role change and removal from the organization all do.
type Session struct {
	ID         int64  `gorm:"primaryKey"`
	TokenHash  []byte `gorm:"uniqueIndex;not null" json:"-"`
	UserID     int64  `gorm:"index;not null"`
	TenantID   int64  `gorm:"index;not null"`
	CSRF       string `gorm:"not null" json:"-"`
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time `gorm:"not null"`
}

// sessionTouchEvery bounds how often a session's last_seen_at is written:
// reads must not turn every page view into a write.
const sessionTouchEvery = time.Minute

func newSecret() (string, []byte) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // crypto/rand.Read never fails (Go 1.24+).
	plain := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(plain))
	return plain, sum[:]
}

func hashSecret(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}

// CreateSession starts a session of a user in one of their tenants and
// returns the cookie token (shown once). Expired sessions are swept here.
func (s *Store) CreateSession(ctx context.Context, userID, tenantID int64, ttl time.Duration, userAgent, ip string, now time.Time) (string, *Session, error) {
	if _, err := s.Membership(ctx, tenantID, userID); err != nil {
		return "", nil, err
	}
	now = now.UTC()
	if len(userAgent) > 300 {
		userAgent = userAgent[:300]
	}
	plain, hash := newSecret()
	csrf, _ := newSecret()
	sess := &Session{TokenHash: hash, UserID: userID, TenantID: tenantID, CSRF: csrf, UserAgent: userAgent, IP: ip,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(ttl)}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("expires_at < ?", now).Delete(&Session{}).Error; err != nil {
			return err
		}
		if err := tx.Create(sess).Error; err != nil {
			return err
		}
		return tx.Model(&User{}).Where("id = ?", userID).Update("last_tenant_id", tenantID).Error
	})
	if err != nil {
		return "", nil, fmt.Errorf("models: create session: %w", err)
	}
	return plain, sess, nil
}

// SessionByToken resolves a cookie token; an unknown or expired token is
// ErrNotFound.
func (s *Store) SessionByToken(ctx context.Context, token string, now time.Time) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNotFound
	}
	var sess Session
	if err := s.db.WithContext(ctx).Where("token_hash = ?", hashSecret(token)).First(&sess).Error; err != nil {
		return nil, notFound(err)
	}
	if !now.Before(sess.ExpiresAt) {
		return nil, ErrNotFound
	}
	if now.Sub(sess.LastSeenAt) > sessionTouchEvery {
		sess.LastSeenAt = now.UTC()
		if err := s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", sess.ID).Update("last_seen_at", sess.LastSeenAt).Error; err != nil {
			return nil, fmt.Errorf("models: touch session: %w", err)
		}
	}
	return &sess, nil
}

// DeleteSessionByToken ends the session a cookie token names (logout).
func (s *Store) DeleteSessionByToken(ctx context.Context, token string) error {
	if err := s.db.WithContext(ctx).Where("token_hash = ?", hashSecret(token)).Delete(&Session{}).Error; err != nil {
		return fmt.Errorf("models: delete session: %w", err)
	}
	return nil
}

// ListSessions lists a user's live sessions, newest first.
func (s *Store) ListSessions(ctx context.Context, userID int64, now time.Time) ([]Session, error) {
	var out []Session
	if err := s.db.WithContext(ctx).Where("user_id = ? AND expires_at > ?", userID, now.UTC()).Order("id DESC").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: sessions: %w", err)
	}
	return out, nil
}

// EndSession ends one of the user's own sessions by id.
func (s *Store) EndSession(ctx context.Context, userID, id int64) error {
	return oneRow(s.db.WithContext(ctx).Where("user_id = ? AND id = ?", userID, id).Delete(&Session{}), "end session")
}

// EndUserSessions ends a user's sessions: in one tenant (tenantID > 0) or
// everywhere, except the session keepID (0 keeps none).
func (s *Store) EndUserSessions(ctx context.Context, userID, tenantID, keepID int64) error {
	return endUserSessions(s.db.WithContext(ctx), userID, tenantID, keepID)
}

func endUserSessions(tx *gorm.DB, userID, tenantID, keepID int64) error {
	q := tx.Where("user_id = ? AND id <> ?", userID, keepID)
	if tenantID > 0 {
		q = q.Where("tenant_id = ?", tenantID)
	}
	if err := q.Delete(&Session{}).Error; err != nil {
		return fmt.Errorf("models: end sessions: %w", err)
	}
	return nil
}

// SwitchTenant moves a session to another tenant of its user and remembers
// it as the user's last one. The CSRF token is renewed with it.
func (s *Store) SwitchTenant(ctx context.Context, sess *Session, tenantID int64) error {
	if _, err := s.Membership(ctx, tenantID, sess.UserID); err != nil {
		return err
	}
	csrf, _ := newSecret()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&Session{}).Where("id = ?", sess.ID).Updates(map[string]any{"tenant_id": tenantID, "csrf": csrf}).Error; err != nil {
			return fmt.Errorf("models: switch tenant: %w", err)
		}
		sess.TenantID, sess.CSRF = tenantID, csrf
		return tx.Model(&User{}).Where("id = ?", sess.UserID).Update("last_tenant_id", tenantID).Error
	})
}
