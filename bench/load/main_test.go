package main

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestRunSmoke runs the load program's core briefly and checks that both
// servers answered, every answer a 200 with the expected body. It asserts
// nothing about speed.
func TestRunSmoke(t *testing.T) {
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = t.Output()
	}
	o := options{Workers: 2, Duration: 300 * time.Millisecond, Rounds: 1, HeadersControl: true}
	rep, err := run(context.Background(), o, out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.HeadersControl == nil {
		t.Fatal("no result for the headers control")
	}
	for _, s := range []sideResult{rep.Bare, rep.Warden, *rep.HeadersControl} {
		if s.Errors != 0 {
			t.Errorf("%s: %d errors, first: %s", s.Name, s.Errors, s.FirstError)
		}
		if s.Requests == 0 {
			t.Errorf("%s: no request answered 200", s.Name)
		}
		if len(s.RPS) != 1 || s.MedianRPS <= 0 {
			t.Errorf("%s: rps %v, median %v", s.Name, s.RPS, s.MedianRPS)
		}
	}
	if rep.TotalErrors != 0 || rep.Ratio <= 0 || len(rep.RoundRatios) != 1 {
		t.Errorf("report: errors %d, ratio %v, round ratios %v", rep.TotalErrors, rep.Ratio, rep.RoundRatios)
	}
}
