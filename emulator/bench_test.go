package emulator

import (
	"sync/atomic"
	"testing"
)

// BenchmarkMessagesGetRaw measures messages.get?format=raw served to the
// official client over loopback, for a generated mailbox: "mixed" has the
// default attachments (15% of messages, 3 KiB..300 KiB), "small" none.
//
//	go test -run '^$' -bench MessagesGetRaw -benchtime 5s ./emulator/
//
// The "rendered" variants serve the mailbox rendered into a spill file
// (WithRenderDir).
func BenchmarkMessagesGetRaw(b *testing.B) {
	b.Run("mixed", func(b *testing.B) { benchGetRaw(b, GeneratorOptions{Owner: testUser}) })
	// Text/HTML only (~2 KiB): the emulator's per-call overhead.
	b.Run("small", func(b *testing.B) { benchGetRaw(b, GeneratorOptions{Owner: testUser, AttachmentRate: -1}) })
	b.Run("mixed-rendered", func(b *testing.B) {
		benchGetRaw(b, GeneratorOptions{Owner: testUser}, WithRenderDir(b.TempDir()))
	})
	b.Run("small-rendered", func(b *testing.B) {
		benchGetRaw(b, GeneratorOptions{Owner: testUser, AttachmentRate: -1}, WithRenderDir(b.TempDir()))
	})
}

func benchGetRaw(b *testing.B, opts GeneratorOptions, emuOpts ...Option) {
	srv, svc := setup(b, emuOpts...)
	const n = 1000
	if err := srv.AddGenerated(testUser, NewGenerator(1, opts), n); err != nil {
		b.Fatal(err)
	}
	srv.mu.Lock()
	ids := make([]string, n)
	for i, id := range srv.users[testUser].genIDs {
		ids[i] = formatID(id)
	}
	srv.mu.Unlock()
	var bytesOut atomic.Int64
	b.Run("serial", func(b *testing.B) {
		bytesOut.Store(0)
		i := 0
		for b.Loop() {
			m, err := svc.Users.Messages.Get("me", ids[i%n]).Format("raw").Do()
			if err != nil {
				b.Fatal(err)
			}
			bytesOut.Add(int64(len(m.Raw) * 3 / 4)) // decoded message bytes
			i++
		}
		b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "msgs/s")
		b.SetBytes(bytesOut.Load() / int64(max(i, 1)))
	})
	b.Run("parallel", func(b *testing.B) {
		var count atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				k := count.Add(1)
				m, err := svc.Users.Messages.Get("me", ids[int(k)%n]).Format("raw").Do()
				if err != nil {
					b.Error(err)
					return
				}
				bytesOut.Add(int64(len(m.Raw)))
			}
		})
		b.ReportMetric(float64(count.Load())/b.Elapsed().Seconds(), "msgs/s")
	})
}

// BenchmarkAddGenerated measures indexing a generated mailbox (per message).
func BenchmarkAddGenerated(b *testing.B) {
	g := NewGenerator(1, GeneratorOptions{})
	for b.Loop() {
		e := New()
		if _, err := e.AddUser(testUser); err != nil {
			b.Fatal(err)
		}
		if err := e.AddGenerated(testUser, g, 10000); err != nil {
			b.Fatal(err)
		}
	}
}
