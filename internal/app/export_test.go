package app

import mailsync "tidings/sync"

// WorkerOptionsForTest exposes the worker wiring to the package's tests.
func WorkerOptionsForTest(a *App, s *mailsync.Syncer) WorkerOptions { return workerOptions(a, s) }
