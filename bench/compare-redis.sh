#!/usr/bin/env bash
# One Kv node's RESP port against redis-server 7 and Garnet, with redis-benchmark
# (-c 50 -d 100 -t set,get, unpipelined and -P 16), at like durability:
#   everysec: Redis appendfsync everysec, Garnet --aof-commit-freq 1000, Kv kv.storage.sync-mode = interval (1 s), dw = 0
#   always:   Redis appendfsync always,  Kv sync-mode = per-write (group commit), dw = 1
# Kv runs one copy of each key (its RESP namespace with n-val = r = w = 1, and so its hash, set and list
# keyspaces, which a GET of a missing key also looks in for WRONGTYPE), as Redis and Garnet keep one.
# Each case runs RUNS times; medians of requests/s and the ratios Kv / Redis and Kv / Garnet are printed,
# with the error replies each server counted over all its runs (INFO stats total_error_replies).
# Each server's CPU time (user + system, from /proc) over its unpipelined runs is printed per request:
# the server's cost of a request, apart from redis-benchmark's, which shares the machine with it.
# Every server first takes the same load for WARMUP seconds (default 20, 0 for none), unmeasured:
# a just-started .NET process (Kv, Garnet) is still compiling its hot paths then, a C binary is not.
# Kv runs with the GC settings its own launchers give a node (NodeEnvironment: DOTNET_GCgen0size).
# Usage: bench/compare-redis.sh [N requests per run, default 100000] [RUNS, default 3]
# Hold the machine's CPU lock around it where one is shared: flock /tmp/kv-cpu.lock bench/compare-redis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
RUNS=${2:-3}
WARMUP=${WARMUP:-20}
WORK=$(mktemp -d /tmp/kv-compare-redis.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$WORK"; }
trap cleanup EXIT

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "installing redis-server and redis-tools (apt)"
  apt-get install -y redis-server redis-tools >/dev/null || { apt-get update >/dev/null && apt-get install -y redis-server redis-tools >/dev/null; }
fi
GARNET=""
TOOLS=bench/.tools
if [ -x "$TOOLS/garnet-server" ]; then GARNET="$TOOLS/garnet-server";
elif command -v garnet-server >/dev/null; then GARNET=$(command -v garnet-server);
elif dotnet tool install garnet-server --tool-path "$TOOLS" >/dev/null 2>&1 && [ -x "$TOOLS/garnet-server" ]; then GARNET="$TOOLS/garnet-server";
else echo "Garnet could not be installed (dotnet tool install garnet-server): its rows are left out"; fi
[ -n "$GARNET" ] && GARNET="$(cd "$(dirname "$GARNET")" && pwd)/$(basename "$GARNET")" # it runs in its own directory

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.2; done; echo "port $1 did not answer PING"; return 1; }

# One redis-benchmark run: prints "set_rps get_rps".
bench() {
  local port=$1 pipeline=$2
  redis-benchmark -p "$port" -c 50 -d 100 -t set,get -n "$N" -P "$pipeline" -r 100000 --csv 2>/dev/null \
    | awk -F'"' '/^"SET"/{s=$4} /^"GET"/{g=$4} END{print s, g}'
}
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A RESULT
errors() { redis-cli -p "$1" info stats 2>/dev/null | tr -d '\r' | awk -F: '/^total_error_replies:/{print $2}'; }
warm_up() { # port: the same load, unmeasured, until WARMUP seconds have passed
  local until=$(( $(date +%s) + WARMUP ))
  while [ "$(date +%s)" -lt "$until" ]; do bench "$1" 1 >/dev/null; bench "$1" 16 >/dev/null; done
}
CLK=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; } # utime + stime, after the (comm) field
measure() { # name port (the server is the last process started)
  local name=$1 port=$2 before pid=${PIDS[-1]} t0
  warm_up "$port"
  before=$(errors "$port")
  for p in 1 16; do
    local sets=() gets=()
    t0=$(cpu_ticks "$pid")
    for _ in $(seq 1 "$RUNS"); do read -r s g < <(bench "$port" "$p"); sets+=("$s"); gets+=("$g"); done
    if [ "$p" = 1 ]; then
      RESULT[$name,cpu]=$(awk -v t="$(( $(cpu_ticks "$pid") - t0 ))" -v clk="$CLK" -v n="$(( RUNS * 2 * N ))" 'BEGIN{printf "%.1f", t / clk * 1e6 / n}')
      echo "  $name: ${RESULT[$name,cpu]} us of server CPU per request (user + system, unpipelined SET and GET)"
    fi
    RESULT[$name,set,$p]=$(printf '%s\n' "${sets[@]}" | median)
    RESULT[$name,get,$p]=$(printf '%s\n' "${gets[@]}" | median)
    echo "  $name -P $p: SET ${RESULT[$name,set,$p]}/s GET ${RESULT[$name,get,$p]}/s (medians of $RUNS)"
  done
  local after; after=$(errors "$port")
  if [ -n "$before" ] && [ -n "$after" ]; then echo "  $name: $((after - before)) error replies in all its runs"; else echo "  $name: error replies not counted (no total_error_replies in INFO stats)"; fi
}

