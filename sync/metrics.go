package sync

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tidings/models"
)

// Metrics are the sync's Prometheus counters: what it costs against
// Gmail's quota and what it brings in. A nil *Metrics counts nothing, so
// the CLI and tests need none.
type Metrics struct {
	quotaUnits  prometheus.Counter
	rateLimited prometheus.Counter
	ingested    prometheus.Counter
	indexFailed prometheus.Counter
}

// NewMetrics registers the sync's counters on reg (a per-process registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		quotaUnits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "tidings", Subsystem: "gmail", Name: "quota_units_total",
			Help: "Gmail API quota units of the calls this process made that succeeded (Gmail usage limits: units per call).",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "tidings", Subsystem: "gmail", Name: "rate_limited_total",
			Help: "Gmail API calls answered 429, or 403 with a rate-limit reason.",
		}),
		ingested: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "tidings", Subsystem: "sync", Name: "messages_ingested_total",
			Help: "Messages fetched from Gmail and stored (new or updated).",
		}),
		indexFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "tidings", Subsystem: "sync", Name: "index_failures_total",
			Help: "Batches of stored messages the search index did not take (tidings reindex repairs them).",
		}),
	}
	reg.MustRegister(m.quotaUnits, m.rateLimited, m.ingested, m.indexFailed)
	return m
}

func (m *Metrics) spent(units int) {
	if m != nil {
		m.quotaUnits.Add(float64(units))
	}
}

func (m *Metrics) limited() {
	if m != nil {
		m.rateLimited.Inc()
	}
}

func (m *Metrics) stored(n int) {
	if m != nil {
		m.ingested.Add(float64(n))
	}
}

func (m *Metrics) indexFailure() {
	if m != nil {
		m.indexFailed.Inc()
	}
}

// IndexCounter counts a mailbox's documents in the search index
// (search.Index does).
type IndexCounter interface {
	Count(ctx context.Context, tenantID, mailboxID int64) (int64, error)
}

// StatusCollector reports every mailbox's sync state, sync lag and index
// backlog, read from the database (and the index) at scrape time, so the
// numbers are the same whichever process serves them. Labels are ids,
// never addresses.
type StatusCollector struct {
	store *models.Store
	index IndexCounter // nil: no backlog series
	log   *slog.Logger
	now   func() time.Time

	state, lag, backlog, up *prometheus.Desc
}

// NewStatusCollector builds the collector; index may be nil.
func NewStatusCollector(store *models.Store, index IndexCounter, logger *slog.Logger) *StatusCollector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	labels := []string{"tenant", "mailbox"}
	return &StatusCollector{
		store: store, index: index, log: logger, now: time.Now,
		state: prometheus.NewDesc("tidings_mailbox_sync_state",
			"1 for the mailbox's current sync state (pending, full_sync, idle, incremental, error, needs_reauth).",
			append(labels, "state"), nil),
		lag: prometheus.NewDesc("tidings_mailbox_sync_lag_seconds",
			"Seconds since the mailbox last finished a sync (since it was connected, if never).",
			labels, nil),
		backlog: prometheus.NewDesc("tidings_mailbox_index_backlog_messages",
			"Stored messages of the mailbox that the search index does not have.",
			labels, nil),
		up: prometheus.NewDesc("tidings_mailbox_status_up",
			"1 when the mailbox statuses could be read from the database at this scrape.",
			nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StatusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.lag
	ch <- c.backlog
	ch <- c.up
}

// Collect implements prometheus.Collector.
func (c *StatusCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	statuses, err := c.store.MailboxStatuses(ctx)
	if err != nil {
		c.log.Warn("metrics: reading mailbox statuses failed", slog.Any("err", err))
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	now := c.now()
	for _, st := range statuses {
		tenant, mailbox := strconv.FormatInt(st.TenantID, 10), strconv.FormatInt(st.MailboxID, 10)
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, 1, tenant, mailbox, string(st.State))
		since := st.CreatedAt
		if st.LastSyncAt != nil {
			since = *st.LastSyncAt
		}
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, max(0, now.Sub(since).Seconds()), tenant, mailbox)
		if c.index == nil {
			continue
		}
		indexed, err := c.index.Count(ctx, st.TenantID, st.MailboxID)
		if err != nil {
			c.log.Warn("metrics: counting indexed messages failed", slog.Int64("mailbox", st.MailboxID), slog.Any("err", err))
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(max(0, st.Messages-indexed)), tenant, mailbox)
	}
}
