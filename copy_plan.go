package shqueue

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The copy plan as text: what cpuSummary prints and SHQUEUE_COPY_PLAN takes,
// so a plan measured on one machine (docs/asm.md: "Finding a plan") can be
// pasted into the environment of the processes that use the queue:
//
//	enqueue: avx512 >=384B, repmovsb >=2112B; dequeue: avx512 >=384B, repmovsb >=2112B
//
// Each direction lists bands in ascending size: "variant >=size" uses the
// variant from that slot size up to the next band; a lone "variant" applies
// from size 0; "builtin <size", as cpuSummary starts a list, is accepted and
// means nothing more than that no band starts lower. Sizes are bytes, with
// an optional B, KiB or MiB suffix. A direction left out uses the built-in
// copy throughout.

// planEnv names the environment variable, read once at start-up, that
// replaces the automatic plan with a whole plan (SHQUEUE_CPU, if also set,
// wins: it forces one variant everywhere).
const planEnv = "SHQUEUE_COPY_PLAN"

// planPolicy is the policy for a plan text. A plan that does not parse, or
// names a variant this host cannot run, or non-temporal stores for dequeue,
// is not used at all: the automatic plan stays, and cpuSummary says why.
// Half a plan would be a plan nobody measured.
func planPolicy(text string) *copyPolicy {
	p, err := parsePlan(text)
	if err != nil {
		auto := autoPolicy()
		auto.note = fmt.Sprintf("%s ignored: %v", planEnv, err)
		return auto
	}
	p.forced = planEnv
	return p
}

// parsePlan reads a plan text and checks that this host can run it.
func parsePlan(text string) (*copyPolicy, error) {
	p := &copyPolicy{}
	seen := map[string]bool{}
	for _, part := range strings.Split(text, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		dir, list, ok := strings.Cut(part, ":")
		dir = strings.ToLower(strings.TrimSpace(dir))
		if !ok || (dir != "enqueue" && dir != "dequeue") {
			return nil, fmt.Errorf("%q: want \"enqueue: ...\" or \"dequeue: ...\"", part)
		}
		if seen[dir] {
			return nil, fmt.Errorf("%s given twice", dir)
		}
		seen[dir] = true
		bands, err := parseBands(list, dir == "enqueue")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if dir == "enqueue" {
			p.in = bands
		} else {
			p.out = bands
		}
	}
	if len(seen) == 0 {
		return nil, errors.New("empty plan")
	}
	return p, nil
}

func parseBands(list string, intoShared bool) ([]sizeBand, error) {
	var bands []sizeBand
	floor := 0 // "builtin <size": no band may start below size
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, sizeText, _ := strings.Cut(item, " ")
		name = strings.ToLower(name)
		sizeText = strings.TrimSpace(sizeText)
		kind, ok := kindByName(name)
		if !ok {
			return nil, fmt.Errorf("unknown variant %q", name)
		}
		if !kindSupported(kind) {
			return nil, fmt.Errorf("%s not supported on this host or build", kind)
		}
		if !intoShared && kind.temporal() != kind {
			return nil, fmt.Errorf("%s: non-temporal stores for dequeue, whose caller reads the buffer next", kind)
		}
		from := 0
		switch {
		case strings.HasPrefix(sizeText, "<"):
			if kind != copyBuiltin || len(bands) > 0 {
				return nil, fmt.Errorf("%q: only a leading \"builtin <size\" may use <", item)
			}
			n, err := parseByteSize(strings.TrimPrefix(sizeText, "<"))
			if err != nil {
				return nil, fmt.Errorf("%q: %w", item, err)
			}
			floor = n
			continue
		case strings.HasPrefix(sizeText, ">="):
			n, err := parseByteSize(strings.TrimPrefix(sizeText, ">="))
			if err != nil {
				return nil, fmt.Errorf("%q: %w", item, err)
			}
			from = n
		case sizeText != "":
			return nil, fmt.Errorf("%q: want \"variant >=size\"", item)
		}
		if from < floor || (len(bands) > 0 && from <= bands[len(bands)-1].from) {
			return nil, fmt.Errorf("%q: bands must ascend by size", item)
		}
		bands = append(bands, sizeBand{from, kind})
	}
	return bands, nil
}

// maxPlanSize bounds a plan's sizes so that size times its suffix fits an int
// on 32-bit platforms too; no message is larger.
const maxPlanSize = 1 << 30

// parseByteSize reads "4096", "4096B", "4KiB" or "8MiB".
func parseByteSize(s string) (int, error) {
	s = strings.TrimSpace(s)
	mult := 1
	switch {
	case strings.HasSuffix(s, "MiB"):
		mult, s = 1<<20, strings.TrimSuffix(s, "MiB")
	case strings.HasSuffix(s, "KiB"):
		mult, s = 1<<10, strings.TrimSuffix(s, "KiB")
	case strings.HasSuffix(s, "B"):
		s = strings.TrimSuffix(s, "B")
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > maxPlanSize/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// formatPlan writes p in the form parsePlan reads.
func formatPlan(p *copyPolicy) string {
	return "enqueue: " + describeBands(p.in) + "; dequeue: " + describeBands(p.out)
}

func describeBands(bands []sizeBand) string {
	if len(bands) == 0 || (len(bands) == 1 && bands[0].from == 0) {
		k := copyBuiltin
		if len(bands) == 1 {
			k = bands[0].kind
		}
		return k.String()
	}
	var parts []string
	if bands[0].from > 0 {
		parts = append(parts, fmt.Sprintf("builtin <%s", byteSize(bands[0].from)))
	}
	for _, b := range bands {
		parts = append(parts, fmt.Sprintf("%s >=%s", b.kind, byteSize(b.from)))
	}
	return strings.Join(parts, ", ")
}

func byteSize(n int) string {
	switch {
	case n < 0:
		return "?"
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// setCopyPlan is the test hook behind SHQUEUE_COPY_PLAN: it makes pickCopy
// follow the plan text and returns a function restoring the previous policy,
// or the parse error (then nothing changed).
func setCopyPlan(text string) (restore func(), err error) {
	p, err := parsePlan(text)
	if err != nil {
		return nil, err
	}
	p.forced = planEnv
	prev := activePolicy.Swap(p)
	return func() { activePolicy.Store(prev) }, nil
}
