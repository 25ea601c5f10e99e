package fanout_test

import (
	"testing"

	"github.com/wardenhq/warden/fanout"
	"github.com/wardenhq/warden/fanout/fanouttest"
)

func TestMemory(t *testing.T) {
	fanouttest.Run(t, func(t *testing.T, buffer int) (fanout.Bus, fanout.Bus) {
		m := &fanout.Memory{Buffer: buffer}
		return m, m
	})
}
