package main

// Where a bench report goes: the table or JSON on stdout, .hgrm files, the
// SVG plot; and the number formats the table uses.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// hgrmTicksPerHalf is the .hgrm files' resolution: percentile steps per
// halving of the distance to 100%, as HdrHistogram's own tools write them.
const hgrmTicksPerHalf = 5

func sizeString(size int) string {
	switch {
	case size >= 1<<20 && size%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", size>>20)
	case size >= 1<<10 && size%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", size>>10)
	}
	return fmt.Sprintf("%d B", size)
}

func writeOutputs(rep *report, cfg *benchConfig, stdout io.Writer) error {
	if cfg.hgrmDir != "" {
		if err := writeHgrm(rep, cfg.hgrmDir); err != nil {
			return err
		}
	}
	if cfg.plotFile != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.plotFile), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(cfg.plotFile, plotSVG(rep), 0o644); err != nil {
			return err
		}
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return writeTable(stdout, rep, cfg)
}

func writeHgrm(rep *report, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, r := range rep.Results {
		if r.hist == nil {
			continue
		}
		var b bytes.Buffer
		if err := r.hist.WritePercentiles(&b, hgrmTicksPerHalf); err != nil {
			return err
		}
		name := fmt.Sprintf("%s-%d.hgrm", r.Transport, r.Size)
		if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
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
