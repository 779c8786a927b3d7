package bench

import (
	"io"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// A Histogram records latencies in nanoseconds, from 1 ns to 100 s with three
// significant digits (0.1% resolution), without allocating. It is an
// HdrHistogram, so a distribution can travel between processes as a Snapshot
// and be written as a standard .hgrm percentile file.
type Histogram struct{ hdr *hdrhistogram.Histogram }

// The recordable range and resolution.
const (
	HistMin    = 1
	HistMax    = int64(100 * time.Second)
	histDigits = 3
)

// A Snapshot is a Histogram in a form encoding/json can carry.
type Snapshot = hdrhistogram.Snapshot

// NewHistogram returns an empty Histogram whose pages are already faulted in:
// a first touch inside a timed loop costs a page fault (several microseconds
// under a hypervisor), which would land in the tail of whichever value paid
// it.
func NewHistogram() *Histogram {
	h := &Histogram{hdrhistogram.New(HistMin, HistMax, histDigits)}
	h.hdr.Reset() // writes every count
	return h
}

// Import rebuilds a Histogram from a Snapshot.
func Import(s *Snapshot) *Histogram { return &Histogram{hdrhistogram.Import(s)} }

// Export returns the Histogram as a Snapshot.
func (h *Histogram) Export() *Snapshot { return h.hdr.Export() }

// Record counts one value. A value outside [HistMin, HistMax] counts as the
// nearer bound, so no value is silently dropped from the count.
func (h *Histogram) Record(ns int64) {
	// With the value clamped into range, RecordValue cannot fail.
	_ = h.hdr.RecordValue(min(max(ns, HistMin), HistMax))
}

// Percentile returns the value at percentile p (50 for the median, 99.9 for
// p99.9): the largest value within the resolution of the one below which p
// per cent of the recorded values lie. It is 0 if nothing was recorded.
func (h *Histogram) Percentile(p float64) int64 { return h.hdr.ValueAtQuantile(p) }

// Count is how many values were recorded.
func (h *Histogram) Count() int64 { return h.hdr.TotalCount() }

// Min and Max are the smallest and largest recorded values, within the
// resolution.
func (h *Histogram) Min() int64 { return h.hdr.Min() }
func (h *Histogram) Max() int64 { return h.hdr.Max() }

// Mean is the mean of the recorded values.
func (h *Histogram) Mean() float64 { return h.hdr.Mean() }

// WritePercentiles writes the distribution as an HdrHistogram percentile
// (.hgrm) file in microseconds, the unit HdrHistogram plotters label, with
// ticksPerHalf percentile steps per halving of the remaining distance to
// 100%.
func (h *Histogram) WritePercentiles(w io.Writer, ticksPerHalf int32) error {
	const nsPerMicrosecond = 1000
	_, err := h.hdr.PercentilesPrint(w, ticksPerHalf, nsPerMicrosecond)
	return err
}
