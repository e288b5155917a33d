//go:build !race

package sync

// raceEnabled: see race_on_test.go.
const raceEnabled = false
