package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestHistogramPercentiles(t *testing.T) {
	h := NewHistogram()
	for v := int64(1); v <= 10000; v++ {
		h.Record(v * 100)
	}
	if h.Count() != 10000 {
		t.Fatalf("Count = %d, want 10000", h.Count())
	}
	for p, want := range map[float64]int64{50: 500000, 99: 990000, 99.9: 999000, 100: 1000000} {
		got := h.Percentile(p)
		if d := float64(got-want) / float64(want); d < -0.001 || d > 0.001 {
			t.Errorf("Percentile(%v) = %d, want %d within 0.1%%", p, got, want)
		}
	}
	if lo, hi := h.Min(), h.Max(); lo != 100 || hi < 1000000 || hi > 1001000 {
		t.Errorf("Min, Max = %d, %d, want 100 and about 1000000", lo, hi)
	}
	if m := h.Mean(); m < 500000*0.999 || m > 500100*1.001 {
		t.Errorf("Mean = %v, want about 500050", m)
	}
}

// Values outside the range still count, at the nearer bound.
func TestHistogramClamps(t *testing.T) {
	h := NewHistogram()
	h.Record(-5)
	h.Record(0)
	h.Record(2 * HistMax)
	if h.Count() != 3 {
		t.Fatalf("Count = %d, want 3", h.Count())
	}
	if h.Min() != HistMin {
		t.Errorf("Min = %d, want %d", h.Min(), HistMin)
	}
	if got := h.Percentile(100); got < HistMax*999/1000 {
		t.Errorf("top value %d, want about %d", got, HistMax)
	}
}

func TestHistogramRecordDoesNotAllocate(t *testing.T) {
	h := NewHistogram()
	v := int64(0)
	if a := testing.AllocsPerRun(1000, func() { v += 997; h.Record(v) }); a != 0 {
		t.Errorf("Record allocates %v times per call", a)
	}
}

// A histogram crosses a process boundary as JSON and comes back the same.
func TestHistogramSnapshotRoundTrip(t *testing.T) {
	h := NewHistogram()
	for v := int64(1); v < 5000; v += 7 {
		h.Record(v * v)
	}
	b, err := json.Marshal(h.Export())
	if err != nil {
		t.Fatal(err)
	}
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	g := Import(&s)
	for _, p := range []float64{0, 50, 90, 99, 99.9, 100} {
		if g.Percentile(p) != h.Percentile(p) {
			t.Errorf("Percentile(%v): %d after the round trip, %d before", p, g.Percentile(p), h.Percentile(p))
		}
	}
	if g.Count() != h.Count() {
		t.Errorf("Count %d after the round trip, %d before", g.Count(), h.Count())
	}
}

// The .hgrm file is in microseconds: 1 ms recorded reads as 1000.
func TestHistogramWritePercentiles(t *testing.T) {
	h := NewHistogram()
	for range 100 {
		h.Record(1_000_000)
	}
	var b bytes.Buffer
	if err := h.WritePercentiles(&b, 5); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "Percentile") || !strings.Contains(out, "\n    1000.") || !strings.Contains(out, "Total count    =          100") {
		t.Errorf("unexpected .hgrm output:\n%s", out)
	}
}
