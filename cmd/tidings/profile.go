package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// profileFlags are the profiler outputs a long-running command can write
// (runtime/pprof): CPU while it runs, and heap, allocations and blocking
// when it ends.
type profileFlags struct {
	cpu, heap, block string
}

func (p *profileFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.cpu, "cpuprofile", "", "write a CPU profile to `FILE`")
	fs.StringVar(&p.heap, "memprofile", "", "write a heap profile (live and allocated) to `FILE` at the end")
	fs.StringVar(&p.block, "blockprofile", "", "write a blocking profile to `FILE` at the end")
}

// start starts the requested profiles; the returned function stops them
// and writes the end-of-run ones.
func (p *profileFlags) start() (func() error, error) {
	var cpuFile *os.File
	if p.cpu != "" {
		f, err := os.Create(p.cpu)
		if err != nil {
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("cpu profile: %w", err)
		}
		cpuFile = f
	}
	if p.block != "" {
		// One event per microsecond blocked is enough to see where the
		// sync waits without slowing it down.
		runtime.SetBlockProfileRate(1000)
	}
	return func() error {
		var errs []error
		if cpuFile != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpuFile.Close())
		}
		if p.heap != "" {
			runtime.GC()
			errs = append(errs, writeProfile("heap", p.heap))
		}
		if p.block != "" {
			errs = append(errs, writeProfile("block", p.block))
		}
		return errors.Join(errs...)
	}, nil
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%s profile: %w", name, err)
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("%s profile: %w", name, err)
	}
	return f.Close()
}
