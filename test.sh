#!/usr/bin/env bash
# The test command from the README: restore, build (warnings are errors), run every test project.
set -euo pipefail
cd "$(dirname "$0")"
dotnet restore Kv.sln
dotnet build Kv.sln --no-restore -c Debug
dotnet test Kv.sln --no-build -c Debug --logger "console;verbosity=normal" 2>&1 | tee /tmp/kv-test-output.txt
# One plain summary line, counted across test assemblies.
passed=$(grep -Eo 'Passed: +[0-9]+' /tmp/kv-test-output.txt | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' /tmp/kv-test-output.txt | awk '{s+=$2} END {print s+0}')
skipped=$(grep -Eo 'Skipped: +[0-9]+' /tmp/kv-test-output.txt | awk '{s+=$2} END {print s+0}')
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
[ "${failed}" -eq 0 ] && [ "${passed}" -gt 0 ]
