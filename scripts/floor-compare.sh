#!/usr/bin/env bash
# Side-by-side rounds of the C floor programs and shqueue, for the ratios in
# README.md ("Performance") and docs/performance.md ("Quiet machine, side by
# side"). Each round runs every C program right before the shqueue figure it
# is compared with, so both see the same vCPU placement.
#
# Usage: scripts/floor-compare.sh [ROUNDS]   (default 5; about 20-40 s a round)
#
# Needs a C compiler for the floor programs (FLOOR: their source directory,
# default ../shared/floor). Run it on an otherwise idle machine; it prints the
# raw lines of every program, one block per round.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
floor=${FLOOR:-../shared/floor}
out=$(mktemp -d "${TMPDIR:-/tmp}/shqueue-floor.XXXXXX")
make -s -C "$floor" BIN="$out" >/dev/null
go build -o "$out/shqueue" ./cmd/shqueue
go test -c -o "$out/shqueue.test" .
common=(-q -check ends -wakeups 0 -idle 0)
# The C programs pin their first process (ping-pong initiator, ring producer)
# to CPU 0 and the other to CPU 1. shqueue bench pins its measuring side first:
# the initiator for latency, but the consumer for throughput, so the
# throughput runs name the CPUs the other way round to match the C ring. On
# the VM docs/performance.md describes the assignment alone moved the C ring
# from 12 to 28 M msgs/s at 64 B.
ring=(-cpus 1,0)
for r in $(seq 1 "$rounds"); do
	echo "== round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
	echo "-- C pingpong"; "$out/pingpong" msg -s 64 -n 200000 | tail -1
	echo "-- shqueue latency"; "$out/shqueue" bench "${common[@]}" -transports shqueue-spin,shqueue-spsc,shqueue-spin-1g,shqueue-spsc-1g -sizes 64 -n 100000 -maxtime 2s
	echo "-- C ring 64"; "$out/spsc" -s 64 -seq -n 3000000
	echo "-- shqueue throughput"; "$out/shqueue" bench "${common[@]}" "${ring[@]}" -transports shqueue-spin,shqueue-spsc,shqueue-spin-1g,shqueue-spsc-1g -sizes 64 -n 10000 -tn 3000000 -maxtime 2s
	echo "-- batch"; "$out/shqueue" bench "${common[@]}" "${ring[@]}" -transports shqueue-batch1,shqueue-batch8,shqueue-batch32,shqueue-batch256 -sizes 64,512 -tn 3000000 -maxtime 1s
	echo "-- C ring 512"; "$out/spsc" -s 512 -seq -n 2000000
	echo "-- C ring 4K"; "$out/spsc" -s 4096 -seq -n 1000000
	echo "-- C ring 64K"; "$out/spsc" -s 65536 -seq -n 50000
	echo "-- C ring 1M"; "$out/spsc" -s 1048576 -seq -n 4000
	echo "-- zero-copy"; "$out/shqueue" bench "${common[@]}" "${ring[@]}" -transports shqueue-zc,shqueue-spin -sizes 4KiB,64KiB,1MiB -maxtime 1s
	echo "-- ring, auto copy plan"; "$out/shqueue.test" -test.run '^$' -test.bench '^BenchmarkCopyRing$/impl=auto/size=(4KiB|64KiB|1MiB)$' -test.benchtime 1s | grep '^Benchmark'
done
rm -rf "$out"