start_redis() { # fsync-mode
  local port; port=$(free_port)
  mkdir -p "$WORK/redis-$1"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$WORK/redis-$1" --appendonly yes --appendfsync "$1" --save "" --daemonize no >"$WORK/redis-$1.log" 2>&1 &
  PIDS+=($!); wait_port "$port"; PORT=$port
}
start_garnet() { # AOF under the checkpoint directory; RandomAccess: the native device needs libaio, which a host may lack
  local port; port=$(free_port)
  mkdir -p "$WORK/garnet"
  (cd "$WORK/garnet" && exec "$GARNET" --port "$port" --bind 127.0.0.1 --aof --aof-commit-freq 1000 --checkpointdir "$WORK/garnet" --device-type RandomAccess) >"$WORK/garnet.log" 2>&1 &
  PIDS+=($!); PORT=$port
  wait_port "$port" || { echo "Garnet did not start (its rows are left out):"; grep -v '^   at' "$WORK/garnet.log" | tail -5; stop_last; return 1; }
}
KV_DLL=src/Kv.Node/bin/Release/net10.0/Kv.Node.dll
[ -f "$KV_DLL" ] || dotnet build src/Kv.Node -c Release >/dev/null
TYPE_SPACES=()
for ns in resp-hashes resp-sets resp-lists; do
  TYPE_SPACES+=(--kv.namespaces.$ns.n-val=1 --kv.namespaces.$ns.r=1 --kv.namespaces.$ns.w=1 --kv.namespaces.$ns.dw=DW)
done
start_kv() { # sync-mode dw
  local port resp; port=$(free_port); resp=$(free_port)
  env DOTNET_GCgen0size="${DOTNET_GCgen0size:-0x10000000}" dotnet "$KV_DLL" --data-dir "$WORK/kv-$1" --host 127.0.0.1 --port "$port" --kv.http.port=0 --kv.resp.port="$resp" \
    --kv.storage.sync-mode="$1" --kv.storage.sync-interval=1s \
    --kv.namespaces.resp.n-val=1 --kv.namespaces.resp.r=1 --kv.namespaces.resp.w=1 --kv.namespaces.resp.dw="$2" \
    "${TYPE_SPACES[@]/DW/$2}" \
    --kv.actor.log-level=warning >"$WORK/kv-$1.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 300); do redis-cli -p "$resp" set kv:ready 1 2>/dev/null | grep -q OK && break; sleep 0.2; done
  PORT=$resp
}
stop_last() { local p=${PIDS[-1]}; kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; unset 'PIDS[-1]'; }

echo "redis-benchmark -c 50 -d 100 -t set,get -n $N, $RUNS runs each after a ${WARMUP} s unmeasured warm-up; $(nproc) cores; $(redis-server --version | cut -d' ' -f3)"
echo "== fsync once a second"
start_redis everysec; measure redis-everysec "$PORT"; stop_last
if [ -n "$GARNET" ]; then if start_garnet; then measure garnet "$PORT"; stop_last; else GARNET=""; fi; fi
start_kv interval 0; measure kv-interval "$PORT"; stop_last
echo "== fsync per write"
start_redis always; measure redis-always "$PORT"; stop_last
start_kv per-write 1; measure kv-per-write "$PORT"; stop_last

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2fx", a/b; else print "n/a" }'; }
echo "== server CPU per request, unpipelined (us, user + system)"
line="Redis everysec ${RESULT[redis-everysec,cpu]}"
[ -n "$GARNET" ] && line="$line, Garnet ${RESULT[garnet,cpu]}"
echo "$line, Kv interval ${RESULT[kv-interval,cpu]}; Redis always ${RESULT[redis-always,cpu]}, Kv per-write ${RESULT[kv-per-write,cpu]}"
echo "== ratios (Kv / other, requests per second)"
for p in 1 16; do
  for op in set get; do
    line="-P $p ${op^^}: Kv/Redis (everysec) $(ratio "${RESULT[kv-interval,$op,$p]}" "${RESULT[redis-everysec,$op,$p]}")"
    [ -n "$GARNET" ] && line="$line, Kv/Garnet $(ratio "${RESULT[kv-interval,$op,$p]}" "${RESULT[garnet,$op,$p]}")"
    line="$line, Kv/Redis (always) $(ratio "${RESULT[kv-per-write,$op,$p]}" "${RESULT[redis-always,$op,$p]}")"
    echo "$line"
  done
done
