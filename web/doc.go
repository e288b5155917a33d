// Package web owns tidings' HTTP surface: the server-rendered CRM UI, the
// HAL+JSON REST API under /api with its OpenAPI document, and the
// operational parts: /healthz, request metrics and logs, and OperatorsOnly,
// the guard internal/app puts before /metrics and the queue UI.
// It owns no domain logic: storage is models.Store, mail actions go through
// the small consumer-side interfaces declared in web.go.
//
// New builds the UI and API handler from a Deps of the store and those
// interfaces (Searcher, MailboxSyncer, GmailConnector, …); each optional
// dependency may be nil, which hides the feature in the UI and answers 501
// problem+json in the API.
//
// Where things are:
//   - web.go: Deps, the consumer-side interfaces, the mux and the headers
//     every response carries.
//   - auth.go: principals, sealed session cookies, the CSRF synchronizer
//     token (csrfOK), login rate limiting.
//   - ui.go: page rendering and paging helpers; ui_auth.go: login, sign-up
//     and invitations; ui_settings.go: members, invitations, sessions and
//     API tokens; ui_crm.go: the CRM pages with their generic form
//     handlers; ui_mail.go: dashboard and mailboxes; ui_workspace.go: thread
//     list and conversation; ui_mailcrm.go: mail into the CRM;
//     ui_compose.go: compose, drafts, outbox and message actions;
//     labels.go: Gmail labels by name and colour.
//   - hal.go: HAL links and problem details (RFC 9457); api_crm.go: the API
//     root and the CRM resources with their generic handlers; api_mail.go:
//     the mail routes, one file per resource (api_mailbox.go, api_label.go,
//     api_thread.go, api_message.go, api_search.go, api_token.go,
//     api_outbox.go, api_actions.go for drafts and mailbox actions).
//   - openapi.go and openapi.json: the API description; push.go: the Gmail
//     push endpoint; ops.go: health checks and request metrics;
//     operator.go: OperatorsOnly.
//
// Security model:
//   - Tenancy: every handler passes the caller's tenant to the tenant-scoped
//     models.Store, so another tenant's id is simply not found (404).
//   - Browser sessions are sealed cookies (AES-256-GCM via models.Cipher,
//     HttpOnly, SameSite=Lax, Secure and __Host- prefixed over https); the
//     membership is re-checked on every request.
//   - CSRF: net/http.CrossOriginProtection (Sec-Fetch-Site/Origin) on all
//     browser routes plus a per-session synchronizer token on every
//     state-changing form and htmx request (csrfOK in auth.go).
//   - The REST API authenticates only by per-user Bearer tokens (stored
//     hashed), never by cookie, so it is not exposed to CSRF.
//   - Logins are rate limited per client IP and email (x/time/rate).
//   - App pages run no inline script (CSP script-src 'self'); email HTML is
//     shown only in a sandboxed iframe without allow-scripts or
//     allow-same-origin, served with its own CSP (default-src 'none').
package web
