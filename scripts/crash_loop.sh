#!/usr/bin/env bash
# Loop the crash tests under CPU contention and count passes per test.
#   scripts/crash_loop.sh [iterations=20] [out=bench/results/crash_loop.json] [test paths...]
# Without test paths: every crash test, the Kafka broker failures included.
# Two `nice -n 19` busy loops run for the whole loop (the load test starts two more of
# its own). Each iteration is one pytest run of every crash test; a JSON summary with
# the pass count of each test is rewritten after every iteration.
set -uo pipefail
cd "$(dirname "$0")/.."
ITERATIONS=${1:-20}
OUT=${2:-bench/results/crash_loop.json}
TESTS=("${@:3}")
if [ ${#TESTS[@]} -eq 0 ]; then
  TESTS=(tests/e2e/test_crash_safety.py tests/e2e/test_crash_at_load.py
         tests/e2e/test_aggregator_recovery.py tests/e2e/test_broker_restart.py
         tests/e2e/test_kafka_broker_failures.py)
fi
WORK=$(mktemp -d)
busy=()
for _ in 1 2; do nice -n 19 sh -c 'while :; do :; done' & busy+=($!); done
trap 'kill "${busy[@]}" 2>/dev/null' EXIT
mkdir -p "$(dirname "$OUT")"
for i in $(seq 1 "$ITERATIONS"); do
  started=$(date +%s)
  .venv/bin/python -m pytest "${TESTS[@]}" -q -p no:cacheprovider \
    --junitxml="$WORK/run-$i.xml" > "$WORK/run-$i.log" 2>&1
  echo "iteration $i: rc $? in $(( $(date +%s) - started )) s ($WORK/run-$i.log)"
  .venv/bin/python - "$WORK" "$OUT" "$ITERATIONS" <<'PY'
import json, sys, glob
import xml.etree.ElementTree as ET
work, out, planned = sys.argv[1], sys.argv[2], int(sys.argv[3])
counts = {}
for path in sorted(glob.glob(f"{work}/run-*.xml")):
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        passed = not any(child.tag in ("failure", "error", "skipped") for child in case)
        entry = counts.setdefault(name, {"runs": 0, "passed": 0})
        entry["runs"] += 1
        entry["passed"] += passed
json.dump({"planned_iterations": planned, "contention": "2 x nice -n 19 busy loops",
           "tests": counts}, open(out, "w"), indent=2)
PY
done
