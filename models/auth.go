package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
)

// ErrSignUpRefused is returned by SignUp for an address that already has
// an account when the password is not that account's: the caller shows
// one answer for it (see web), never "this address has an account".
var ErrSignUpRefused = errors.New("models: sign-up refused")

// ErrSignUpClosed is returned by SignUpFirst when the instance has an
// organization already: further people join by invitation.
var ErrSignUpClosed = errors.New("models: sign-up closed")

// HasTenants reports whether the instance has any organization, i.e.
// whether it has been bootstrapped.
func (s *Store) HasTenants(ctx context.Context) (bool, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&Tenant{}).Limit(1).Count(&n).Error; err != nil {
		return false, fmt.Errorf("models: count tenants: %w", err)
	}
	return n > 0, nil
}

// SignUpFirst is SignUp for an instance whose sign-up is closed: it
// succeeds only while there is no organization (the first user
// bootstraps the instance) and returns ErrSignUpClosed otherwise. The
// check and the creation are one transaction, so two concurrent first
// sign-ups cannot both win.
func (s *Store) SignUpFirst(ctx context.Context, orgName, email, name, password string) (*Tenant, *User, error) {
	return s.signUp(ctx, true, orgName, email, name, password)
}

// SignUp creates a tenant with the signing-up user as its admin. A new
// address creates the user; an address that has an account with this very
// password adds a new organization to that account (the owner proved who
// they are). Either path costs exactly one password hash, so the answer
// time does not tell the two apart.
func (s *Store) SignUp(ctx context.Context, orgName, email, name, password string) (*Tenant, *User, error) {
	return s.signUp(ctx, false, orgName, email, name, password)
}

func (s *Store) signUp(ctx context.Context, first bool, orgName, email, name, password string) (*Tenant, *User, error) {
	email = NormalizeAddress(email)
	var v validator
	orgName, name = strings.TrimSpace(orgName), strings.TrimSpace(name)
	if orgName == "" {
		v.add("org", "is required")
	}
	v.text("org", orgName, MaxNameLen)
	v.text("name", name, MaxNameLen)
	if err := CheckAddress(email); err != nil {
		v.add("email", "%s", err.Error())
	}
	if err := checkPassword("password", password); err != nil {
		v.errs = append(v.errs, err.(ValidationErrors)...)
	}
	if err := v.err(); err != nil {
		return nil, nil, err
	}
	var existing User
	err := s.db.WithContext(ctx).Where("email = ?", email).First(&existing).Error
	var u *User
	switch {
	case err == nil:
		if CheckPassword(existing.PasswordHash, password) != nil {
			return nil, nil, ErrSignUpRefused
		}
		u = &existing
	case errors.Is(err, gorm.ErrRecordNotFound):
		hash, err := HashPassword(password)
		if err != nil {
			return nil, nil, err
		}
		u = &User{Email: email, Name: name, PasswordHash: hash}
	default:
		return nil, nil, fmt.Errorf("models: find user: %w", err)
	}
	t, err := s.createTenantWithAdmin(ctx, orgName, u, first)
	if errors.Is(err, ErrConflict) {
		// The same address signed up concurrently.
		return nil, nil, ErrSignUpRefused
	}
	return t, u, err
}

// CreateOrganization is the admin CLI's headless set-up: a tenant and its
// first admin. The admin user is created with password when the address
// has no account yet; an existing account is made admin as it is (the
// operator of the server vouches for it) and password is ignored.
func (s *Store) CreateOrganization(ctx context.Context, orgName, email, name, password string) (*Tenant, *User, bool, error) {
	email = NormalizeAddress(email)
	var v validator
	orgName = strings.TrimSpace(orgName)
	if orgName == "" {
		v.add("org", "is required")
	}
	v.text("org", orgName, MaxNameLen)
	if err := CheckAddress(email); err != nil {
		v.add("email", "%s", err.Error())
	}
	if err := v.err(); err != nil {
		return nil, nil, false, err
	}
	var u User
	created := false
	err := s.db.WithContext(ctx).Where("email = ?", email).First(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if err := checkPassword("password", password); err != nil {
			return nil, nil, false, err
		}
		hash, err := HashPassword(password)
		if err != nil {
			return nil, nil, false, err
		}
		u, created = User{Email: email, Name: strings.TrimSpace(name), PasswordHash: hash}, true
	} else if err != nil {
		return nil, nil, false, fmt.Errorf("models: find user: %w", err)
	}
	t, err := s.createTenantWithAdmin(ctx, orgName, &u, false)
	return t, &u, created, err
}

