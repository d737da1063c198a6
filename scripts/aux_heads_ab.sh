#!/usr/bin/env bash
# The A/B of docs/aux-heads.md: 5x5 Zero runs with and without --aux-heads at equal self-play budget (same
# games, steps, seeds), then each pair of final nets head to head and each final net against the rollout
# engine, colours alternating from seeded random openings (scripts/zero_ab.sh). Usage:
#   scripts/aux_heads_ab.sh OUT GENERATIONS "SEEDS" GAMES
# e.g. scripts/aux_heads_ab.sh runs/aux-ab 15 "1 2" 100
# STAGE=train or STAGE=match runs one half; ROLLOUT_PLAYOUTS sets the rollout engine's playouts
# (16), COMPARE the generations of the head-to-head matches (the last), SIZE the board (5; komi 0.5 and
# 4 opening moves at temperature 1 on 5x5, 8 on 7x7). Finished runs resume, finished matches are kept.
set -euo pipefail
OPPONENT="goengine:playouts=${ROLLOUT_PLAYOUTS:-16},seed=4" OPPONENT_NAME=rollout VISITS=32 \
  exec "$(dirname "$0")/zero_ab.sh" "${1:-runs/aux-ab}" "${2:-15}" "${3:-"1 2"}" "${4:-100}" plain aux --aux-heads
