package main

// export: the queues on this host as Prometheus metrics, served over HTTP.
// Each scrape reads every queue (or those named) through the library's
// read-only inspection (shqueue.List, shqueue.Inspect), so the figures are
// the segment's own at that instant; the exporter attaches to no queue
// between scrapes and never changes one. The Prometheus client is this
// command's dependency only: the library does not import it.

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/shqueue/shqueue"
)

func init() {
	register("export", "serve the queues' counters and gauges as Prometheus metrics over HTTP", runExport)
}

// defaultListen is where the exporter listens unless told otherwise: every
// interface, port 9464.
const defaultListen = ":9464"

// The HTTP server's limits: a scrape is one small request, and a client that
// takes longer than this to send its headers or read the answer is stuck.
const (
	exportHeaderTimeout = 5 * time.Second
	exportWriteTimeout  = 30 * time.Second
	exportShutdownGrace = 5 * time.Second
)

func runExport(args []string) error {
	fs := newFlagSet("export", "[KEY...]")
	listen := fs.String("listen", defaultListen, "`address` to serve on, host:port (an empty host: every interface)")
	path := fs.String("path", "/metrics", "URL `path` of the metrics")
	rest, err := parseOpsArgs(fs, args)
	if err != nil {
		return err
	}
	var keys []int
	for _, a := range rest {
		q, err := parseQueueArg(a)
		if err != nil {
			return err
		}
		keys = append(keys, q.key)
	}
	if len(*path) == 0 || (*path)[0] != '/' {
		return usagef("-path must start with /, got %q", *path)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(newQueueCollector(keys)); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(*path, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A queue that cannot be read is left out of the answer and
		// logged; the others are still served.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      log.New(os.Stderr, "shqueue export: ", 0),
	}))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	what := "every queue on this host"
	if len(keys) > 0 {
		what = "the queues named"
	}
	// The address actually bound (a port of 0 picks one): scripts and the
	// tests read it from this line.
	fmt.Fprintf(os.Stderr, "shqueue export: serving %s on http://%s%s\n", what, ln.Addr(), *path)
	return serveUntilSignal(ln, mux)
}

// serveUntilSignal serves on ln until SIGINT or SIGTERM, then lets a scrape
// in progress finish.
func serveUntilSignal(ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: exportHeaderTimeout, WriteTimeout: exportWriteTimeout}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), exportShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// queueLabels are the labels every queue's series carry, and queueLabelValues
// their values for one queue: its key, and the name Create recorded ("" for
// a queue made without one).
var queueLabels = []string{"key", "name"}

func queueLabelValues(info *shqueue.Info) []string {
	return []string{keyHex(info.Key), info.Name}
}

// A queueCollector reads the queues afresh on every scrape. keys names the
// queues to export; nil means every queue List finds.
type queueCollector struct {
	keys []int

	enqueued, dequeued, overwritten, lost *prometheus.Desc
	length, capacity, attached, dead      *prometheus.Desc
	sleepers                              *prometheus.Desc
}

func newQueueCollector(keys []int) *queueCollector {
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("shqueue_"+name, help, slices.Concat(queueLabels, extra), nil)
	}
	return &queueCollector{
		keys:        keys,
		enqueued:    desc("enqueued_total", "Messages enqueued since the queue was created."),
		dequeued:    desc("dequeued_total", "Messages dequeued since the queue was created."),
		overwritten: desc("overwritten_total", "Messages EnqueueShift dropped to make room since the queue was created."),
		lost:        desc("lost_total", "Messages lost to processes that died mid-operation, since the queue was created."),
		length:      desc("length", "Messages in the queue now, claimed ones included."),
		capacity:    desc("capacity", "Messages the queue holds when full."),
		attached:    desc("processes_attached", "Live processes with a handle on the queue (its process table)."),
		dead:        desc("processes_dead", "Processes in the queue's table that died without closing their handle."),
		sleepers:    desc("sleepers", "Waiters asleep on the queue's futex word now, by role.", "role"),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.enqueued, c.dequeued, c.overwritten, c.lost,
		c.length, c.capacity, c.attached, c.dead, c.sleepers} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	infos, err := c.inspect()
	if err != nil {
		// The whole read failed (List): say so in the scrape's errors.
		ch <- prometheus.NewInvalidMetric(c.length, err)
	}
	for _, r := range infos {
		if r.err != nil {
			ch <- prometheus.NewInvalidMetric(c.length, r.err)
			continue
		}
		c.collectQueue(ch, r.info)
	}
}

// inspected is one queue's reading, or why there is none.
type inspected struct {
	info *shqueue.Info
	err  error
}

// inspect reads the queues to export. A named queue that cannot be read
// is an error of its own; of all the segments on the host, only the
// readable queues count (ls shows the rest).
func (c *queueCollector) inspect() ([]inspected, error) {
	var out []inspected
	if c.keys != nil {
		for _, key := range c.keys {
			info, err := shqueue.Inspect(key)
			out = append(out, inspected{info, err})
		}
		return out, nil
	}
	entries, err := shqueue.List()
	for _, e := range entries {
		// A segment marked for removal has lost its key (0): it is going,
		// and two of them would carry the same labels.
		if e.Kind == shqueue.KindQueue && e.Info != nil && e.Info.Key != 0 {
			out = append(out, inspected{info: e.Info})
		}
	}
	return out, err
}

func (c *queueCollector) collectQueue(ch chan<- prometheus.Metric, info *shqueue.Info) {
	labels := queueLabelValues(info)
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), slices.Concat(labels, extra)...)
	}
	counter(c.enqueued, info.Stats.Enqueued)
	counter(c.dequeued, info.Stats.Dequeued)
	counter(c.overwritten, info.Stats.Overwritten)
	counter(c.lost, info.Stats.Lost)
	gauge(c.length, info.Len)
	gauge(c.capacity, info.Cap)
	alive, dead := 0, 0
	for _, p := range info.Processes {
		if p.Alive {
			alive++
		} else {
			dead++
		}
	}
	gauge(c.attached, alive)
	gauge(c.dead, dead)
	gauge(c.sleepers, info.SleepingConsumers, "consumer")
	gauge(c.sleepers, info.SleepingProducers, "producer")
}
