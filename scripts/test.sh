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
npx vitest run "$@"
