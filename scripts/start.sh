#!/usr/bin/env bash
# `npm start`: prepare the machine, then migrate and run API, workers and sequencer.
set -euo pipefail
source "$(dirname "$0")/ensure-env.sh"
exec node bin/claimtrail.mjs start
