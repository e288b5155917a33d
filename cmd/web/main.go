// Command web serves tidings' web UI, REST API, /healthz, /metrics and the
// operators' queue UI (/admin/queues). In the embedded default (no REDIS_URL)
// it also runs the sync worker and scheduler in-process on an embedded Redis.
package main

import (
	"context"

	"tidings/internal/app"
	"tidings/internal/config"
)

func main() {
	app.Main("tidings web", func(ctx context.Context, cfg *config.Config) error {
		return app.RunWeb(ctx, cfg, cfg.Logger(), nil)
	})
}
