#!/usr/bin/env bash
# The test command from the README: restore, build (warnings are errors), run every test project.
set -euo pipefail
cd "$(dirname "$0")"
# The dashboard spec (tests/Kv.Node.Tests/OpsSpec.cs) drives Debian's chromium headless through
# Playwright's driver (shipped in the Microsoft.Playwright package, so nothing is downloaded here).
if ! command -v chromium > /dev/null 2>&1; then
  (apt-get install -y -qq chromium > /dev/null 2>&1 || { apt-get update -qq > /dev/null 2>&1 && apt-get install -y -qq chromium > /dev/null 2>&1; }) \
    || echo "test.sh: could not install chromium; the dashboard spec will fail" >&2
fi
dotnet restore Kv.sln
dotnet build Kv.sln --no-restore -c Debug
# redis-cli for the RESP front end's spec (skipped, saying so, where it cannot be installed).
command -v redis-cli >/dev/null || apt-get install -y redis-tools >/dev/null 2>&1 || echo "redis-cli not installed: RespSpec's redis-cli check is skipped"
status=0
# One test assembly at a time: the process-level specs start real nodes, and 2 cores are few.
export VSTEST_CONNECTION_TIMEOUT=300
dotnet test Kv.sln --no-build -c Debug -m:1 --logger "console;verbosity=normal" 2>&1 | tee /tmp/kv-test-output.txt || status=$?
# One plain summary line, counted across test assemblies.
count() { { grep -Eo "^ +$1: +[0-9]+" /tmp/kv-test-output.txt || true; } | awk '{s+=$2} END {print s+0}'; }
passed=$(count Passed)
failed=$(count Failed)
skipped=$(count Skipped)
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
# The failed tests by name, last, where a short tail of the log still shows them.
grep -E "^ +Failed [A-Za-z]" /tmp/kv-test-output.txt | sed 's/^ */failed: /' || true
[ "${status}" -eq 0 ] && [ "${failed}" -eq 0 ] && [ "${passed}" -gt 0 ]
