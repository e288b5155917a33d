package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"tidings/models"
	mailsync "tidings/sync"
)

// Settings: the organization's members and invitations (admins), the
// user's organizations (switcher), password, sessions and API tokens.

func (s *Server) registerSettingsUI() {
	s.handle("GET", "/settings", s.page(s.settings))
	s.handle("POST", "/settings/organization", s.page(s.switchTenant))
	s.handle("POST", "/settings/password", s.page(s.changePassword))
	s.handle("POST", "/settings/invitations", s.page(s.inviteUser))
	s.handle("POST", "/settings/invitations/{id}/revoke", s.page(s.adminOn(s.revokeInvitation)))
	s.handle("POST", "/settings/users/{id}/role", s.page(s.adminOn(s.setRole)))
	s.handle("POST", "/settings/users/{id}/remove", s.page(s.adminOn(s.removeMember)))
	s.handle("POST", "/settings/users/{id}/password", s.page(s.adminOn(s.resetPassword)))
	s.handle("POST", "/settings/sessions/{id}/end", s.page(s.endSession))
	s.handle("POST", "/settings/tokens", s.page(s.createTokenUI))
	s.handle("POST", "/settings/tokens/{id}/delete", s.page(s.deleteTokenUI))
}

type settingsData struct {
	Members     []models.Member
	Invitations []models.Invitation
	Orgs        []orgChoice
	Sessions    []models.Session
	Tokens      []models.APIToken
	NewToken    string
	InviteLink  string
	// SendFrom are the admin's own mailboxes in this organization, which
	// can send an invitation (an empty list offers no sending).
	SendFrom []models.Mailbox
	Notice   string
	Zones    []string // offered in the time zone field
}

type orgChoice struct {
	ID      int64
	Name    string
	Current bool
}

func (s *Server) settingsView(r *http.Request, p *principal, d settingsData, errMsg string) (view, error) {
	ctx := r.Context()
	var err error
	if d.Members, err = s.d.Store.Members(ctx, p.TenantID); err != nil {
		return view{}, err
	}
	if p.Admin() {
		if d.Invitations, err = s.d.Store.ListInvitations(ctx, p.TenantID, s.d.Now()); err != nil {
			return view{}, err
		}
		if d.SendFrom, err = s.invitationMailboxes(r, p); err != nil {
			return view{}, err
		}
	}
	ms, err := s.d.Store.Memberships(ctx, p.User.ID)
	if err != nil {
		return view{}, err
	}
	for _, m := range ms {
		t, err := s.d.Store.GetTenant(ctx, m.TenantID)
		if err != nil {
			return view{}, err
		}
		d.Orgs = append(d.Orgs, orgChoice{ID: t.ID, Name: t.Name, Current: t.ID == p.TenantID})
	}
	if d.Sessions, err = s.d.Store.ListSessions(ctx, p.User.ID, s.d.Now()); err != nil {
		return view{}, err
	}
	if d.Tokens, err = s.d.Store.ListAPITokens(ctx, p.TenantID, p.User.ID); err != nil {
		return view{}, err
	}
	d.Zones = commonZones
	return view{Title: "Settings", P: p, Data: d, Error: errMsg}, nil
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, p *principal, status int, d settingsData, errMsg string) error {
	v, err := s.settingsView(r, p, d, errMsg)
	if err != nil {
		return err
	}
	s.render(w, r, status, "settings", v)
	return nil
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.renderSettings(w, r, p, http.StatusOK, settingsData{}, "")
}

// settingsError renders a client mistake on the settings page; anything
// else is returned for the 500 path.
func (s *Server) settingsError(w http.ResponseWriter, r *http.Request, p *principal, err error) error {
	status, msg := http.StatusUnprocessableEntity, ""
	if v, ok := models.AsValidation(err); ok {
		msg = validationMessage(v)
	} else {
		switch {
		case errors.Is(err, models.ErrLastAdmin):
			msg = "An organization needs at least one admin."
		case errors.Is(err, models.ErrSharedAccount):
			status, msg = http.StatusForbidden, "This user belongs to other organizations too: only they can change their password."
		case errors.Is(err, models.ErrConflict):
			status, msg = http.StatusConflict, "That address is already a member."
		default:
			return err
		}
	}
	return s.renderSettings(w, r, p, status, settingsData{}, msg)
}

func (s *Server) requireAdmin(w http.ResponseWriter, r *http.Request, p *principal) bool {
	if !p.Admin() {
		s.forbidden(w, r, "only an admin can manage users")
		return false
	}
	return true
}

