//go:build !race

package safeimage_test

const raceEnabled = false
