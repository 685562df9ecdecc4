#!/usr/bin/env bash
# `npm start`: prepare the machine, then migrate (as MIGRATION_DATABASE_URL, the owner, which
# creates and grants the runtime role) and run API, workers and sequencer (as DATABASE_URL).
set -euo pipefail
source "$(dirname "$0")/ensure-env.sh"
# A bounded old space makes V8 collect the export job's short-lived garbage (proof buffers,
# JSON lines) early: peak RSS of a 200k-event export 230 MiB instead of ~340 MiB (its live heap
# is ~35 MiB; see bench/export.bench.ts). NODE_OPTIONS set by the caller wins.
export NODE_OPTIONS="${NODE_OPTIONS:---max-old-space-size=192}"
exec node bin/claimtrail.mjs start
