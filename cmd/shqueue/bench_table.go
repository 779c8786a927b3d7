package main

// The bench report as text tables: latency and throughput with the ratios
// to the kernel transports (the wake section's table is in bench_wake.go).

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// writeTable prints the results as two aligned tables, latency and
// throughput, each shqueue row followed by its ratios to the kernel
// transports of the same size (kernel/shqueue for latency, shqueue/kernel for
// throughput: above 1 means shqueue is better), then the wake section.
func writeTable(w io.Writer, rep *report, cfg *benchConfig) error {
	writeTableHeader(w, rep)
	kernel := kernelBases(rep.Results)
	if err := writeLatencyTable(w, rep.Results, kernel); err != nil {
		return err
	}
	if err := writeThroughputTable(w, rep.Results, kernel); err != nil {
		return err
	}
	var notes []string
	for _, r := range rep.Results {
		if r.Capacity > 0 && r.Transport == "shqueue-spin" {
			notes = append(notes, fmt.Sprintf("%s: %d slots", sizeString(r.Size), r.Capacity))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nshqueue capacity (about 1 MiB of slots): %s\n", strings.Join(notes, ", "))
	}
	return writeWakeTable(w, rep)
}

// writeTableHeader describes the environment and the transports.
func writeTableHeader(w io.Writer, rep *report) {
	e := rep.Env
	fmt.Fprintf(w, "shqueue bench: %s %s/%s, %s\n", e.GoVersion, e.GOOS, e.GOARCH, e.CPU)
	if e.CPUs != nil {
		fmt.Fprintf(w, "processes pinned to CPUs %d (measuring side) and %d\n", e.CPUs[0], e.CPUs[1])
	} else {
		fmt.Fprintf(w, "processes not pinned\n")
	}
	fmt.Fprintf(w, "slot copy: %s\n", e.Copy)
	if e.Check == "ends" {
		fmt.Fprintf(w, "receivers check sequence numbers and last words only (-check ends), not checksums\n")
	}
	var listed []string
	for _, r := range rep.Results {
		if t := transportByName(r.Transport); t != nil && !slices.Contains(listed, t.base) && t.base == t.name {
			listed = append(listed, t.base)
			fmt.Fprintf(w, "  %-16s %s\n", t.name, t.about)
		}
	}
	if slices.ContainsFunc(rep.Results, func(r *result) bool { return baseName(r.Transport) != r.Transport }) {
		fmt.Fprintf(w, "  %-16s the kernel transport with both processes on one CPU\n", "X-1cpu")
	}
}

// ratioCells are a row's "vs X" cells, one per kernel transport base.
func ratioCells(r *result, kernel []string, field func(*ratio) float64) string {
	var cells strings.Builder
	for _, k := range kernel {
		if v := bestRatio(r, k, field); v > 0 {
			fmt.Fprintf(&cells, "%.1f×\t", v)
		} else {
			cells.WriteString("\t")
		}
	}
	return cells.String()
}

// newTable writes a table's title and what its "vs X" columns mean (vs) to
// w, and returns the writer of its rows with the header row written: the
// columns, then one "vs X" column per kernel transport base.
func newTable(w io.Writer, title, vs, columns string, kernel []string) *tabwriter.Writer {
	fmt.Fprintf(w, "\n%s\n", title)
	fmt.Fprintf(w, "vs X = %s, X on two CPUs or on one (-1cpu), whichever was faster\n", vs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, columns+ratioHeader(kernel))
	return tw
}

// ratioHeader is the "vs X" columns' header.
func ratioHeader(kernel []string) string {
	var hdr strings.Builder
	for _, k := range kernel {
		hdr.WriteString("vs " + k + "\t")
	}
	return hdr.String()
}

func writeLatencyTable(w io.Writer, results []*result, kernel []string) error {
	lat := slices.DeleteFunc(slices.Clone(results), func(r *result) bool { return r.Latency == nil && r.Skipped == "" })
	if len(lat) == 0 {
		return nil
	}
	tw := newTable(w, "Latency, one way (round trip / 2), ns unless marked", "p50 of X / p50 of shqueue",
		"size\ttransport \tround trips\tp50\tp90\tp99\tp99.9\tp99.99\tmax\tallocs\t", kernel)
	var skipped []string
	for _, r := range lat {
		row := sizeString(r.Size) + "\t" + r.Transport + " \t"
		if r.Skipped != "" {
			// Keep every row's cells so tabwriter aligns the table as
			// one block; the reason goes below the table.
			fmt.Fprintln(tw, row+"skipped\t"+strings.Repeat("-\t", latencyFigures+len(kernel)))
			skipped = append(skipped, fmt.Sprintf("%s %s: %s", sizeString(r.Size), r.Transport, r.Skipped))
			continue
		}
		l := r.Latency
		row += fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t", l.RoundTrips,
			fmtNs(l.P50), fmtNs(l.P90), fmtNs(l.P99), fmtNs(l.P999), fmtNs(l.P9999), fmtNs(l.Max), l.Allocs)
		fmt.Fprintln(tw, row+ratioCells(r, kernel, func(rt *ratio) float64 { return rt.P50 }))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintf(w, "  skipped %s\n", s)
	}
	return nil
}

// latencyFigures is how many cells a latency row has after "skipped": p50
// to max and allocs.
const latencyFigures = 7

func writeThroughputTable(w io.Writer, results []*result, kernel []string) error {
	tp := slices.DeleteFunc(slices.Clone(results), func(r *result) bool { return r.Throughput == nil })
	if len(tp) == 0 {
		return nil
	}
	tw := newTable(w, "Throughput, one producer process and one consumer process", "shqueue msgs/s / msgs/s of X",
		"size\ttransport \tmessages\tmsgs/s\tbytes/s\tallocs\t", kernel)
	for _, r := range tp {
		t := r.Throughput
		row := fmt.Sprintf("%s\t%s \t%d\t%s\t%s\t%d\t", sizeString(r.Size), r.Transport, t.Messages,
			fmtRate(t.MsgsPerSec, ""), fmtRate(t.BytesPerSec, "B"), t.Allocs)
		fmt.Fprintln(tw, row+ratioCells(r, kernel, func(rt *ratio) float64 { return rt.MsgsPerSec }))
	}
	return tw.Flush()
}

// kernelBases lists the kernel transports present in results by base name
// (unix for unix and unix-1cpu), in order.
func kernelBases(results []*result) []string {
	var names []string
	for _, r := range results {
		if r.Kind == "kernel" && !slices.Contains(names, baseName(r.Transport)) {
			names = append(names, baseName(r.Transport))
		}
	}
	return names
}

func baseName(transport string) string {
	if t := transportByName(transport); t != nil {
		return t.base
	}
	return transport
}

// bestRatio is r's ratio to the better placement of kernel transport base
// (the smaller ratio: the kernel figure closest to shqueue's), or 0.
func bestRatio(r *result, base string, field func(*ratio) float64) float64 {
	best := 0.0
	for name, rt := range r.Ratios {
		if baseName(name) != base {
			continue
		}
		if v := field(rt); v > 0 && (best == 0 || v < best) {
			best = v
		}
	}
	return best
}
