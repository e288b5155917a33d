//go:build race

package sync

// raceEnabled: the race detector makes sync.Pool drop a quarter of what is
// put back, at random, so tests of buffer recycling cannot hold.
const raceEnabled = true
