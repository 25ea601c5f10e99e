package main

import (
	"context"
	"io"
	"testing"
)

// TestRunSmoke runs the timing program with a few samples and checks that
// every flow answered as expected. It asserts nothing about time: the
// tests in internal/accounts compare the work each request does.
func TestRunSmoke(t *testing.T) {
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = t.Output()
	}
	rep, err := run(context.Background(), options{N: 5, NHash: 2}, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Flows) != 5 {
		t.Fatalf("%d flows", len(rep.Flows))
	}
	for _, f := range rep.Flows {
		if f.Samples == 0 || f.RegMedian <= 0 || f.UnkMedian <= 0 || f.Ratio <= 0 {
			t.Errorf("%s: %+v", f.Flow, f)
		}
	}
}
