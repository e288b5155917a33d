// Package emulator owns tidings' Gmail API emulator: an in-process,
// standards-faithful implementation of the Gmail API v1 REST surface
// (https://developers.google.com/gmail/api/reference/rest), its OAuth 2.0
// endpoints, batch endpoint, media uploads and Pub/Sub-style push, that the
// official client google.golang.org/api/gmail/v1 talks to unchanged.
//
// It is used three ways: by tests (NewServer, in the spirit of
// net/http/httptest), by cmd/gmail-emulator (New as an http.Handler), and by
// the product's demo mailbox. It is therefore production code: it never
// panics on input, bounds its memory, and can serve synthetic mailboxes of
// millions of messages through the deterministic Generator, which rebuilds a
// message's bytes from (seed, index) on demand instead of holding them. With
// WithRenderDir a generated mailbox is rendered once instead, into a spill
// file on disk from which format=raw gets are served (sendfile), so that a
// benchmark measures its client rather than the emulator.
//
// Faithfulness choices (where Gmail is undocumented the emulator picks the
// behaviour that is hardest on clients): history ids increase by random
// steps; a startHistoryId older than the retention window answers 404 with
// Google's error JSON; quota follows the published per-method costs on a
// per-user 60 s moving window; faults can inject 5xx, 429, connection
// resets, slow and truncated responses, empty history pages that still carry
// a nextPageToken, history entries for messages that 404, and label ids that
// do not exist.
//
// Not emulated: users.settings.*, S/MIME and CSE, search operators beyond
// after:/before:/newer_than:/older_than:/in:/is:/label:/from:/to:/subject:
// and bare words, real Pub/Sub (push goes straight to a URL), TLS, and
// OAuth client authentication (any client id/secret is accepted).
//
// Header values in format=metadata/full are served unfolded but otherwise as
// they appear in the message (RFC 2047 encoded-words are not decoded), and
// body data is transfer-decoded but left in its declared charset.
package emulator
