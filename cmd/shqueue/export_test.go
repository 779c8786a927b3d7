//go:build linux

package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/shqueue/shqueue"
)

// exporter is a running "shqueue export" on a loopback port.
type exporter struct {
	cmd *exec.Cmd
	url string
}

// startExporter runs the tool's export command on 127.0.0.1 with a port the
// kernel picks, and stops it (SIGTERM, as a service manager would) when the
// test ends, checking that it then exits cleanly.
func startExporter(t *testing.T, exe string, args ...string) *exporter {
	t.Helper()
	cmd := exec.Command(exe, append([]string{"export", "-listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &exporter{cmd: cmd}
	line, err := bufio.NewReader(stderr).ReadString('\n')
	m := regexp.MustCompile(`on (http://127\.0\.0\.1:[0-9]+/metrics)\n$`).FindStringSubmatch(line)
	if m == nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("export said %q (%v), want the address it serves on", line, err)
	}
	e.url = m[1]
	go io.Copy(os.Stderr, stderr) // its logs, should a scrape fail
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("export after SIGTERM: %v", err)
		}
	})
	return e
}

// scrape fetches the metrics and parses them as Prometheus does.
func (e *exporter) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", e.url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the answer is not the Prometheus text format: %v", err)
	}
	return families
}

// queueSample is the value of metric name for the queue with key (and the
// further label, if given), and whether the scrape had it. It fails the
// test if the metric's type is not want.
func queueSample(t *testing.T, families map[string]*dto.MetricFamily, name string, want dto.MetricType, key int, label ...string) (float64, bool) {
	t.Helper()
	f := families[name]
	if f == nil {
		return 0, false
	}
	if f.GetType() != want {
		t.Fatalf("%s is a %v, want a %v", name, f.GetType(), want)
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["key"] != keyHex(key) || (len(label) == 2 && labels[label[0]] != label[1]) {
			continue
		}
		if want == dto.MetricType_COUNTER {
			return m.GetCounter().GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

// queueFigures are one queue's exported figures.
type queueFigures struct {
	enqueued, dequeued, overwritten, lost                   float64
	length, capacity, attached, dead, sleepCons, sleepProds float64
}

func figures(t *testing.T, families map[string]*dto.MetricFamily, key int) (queueFigures, bool) {
	t.Helper()
	var q queueFigures
	all := true
	for _, f := range []struct {
		name  string
		typ   dto.MetricType
		label []string
		into  *float64
	}{
		{"shqueue_enqueued_total", dto.MetricType_COUNTER, nil, &q.enqueued},
		{"shqueue_dequeued_total", dto.MetricType_COUNTER, nil, &q.dequeued},
		{"shqueue_overwritten_total", dto.MetricType_COUNTER, nil, &q.overwritten},
		{"shqueue_lost_total", dto.MetricType_COUNTER, nil, &q.lost},
		{"shqueue_length", dto.MetricType_GAUGE, nil, &q.length},
		{"shqueue_capacity", dto.MetricType_GAUGE, nil, &q.capacity},
		{"shqueue_processes_attached", dto.MetricType_GAUGE, nil, &q.attached},
		{"shqueue_processes_dead", dto.MetricType_GAUGE, nil, &q.dead},
		{"shqueue_sleepers", dto.MetricType_GAUGE, []string{"role", "consumer"}, &q.sleepCons},
		{"shqueue_sleepers", dto.MetricType_GAUGE, []string{"role", "producer"}, &q.sleepProds},
	} {
		v, ok := queueSample(t, families, f.name, f.typ, key, f.label...)
		*f.into = v
		all = all && ok
	}
	return q, all
}

// expectFigures scrapes until the queue's figures are want: the sleeper
// gauges follow a waiter that takes its time to fall asleep on a loaded
// machine. Every other figure is exact at once.
func expectFigures(t *testing.T, e *exporter, key int, want queueFigures) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, ok := figures(t, e.scrape(t), key)
		if ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s: exported %+v (all present: %v), want %+v", keyHex(key), got, ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The exporter follows a queue as it runs: counters move as messages go
// through, the gauges follow the queue's length, the attached processes (one
// of them another process, then killed) and a consumer asleep.
func TestExportFollowsAQueue(t *testing.T) {
	exe := shqueueBinary(t)
	key := freeKey(t)
	const capacity = 8
	q := createAt(t, key, 4, capacity)
	e := startExporter(t, exe, keyHex(key))
	want := queueFigures{capacity: capacity, attached: 1}
	expectFigures(t, e, key, want)

	for i := range 5 {
		if !q.EnqueueTry(testMsg(i)) {
			t.Fatal("enqueue failed")
		}
	}
	buf := make([]byte, q.MsgSize())
	if !q.DequeueTry(buf) {
		t.Fatal("dequeue failed")
	}
	want.enqueued, want.dequeued, want.length = 5, 1, 4
	expectFigures(t, e, key, want)

	// Full, then one shift: the oldest message is overwritten.
	for i := 5; i < 9; i++ {
		if !q.EnqueueTry(testMsg(i)) {
			t.Fatal("enqueue failed")
		}
	}
	q.EnqueueShift(testMsg(9))
	want.enqueued, want.overwritten, want.length = 10, 1, capacity
	expectFigures(t, e, key, want)
	for q.DequeueTry(buf) {
	}
	want.dequeued, want.length = want.dequeued+capacity, 0
	expectFigures(t, e, key, want)

	// Another process attaches, then dies without closing its handle.
	child := holdQueue(t, key)
	want.attached = 2
	expectFigures(t, e, key, want)
	child.Process.Kill()
	child.Wait()
	want.attached, want.dead = 1, 1
	expectFigures(t, e, key, want)

	// A consumer blocked on the empty queue falls asleep; a message wakes
	// it.
	got := make(chan error, 1)
	go func() { got <- q.DequeueBlock(context.Background(), make([]byte, q.MsgSize())) }()
	want.sleepCons = 1
	expectFigures(t, e, key, want)
	if !q.EnqueueTry(testMsg(10)) {
		t.Fatal("enqueue failed")
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	want.sleepCons, want.enqueued, want.dequeued = 0, want.enqueued+1, want.dequeued+1
	expectFigures(t, e, key, want)

	info, err := shqueue.Inspect(key)
	if err != nil {
		t.Fatal(err)
	}
	if info.Stats.Lost != uint64(want.lost) {
		t.Errorf("lost: exported %v, Inspect says %d", want.lost, info.Stats.Lost)
	}
}

// With no keys the exporter serves every queue on the host, and only queues:
// a foreign segment is left out; a queue created after it started shows up
// at the next scrape, one removed goes.
func TestExportEveryQueue(t *testing.T) {
	exe := shqueueBinary(t)
	foreign := foreignSegment(t)
	e := startExporter(t, exe)
	key := freeKey(t)
	q := createAt(t, key, 2, 4)
	if !q.EnqueueTry(make([]byte, q.MsgSize())) {
		t.Fatal("enqueue failed")
	}
	families := e.scrape(t)
	got, ok := figures(t, families, key)
	if want := (queueFigures{enqueued: 1, length: 1, capacity: 4, attached: 1}); !ok || got != want {
		t.Errorf("new queue: exported %+v (all present: %v), want %+v", got, ok, want)
	}
	if _, ok := queueSample(t, families, "shqueue_capacity", dto.MetricType_GAUGE, foreign); ok {
		t.Errorf("the foreign segment %s is exported", keyHex(foreign))
	}
	if err := q.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, ok := queueSample(t, e.scrape(t), "shqueue_capacity", dto.MetricType_GAUGE, key); ok {
		t.Errorf("queue %s still exported after Delete", keyHex(key))
	}
}

// A named queue that does not exist is left out (and logged); the others are
// still served.
func TestExportMissingQueue(t *testing.T) {
	exe := shqueueBinary(t)
	missing := freeKey(t)
	key := freeKey(t)
	createAt(t, key, 2, 4)
	e := startExporter(t, exe, keyHex(missing), keyHex(key))
	families := e.scrape(t)
	if _, ok := figures(t, families, key); !ok {
		t.Errorf("queue %s not exported next to a missing one", keyHex(key))
	}
	if _, ok := queueSample(t, families, "shqueue_capacity", dto.MetricType_GAUGE, missing); ok {
		t.Errorf("missing queue %s exported", keyHex(missing))
	}
}

func TestExportUsageErrors(t *testing.T) {
	exe := shqueueBinary(t)
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"export", "-listen", "127.0.0.1:0", "not-a-key"}, exitUsage},
		{[]string{"export", "-listen", "127.0.0.1:0", "-path", "metrics"}, exitUsage},
		{[]string{"export", "-listen", "127.0.0.1:99999"}, exitFailure},
	} {
		r := runTool(t, exe, nil, c.args...)
		if r.code != c.want {
			t.Errorf("shqueue %v: exit %d, want %d\n%s", c.args, r.code, c.want, r.stderr)
		}
	}
}
