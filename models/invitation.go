package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Invitation asks someone to join a tenant. Its token is single-use and
// only its hash is stored; the invitee accepts while signed in with the
// invited address (or creates the account for that address by accepting).
// Nobody is attached to a tenant without accepting.
type Invitation struct {
	ID         int64  `gorm:"primaryKey"`
	TenantID   int64  `gorm:"index;not null"`
	Email      string `gorm:"not null"`
	Role       Role   `gorm:"not null"`
	TokenHash  []byte `gorm:"uniqueIndex;not null" json:"-"`
	InvitedBy  int64  `gorm:"not null"`
	CreatedAt  time.Time
	ExpiresAt  time.Time `gorm:"not null"`
	AcceptedAt *time.Time
	AcceptedBy *int64
}

// InvitationTTL is how long an invitation link stays valid.
const InvitationTTL = 7 * 24 * time.Hour

// ErrInvitationMismatch is returned when the signed-in user's address is
// not the invited one.
var ErrInvitationMismatch = errors.New("models: the invitation is for another address")

// CreateInvitation invites an address into a tenant and returns the token
// for the link (shown once). A pending invitation of the same address is
// replaced. It does not reveal whether the address has an account.
func (s *Store) CreateInvitation(ctx context.Context, tenantID, invitedBy int64, email string, role Role, now time.Time) (string, *Invitation, error) {
	email = NormalizeAddress(email)
	var v validator
	if err := CheckAddress(email); err != nil {
		v.add("email", "%s", err.Error())
	}
	if role != RoleAdmin && role != RoleMember {
		v.add("role", "must be admin or member")
	}
	if err := v.err(); err != nil {
		return "", nil, err
	}
	plain, hash := newSecret()
	now = now.UTC()
	inv := &Invitation{TenantID: tenantID, Email: email, Role: role, TokenHash: hash, InvitedBy: invitedBy,
		CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		err := tx.Table("memberships").Joins("JOIN users ON users.id = memberships.user_id").
			Where("memberships.tenant_id = ? AND users.email = ?", tenantID, email).Count(&n).Error
		if err != nil {
			return fmt.Errorf("models: invitation: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("models: %s is already a member: %w", email, ErrConflict)
		}
		if err := tx.Where("tenant_id = ? AND email = ? AND accepted_at IS NULL", tenantID, email).Delete(&Invitation{}).Error; err != nil {
			return fmt.Errorf("models: invitation: %w", err)
		}
		return tx.Create(inv).Error
	})
	if err != nil {
		return "", nil, err
	}
	return plain, inv, nil
}

// InvitationByToken loads a pending, unexpired invitation.
func (s *Store) InvitationByToken(ctx context.Context, token string, now time.Time) (*Invitation, error) {
	return invitationByToken(s.db.WithContext(ctx), token, now)
}

func invitationByToken(tx *gorm.DB, token string, now time.Time) (*Invitation, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNotFound
	}
	var inv Invitation
	err := tx.Where("token_hash = ? AND accepted_at IS NULL AND expires_at > ?", hashSecret(token), now.UTC()).First(&inv).Error
	if err != nil {
		return nil, notFound(err)
	}
	return &inv, nil
}

// AcceptInvitation makes the signed-in user a member. The user's address
// must be the invited one; the token is used up.
func (s *Store) AcceptInvitation(ctx context.Context, token string, userID int64, now time.Time) (*Invitation, error) {
	var inv *Invitation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if inv, err = invitationByToken(tx, token, now); err != nil {
			return err
		}
		var u User
		if err := tx.First(&u, userID).Error; err != nil {
			return notFound(err)
		}
		if u.Email != inv.Email {
			return ErrInvitationMismatch
		}
		return acceptInvitation(tx, inv, userID, now)
	})
	return inv, err
}

// AcceptInvitationAsNewUser creates the account of the invited address
// with password and accepts. ErrConflict when the address already has an
// account: its owner must sign in to accept.
func (s *Store) AcceptInvitationAsNewUser(ctx context.Context, token, name, password string, now time.Time) (*Invitation, *User, error) {
	var v validator
	v.text("name", name, MaxNameLen)
	if err := checkPassword("password", password); err != nil {
		v.errs = append(v.errs, err.(ValidationErrors)...)
	}
	if err := v.err(); err != nil {
		return nil, nil, err
	}
	inv, err := s.InvitationByToken(ctx, token, now)
	if err != nil {
		return nil, nil, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, nil, err
	}
	u := &User{Email: inv.Email, Name: name, PasswordHash: hash}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		inv, err = invitationByToken(tx, token, now)
		if err != nil {
			return err
		}
		if err := tx.Create(u).Error; err != nil {
			return fmt.Errorf("models: create user: %w", conflict(err))
		}
		return acceptInvitation(tx, inv, u.ID, now)
	})
	if err != nil {
		return nil, nil, err
	}
	return inv, u, nil
}

func acceptInvitation(tx *gorm.DB, inv *Invitation, userID int64, now time.Time) error {
	// The conditional update makes the token single-use even when two
	// accepts race.
	now = now.UTC()
	res := tx.Model(&Invitation{}).Where("id = ? AND accepted_at IS NULL", inv.ID).
		Updates(map[string]any{"accepted_at": now, "accepted_by": userID})
	if err := oneRow(res, "accept invitation"); err != nil {
		return err
	}
	var n int64
	if err := tx.Model(&Membership{}).Where("tenant_id = ? AND user_id = ?", inv.TenantID, userID).Count(&n).Error; err != nil {
		return fmt.Errorf("models: accept invitation: %w", err)
	}
	if n > 0 {
		return nil
	}
	if err := tx.Create(&Membership{TenantID: inv.TenantID, UserID: userID, Role: inv.Role}).Error; err != nil {
		return fmt.Errorf("models: accept invitation: %w", conflict(err))
	}
	return nil
}

// ListInvitations lists a tenant's pending invitations.
func (s *Store) ListInvitations(ctx context.Context, tenantID int64, now time.Time) ([]Invitation, error) {
	var out []Invitation
	err := s.scoped(ctx, tenantID).Where("accepted_at IS NULL AND expires_at > ?", now.UTC()).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: invitations: %w", err)
	}
	return out, nil
}

// RevokeInvitation deletes a pending invitation of the tenant.
func (s *Store) RevokeInvitation(ctx context.Context, tenantID, id int64) error {
	return oneRow(s.scoped(ctx, tenantID).Where("id = ? AND accepted_at IS NULL", id).Delete(&Invitation{}), "revoke invitation")
}
