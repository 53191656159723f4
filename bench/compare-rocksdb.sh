#!/usr/bin/env bash
# Runs Kv.Storage's benchmark and RocksDB's db_bench (Debian rocksdb-tools) with the same
# parameters in the same run, and prints both figures and the ratio ours / RocksDB for
# fillrandom and readrandom (1 thread, no sync) and fillrandom with sync on 8 threads.
# Usage: bench/compare-rocksdb.sh [NUM (default 1000000)] [SYNC_NUM per thread (default 10000)]
set -euo pipefail
cd "$(dirname "$0")/.."
NUM=${1:-1000000}
SYNC_NUM=${2:-10000}
CACHE=$((256 * 1024 * 1024))   # both engines get the same block cache: Kv's node default
WORK=$(mktemp -d /tmp/kv-compare.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if ! command -v db_bench >/dev/null 2>&1 && ! [ -x /usr/bin/rocksdb_db_bench ]; then
  echo "installing rocksdb-tools (db_bench)..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rocksdb-tools) >&2
fi
DB_BENCH=$(command -v db_bench || command -v rocksdb_db_bench || echo /usr/bin/rocksdb_db_bench)

dotnet build -c Release bench/Kv.Bench -v quiet -nologo >&2
KV="dotnet bench/Kv.Bench/bin/Release/net10.0/Kv.Bench.dll storage"

ops() { awk -v name="$1" '$1 == name || $1 == name":" { for (i = 1; i <= NF; i++) if ($i == "ops/s" || $i == "ops/sec" || $i == "ops/sec;") { print $(i-1); exit } }'; }

run_rocks() { # benchmarks threads num sync
  "$DB_BENCH" --benchmarks="$1" --threads="$2" --num="$3" --sync="$4" --key_size=16 --value_size=100 \
    --compression_type=none --cache_size=$CACHE --db="$WORK/rocks" --disable_wal=false 2>&1
}
run_kv() { # benchmarks threads num sync
  local sync=""; [ "$4" = 1 ] && sync="--sync"
  $KV --benchmarks "$1" --threads "$2" --num "$3" --key-size 16 --value-size 100 $sync --cache-size $CACHE --db "$WORK/kv"
}

echo "== RocksDB $($DB_BENCH --version 2>/dev/null | head -1 || true)"
R1=$(run_rocks fillrandom,readrandom 1 "$NUM" 0); echo "$R1" | grep -E '^(fillrandom|readrandom)'
R2=$(run_rocks fillrandom 8 "$SYNC_NUM" 1); echo "$R2" | grep -E '^fillrandom'
echo "== Kv.Storage"
K1=$(run_kv fillrandom,readrandom 1 "$NUM" 0); echo "$K1" | grep -E '^(fillrandom|readrandom)'
K2=$(run_kv fillrandom 8 "$SYNC_NUM" 1); echo "$K2" | grep -E '^fillrandom'

printf '\n%-34s %12s %12s %8s\n' "benchmark" "Kv ops/s" "RocksDB" "ratio"
row() {
  local kv rocks; kv=$(echo "$2" | ops "$3"); rocks=$(echo "$4" | ops "$3")
  printf '%-34s %12s %12s %8s\n' "$1" "$kv" "$rocks" "$(awk -v a="$kv" -v b="$rocks" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
}
row "fillrandom (1 thread, no sync)" "$K1" fillrandom "$R1"
row "readrandom (1 thread)" "$K1" readrandom "$R1"
row "fillrandom (8 threads, sync)" "$K2" fillrandom "$R2"
