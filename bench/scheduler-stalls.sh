#!/usr/bin/env bash
# Where the tail latencies of a paced run come from. Runs a YCSB workload against a local 3-node
# cluster at a fixed rate with YCSB-style raw latencies (--raw), while perf records every context
# switch on the machine on the same clock (CLOCK_MONOTONIC). Then it lists the tasks outside our
# processes that held a CPU for >= 3 ms at a time, and counts how many slow operations (> 8 ms)
# overlap such a run, next to how many would by chance (the same operations placed at random).
# On this 2-core VM the task is kdamond (the kernel's DAMON pageout scheme, sampling every 500 ms),
# which the kernel does not preempt: one CPU of two is gone for 3-19 ms about twice a second.
# Needs root for perf (Debian linux-perf, installed if missing).
# Usage: bench/scheduler-stalls.sh [WORKLOAD (default c)] [TARGET ops/s (default 5000)] [SECONDS traced (default 25)]
set -euo pipefail
cd "$(dirname "$0")/.."
WORKLOAD=${1:-c}
TARGET=${2:-5000}
SECONDS_TRACED=${3:-25}
WORK=$(mktemp -d /tmp/kv-stalls.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if ! command -v perf >/dev/null 2>&1; then
  echo "installing linux-perf..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf) >&2
fi

dotnet build -c Release bench/Kv.Bench -v quiet -nologo >&2
# Enough operations to outlast the trace (started two seconds into the run).
OPS=$((TARGET * (SECONDS_TRACED + 10)))
dotnet bench/Kv.Bench/bin/Release/net10.0/Kv.Bench.dll cluster ycsb --workload "$WORKLOAD" --records 100000 \
  --operations "$OPS" --threads 64 --target "$TARGET" --raw "$WORK/raw.csv" > "$WORK/bench.txt" 2>&1 &
BENCH=$!
until grep -q '^# run' "$WORK/bench.txt" 2>/dev/null; do
  kill -0 $BENCH 2>/dev/null || { cat "$WORK/bench.txt"; exit 1; }
  sleep 1
done
sleep 2
perf record -q -k CLOCK_MONOTONIC -e sched:sched_switch -a -o "$WORK/sched.data" -- sleep "$SECONDS_TRACED" >/dev/null 2>&1
wait $BENCH
grep -E '^\[(OVERALL|READ|UPDATE)\], (Throughput|50th|99th|99.9)' "$WORK/bench.txt"

# Runs of at least 3 ms by tasks that are not ours (.NET threads are named ".NET ...", the main
# threads "dotnet"; perf's own threads are left out): "start end comm", in microseconds.
perf script -i "$WORK/sched.data" -F cpu,time,trace 2>/dev/null | awk '
  {
    cpu = $1; t = $2; sub(":", "", t); t = t * 1e6
    prev = ""; next_ = ""
    for (i = 3; i <= NF; i++) {
      if ($i ~ /^prev_comm=/) prev = substr($i, 11)
      if ($i ~ /^next_comm=/) next_ = substr($i, 11)
    }
    if (cpu in since && prev == who[cpu] && t - since[cpu] >= 3000 && prev !~ /^(\.NET|dotnet|perf|swapper)/)
      printf "%.0f %.0f %s\n", since[cpu], t, prev
    since[cpu] = t; who[cpu] = next_
  }' > "$WORK/long.txt"

echo "== tasks outside the cluster holding a CPU >= 3 ms at a time (count, total ms, longest ms)"
awk '{ n[$3]++; s[$3] += $2 - $1; if ($2 - $1 > m[$3]) m[$3] = $2 - $1 }
     END { for (c in n) printf "%-24s %6d %9.1f %7.1f\n", c, n[c], s[c] / 1000, m[c] / 1000 }' "$WORK/long.txt" | sort -k2 -n -r

echo "== slow operations (> 8 ms) during the trace that overlap such a run"
awk -v FS='[ ,]' '
  FILENAME == ARGV[1] { a[++runs] = $1; b[runs] = $2; if (first == "" || $1 < first) first = $1; if ($2 > last) last = $2; next }
  {
    end = $2; lat = $3; start = end - lat
    if (end < first || start > last) next
    ops++
    if (lat <= 8000) next
    slow++
    for (i = 1; i <= runs; i++) if (a[i] < end && b[i] > start) { hit++; break }
    p = 0; for (i = 1; i <= runs; i++) p += (b[i] - a[i] + lat) / (last - first)
    chance += (p > 1 ? 1 : p)
  }
  END {
    printf "operations %d, slow %d (%.2f%%), overlapping %d (%.0f%%), by chance %.0f (%.0f%%)\n",
      ops, slow, 100 * slow / ops, hit, slow ? 100 * hit / slow : 0, chance, slow ? 100 * chance / slow : 0
  }' "$WORK/long.txt" "$WORK/raw.csv"
