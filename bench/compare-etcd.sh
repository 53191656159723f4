#!/usr/bin/env bash
# The issue's write anchor in the same run as ours: a 3-member etcd 3.4 cluster (Debian's
# etcd-server, installed if missing) on loopback takes RECORDS durable puts of 1 KB from 64 callers
# (`Kv.Bench etcd put`, through etcd's v3 JSON gateway), then our local 3-node cluster loads the
# same number of 1 KB records (the load phase of `Kv.Bench cluster ycsb`, N=3 W=2 DW=2, per-write
# fsync). RUNS rounds alternate the two; each prints its throughput and latency lines.
# Usage: bench/compare-etcd.sh [RECORDS (default 100000)] [RUNS (default 1)]
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-100000}
RUNS=${2:-1}
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
etcd --version | head -1

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
  $BENCH etcd put --endpoints "$ENDPOINTS" --records "$RECORDS" --threads 64 | grep -E '^\[ETCD\], Throughput|^\[ETCD-PUT\], (50th|99th|Return)|FAILED'
  stop_etcd
  echo "## round $run: Kv (load phase)"
  $BENCH cluster ycsb --workload a --records "$RECORDS" --operations 1000 --threads 64 | grep -E '^\[LOAD\]|^\[INSERT\], (50th|99th|Return)|INSERT-FAILED'
done
