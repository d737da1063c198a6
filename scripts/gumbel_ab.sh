#!/usr/bin/env bash
# The A/B of docs/gumbel.md: 5x5 (or SIZE) Zero runs with plain PUCT and with --gumbel at the same --visits (the few-
# simulation regime), equal self-play budget otherwise (same games, steps, seeds), then each pair of final
# nets head to head and each final net against the rollout engine, as PUCT players at 32 playouts, colours
# alternating from seeded random openings (scripts/zero_ab.sh). Usage:
#   scripts/gumbel_ab.sh OUT GENERATIONS "SEEDS" GAMES VISITS
# e.g. scripts/gumbel_ab.sh runs/gumbel-ab 10 "1 2" 100 8
# STAGE=train or STAGE=match runs only that half; ROLLOUT_PLAYOUTS sets the rollout engine's playouts,
# OPPONENT another fixed opponent (a `goengine match` spec); SIZE and KOMI another board (default 5, 0.5).
set -euo pipefail
VISITS=${5:-8} TEMPERATURE_MOVES=4 \
  exec "$(dirname "$0")/zero_ab.sh" "${1:-runs/gumbel-ab}" "${2:-10}" "${3:-"1 2"}" "${4:-100}" puct gumbel --gumbel
