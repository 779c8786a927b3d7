package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shqueue/shqueue/internal/testchild"
)

// shqueueBinary builds the tool once per test binary run (the bench command
// re-executes itself, so it has to run as the real program, not as a test),
// and every test that runs the tool shares the build.
func shqueueBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the tool")
	}
	toolOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shqueue-tool-")
		if err != nil {
			toolErr = err
			return
		}
		toolDir = dir
		toolExe = filepath.Join(dir, "shqueue")
		cmd := exec.Command("go", "build", "-o", toolExe, ".")
		cmd.Stderr = os.Stderr
		toolErr = cmd.Run()
	})
	if toolErr != nil {
		t.Fatalf("go build: %v", toolErr)
	}
	return toolExe
}

var (
	toolOnce         sync.Once
	toolDir, toolExe string
	toolErr          error
)

// TestMain removes the shared build when the tests are done.
func TestMain(m *testing.M) {
	testchild.Child()
	code := m.Run()
	if toolDir != "" {
		os.RemoveAll(toolDir)
	}
	os.Exit(code)
}

// Tiny counts: the test checks that every transport runs, verifies its
// messages and reports, not how fast anything is.
var tinyBench = []string{"bench", "-sizes", "64,4096", "-n", "300", "-warmup", "30", "-tn", "600", "-maxtime", "300ms", "-q",
	"-wakeups", "50", "-idle", "200ms"}

func TestBenchJSONHasEveryTransport(t *testing.T) {
	exe := shqueueBinary(t)
	dir := t.TempDir()
	svg := filepath.Join(dir, "lat.svg")
	args := append(slices.Clone(tinyBench), "-json", "-hgrm", dir, "-plot", svg)
	cmd := exec.Command(exe, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("shqueue %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if rep.Env.GOOS == "" || rep.Env.CPU == "" {
		t.Errorf("environment missing: %+v", rep.Env)
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.Transport] = true
		if r.Skipped != "" {
			if r.Kind == "shqueue" {
				t.Errorf("%s %d B skipped: %s", r.Transport, r.Size, r.Skipped)
			}
			continue
		}
		if r.Latency == nil || r.Latency.RoundTrips <= 0 {
			t.Errorf("%s %d B: no latency result", r.Transport, r.Size)
			continue
		}
		l := r.Latency
		if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.P9999 && l.P9999 <= l.Max) {
			t.Errorf("%s %d B: percentiles out of order: %+v", r.Transport, r.Size, l)
		}
		if _, err := os.Stat(filepath.Join(dir, r.Transport+"-"+strconv.Itoa(r.Size)+".hgrm")); err != nil {
			t.Errorf("no .hgrm file: %v", err)
		}
		tr := transportByName(r.Transport)
		if tr == nil {
			t.Errorf("unknown transport %q in the output", r.Transport)
			continue
		}
		if tr.throughput && (r.Throughput == nil || r.Throughput.Messages <= 0 || r.Throughput.MsgsPerSec <= 0) {
			t.Errorf("%s %d B: no throughput result: %+v", r.Transport, r.Size, r.Throughput)
		}
		if r.Kind == "shqueue" && len(r.Ratios) == 0 {
			t.Errorf("%s %d B: no ratios to the kernel transports", r.Transport, r.Size)
		}
	}
	for _, name := range defaultTransports() {
		if !seen[name] {
			t.Errorf("transport %s missing from the output", name)
		}
	}
	for _, kind := range []string{"shqueue-spin", "shqueue-adaptive", "unix", "pipe", "raw"} {
		if !seen[kind] {
			t.Errorf("transport %s missing", kind)
		}
	}

	checkWakeSection(t, &rep)

	// The plot is well-formed XML with a curve per measured transport.
	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	lines := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plot is not valid XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines < len(defaultTransports()) {
		t.Errorf("plot has %d curves, want at least %d", lines, len(defaultTransports()))
	}
}

