package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCopiesMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(c.xs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

// TestCopiesTable: the table names each size's best variant by median (auto
// itself is never "best": it is what the others are compared with) and
// gives each variant's ratio to auto.
func TestCopiesTable(t *testing.T) {
	var out bytes.Buffer
	writeCopies(&out, []int{4096, 65536}, []string{"auto", "avx512", "repmovsb"}, [][][]float64{
		{{10, 11, 12}, {20, 2, 21}, {5, 6, 7}},
		{{30, 30, 30}, {10, 11, 12}, {40, 1, 41}},
	})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("want a plan line, a title, a header and two rows:\n%s", out.String())
	}
	for i, want := range []struct{ size, best, ratio string }{{"4 KiB", "avx512", "1.82x"}, {"64 KiB", "repmovsb", "1.33x"}} {
		row := lines[3+i]
		if !strings.Contains(row, want.size) || !strings.HasSuffix(strings.TrimSpace(row), want.best) || !strings.Contains(row, want.ratio) {
			t.Errorf("row %q: want size %s, best %s, ratio %s", row, want.size, want.best, want.ratio)
		}
	}
}
