package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wardenhq/warden/bench/internal/benchproc"
)

// row is one measure of the tables: how to read it from a run, and the
// target its ratio must meet, if any.
type row struct {
	name   string
	value  func(r *runResult) (float64, bool)
	format string // of the values
	// target: the ratio Warden / baseline must be at least (atLeast) or
	// at most this; 0 for none.
	target  float64
	atLeast bool
	// noRatio: the values are counts of failures, not comparable as a
	// ratio.
	noRatio bool
}

// phaseValue reads f of the named phase.
func phaseValue(name string, f func(p *phaseReport) float64) func(r *runResult) (float64, bool) {
	return func(r *runResult) (float64, bool) {
		for i := range r.Report.Phases {
			if p := &r.Report.Phases[i]; p.Name == name {
				return f(p), true
			}
		}
		return 0, false
	}
}

func reportValue(f func(r *runResult) float64) func(r *runResult) (float64, bool) {
	return func(r *runResult) (float64, bool) { return f(r), true }
}

const mb = 1024.0

func sseRows() []row {
	ph := func(f func(p *phaseReport) float64) func(r *runResult) (float64, bool) { return phaseValue("sse", f) }
	return []row{
		{name: "events delivered per second", format: "%.0f", target: DeliveryTarget, atLeast: true,
			value: ph(func(p *phaseReport) float64 { return p.DeliveredPerSec })},
		{name: "slowest second (events)", format: "%.0f", value: ph(func(p *phaseReport) float64 { return float64(minOf(p.PerSecond)) })},
		{name: "server RSS under load, median (MB)", format: "%.1f", target: RSSTarget,
			value: ph(func(p *phaseReport) float64 { return float64(p.RSSSteadyKB) / mb })},
		{name: "server RSS, largest sample of the run (MB)", format: "%.1f", value: reportValue(func(r *runResult) float64 { return float64(r.Report.RSSMaxKB) / mb })},
		{name: "server RSS with every stream open, idle (MB)", format: "%.1f", value: reportValue(func(r *runResult) float64 { return float64(r.Report.RSSIdleKB) / mb })},
		{name: "memory per idle stream (KB)", format: "%.1f", value: reportValue(func(r *runResult) float64 { return r.Report.IdlePerConnKB })},
		{name: "live heap under load, after GC (MB)", format: "%.1f", value: reportValue(func(r *runResult) float64 { return r.GCLoad.LiveMB })},
		{name: "goroutine stacks under load (MB)", format: "%.1f", value: reportValue(func(r *runResult) float64 { return r.GCLoad.StacksMB })},
		{name: "latency p50 (ms)", format: "%.2f", value: ph(func(p *phaseReport) float64 { return p.P50MS })},
		{name: "latency p99 (ms)", format: "%.2f", value: ph(func(p *phaseReport) float64 { return p.P99MS })},
		{name: "server CPU per event (µs)", format: "%.2f", value: ph(func(p *phaseReport) float64 { return p.ServerCPUPerDeliveryUS })},
		{name: "server CPU (cores)", format: "%.2f", value: ph(func(p *phaseReport) float64 { return p.ServerCores })},
		{name: "generator CPU (cores)", format: "%.2f", value: ph(func(p *phaseReport) float64 { return p.GenCores })},
		{name: "events lost", format: "%.0f", noRatio: true, value: ph(func(p *phaseReport) float64 { return float64(p.Lost) })},
		{name: "event data (bytes)", format: "%.1f", value: ph(func(p *phaseReport) float64 { return p.MeanPayloadBytes })},
	}
}

func wsRows() []row {
	rate := func(f func(p *phaseReport) float64) func(r *runResult) (float64, bool) {
		return phaseValue("ws-rate", f)
	}
	most := func(f func(p *phaseReport) float64) func(r *runResult) (float64, bool) {
		return phaseValue("ws-max", f)
	}
	return []row{
		{name: "memory per idle socket (KB)", format: "%.1f", value: reportValue(func(r *runResult) float64 { return r.Report.IdlePerConnKB })},
		{name: "server RSS with every socket open, idle (MB)", format: "%.1f", value: reportValue(func(r *runResult) float64 { return float64(r.Report.RSSIdleKB) / mb })},
		{name: "goroutine stacks, idle (MB)", format: "%.1f", value: reportValue(func(r *runResult) float64 { return r.GCIdle.StacksMB })},
		{name: "fixed rate: deliveries per second", format: "%.0f", value: rate(func(p *phaseReport) float64 { return p.DeliveredPerSec })},
		{name: "fixed rate: latency p50 (ms)", format: "%.2f", value: rate(func(p *phaseReport) float64 { return p.P50MS })},
		{name: "fixed rate: latency p99 (ms)", format: "%.2f", value: rate(func(p *phaseReport) float64 { return p.P99MS })},
		{name: "fixed rate: server CPU per delivery (µs)", format: "%.2f", value: rate(func(p *phaseReport) float64 { return p.ServerCPUPerDeliveryUS })},
		{name: "most: deliveries per second", format: "%.0f", value: most(func(p *phaseReport) float64 { return p.DeliveredPerSec })},
		{name: "most: messages to every member per second", format: "%.1f", value: most(func(p *phaseReport) float64 { return p.MessagesPerSec })},
		{name: "most: latency p99 (ms)", format: "%.2f", value: most(func(p *phaseReport) float64 { return p.P99MS })},
		{name: "most: server CPU per delivery (µs)", format: "%.2f", value: most(func(p *phaseReport) float64 { return p.ServerCPUPerDeliveryUS })},
		{name: "most: server CPU (cores)", format: "%.2f", value: most(func(p *phaseReport) float64 { return p.ServerCores })},
		{name: "most: generator CPU (cores)", format: "%.2f", value: most(func(p *phaseReport) float64 { return p.GenCores })},
		{name: "most: share of time waiting for a sender", format: "%.2f", value: most(func(p *phaseReport) float64 { return p.PacingShare })},
		{name: "most: stalls (a receiver dropped)", format: "%.0f", noRatio: true, value: most(func(p *phaseReport) float64 { return float64(p.Stalls) })},
		{name: "deliveries lost", format: "%.0f", noRatio: true, value: reportValue(func(r *runResult) float64 {
			var n int64
			for _, p := range r.Report.Phases {
				n += p.Lost
			}
			return float64(n)
		})},
		{name: "frame (bytes)", format: "%.1f", value: rate(func(p *phaseReport) float64 { return p.MeanPayloadBytes })},
	}
}

