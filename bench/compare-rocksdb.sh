#!/usr/bin/env bash
# Runs Kv.Storage's benchmark and RocksDB's db_bench (Debian rocksdb-tools) with the same
# parameters in the same run, and prints both figures and the ratio ours / RocksDB for
# fillrandom and readrandom (1 thread, no sync) and fillrandom with sync on 8 threads.
# db_bench runs with Kv.Storage's defaults (bloom filter, memtable size, levels; see ROCKS_LIKE_KV):
# before 2026-12-06 it ran with its own (no bloom filter, 64 MiB memtables), which flattered our
# readrandom.
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

# db_bench gets Kv.Storage's defaults (src/Kv.Storage/StorageOptions.cs, StorageEnvironment.cs)
# wherever db_bench's own differ, so the ratio compares the engines, not their settings:
ROCKS_LIKE_KV=(
  --bloom_bits=10                         # BloomBitsPerKey 10: a whole-table (full) filter, as Kv's; db_bench has none by default
  --write_buffer_size=16777216            # WriteBufferSize 16 MiB (db_bench: 64 MiB; Kv varies each memtable +-25%, RocksDB does not)
  --max_write_buffer_number=3             # one active + MaxImmutableMemtables 2 waiting for flush (db_bench: 2 in all)
  --block_size=4096                       # BlockSize 4 KiB (db_bench's default too; stated so it cannot drift)
  --level0_file_num_compaction_trigger=4  # L0CompactionTrigger 4 (same default)
  --level0_slowdown_writes_trigger=12     # L0SlowdownTrigger 12 (db_bench: 20)
  --level0_stop_writes_trigger=20         # L0StopTrigger 20 (db_bench: 36)
  --max_bytes_for_level_base=67108864     # L1MaxBytes 64 MiB (db_bench: 256 MiB)
  --max_bytes_for_level_multiplier=10     # LevelMultiplier 10 (same default)
  --target_file_size_base=8388608         # TargetFileSize 8 MiB (db_bench: 64 MiB)
  --max_background_jobs=2                 # 1 flush thread + max(1, cores/2) compaction threads = 2 on this 2-core machine
  --cache_index_and_filter_blocks=false   # Kv keeps each open table's index and filter in memory, outside the block cache
  --compression_type=none                 # Kv does not compress (db_bench: snappy)
  --cache_size=$CACHE                     # the same block cache size (db_bench: 8 MiB)
  --disable_wal=false                     # both write a WAL; fsync only with --sync
  --histogram=1                           # percentiles, to print beside Kv's p50 / p99
)

run_rocks() { # benchmarks threads num sync
  "$DB_BENCH" --benchmarks="$1" --threads="$2" --num="$3" --sync="$4" --key_size=16 --value_size=100 \
    "${ROCKS_LIKE_KV[@]}" --db="$WORK/rocks" 2>&1
}
run_kv() { # benchmarks threads num sync
  local sync=""; [ "$4" = 1 ] && sync="--sync"
  $KV --benchmarks "$1" --threads "$2" --num "$3" --key-size 16 --value-size 100 $sync --cache-size $CACHE --db "$WORK/kv"
}

echo "== RocksDB $($DB_BENCH --version 2>/dev/null | head -1 || true)"
R1=$(run_rocks fillrandom,readrandom 1 "$NUM" 0); echo "$R1" | grep -E '^(fillrandom|readrandom)|^Percentiles'
R2=$(run_rocks fillrandom 8 "$SYNC_NUM" 1); echo "$R2" | grep -E '^fillrandom|^Percentiles'
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
