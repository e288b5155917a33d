package main

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	stdsync "sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat;
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// serverCPU is the CPU the Postgres server spent for one measured run:
// the backends serving the benchmark's database (told apart by the
// process title Postgres sets, "postgres: USER DB HOST(PORT) …") and,
// apart, the server's shared background processes (WAL writer,
// checkpointer, background writer, autovacuum), which also serve other
// databases on a shared server.
type serverCPU struct {
	backends, background time.Duration
}

// watchServerCPU polls /proc every 50 ms for the Postgres server's
// processes on this machine until the returned function is called. A
// backend's last reading is kept after it exits, so up to one poll
// interval of its CPU can be missed. A backend started during the run
// counts whole; one already running (and the background processes)
// counts from its first reading, so that what it did before the run
// (migrations, other connections) is left out.
func watchServerCPU(pgURL string) func() serverCPU {
	db := ""
	if u, err := url.Parse(pgURL); err == nil {
		db = strings.TrimPrefix(u.Path, "/")
	}
	type seen struct {
		first, last int64
		backend     bool
	}
	var mu stdsync.Mutex
	procs := map[string]*seen{}
	poll := func(initial bool) {
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			cmd, err := os.ReadFile(d + "/cmdline")
			if err != nil || !bytes.HasPrefix(cmd, []byte("postgres: ")) {
				continue
			}
			title := string(bytes.TrimRight(cmd, "\x00 "))
			backend := db != "" && strings.Contains(title, " "+db+" ")
			bg := !backend && !strings.Contains(title, "(") // other databases' backends show HOST(PORT)
			if !backend && !bg {
				continue
			}
			ticks, ok := procTicks(d + "/stat")
			if !ok {
				continue
			}
			mu.Lock()
			key := d + "\x00" + title
			if backend {
				key = d // a backend's title changes with its state
			}
			switch s := procs[key]; {
			case s != nil:
				s.last = ticks
			case backend && !initial:
				// Started during the run: all of its CPU is the run's.
				procs[key] = &seen{last: ticks, backend: true}
			default:
				procs[key] = &seen{first: ticks, last: ticks, backend: backend}
			}
			mu.Unlock()
		}
	}
	poll(true)
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				poll(false)
			}
		}
	}()
	return func() serverCPU {
		close(done)
		<-stopped
		poll(false)
		mu.Lock()
		defer mu.Unlock()
		var out serverCPU
		for _, s := range procs {
			d := time.Duration(s.last-s.first) * time.Second / clockTicks
			if s.backend {
				out.backends += d
			} else {
				out.background += d
			}
		}
		return out
	}
}

// procTicks is utime + stime of /proc/PID/stat, in clock ticks.
func procTicks(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; fields after its
	// closing parenthesis are fixed: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	return u + s, err1 == nil && err2 == nil
}
