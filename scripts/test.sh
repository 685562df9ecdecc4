#!/usr/bin/env bash
# `npm test`: prepare the machine, lint, type-check, then every test against real services.
# The run creates its own database and Redis key prefix (test/setup/global-setup.ts).
set -euo pipefail
source "$(dirname "$0")/ensure-env.sh"
echo "== lint (biome)"
npx biome check .
echo "== type-check (tsc)"
npx tsc -p tsconfig.json --noEmit
echo "== tests (vitest)"
results=$(mktemp)
rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || rc=$?
# A plain closing line ("N passed, N failed") that any CI log reader understands.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
' "$results" 2>/dev/null || true
rm -f "$results"
exit "$rc"
