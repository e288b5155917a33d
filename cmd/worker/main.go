// Command worker runs tidings' asynq worker and scheduler for the scale
// setup: many worker processes on many machines share one Redis
// (REDIS_URL, required) and one Postgres.
package main

import (
	"context"

	"tidings/internal/app"
	"tidings/internal/config"
)

func main() {
	app.Main("tidings worker", func(ctx context.Context, cfg *config.Config) error {
		return app.RunWorkerProcess(ctx, cfg, cfg.Logger())
	})
}
