//go:build race

package safeimage_test

// raceEnabled skips the 4096x4096 test, which the race detector makes
// thirty times slower without finding anything: the package shares no
// state between goroutines.
const raceEnabled = true