// createTenantWithAdmin creates the tenant, the user when u.ID is 0, and
// the admin membership in one transaction. With onlyFirst it fails with
// ErrSignUpClosed when a tenant exists already.
func (s *Store) createTenantWithAdmin(ctx context.Context, orgName string, u *User, onlyFirst bool) (*Tenant, error) {
	t := &Tenant{Name: orgName}
	if dom := u.Email[strings.LastIndex(u.Email, "@")+1:]; dom != "" {
		t.Domains = StringList{dom}
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if onlyFirst {
			if err := firstTenantOnly(tx, s.engine); err != nil {
				return err
			}
		}
		if err := tx.Create(t).Error; err != nil {
			return fmt.Errorf("models: create tenant: %w", err)
		}
		if u.ID == 0 {
			if err := tx.Create(u).Error; err != nil {
				return fmt.Errorf("models: create user: %w", conflict(err))
			}
		}
		return tx.Create(&Membership{TenantID: t.ID, UserID: u.ID, Role: RoleAdmin}).Error
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// firstTenantOnly fails with ErrSignUpClosed when tx sees a tenant. On
// Postgres the tenants table is locked against concurrent inserts until
// the transaction ends (read committed would let two first sign-ups both
// see none); SQLite transactions take the write lock at BEGIN
// (_txlock=immediate, db.go), so the count is already serialized.
func firstTenantOnly(tx *gorm.DB, engine Engine) error {
	if engine == Postgres {
		if err := tx.Exec("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE").Error; err != nil {
			return fmt.Errorf("models: lock tenants: %w", err)
		}
	}
	var n int64
	if err := tx.Model(&Tenant{}).Limit(1).Count(&n).Error; err != nil {
		return fmt.Errorf("models: count tenants: %w", err)
	}
	if n > 0 {
		return ErrSignUpClosed
	}
	return nil
}

// Authenticate checks a login. It returns ErrNotFound for an unknown email
// and ErrPasswordMismatch for a wrong password; callers must not tell the
// two apart to the user. Both cost one password hash.
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

// LoginTenant picks the tenant a login lands in: the one the user worked
// in last while they are still a member, else their oldest membership.
// ErrNotFound when the user belongs to no tenant.
func (s *Store) LoginTenant(ctx context.Context, u *User) (int64, error) {
	ms, err := s.Memberships(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, ErrNotFound
	}
	if u.LastTenantID != nil {
		for _, m := range ms {
			if m.TenantID == *u.LastTenantID {
				return m.TenantID, nil
			}
		}
	}
	return ms[0].TenantID, nil
}

// ChangePassword sets a user's own password after checking the current
// one, and ends every other session of the user.
func (s *Store) ChangePassword(ctx context.Context, userID int64, current, next string, keepSessionID int64) error {
	u, err := s.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	if err := checkPassword("new_password", next); err != nil {
		return err
	}
	if CheckPassword(u.PasswordHash, current) != nil {
		return ValidationErrors{{Field: "current_password", Reason: "is not your current password"}}
	}
	return s.setPassword(ctx, userID, next, keepSessionID)
}

// ErrSharedAccount is returned when an admin tries to reset the password
// of a user who also belongs to other organizations: that would let one
// organization's admin take over an account another organization trusts.
var ErrSharedAccount = errors.New("models: the user belongs to other organizations too")

// ResetPassword is an admin of tenantID setting a member's password. It is
// refused for users who belong to any other tenant. All of the user's
// sessions end.
func (s *Store) ResetPassword(ctx context.Context, tenantID, userID int64, next string) error {
	ms, err := s.Memberships(ctx, userID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(ms, func(m Membership) bool { return m.TenantID == tenantID }) {
		return ErrNotFound
	}
	if len(ms) > 1 {
		return ErrSharedAccount
	}
	if err := checkPassword("password", next); err != nil {
		return err
	}
	return s.setPassword(ctx, userID, next, 0)
}

// SetPasswordByEmail is the admin CLI's password reset (the operator of
// the server may reset anyone). All of the user's sessions end.
func (s *Store) SetPasswordByEmail(ctx context.Context, email, next string) (*User, error) {
	if err := checkPassword("password", next); err != nil {
		return nil, err
	}
	var u User
	if err := s.db.WithContext(ctx).Where("email = ?", NormalizeAddress(email)).First(&u).Error; err != nil {
		return nil, notFound(err)
	}
	return &u, s.setPassword(ctx, u.ID, next, 0)
}

func (s *Store) setPassword(ctx context.Context, userID int64, next string, keepSessionID int64) error {
	hash, err := HashPassword(next)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&User{}).Where("id = ?", userID).Updates(map[string]any{"password_hash": hash, "updated_at": time.Now().UTC()}).Error; err != nil {
			return fmt.Errorf("models: set password: %w", err)
		}
		return endUserSessions(tx, userID, 0, keepSessionID)
	})
}

// ErrLastAdmin is returned when a change would leave a tenant without an
// admin.
var ErrLastAdmin = errors.New("models: an organization needs at least one admin")

