#!/usr/bin/env bash
# Regression tracking for shqueue's benchmarks.
#
# Runs the benchmark suite -count times for the assembly build and for the
# pure-Go build (-tags purego) and prints two benchstat comparisons:
#   1. purego vs asm, on this commit: what the assembly buys;
#   2. testdata/bench/baseline.txt vs this commit (asm build): regressions.
#
# Usage: scripts/bench.sh [-record] [-quick]
#   -record   also write this run's asm results to testdata/bench/baseline.txt
#             (do it on a quiet machine and commit the file with a message
#             saying on which machine and why the baseline moved)
#   -quick    -count 3 and a short -benchtime, for a fast look
#
# Environment (defaults in brackets):
#   BENCH      benchmark regexp [PingPong|Throughput|Queue: the queue end to
#              end, about 2 minutes per build; BENCH=. adds the copy and ring
#              micro-benchmarks, about an hour per build at -count 10]
#   BENCHTIME  go test -benchtime [100ms]
#   COUNT      runs of each benchmark [10]
#   OUT        directory for the raw outputs [a new temporary directory]
#   RECORD=1   same as -record
#
# Benchmarks measure; nothing here asserts on speed. Run it on an otherwise
# idle machine: benchstat's p-values assume the noise does not change between
# the runs it compares, and a spinning peer competes with anything else that
# runs on the CPUs.
set -euo pipefail

cd "$(dirname "$0")/.."
record=${RECORD:-0}
BENCH=${BENCH:-PingPong|Throughput|Queue}
BENCHTIME=${BENCHTIME:-100ms}
COUNT=${COUNT:-10}
for arg in "$@"; do
	case "$arg" in
	-record) record=1 ;;
	-quick) COUNT=3 BENCHTIME=50ms ;;
	-h | -help | --help)
		sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench.sh: unknown argument $arg (try -h)" >&2
		exit 2
		;;
	esac
done

if ! command -v benchstat >/dev/null 2>&1; then
	gobin=$(go env GOBIN)
	gobin=${gobin:-$(go env GOPATH)/bin}
	if [ ! -x "$gobin/benchstat" ]; then
		echo "bench.sh: installing benchstat" >&2
		go install golang.org/x/perf/cmd/benchstat@latest
	fi
	PATH=$gobin:$PATH
fi

OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/shqueue-bench.XXXXXX")}
mkdir -p "$OUT"
baseline=testdata/bench/baseline.txt

run() { # name, extra go test flags...
	local name=$1
	shift
	echo "bench.sh: $name build: -bench '$BENCH' -benchtime $BENCHTIME -count $COUNT -> $OUT/$name.txt" >&2
	go test "$@" -run '^$' -bench "$BENCH" -benchtime "$BENCHTIME" -count "$COUNT" ./... >"$OUT/$name.txt"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
run asm
run purego -tags purego

echo
echo "== purego (old) vs asm (new), this commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
benchstat purego="$OUT/purego.txt" asm="$OUT/asm.txt"

if [ -f "$baseline" ]; then
	echo
	echo "== $baseline (old) vs this commit (new), asm build"
	benchstat baseline="$baseline" head="$OUT/asm.txt"
else
	echo "bench.sh: no $baseline yet; record one with -record" >&2
fi

if [ "$record" = 1 ]; then
	{
		echo "# shqueue benchmark baseline: scripts/bench.sh -record"
		echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(go version | cut -d' ' -f3-), -benchtime $BENCHTIME -count $COUNT"
		echo "# load average before / after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
		grep -v '^#' "$OUT/asm.txt"
	} >"$baseline"
	echo "bench.sh: recorded $baseline" >&2
fi
echo "bench.sh: raw results in $OUT" >&2
