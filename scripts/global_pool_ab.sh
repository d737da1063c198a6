#!/usr/bin/env bash
# The A/B of KataGo's global pooling (README, "Learning faster per core-hour"): the plain net against
# `--global-pool` (a pooled bias in every residual block) and against `--pool-heads` (pooled policy and
# value heads), at an equal self-play budget, on SIZE x SIZE (7, komi 9; 9, komi 7). Usage:
#   scripts/global_pool_ab.sh OUT GENERATIONS "SEEDS" GAMES
# e.g. SIZE=7 KOMI=9 scripts/global_pool_ab.sh runs/gpool-ab7 20 "1 2 3 4" 100
# The plain runs are trained once and shared by both comparisons.
set -euo pipefail
here=$(dirname "$0")
export SIZE=${SIZE:-7} KOMI=${KOMI:-9}
export OPPONENT="goengine:playouts=${ROLLOUT_PLAYOUTS:-8},seed=4" OPPONENT_NAME="rollout${ROLLOUT_PLAYOUTS:-8}"
out=${1:-runs/gpool-ab}; generations=${2:-20}; seeds=${3:-"1 2"}; games=${4:-100}
export COMPARE=${COMPARE:-"$(( generations / 2 )) $generations"}
"$here/zero_ab.sh" "$out" "$generations" "$seeds" "$games" plain gpool --global-pool
"$here/zero_ab.sh" "$out" "$generations" "$seeds" "$games" plain pheads --pool-heads
