package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"tidings/models"
)

func (s *Server) registerUI() {
	s.handle("GET", "/static/", http.HandlerFunc(s.serveStatic))
	s.handle("GET", "/login", http.HandlerFunc(s.loginForm))
	s.handle("POST", "/login", http.HandlerFunc(s.login))
	s.handle("GET", "/signup", http.HandlerFunc(s.signupForm))
	s.handle("POST", "/signup", http.HandlerFunc(s.signup))
	s.handle("POST", "/logout", s.page(s.logout))
	s.handle("GET", "/settings", s.page(s.settings))
	s.handle("POST", "/settings/users", s.page(s.inviteUser))
	s.handle("POST", "/settings/tokens", s.page(s.createTokenUI))
	s.handle("POST", "/settings/tokens/{id}/delete", s.page(s.deleteTokenUI))
	s.registerCRMUI()
	s.registerMailUI()
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
		http.Error(w, "Bad form.", http.StatusBadRequest)
		return
	}
	email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	v := view{Title: "Log in", Form: url.Values{"email": {email}, "next": {r.PostFormValue("next")}}}
	if !s.limiter.allow(clientIP(r), email) {
		w.Header().Set("Retry-After", fmt.Sprint(int(s.d.LoginLimit.Every.Seconds())))
		v.Error = "Too many login attempts. Wait a little and try again."
		s.render(w, r, http.StatusTooManyRequests, "login", v)
		return
	}
	u, err := s.d.Store.Authenticate(r.Context(), email, password)
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
	ms, err := s.d.Store.Memberships(r.Context(), u.ID)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if len(ms) == 0 {
		v.Error = "Your account does not belong to an organization any more."
		s.render(w, r, http.StatusForbidden, "login", v)
		return
	}
	if err := s.setSession(w, u.ID, ms[0].TenantID); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.Info("login", "user_id", u.ID, "tenant_id", ms[0].TenantID)
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) signupForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "signup", view{Title: "Sign up"})
}

// signup creates an organization (tenant) with its first user as admin.
// Further users join by an admin's invitation (Settings).
func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.d.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad form.", http.StatusBadRequest)
		return
	}
	f := url.Values{}
	for _, k := range []string{"org", "name", "email"} {
		f.Set(k, strings.TrimSpace(r.PostFormValue(k)))
	}
	v := view{Title: "Sign up", Form: f}
	// Hashing a password costs 64 MiB of memory: bound sign-ups per IP too.
	if !s.limiter.allow(clientIP(r), "signup:") {
		v.Error = "Too many attempts. Wait a little and try again."
		s.render(w, r, http.StatusTooManyRequests, "signup", v)
		return
	}
	switch pw := r.PostFormValue("password"); {
	case f.Get("org") == "":
		v.Error = "Enter your organization's name."
	case !strings.Contains(f.Get("email"), "@"):
		v.Error = "Enter a valid email address."
	case len(pw) < 10:
		v.Error = "Choose a password of at least 10 characters."
	case pw != r.PostFormValue("password2"):
		v.Error = "The passwords do not match."
	}
	if v.Error != "" {
		s.render(w, r, http.StatusUnprocessableEntity, "signup", v)
		return
	}
	t, u, err := s.d.Store.SignUp(r.Context(), f.Get("org"), f.Get("email"), f.Get("name"), r.PostFormValue("password"))
	if err != nil {
		if errors.Is(err, models.ErrConflict) {
			v.Error = "That email address already has an account. Log in, or ask your organization's admin to invite you."
			s.render(w, r, http.StatusConflict, "signup", v)
			return
		}
		s.internalError(w, r, err)
		return
	}
	if err := s.setSession(w, u.ID, t.ID); err != nil {
		s.internalError(w, r, err)
		return
	}
	s.log.Info("sign-up", "user_id", u.ID, "tenant_id", t.ID)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, p *principal) error {
	s.clearSession(w)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

type settingsData struct {
	Members  []models.Member
	Tokens   []models.APIToken
	NewToken string
	Notice   string
}

func (s *Server) settingsView(r *http.Request, p *principal, d settingsData, errMsg string) (view, error) {
	var err error
	if d.Members, err = s.d.Store.Members(r.Context(), p.TenantID); err != nil {
		return view{}, err
	}
	if d.Tokens, err = s.d.Store.ListAPITokens(r.Context(), p.TenantID, p.User.ID); err != nil {
		return view{}, err
	}
	return view{Title: "Settings", P: p, Data: d, Error: errMsg}, nil
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request, p *principal) error {
	v, err := s.settingsView(r, p, settingsData{}, "")
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "settings", v)
	return nil
}

// inviteUser lets a tenant admin add a colleague with an initial password
// (or add an existing user to the tenant).
func (s *Server) inviteUser(w http.ResponseWriter, r *http.Request, p *principal) error {
	if !p.Admin() {
		s.forbidden(w, r, "only an admin can add users")
		return nil
	}
	role := models.Role(r.PostFormValue("role"))
	email := strings.TrimSpace(r.PostFormValue("email"))
	var msg string
	status := http.StatusOK
	d := settingsData{}
	_, err := s.d.Store.AddUser(r.Context(), p.TenantID, email, strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("password"), role)
	switch {
	case err == nil:
		d.Notice = "Added " + email + "."
	case errors.Is(err, models.ErrConflict):
		msg, status = "That user is already a member.", http.StatusConflict
	default:
		// The store's validation messages are meant for people.
		msg, status = strings.TrimPrefix(err.Error(), "models: "), http.StatusUnprocessableEntity
	}
	v, verr := s.settingsView(r, p, d, msg)
	if verr != nil {
		return verr
	}
	s.render(w, r, status, "settings", v)
	return nil
}

func (s *Server) createTokenUI(w http.ResponseWriter, r *http.Request, p *principal) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		name = "token " + time.Now().UTC().Format("2006-01-02")
	}
	plain, _, err := s.d.Store.CreateAPIToken(r.Context(), p.TenantID, p.User.ID, name)
	if err != nil {
		return err
	}
	v, err := s.settingsView(r, p, settingsData{NewToken: plain}, "")
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "settings", v)
	return nil
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