// cell is the median of vs, or a dash for none.
func cell(format string, vs []float64) string {
	if len(vs) == 0 {
		return "–"
	}
	return fmt.Sprintf(format, benchproc.Median(vs))
}

func minOf(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	m := xs[0]
	for _, x := range xs[1:] {
		m = min(m, x)
	}
	return m
}

// printTables writes one markdown table per scenario: the median of each
// side over the rounds, the median of the per-round ratios Warden /
// baseline, each round's ratio, and the target.
func printTables(w io.Writer, o options, t topology, results []runResult) {
	fmt.Fprintf(w, "\n%s; %d rounds\n", machine(results), o.rounds)
	for _, sc := range []string{scenarioSSE, scenarioWS} {
		var rows []row
		switch sc {
		case scenarioSSE:
			rows = sseRows()
			fmt.Fprintf(w, "\n### SSE: %d streams (%d rooms of %d), %g messages/s per room offered (%g events/s), %v measured\n\n",
				t.users(), t.Rooms, t.Members, o.sseRate, o.sseRate*float64(t.users()), o.duration)
		case scenarioWS:
			rows = wsRows()
			fmt.Fprintf(w, "\n### WebSocket: %d sockets in one room; fixed rate %g messages/s; most: %d in flight, %d senders; %v measured per phase\n\n",
				o.wsConns, o.wsRate, o.wsWindow, o.wsSenders, o.wsDuration)
		}
		base, warden := pick(results, sc, sideBaseline), pick(results, sc, sideWarden)
		if len(base) == 0 && len(warden) == 0 {
			fmt.Fprintln(w, "(not run)")
			continue
		}
		fmt.Fprintln(w, "| measure | baseline | Warden | Warden / baseline | per round (* a side had errors) | target |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|")
		for _, r := range rows {
			bv, wv, ratios, failed := values(r, base, warden)
			if len(bv) == 0 && len(wv) == 0 {
				continue
			}
			if r.noRatio {
				ratios = nil
			}
			mr := benchproc.Median(ratios)
			rounds := make([]string, len(ratios))
			for i, x := range ratios {
				rounds[i] = strconv.FormatFloat(x, 'f', 2, 64)
				if failed[i] {
					rounds[i] += "*"
				}
			}
			target := ""
			if r.target > 0 {
				ok := mr <= r.target
				op := "≤"
				if r.atLeast {
					ok, op = mr >= r.target, "≥"
				}
				target = fmt.Sprintf("%s %.2f×: %s", op, r.target, benchproc.Verdict(ok))
			}
			ratio := "–"
			if len(ratios) > 0 {
				ratio = fmt.Sprintf("**%.2f×**", mr)
			}
			if len(ratios) == 0 {
				target = ""
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.name, cell(r.format, bv), cell(r.format, wv), ratio, strings.Join(rounds, " "), target)
		}
	}
}

// values reads a row from each side's runs; ratios pairs the runs of
// each round (skipping a zero baseline), and failed says for each ratio
// whether either run had errors.
func values(r row, base, warden []runResult) (bv, wv, ratios []float64, failed []bool) {
	type side struct {
		v      float64
		errors bool
	}
	byRound := map[int]side{}
	for i := range base {
		if v, ok := r.value(&base[i]); ok {
			bv = append(bv, v)
			byRound[base[i].Round] = side{v, base[i].Report.Errors > 0}
		}
	}
	for i := range warden {
		v, ok := r.value(&warden[i])
		if !ok {
			continue
		}
		wv = append(wv, v)
		if b, ok := byRound[warden[i].Round]; ok && b.v != 0 {
			ratios = append(ratios, v/b.v)
			failed = append(failed, b.errors || warden[i].Report.Errors > 0)
		}
	}
	return bv, wv, ratios, failed
}

func pick(results []runResult, scenario, side string) []runResult {
	var out []runResult
	for _, r := range results {
		if r.Scenario == scenario && r.Side == side {
			out = append(out, r)
		}
	}
	return out
}
