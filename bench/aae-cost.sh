#!/usr/bin/env bash
# What active anti-entropy and hinted handoff cost a healthy cluster: YCSB workload A against a
# local 3-node cluster, alternating runs with them at their defaults ("on") and off (kv.aae.enabled
# = off, and sloppy-quorum off in the namespace, so no hint is ever taken), same hour, same machine.
# Usage: bench/aae-cost.sh [--pairs 3] [any Kv.Bench cluster ycsb option, e.g. --records 20000 --operations 200000 --threads 32]
# Prints each run's throughput and p99, then the median of each side and the difference.
set -uo pipefail
cd "$(dirname "$0")/.."
pairs=3
if [ "${1:-}" = "--pairs" ]; then pairs=$2; shift 2; fi
dotnet build -c Release bench/Kv.Bench >/dev/null || { echo "build failed" >&2; exit 2; }
opts=("$@")
[ ${#opts[@]} -eq 0 ] && opts=(--records 20000 --operations 200000 --threads 32)
out=$(mktemp -d)
run() { # $1: label, $2: node settings
  local f="$out/$1-$3.txt"
  if [ -n "$2" ]; then
    dotnet bench/Kv.Bench/bin/Release/net10.0/Kv.Bench.dll cluster ycsb --workload a "${opts[@]}" --node-settings "$2" > "$f" 2>&1
  else
    dotnet bench/Kv.Bench/bin/Release/net10.0/Kv.Bench.dll cluster ycsb --workload a "${opts[@]}" > "$f" 2>&1
  fi
  local ops fails p99
  ops=$(sed -n 's/^\[OVERALL\], Throughput(ops\/sec), //p' "$f")
  fails=$(sed -n 's/^\[OVERALL\], Failures, //p' "$f")
  p99=$(grep -E '^\[(READ|UPDATE)\], 99thPercentileLatency' "$f" | awk -F', ' '{printf "%s p99 %s us; ", $1, $3}')
  echo "$1 run $3: ${ops:-?} ops/s, failures ${fails:-?}; ${p99}" | tee -a "$out/summary"
  echo "${ops:-0}" >> "$out/$1.ops"
}
for i in $(seq 1 "$pairs"); do
  run on "" "$i"
  run off "kv.aae.enabled=off,kv.namespaces.ycsb.sloppy-quorum=off" "$i"
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
on=$(median "$out/on.ops"); off=$(median "$out/off.ops")
echo "median on (anti-entropy and hints at their defaults): $on ops/s; off: $off ops/s; cost: $(awk -v a="$on" -v b="$off" 'BEGIN { if (b > 0) printf "%.1f%%", (b - a) * 100 / b; else print "?" }')"
echo "(raw outputs in $out)"