// switchTenant moves the session to another organization of the user.
func (s *Server) switchTenant(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := strconv.ParseInt(r.PostFormValue("tenant_id"), 10, 64)
	if err != nil || id <= 0 {
		return models.ErrNotFound
	}
	if err := s.d.Store.SwitchTenant(r.Context(), p.Session, id); err != nil {
		return err
	}
	redirect(w, r, "/")
	return nil
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, p *principal) error {
	if r.PostFormValue("new_password") != r.PostFormValue("new_password2") {
		return s.renderSettings(w, r, p, http.StatusUnprocessableEntity, settingsData{}, "The new passwords do not match.")
	}
	var err error
	v := view{Title: "Settings", P: p}
	done := false
	s.guardPassword(w, r, p.User.Email, "settings", v, func() {
		done = true
		err = s.d.Store.ChangePassword(r.Context(), p.User.ID, r.PostFormValue("current_password"), r.PostFormValue("new_password"), p.Session.ID)
	})
	if !done {
		return nil
	}
	if err != nil {
		return s.settingsError(w, r, p, err)
	}
	s.log.Info("password changed", "user_id", p.User.ID)
	return s.renderSettings(w, r, p, http.StatusOK, settingsData{Notice: "Password changed. Your other sessions have ended."}, "")
}

// inviteUser creates an invitation and shows its link to the admin. It
// never tells whether the address has an account anywhere.
func (s *Server) inviteUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !s.requireAdmin(w, r, p) {
		return nil
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	tok, inv, err := s.d.Store.CreateInvitation(r.Context(), p.TenantID, p.User.ID, email, models.Role(r.PostFormValue("role")), s.d.Now())
	if err != nil {
		return s.settingsError(w, r, p, err)
	}
	s.log.Info("invitation created", "tenant_id", p.TenantID, "invitation_id", inv.ID)
	link := s.absURL(r, "/invitations/"+tok)
	d := settingsData{InviteLink: link,
		Notice: "Invitation for " + inv.Email + " created. Send them this link (shown only now); it works once, for 7 days."}
	errMsg := ""
	if r.PostFormValue("send") == "1" {
		from, err := s.sendInvitation(r, p, inv, link)
		switch {
		case err == nil:
			d.Notice = "Invitation for " + inv.Email + " created and queued for sending from " + from +
				" (see Outbox). The link is also here (shown only now); it works once, for 7 days."
		case errors.Is(err, errInviteNotSent):
			errMsg = "The invitation was created but could not be sent from that mailbox: send the link below yourself."
		default:
			return err
		}
	}
	return s.renderSettings(w, r, p, http.StatusOK, d, errMsg)
}

// errInviteNotSent: the chosen mailbox cannot send the invitation (not the
// admin's, not connected, no outbox, or the address was refused).
var errInviteNotSent = errors.New("web: invitation not sent")

// invitationMailboxes are the admin's own connected mailboxes in the
// current organization: an invitation goes out from the inviter's address,
// never from a colleague's mailbox.
func (s *Server) invitationMailboxes(r *http.Request, p *principal) ([]models.Mailbox, error) {
	if s.d.Outbox == nil {
		return nil, nil
	}
	all, err := s.d.Store.ListMailboxes(r.Context(), p.TenantID)
	if err != nil {
		return nil, err
	}
	var own []models.Mailbox
	for _, mb := range all {
		if mb.OwnerID == p.User.ID && !mb.NeedsReauth {
			own = append(own, mb)
		}
	}
	return own, nil
}

// sendInvitation queues the invitation as a plain-text message in the
// outbox of one of the admin's mailboxes (form field send_from) and
// returns that mailbox's address.
func (s *Server) sendInvitation(r *http.Request, p *principal, inv *models.Invitation, link string) (string, error) {
	id, _ := strconv.ParseInt(r.PostFormValue("send_from"), 10, 64)
	own, err := s.invitationMailboxes(r, p)
	if err != nil {
		return "", err
	}
	var from *models.Mailbox
	for i := range own {
		if own[i].ID == id {
			from = &own[i]
		}
	}
	if from == nil {
		return "", errInviteNotSent
	}
	t, err := s.d.Store.GetTenant(r.Context(), p.TenantID)
	if err != nil {
		return "", err
	}
	inviter := p.User.Name
	if inviter == "" {
		inviter = p.User.Email
	}
	text := inviter + " invites you to join " + t.Name + " on tidings.\n\n" +
		"Open this link to accept: sign in with this address (" + inv.Email + "), or create your account there.\n\n" +
		link + "\n\nThe link works once, for 7 days.\n"
	_, _, err = s.d.Outbox.Submit(r.Context(), mailsync.Submission{TenantID: p.TenantID, UserID: p.User.ID, MailboxID: from.ID,
		Kind: models.OutboxSend, Spec: mailsync.SendSpec{To: inv.Email, Subject: "Invitation to join " + t.Name + " on tidings", Text: text}})
	if errors.Is(err, mailsync.ErrInvalidSend) || errors.Is(err, models.ErrNotFound) {
		s.log.Warn("invitation not sent", "tenant_id", p.TenantID, "invitation_id", inv.ID, "err", err)
		return "", errInviteNotSent
	}
	if err != nil {
		return "", err
	}
	s.log.Info("invitation queued for sending", "tenant_id", p.TenantID, "invitation_id", inv.ID, "mailbox_id", from.ID)
	return from.Email, nil
}

