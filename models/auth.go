package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// SignUp creates a tenant with its first user as admin. The email must not
// be in use yet.
func (s *Store) SignUp(ctx context.Context, orgName, email, name, password string) (*Tenant, *User, error) {
	email = NormalizeAddress(email)
	if strings.TrimSpace(orgName) == "" {
		return nil, nil, errors.New("models: organization name is required")
	}
	if !strings.Contains(email, "@") {
		return nil, nil, errors.New("models: a valid email address is required")
	}
	if len(password) < 10 {
		return nil, nil, errors.New("models: password must be at least 10 characters")
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, nil, err
	}
	t := &Tenant{Name: strings.TrimSpace(orgName)}
	if dom := email[strings.LastIndex(email, "@")+1:]; dom != "" {
		t.Domains = StringList{dom}
	}
	u := &User{Email: email, Name: strings.TrimSpace(name), PasswordHash: hash}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(t).Error; err != nil {
			return fmt.Errorf("models: create tenant: %w", err)
		}
		if err := tx.Create(u).Error; err != nil {
			return fmt.Errorf("models: create user: %w", conflict(err))
		}
		return tx.Create(&Membership{TenantID: t.ID, UserID: u.ID, Role: RoleAdmin}).Error
	})
	if err != nil {
		return nil, nil, err
	}
	return t, u, nil
}

// AddUser creates a user inside an existing tenant (an admin inviting a
// colleague), or adds an existing user to the tenant.
func (s *Store) AddUser(ctx context.Context, tenantID int64, email, name, password string, role Role) (*User, error) {
	email = NormalizeAddress(email)
	if role != RoleAdmin && role != RoleMember {
		return nil, fmt.Errorf("models: unknown role %q", role)
	}
	var u User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Where("email = ?", email).First(&u).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			if len(password) < 10 {
				return errors.New("models: password must be at least 10 characters")
			}
			hash, err := HashPassword(password)
			if err != nil {
				return err
			}
			u = User{Email: email, Name: name, PasswordHash: hash}
			if err := tx.Create(&u).Error; err != nil {
				return fmt.Errorf("models: create user: %w", conflict(err))
			}
		} else if err != nil {
			return fmt.Errorf("models: find user: %w", err)
		}
		m := Membership{TenantID: tenantID, UserID: u.ID, Role: role}
		if err := tx.Create(&m).Error; err != nil {
			return fmt.Errorf("models: user is already a member: %w", conflict(err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// Authenticate checks a login. It returns ErrNotFound for an unknown email
// and ErrPasswordMismatch for a wrong password; callers must not tell the
// two apart to the user.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	var u User
	if err := s.db.WithContext(ctx).Where("email = ?", NormalizeAddress(email)).First(&u).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			// Spend the same time as a real check so that response
			// timing does not reveal which emails have accounts.
			_ = CheckPassword(dummyHash(), password)
		}
		return nil, notFound(err)
	}
	if err := CheckPassword(u.PasswordHash, password); err != nil {
		return nil, err
	}
	return &u, nil
}

// dummyHash is computed on first use, not at start-up: argon2id costs
// 64 MiB and a noticeable fraction of a second.
var dummyHash = sync.OnceValue(func() string {
	h, err := HashPassword("tidings-dummy-password")
	if err != nil {
		return "$argon2id$v=19$m=65536,t=3,p=2$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	}
	return h
})

// GetUser loads a user by id.
func (s *Store) GetUser(ctx context.Context, id int64) (*User, error) {
	var u User
	if err := s.db.WithContext(ctx).First(&u, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &u, nil
}

// GetTenant loads a tenant by id.
func (s *Store) GetTenant(ctx context.Context, id int64) (*Tenant, error) {
	var t Tenant
	if err := s.db.WithContext(ctx).First(&t, id).Error; err != nil {
		return nil, notFound(err)
	}
	return &t, nil
}

// UpdateTenant writes the tenant's name and own domains.
func (s *Store) UpdateTenant(ctx context.Context, t *Tenant) error {
	res := s.db.WithContext(ctx).Model(t).Select("name", "domains", "updated_at").Updates(t)
	if res.Error != nil {
		return fmt.Errorf("models: update tenant: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// Membership returns a user's membership in a tenant.
func (s *Store) Membership(ctx context.Context, tenantID, userID int64) (*Membership, error) {
	var m Membership
	if err := s.scoped(ctx, tenantID).Where("user_id = ?", userID).First(&m).Error; err != nil {
		return nil, notFound(err)
	}
	return &m, nil
}

// Memberships lists the tenants a user belongs to.
func (s *Store) Memberships(ctx context.Context, userID int64) ([]Membership, error) {
	var out []Membership
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("tenant_id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: memberships: %w", err)
	}
	return out, nil
}

// Member is a user with their role in a tenant.
type Member struct {
	User
	Role Role
}

// Members lists a tenant's users.
func (s *Store) Members(ctx context.Context, tenantID int64) ([]Member, error) {
	var out []Member
	err := s.db.WithContext(ctx).Table("users").
		Select("users.*, memberships.role").
		Joins("JOIN memberships ON memberships.user_id = users.id").
		Where("memberships.tenant_id = ?", tenantID).Order("users.id").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: members: %w", err)
	}
	return out, nil
}

// apiTokenPrefix makes tokens recognizable in secret scanners and logs.
const apiTokenPrefix = "tdg_"

// CreateAPIToken issues a token for a user; the plaintext is returned once
// and only its hash is stored.
func (s *Store) CreateAPIToken(ctx context.Context, tenantID, userID int64, name string) (string, *APIToken, error) {
	if _, err := s.Membership(ctx, tenantID, userID); err != nil {
		return "", nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("models: token: %w", err)
	}
	plain := apiTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(plain))
	t := &APIToken{TenantID: tenantID, UserID: userID, Name: name, Hash: sum[:]}
	if err := s.db.WithContext(ctx).Create(t).Error; err != nil {
		return "", nil, fmt.Errorf("models: create token: %w", err)
	}
	return plain, t, nil
}

// APITokenByPlaintext resolves a presented token and records its use.
func (s *Store) APITokenByPlaintext(ctx context.Context, plain string) (*APIToken, error) {
	if !strings.HasPrefix(plain, apiTokenPrefix) {
		return nil, ErrNotFound
	}
	sum := sha256.Sum256([]byte(plain))
	var t APIToken
	if err := s.db.WithContext(ctx).Where("hash = ?", sum[:]).First(&t).Error; err != nil {
		return nil, notFound(err)
	}
	now := time.Now().UTC()
	s.db.WithContext(ctx).Model(&t).Update("last_used_at", now)
	return &t, nil
}

// ListAPITokens lists a user's tokens in a tenant (hashes only).
func (s *Store) ListAPITokens(ctx context.Context, tenantID, userID int64) ([]APIToken, error) {
	var out []APIToken
	if err := s.scoped(ctx, tenantID).Where("user_id = ?", userID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: tokens: %w", err)
	}
	return out, nil
}

// DeleteAPIToken revokes a token of a user.
func (s *Store) DeleteAPIToken(ctx context.Context, tenantID, userID, id int64) error {
	res := s.scoped(ctx, tenantID).Where("user_id = ? AND id = ?", userID, id).Delete(&APIToken{})
	if res.Error != nil {
		return fmt.Errorf("models: delete token: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