// SetRole changes a member's role. The member's sessions in the tenant end
// so the new role applies at once everywhere.
func (s *Store) SetRole(ctx context.Context, tenantID, userID int64, role Role) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var m Membership
		if err := tx.Where("tenant_id = ? AND user_id = ?", tenantID, userID).First(&m).Error; err != nil {
			return notFound(err)
		}
		if role != RoleAdmin && role != RoleMember {
			return ValidationErrors{{Field: "role", Reason: "must be admin or member"}}
		}
		if m.Role == role {
			return nil
		}
		if m.Role == RoleAdmin {
			if err := lastAdminCheck(tx, tenantID); err != nil {
				return err
			}
		}
		if err := tx.Model(&m).Update("role", role).Error; err != nil {
			return fmt.Errorf("models: set role: %w", err)
		}
		return endUserSessions(tx, userID, tenantID, 0)
	})
}

// RemoveMember takes a user out of a tenant: the membership, the user's
// sessions and API tokens in that tenant go. The user account stays (it
// may belong to other tenants).
func (s *Store) RemoveMember(ctx context.Context, tenantID, userID int64) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var m Membership
		if err := tx.Where("tenant_id = ? AND user_id = ?", tenantID, userID).First(&m).Error; err != nil {
			return notFound(err)
		}
		if m.Role == RoleAdmin {
			if err := lastAdminCheck(tx, tenantID); err != nil {
				return err
			}
		}
		if err := tx.Delete(&m).Error; err != nil {
			return fmt.Errorf("models: remove member: %w", err)
		}
		if err := tx.Where("tenant_id = ? AND user_id = ?", tenantID, userID).Delete(&APIToken{}).Error; err != nil {
			return fmt.Errorf("models: remove member tokens: %w", err)
		}
		return endUserSessions(tx, userID, tenantID, 0)
	})
}

func lastAdminCheck(tx *gorm.DB, tenantID int64) error {
	var admins int64
	if err := tx.Model(&Membership{}).Where("tenant_id = ? AND role = ?", tenantID, RoleAdmin).Count(&admins).Error; err != nil {
		return fmt.Errorf("models: count admins: %w", err)
	}
	if admins <= 1 {
		return ErrLastAdmin
	}
	return nil
}

// UserByEmail finds a user by address.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	var u User
	if err := s.db.WithContext(ctx).Where("email = ?", NormalizeAddress(email)).First(&u).Error; err != nil {
		return nil, notFound(err)
	}
	return &u, nil
}

// ListUsers lists every user with their memberships (admin CLI).
func (s *Store) ListUsers(ctx context.Context) ([]User, map[int64][]Membership, error) {
	var us []User
	if err := s.db.WithContext(ctx).Order("id").Find(&us).Error; err != nil {
		return nil, nil, fmt.Errorf("models: users: %w", err)
	}
	var ms []Membership
	if err := s.db.WithContext(ctx).Order("tenant_id").Find(&ms).Error; err != nil {
		return nil, nil, fmt.Errorf("models: memberships: %w", err)
	}
	by := map[int64][]Membership{}
	for _, m := range ms {
		by[m.UserID] = append(by[m.UserID], m)
	}
	return us, by, nil
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
	return oneRow(s.db.WithContext(ctx).Model(t).Select("name", "domains", "updated_at").Updates(t), "update tenant")
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

// tokenTouchEvery bounds how often a token's last_used_at is written.
const tokenTouchEvery = time.Minute

// APITokenByPlaintext resolves a presented token. Its last use is recorded
// at most once a minute per token and in the background: on SQLite every
// write competes with the sync for the single writer, and an API read must
// not wait for it.
func (s *Store) APITokenByPlaintext(ctx context.Context, plain string) (*APIToken, error) {
	if !strings.HasPrefix(plain, apiTokenPrefix) || len(plain) > 100 {
		return nil, ErrNotFound
	}
	sum := sha256.Sum256([]byte(plain))
	var t APIToken
	if err := s.db.WithContext(ctx).Where("hash = ?", sum[:]).First(&t).Error; err != nil {
		return nil, notFound(err)
	}
	s.touchToken(t.ID, t.LastUsedAt)
	return &t, nil
}

func (s *Store) touchToken(id int64, last *time.Time) {
	now := time.Now().UTC()
	if last != nil && now.Sub(*last) < tokenTouchEvery {
		return
	}
	// Concurrent requests all read the old value: only the first of them
	// in a minute schedules the write.
	if prev, loaded := s.tokenTouched.LoadOrStore(id, now); loaded {
		if now.Sub(prev.(time.Time)) < tokenTouchEvery || !s.tokenTouched.CompareAndSwap(id, prev, now) {
			return
		}
	}
	s.background.Add(1)
	go func() {
		defer s.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ?", id).Update("last_used_at", now).Error
	}()
}

// WaitBackground waits for background writes (last-use stamps) to finish.
func (s *Store) WaitBackground() { s.background.Wait() }

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
	return oneRow(s.scoped(ctx, tenantID).Where("user_id = ? AND id = ?", userID, id).Delete(&APIToken{}), "delete token")
}
