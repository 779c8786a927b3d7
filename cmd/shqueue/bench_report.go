package main

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
// throughput: above 1 means shqueue is better).
func writeTable(w io.Writer, rep *report, cfg *benchConfig) error {
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
	kernel := kernelBases(rep.Results)

	var lat, tp []*result
	var skipped []string
	for _, r := range rep.Results {
		if r.Latency != nil || r.Skipped != "" {
			lat = append(lat, r)
		}
		if r.Throughput != nil {
			tp = append(tp, r)
		}
	}
	if len(lat) > 0 {
		fmt.Fprintf(w, "\nLatency, one way (round trip / 2), ns unless marked\n")
		fmt.Fprintf(w, "vs X = p50 of X / p50 of shqueue, X on two CPUs or on one (-1cpu), whichever was faster\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		hdr := "size\ttransport \tround trips\tp50\tp90\tp99\tp99.9\tp99.99\tmax\tallocs\t"
		for _, k := range kernel {
			hdr += "vs " + k + "\t"
		}
		fmt.Fprintln(tw, hdr)
		for _, r := range lat {
			row := sizeString(r.Size) + "\t" + r.Transport + " \t"
			if r.Skipped != "" {
				// Keep every row's cells so tabwriter aligns the table as
				// one block; the reason goes below the table.
				fmt.Fprintln(tw, row+"skipped\t"+strings.Repeat("-\t", 7+len(kernel)))
				skipped = append(skipped, fmt.Sprintf("%s %s: %s", sizeString(r.Size), r.Transport, r.Skipped))
				continue
			}
			l := r.Latency
			row += fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t", l.RoundTrips,
				fmtNs(l.P50), fmtNs(l.P90), fmtNs(l.P99), fmtNs(l.P999), fmtNs(l.P9999), fmtNs(l.Max), l.Allocs)
			for _, k := range kernel {
				if v := bestRatio(r, k, func(rt *ratio) float64 { return rt.P50 }); v > 0 {
					row += fmt.Sprintf("%.1f×\t", v)
				} else {
					row += "\t"
				}
			}
			fmt.Fprintln(tw, row)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, s := range skipped {
			fmt.Fprintf(w, "  skipped %s\n", s)
		}
	}
	if len(tp) > 0 {
		fmt.Fprintf(w, "\nThroughput, one producer process and one consumer process\n")
		fmt.Fprintf(w, "vs X = shqueue msgs/s / msgs/s of X, X on two CPUs or on one (-1cpu), whichever was faster\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		hdr := "size\ttransport \tmessages\tmsgs/s\tbytes/s\tallocs\t"
		for _, k := range kernel {
			hdr += "vs " + k + "\t"
		}
		fmt.Fprintln(tw, hdr)
		for _, r := range tp {
			t := r.Throughput
			row := fmt.Sprintf("%s\t%s \t%d\t%s\t%s\t%d\t", sizeString(r.Size), r.Transport, t.Messages,
				fmtRate(t.MsgsPerSec, ""), fmtRate(t.BytesPerSec, "B"), t.Allocs)
			for _, k := range kernel {
				if v := bestRatio(r, k, func(rt *ratio) float64 { return rt.MsgsPerSec }); v > 0 {
					row += fmt.Sprintf("%.1f×\t", v)
				} else {
					row += "\t"
				}
			}
			fmt.Fprintln(tw, row)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
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

// fmtNs prints nanoseconds below 100 µs and switches units above.
func fmtNs(ns int64) string {
	switch {
	case ns < 100_000:
		return fmt.Sprintf("%d", ns)
	case ns < 100_000_000:
		return fmt.Sprintf("%.1fµs", float64(ns)/1e3)
	}
	return fmt.Sprintf("%.1fms", float64(ns)/1e6)
}

func fmtRate(v float64, unit string) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f G%s", v/1e9, unit)
	case v >= 1e6:
		return fmt.Sprintf("%.2f M%s", v/1e6, unit)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k%s", v/1e3, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}