func TestBenchTable(t *testing.T) {
	exe := shqueueBinary(t)
	args := append(slices.Clone(tinyBench), "-transports", "shqueue-spin,pipe,raw", "-sizes", "64")
	out, err := exec.Command(exe, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"Latency", "Throughput", "shqueue-spin", "pipe", "raw", "p99.99", "msgs/s", "vs pipe",
		"Waking from sleep", "busy-spin", "idle CPU"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// A corrupted message must fail the run, for latency and throughput alike.
func TestBenchDetectsCorruption(t *testing.T) {
	exe := shqueueBinary(t)
	for _, tr := range []string{"shqueue-spin", "pipe", "shqueue-batch8", "shqueue-zc"} {
		cmd := exec.Command(exe, "bench", "-transports", tr, "-sizes", "64", "-n", "200", "-warmup", "10", "-tn", "300", "-q")
		cmd.Env = append(os.Environ(), faultEnv+"=57")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%s: run with a corrupted message succeeded:\n%s", tr, out)
			continue
		}
		if !bytes.Contains(out, []byte("message 57 corrupt")) {
			t.Errorf("%s: error does not name the corrupt message:\n%s", tr, out)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	exe := shqueueBinary(t)
	for _, args := range [][]string{
		{"bench", "-sizes", "63"},
		{"bench", "-transports", "carrier-pigeon"},
		{"bench", "-cpus", "0"},
		{"bench", "-wakeups", "-1"},
		{"bench", "-wakepause", "0s"},
		{"bench", "-idle", "-1s"},
		{"no-such-command"},
	} {
		err := exec.Command(exe, args...).Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Errorf("shqueue %v: %v, want exit status 2", args, err)
		}
	}
}

func TestMsgFormatDetectsDamage(t *testing.T) {
	for _, size := range []int{16, 24, 64, 72, 4096} {
		f, err := newMsgFormat(size)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, size)
		f.init(buf)
		for _, seq := range []uint64{1, 2, 1 << 40, stopSeq} {
			f.stamp(buf, seq)
			if !f.check(buf, seq) {
				t.Fatalf("size %d: message %d does not check: %s", size, seq, f.describe(buf, seq))
			}
			if f.check(buf, seq+1) {
				t.Errorf("size %d: message %d passes as %d", size, seq, seq+1)
			}
			// Every single-bit flip anywhere is caught.
			for i := range buf {
				for bit := range 8 {
					buf[i] ^= 1 << bit
					if f.check(buf, seq) {
						t.Fatalf("size %d seq %d: flip of bit %d in byte %d not detected", size, seq, bit, i)
					}
					buf[i] ^= 1 << bit
				}
			}
			// Swapping two different payload words is caught.
			if size >= 40 {
				w := func(i int) []byte { return buf[8*i : 8*i+8] }
				a, b := binary.LittleEndian.Uint64(w(2)), binary.LittleEndian.Uint64(w(3))
				binary.LittleEndian.PutUint64(w(2), b)
				binary.LittleEndian.PutUint64(w(3), a)
				if f.check(buf, seq) {
					t.Errorf("size %d: swapped words not detected", size)
				}
				binary.LittleEndian.PutUint64(w(2), a)
				binary.LittleEndian.PutUint64(w(3), b)
			}
		}
	}
	if _, err := newMsgFormat(12); err == nil {
		t.Error("size 12 accepted")
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("64,512B,4KiB,64K,1MiB")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{64, 512, 4096, 65536, 1 << 20}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "x", "12", "4.5K"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
}

func TestNinesLabels(t *testing.T) {
	var got []string
	for k := range 6 {
		got = append(got, ninesLabel(k))
	}
	if want := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestQueueCapacity(t *testing.T) {
	for size, want := range map[int]int{64: 4096, 512: 2048, 4096: 256, 65536: 16, 1 << 20: 16} {
		if got := queueCapacity(size); got != want {
			t.Errorf("queueCapacity(%d) = %d, want %d", size, got, want)
		}
	}
}

// checkWakeSection: the JSON has the wake section for both wait strategies,
// with every figure present and in order. Nothing about speed: the machine
// may be loaded.
func checkWakeSection(t *testing.T, rep *report) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range rep.Wake {
		seen[r.Wait] = true
		if r.Size != wakeSize || waitOf[r.Transport].String() != r.Wait {
			t.Errorf("wake %s: size %d, wait %q", r.Transport, r.Size, r.Wait)
		}
		u := r.Wakeup
		if u == nil {
			t.Errorf("wake %s: no wake-up result", r.Transport)
		} else if u.WakeUps != 50 || u.PauseNs <= 0 || u.Asleep < 0 || u.Asleep > u.WakeUps ||
			!(0 < u.P50 && u.P50 <= u.P90 && u.P90 <= u.P99 && u.P99 <= u.P999 && u.P999 <= u.Max) || u.Mean <= 0 {
			t.Errorf("wake %s: bad wake-up figures %+v", r.Transport, u)
		}
		i := r.Idle
		if i == nil {
			t.Errorf("wake %s: no idle result", r.Transport)
		} else if i.WallNs <= 0 || i.CPUNs < 0 || i.CPUPercent < 0 {
			t.Errorf("wake %s: bad idle figures %+v", r.Transport, i)
		}
	}
	for _, w := range []string{"adaptive", "busy-spin"} {
		if !seen[w] {
			t.Errorf("wake section lacks the %s wait strategy: %+v", w, rep.Wake)
		}
	}
}

// The batch and zero-copy transports measure throughput only, every message
// checked, with no allocation in the measuring process.
func TestBenchBatchAndZeroCopy(t *testing.T) {
	exe := shqueueBinary(t)
	var names []string
	for _, b := range batchSizes {
		names = append(names, "shqueue-batch"+strconv.Itoa(b))
	}
	names = append(names, "shqueue-zc")
	args := []string{"bench", "-q", "-json", "-transports", strings.Join(names, ","), "-sizes", "64,4096", "-tn", "3000", "-warmup", "300",
		"-maxtime", "300ms", "-wakeups", "0", "-idle", "0"}
	out, err := exec.Command(exe, args...).Output()
	if err != nil {
		t.Fatalf("shqueue %s: %v", strings.Join(args, " "), err)
	}
	var rep report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	seen := map[string]int{}
	for _, r := range rep.Results {
		seen[r.Transport]++
		if r.Latency != nil || r.Throughput == nil || r.Throughput.Messages <= 0 || r.Throughput.Allocs != 0 {
			t.Errorf("%s %d B: latency %+v, throughput %+v", r.Transport, r.Size, r.Latency, r.Throughput)
		}
	}
	for _, name := range names {
		if seen[name] != 2 {
			t.Errorf("%s: %d results, want 2", name, seen[name])
		}
	}
}