// adminOn serves an admin's action on the record {id} of the path: others
// get the admin-only answer, a malformed id is not found.
func (s *Server) adminOn(fn func(w http.ResponseWriter, r *http.Request, p *principal, id int64) error) func(http.ResponseWriter, *http.Request, *principal) error {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		if !s.requireAdmin(w, r, p) {
			return nil
		}
		id, ok := pathID(r, "id")
		if !ok {
			return models.ErrNotFound
		}
		return fn(w, r, p, id)
	}
}

// absURL makes a link for someone else's browser: on BaseURL when set.
func (s *Server) absURL(r *http.Request, path string) string {
	if s.d.BaseURL != "" {
		return strings.TrimSuffix(s.d.BaseURL, "/") + path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + path
}

func (s *Server) revokeInvitation(w http.ResponseWriter, r *http.Request, p *principal, id int64) error {
	if err := s.d.Store.RevokeInvitation(r.Context(), p.TenantID, id); err != nil {
		return err
	}
	redirect(w, r, "/settings")
	return nil
}

func (s *Server) setRole(w http.ResponseWriter, r *http.Request, p *principal, id int64) error {
	if err := s.d.Store.SetRole(r.Context(), p.TenantID, id, models.Role(r.PostFormValue("role"))); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return err
		}
		return s.settingsError(w, r, p, err)
	}
	s.log.Info("role changed", "tenant_id", p.TenantID, "user_id", id, "by", p.User.ID)
	if id == p.User.ID {
		// The admin's own sessions in this tenant ended with the change.
		s.clearSession(w)
		redirect(w, r, "/login")
		return nil
	}
	redirect(w, r, "/settings")
	return nil
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, p *principal, id int64) error {
	if err := s.d.Store.RemoveMember(r.Context(), p.TenantID, id); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return err
		}
		return s.settingsError(w, r, p, err)
	}
	s.log.Info("member removed", "tenant_id", p.TenantID, "user_id", id, "by", p.User.ID)
	redirect(w, r, "/settings")
	return nil
}

// resetPassword is an admin setting a member's password; refused for
// users who also belong to other organizations.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request, p *principal, id int64) error {
	var err error
	done := false
	s.guardPassword(w, r, "reset:"+strconv.FormatInt(id, 10), "settings", view{Title: "Settings", P: p}, func() {
		done = true
		err = s.d.Store.ResetPassword(r.Context(), p.TenantID, id, r.PostFormValue("password"))
	})
	if !done {
		return nil
	}
	if err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return err
		}
		return s.settingsError(w, r, p, err)
	}
	s.log.Info("password reset by admin", "tenant_id", p.TenantID, "user_id", id, "by", p.User.ID)
	return s.renderSettings(w, r, p, http.StatusOK, settingsData{Notice: "Password set. The user's sessions have ended."}, "")
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	if err := s.d.Store.EndSession(r.Context(), p.User.ID, id); err != nil {
		return err
	}
	if id == p.Session.ID {
		s.clearSession(w)
		redirect(w, r, "/login")
		return nil
	}
	redirect(w, r, "/settings")
	return nil
}

func (s *Server) createTokenUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		name = "token " + s.d.Now().UTC().Format(time.DateOnly)
	}
	if len(name) > models.MaxNameLen || strings.ContainsRune(name, 0) {
		return s.renderSettings(w, r, p, http.StatusUnprocessableEntity, settingsData{}, "Choose a shorter token name.")
	}
	plain, _, err := s.d.Store.CreateAPIToken(r.Context(), p.TenantID, p.User.ID, name)
	if err != nil {
		return err
	}
	return s.renderSettings(w, r, p, http.StatusOK, settingsData{NewToken: plain}, "")
}

func (s *Server) deleteTokenUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, ok := pathID(r, "id")
	if !ok {
		return models.ErrNotFound
	}
	if err := s.d.Store.DeleteAPIToken(r.Context(), p.TenantID, p.User.ID, id); err != nil {
		return err
	}
	redirect(w, r, "/settings")
	return nil
}
