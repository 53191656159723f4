#!/usr/bin/env bash
# The issue's write anchor in the same run as ours: a 3-member etcd 3.4 cluster (Debian's
# etcd-server, installed if missing) on loopback takes RECORDS durable puts of 1 KB from 64 callers
# (`Kv.Bench etcd put`, through etcd's v3 JSON gateway), then our local 3-node cluster loads the
# same number of 1 KB records (the load phase of `Kv.Bench cluster ycsb`, N=3 W=2 DW=2, per-write
# fsync). RUNS rounds alternate the two; each prints its throughput and latency lines.
# Usage: bench/compare-etcd.sh [RECORDS (default 100000)] [RUNS (default 1)]
#
# CAS mode: bench/compare-etcd.sh cas [OPS (default 20000)] [RUNS (default 1)]
# The same 3-member etcd takes OPS compare-and-swap transactions (`Kv.Bench etcd cas`: POST
# /v3/kv/txn comparing the key's value, put on success, range on failure) from CAS_THREADS callers
# (default 16) over CAS_KEYS keys (default 8) with CAS_VALUE_SIZE-byte values (default 100); then a
# local 3-node Kv cluster with a consistent namespace takes the same load as CompareAndSwapAsync
# calls (`Kv.Bench cluster cas`, Paxos per key). Each prints ops/s, p50/p99 latency, successes,
# mismatches and errors; the round ends with the Kv/etcd throughput ratio. CAS_COMPARE=mod makes
# etcd compare mod_revision instead of the value. Both sides first run the same load for
# CAS_WARMUP seconds (default 20, 0 for none), unmeasured: a just-started .NET node is still
# compiling its hot paths for its first tens of seconds, a Go binary is not.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=put
if [ "${1:-}" = cas ]; then MODE=cas; shift; fi
if [ "$MODE" = cas ]; then RECORDS=${1:-20000}; else RECORDS=${1:-100000}; fi
RUNS=${2:-1}
CAS_THREADS=${CAS_THREADS:-16}
CAS_KEYS=${CAS_KEYS:-8}
CAS_VALUE_SIZE=${CAS_VALUE_SIZE:-100}
CAS_COMPARE=${CAS_COMPARE:-value}
CAS_WARMUP=${CAS_WARMUP:-20}
CAS_ARGS=(--ops "$RECORDS" --threads "$CAS_THREADS" --keys "$CAS_KEYS" --value-size "$CAS_VALUE_SIZE" --warmup-seconds "$CAS_WARMUP")
CAS_LINES='^\[(ETCD|KV)-CAS\], (Throughput|Succeeded|Mismatched|Errors|50th|99th|Return)|^\[(ETCD|KV)-CAS-FAILED\]|^#'
throughput() { grep -E "^\[$1\], Throughput" | awk -F', ' '{print $3}'; }
WORK=$(mktemp -d /tmp/kv-etcd.XXXXXX)
PIDS=()
stop_etcd() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; PIDS=(); }
trap 'stop_etcd; rm -rf "$WORK"' EXIT

if ! command -v etcd >/dev/null 2>&1; then
  echo "installing etcd-server..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server) >&2
fi
dotnet build -c Release bench/Kv.Bench -v quiet -nologo >&2
BENCH="dotnet bench/Kv.Bench/bin/Release/net10.0/Kv.Bench.dll"
etcd --version | sed -n 1p  # sed reads it all: head would close the pipe early (SIGPIPE under pipefail)

CLUSTER=m0=http://127.0.0.1:23800,m1=http://127.0.0.1:23801,m2=http://127.0.0.1:23802
ENDPOINTS=http://127.0.0.1:23790,http://127.0.0.1:23791,http://127.0.0.1:23792
for run in $(seq 1 "$RUNS"); do
  echo "## round $run: etcd"
  rm -rf "$WORK"/m*
  for i in 0 1 2; do
    etcd --name m$i --data-dir "$WORK/m$i" \
      --listen-client-urls http://127.0.0.1:2379$i --advertise-client-urls http://127.0.0.1:2379$i \
      --listen-peer-urls http://127.0.0.1:2380$i --initial-advertise-peer-urls http://127.0.0.1:2380$i \
      --initial-cluster "$CLUSTER" --initial-cluster-state new --initial-cluster-token kv-bench-$run \
      --logger zap --log-level error > "$WORK/m$i.log" 2>&1 &
    PIDS+=($!)
  done
  for _ in $(seq 1 100); do
    if curl -sf http://127.0.0.1:23790/health 2>/dev/null | grep -q '"health":"true"'; then break; fi
    sleep 0.2
  done
  curl -sf http://127.0.0.1:23790/health | grep -q '"health":"true"' || { echo "etcd did not become healthy" >&2; cat "$WORK"/m*.log >&2; exit 1; }
  if [ "$MODE" = cas ]; then
    ETCD_OUT=$($BENCH etcd cas --endpoints "$ENDPOINTS" --compare "$CAS_COMPARE" "${CAS_ARGS[@]}" || true)
    echo "$ETCD_OUT" | grep -E "$CAS_LINES" || true
    stop_etcd
    echo "## round $run: Kv (CAS on a consistent namespace)"
    KV_OUT=$($BENCH cluster cas "${CAS_ARGS[@]}" || true)
    echo "$KV_OUT" | grep -E "$CAS_LINES" || true
    E=$(echo "$ETCD_OUT" | throughput ETCD-CAS || true)
    K=$(echo "$KV_OUT" | throughput KV-CAS || true)
    if [ -n "$E" ] && [ -n "$K" ]; then
      echo "## round $run: Kv/etcd CAS throughput ratio $(awk -v k="$K" -v e="$E" 'BEGIN { printf "%.2f", k / e }') ($K vs $E ops/s)"
    else
      echo "## round $run: Kv/etcd CAS throughput ratio n/a (etcd ${E:-no figure}, Kv ${K:-no figure})"
    fi
    continue
  fi
  $BENCH etcd put --endpoints "$ENDPOINTS" --records "$RECORDS" --threads 64 | grep -E '^\[ETCD\], Throughput|^\[ETCD-PUT\], (50th|99th|Return)|FAILED'
  stop_etcd
  echo "## round $run: Kv (load phase)"
  $BENCH cluster ycsb --workload a --records "$RECORDS" --operations 1000 --threads 64 | grep -E '^\[LOAD\]|^\[INSERT\], (50th|99th|Return)|INSERT-FAILED'
done
