package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"tidings/models"
)

func (s *Server) registerUI() {
	s.handle("GET", "/static/", http.HandlerFunc(s.serveStatic))
	s.handle("GET", "/login", http.HandlerFunc(s.loginForm))
	s.handle("POST", "/login", http.HandlerFunc(s.login))
	s.handle("GET", "/signup", http.HandlerFunc(s.signupForm))
	s.handle("POST", "/signup", http.HandlerFunc(s.signup))
	s.handle("POST", "/logout", s.page(s.logout))
	s.handle("GET", "/invitations/{token}", http.HandlerFunc(s.invitation))
	s.handle("POST", "/invitations/{token}/accept", s.page(s.acceptInvitation))
	s.handle("POST", "/invitations/{token}/signup", http.HandlerFunc(s.acceptInvitationNewUser))
	s.registerSettingsUI()
	s.registerCRMUI()
	s.registerMailUI()
	s.registerWorkspaceUI()
	s.registerComposeUI()
}

// serveStatic serves the embedded assets (no directory listings). They
// change only with a new binary, so they may be cached for a while.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	s.static.ServeHTTP(w, r)
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	if s.sessionPrincipal(r) != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", view{Title: "Log in", Form: url.Values{"next": {r.URL.Query().Get("next")}}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.d.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, http.StatusBadRequest, "login", view{Title: "Log in", Error: "The form could not be read."})
		return
	}
	email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	v := view{Title: "Log in", Form: url.Values{"email": {email}, "next": {r.PostFormValue("next")}}}
	var (
		u   *models.User
		err error
	)
	done := false
	s.guardPassword(w, r, email, "login", v, func() {
		done = true
		u, err = s.d.Store.Authenticate(r.Context(), email, password)
	})
	if !done {
		return // refused with 429
	}
	if err != nil {
		if !errors.Is(err, models.ErrNotFound) && !errors.Is(err, models.ErrPasswordMismatch) {
			s.internalError(w, r, err)
			return
		}
		// One message for unknown email and wrong password.
		v.Error = "Invalid email or password."
		s.render(w, r, http.StatusUnauthorized, "login", v)
		return
	}
	tenantID, err := s.d.Store.LoginTenant(r.Context(), u)
	if errors.Is(err, models.ErrNotFound) {
		v.Error = "Your account does not belong to an organization any more. Ask an admin for an invitation and accept it."
		if s.d.OpenSignup {
			v.Error = "Your account does not belong to an organization any more. Accept an invitation, or sign up to create one."
		}
		s.render(w, r, http.StatusForbidden, "login", v)
		return
	}
	if err == nil {
		err = s.startSession(w, r, u.ID, tenantID)
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.Info("login", "user_id", u.ID, "tenant_id", tenantID)
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	open, err := s.signupOpen(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if !open {
		s.signupClosed(w, r, http.StatusOK)
		return
	}
	s.render(w, r, http.StatusOK, "signup", view{Title: "Sign up"})
}

// signupOpen: sign-up is open when the operator opened it, or while the
// instance has no organization yet (its first user bootstraps it).
func (s *Server) signupOpen(r *http.Request) (bool, error) {
	if s.d.OpenSignup {
		return true, nil
	}
	has, err := s.d.Store.HasTenants(r.Context())
	return !has, err
}

// signupClosed is the one answer of a closed sign-up: it never looks at
// the submitted address, so it cannot tell whether it has an account.
func (s *Server) signupClosed(w http.ResponseWriter, r *http.Request, status int) {
	s.render(w, r, status, "signup_closed", view{Title: "Sign up"})
}

// signupRefused is the one answer for an address that cannot sign up with
// this password; it does not say whether the address has an account.
const signupRefused = "We could not sign you up with this email address and password. " +
	"If you already have an account, log in with it; to join an existing organization, ask its admin for an invitation."

// signup creates an organization (tenant) with its first user as admin.
// Further users join by an admin's invitation (Settings).
func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	open, err := s.signupOpen(r)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if !open {
		s.signupClosed(w, r, http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.d.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.render(w, r, http.StatusBadRequest, "signup", view{Title: "Sign up", Error: "The form could not be read."})
		return
	}
	f := url.Values{}
	for _, k := range []string{"org", "name", "email"} {
		f.Set(k, strings.TrimSpace(r.PostFormValue(k)))
	}
	v := view{Title: "Sign up", Form: f}
	if r.PostFormValue("password") != r.PostFormValue("password2") {
		v.Error = "The passwords do not match."
		s.render(w, r, http.StatusUnprocessableEntity, "signup", v)
		return
	}
	var (
		t    *models.Tenant
		u    *models.User
		done bool
	)
	signUp := s.d.Store.SignUpFirst
	if s.d.OpenSignup {
		signUp = s.d.Store.SignUp
	}
	s.guardPassword(w, r, f.Get("email"), "signup", v, func() {
		done = true
		t, u, err = signUp(r.Context(), f.Get("org"), f.Get("email"), f.Get("name"), r.PostFormValue("password"))
	})
	if !done {
		return
	}
	if verrs, ok := models.AsValidation(err); ok {
		v.Error = validationMessage(verrs)
		s.render(w, r, http.StatusUnprocessableEntity, "signup", v)
		return
	}
	if errors.Is(err, models.ErrSignUpClosed) {
		// Another first sign-up won the race.
		s.signupClosed(w, r, http.StatusForbidden)
		return
	}
	if errors.Is(err, models.ErrSignUpRefused) {
		v.Error = signupRefused
		s.render(w, r, http.StatusUnprocessableEntity, "signup", v)
		return
	}
	if err == nil {
		err = s.startSession(w, r, u.ID, t.ID)
	}
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.Info("sign-up", "user_id", u.ID, "tenant_id", t.ID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// validationMessage renders a store's field errors for a person.
func validationMessage(v models.ValidationErrors) string {
	parts := make([]string, len(v))
	for i, e := range v {
		parts[i] = strings.ReplaceAll(e.Field, "_", " ") + " " + e.Reason
	}
	msg := strings.Join(parts, "; ") + "."
	return strings.ToUpper(msg[:1]) + msg[1:]
}

// logout ends the session on the server, not only in the browser.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, p *principal) error {
	if c, err := r.Cookie(s.cookieName()); err == nil {
		if err := s.d.Store.DeleteSessionByToken(r.Context(), c.Value); err != nil {
			return err
		}
	}
	s.clearSession(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// invitationView shows an invitation: accept while signed in as the
// invited address, or create the account for it.
func (s *Server) invitation(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	inv, err := s.d.Store.InvitationByToken(r.Context(), tok, s.d.Now())
	if err != nil {
		s.invitationGone(w, r, err)
		return
	}
	t, err := s.d.Store.GetTenant(r.Context(), inv.TenantID)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	p := s.sessionPrincipal(r)
	s.render(w, r, http.StatusOK, "invitation", view{Title: "Invitation", P: p, Data: invitationData{Invitation: inv, Org: t.Name, Token: tok}})
}

type invitationData struct {
	Invitation *models.Invitation
	Org, Token string
}

func (s *Server) invitationGone(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, models.ErrNotFound) {
		s.render(w, r, http.StatusNotFound, "error", view{Title: "Invitation not found",
			Data: "This invitation link is not valid: it was used already, revoked, or has expired. Ask for a new one."})
		return
	}
	s.internalError(w, r, err)
}

// acceptInvitation: the signed-in invitee joins and switches to the
// organization.
func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request, p *principal) error {
	inv, err := s.d.Store.AcceptInvitation(r.Context(), r.PathValue("token"), p.User.ID, s.d.Now())
	if errors.Is(err, models.ErrInvitationMismatch) {
		s.render(w, r, http.StatusForbidden, "error", view{P: p, Title: "Wrong account",
			Data: "This invitation is for another email address. Log out and sign in with the invited address."})
		return nil
	}
	if err != nil {
		s.invitationGone(w, r, err)
		return nil
	}
	if err := s.d.Store.SwitchTenant(r.Context(), p.Session, inv.TenantID); err != nil {
		return err
	}
	s.log.Info("invitation accepted", "user_id", p.User.ID, "tenant_id", inv.TenantID)
	redirect(w, r, "/")
	return nil
}

// acceptInvitationNewUser creates the invited address's account and
// accepts in one step. An address that already has an account gets the
// answer "log in to accept".
func (s *Server) acceptInvitationNewUser(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.d.MaxBodyBytes)
	tok := r.PathValue("token")
	inv, err := s.d.Store.InvitationByToken(r.Context(), tok, s.d.Now())
	if err != nil || r.ParseForm() != nil {
		s.invitationGone(w, r, models.ErrNotFound)
		return
	}
	t, err := s.d.Store.GetTenant(r.Context(), inv.TenantID)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	v := view{Title: "Invitation", Data: invitationData{Invitation: inv, Org: t.Name, Token: tok}, Form: url.Values{"name": {r.PostFormValue("name")}}}
	if r.PostFormValue("password") != r.PostFormValue("password2") {
		v.Error = "The passwords do not match."
		s.render(w, r, http.StatusUnprocessableEntity, "invitation", v)
		return
	}
	var u *models.User
	done := false
	s.guardPassword(w, r, inv.Email, "invitation", v, func() {
		done = true
		inv, u, err = s.d.Store.AcceptInvitationAsNewUser(r.Context(), tok, strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password"), s.d.Now())
	})
	if !done {
		return
	}
	if verrs, ok := models.AsValidation(err); ok {
		v.Error = validationMessage(verrs)
		s.render(w, r, http.StatusUnprocessableEntity, "invitation", v)
		return
	}
	if errors.Is(err, models.ErrConflict) {
		v.Error = "This address has an account already: log in with it, then open this link again to accept."
		s.render(w, r, http.StatusConflict, "invitation", v)
		return
	}
	if err == nil {
		err = s.startSession(w, r, u.ID, inv.TenantID)
	}
	if err != nil {
		s.invitationGone(w, r, err)
		return
	}
	s.log.Info("invitation accepted by a new user", "user_id", u.ID, "tenant_id", inv.TenantID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
