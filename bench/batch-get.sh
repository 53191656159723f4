#!/usr/bin/env bash
# Batches against single requests: keys per second of GetManyAsync (100 keys per call) against 100
# single GetAsync calls one after the other, with the same callers, on a local 3-node cluster of
# Kv.Node processes (Release), alternating rounds, medians. Run it alone on the machine.
# Usage: bench/batch-get.sh [any Kv.Bench cluster batch-get option, e.g. --callers 8 --rounds 5 --seconds 5]
# (on a shared machine: flock /tmp/kv-cpu.lock bench/batch-get.sh ...)
set -uo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release bench/Kv.Bench >/dev/null || { echo "build failed" >&2; exit 2; }
exec dotnet bench/Kv.Bench/bin/Release/net10.0/Kv.Bench.dll cluster batch-get "$@"
