package main

// shqueue bench -copies: the slot-copy variants compared where they matter,
// between two pinned processes. For each size and variant it runs the
// throughput phase of the shqueue-spin transport with SHQUEUE_CPU set to the
// variant (the children inherit it, so both sides copy with it; a
// non-temporal variant applies to enqueue only), rounds times in alternation,
// and prints the median, the spread and the ratio to the automatic plan. The
// best variant per size is what a plan for this machine would use
// (SHQUEUE_COPY_PLAN, docs/asm.md).

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/shqueue/shqueue"
)

// copiesRounds is how many times each variant and size is measured, in
// alternation, so that a slow moment of a shared machine hits them all.
const copiesRounds = 3

// copyVariantsToMeasure: the automatic plan, then every variant this host
// runs but the pure-Go reference (which never wins).
func copyVariantsToMeasure() []string {
	vs := []string{"auto"}
	for _, v := range shqueue.CopyVariantNames() {
		if v != "generic" {
			vs = append(vs, v)
		}
	}
	return vs
}

// runCopies measures and prints. It sets SHQUEUE_CPU in this process's
// environment for each measurement and restores it afterwards.
func runCopies(ctx context.Context, cfg *benchConfig, stdout, stderr io.Writer) error {
	t := transportByName("shqueue-spin")
	if t == nil {
		return fmt.Errorf("-copies: no shqueue-spin transport in this build")
	}
	const env = "SHQUEUE_CPU"
	saved, had := os.LookupEnv(env)
	defer func() {
		if had {
			os.Setenv(env, saved)
		} else {
			os.Unsetenv(env)
		}
	}()
	variants := copyVariantsToMeasure()
	// gbps[size index][variant index] holds one figure per round.
	gbps := make([][][]float64, len(cfg.sizes))
	for i := range gbps {
		gbps[i] = make([][]float64, len(variants))
	}
	total := copiesRounds * len(cfg.sizes) * len(variants)
	step := 0
	for range copiesRounds {
		for si, size := range cfg.sizes {
			for vi, v := range variants {
				step++
				label := fmt.Sprintf("bench -copies [%d/%d] %s %s", step, total, v, sizeString(size))
				if !cfg.quiet {
					fmt.Fprintln(stderr, label)
				}
				if err := os.Setenv(env, v); err != nil {
					return err
				}
				r := &result{Transport: t.name, Kind: t.kind, Size: size}
				ph := phase{t: t, size: size, throughput: true}
				if err := runPhase(ctx, cfg, ph, r, label, false); err != nil {
					return err
				}
				gbps[si][vi] = append(gbps[si][vi], r.Throughput.BytesPerSec/1e9)
			}
		}
	}
	writeCopies(stdout, cfg.sizes, variants, gbps)
	return nil
}

func writeCopies(w io.Writer, sizes []int, variants []string, gbps [][][]float64) {
	fmt.Fprintf(w, "copy plan: %s\n", shqueue.CopyPlan())
	fmt.Fprintf(w, "cross-process ring (shqueue-spin), GB/s: median of %d alternating rounds [min-max]; ratio to auto\n", copiesRounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "size\t%s\tbest\t\n", strings.Join(variants, "\t"))
	for si, size := range sizes {
		row := []string{sizeString(size)}
		auto := median(gbps[si][0])
		best, bestV := 0.0, ""
		for vi, v := range variants {
			m := median(gbps[si][vi])
			cell := fmt.Sprintf("%.1f [%.1f-%.1f]", m, slices.Min(gbps[si][vi]), slices.Max(gbps[si][vi]))
			if vi > 0 && auto > 0 {
				cell += fmt.Sprintf(" %.2fx", m/auto)
			}
			row = append(row, cell)
			if vi > 0 && m > best {
				best, bestV = m, v
			}
		}
		row = append(row, bestV)
		fmt.Fprintf(tw, "%s\t\n", strings.Join(row, "\t"))
	}
	tw.Flush()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
