#!/usr/bin/env bash
# Every fault campaign: each workload with each nemesis, one after another (never two at once),
# and a Markdown table of the results (the README's "Fault campaigns" table).
# Usage: bench/chaos-all.sh [--nodes 5] [--time 60] [--seed 1] [any other Kv.Chaos run option]
# Each campaign's directory is kept under chaos-runs/all-<date>/; the table is printed at the end
# and written to chaos-runs/all-<date>/table.md. Exits 1 if any campaign is not valid.
set -uo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release bench/Kv.Chaos >/dev/null || { echo "build failed" >&2; exit 2; }
root="chaos-runs/all-$(date -u +%Y%m%dT%H%M%S)"
mkdir -p "$root"
table="$root/table.md"
echo "| workload | nemesis | nemesis actions | operations (ok / fail / info) | acknowledged | lost | other checker counts | verdict | wall |" > "$table"
echo "|---|---|---|---|---|---|---|---|---|" >> "$table"
status=0
for workload in register set delete; do
  for nemesis in kill pause partition churn wipe; do
    dir="$root/$workload-$nemesis"
    start=$(date +%s)
    dotnet bench/Kv.Chaos/bin/Release/net10.0/Kv.Chaos.dll run --workload "$workload" --nemesis "$nemesis" --dir "$dir" "$@" > "$root/$workload-$nemesis.out" 2>&1
    rc=$?
    wall=$(( $(date +%s) - start ))
    s="$dir/summary.txt"
    if [ ! -f "$s" ]; then
      echo "| $workload | $nemesis | - | - | - | - | could not run (exit $rc) | ERROR | ${wall} s |" >> "$table"; status=1; continue
    fi
    ops=$(sed -n 's/^operations: \([0-9]*\).*ok \([0-9]*\), fail \([0-9]*\), info \([0-9]*\).*/\1 (\2 \/ \3 \/ \4)/p' "$s")
    nem=$(sed -n 's/^nemesis: //p' "$s")
    counts=$(sed -n 's/^checker [a-z]*: //p' "$s")
    acked=$(echo "$counts" | grep -Eo '(acknowledged|acknowledged-adds|acknowledged-puts) [0-9]+' | head -1 | awk '{print $2}')
    lost=$(echo "$counts" | grep -Eo '(^|, )lost [0-9]+' | awk '{print $NF}')
    other=$(echo "$counts" | sed -E 's/(^|, )(acknowledged[a-z-]*|lost) [0-9]+//g; s/^, //')
    verdict=$(sed -n 's/^verdict: //p' "$s")
    [ "$verdict" = "VALID" ] || status=1
    echo "| $workload | $nemesis | $nem | $ops | ${acked:--} | ${lost:--} | $other | $verdict | ${wall} s |" >> "$table"
    tail -1 "$table"
  done
done
echo
cat "$table"
exit $status
