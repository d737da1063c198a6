#!/usr/bin/env bash
# The A/B of KataGo's global pooling (README, "Learning faster per core-hour"): the plain net against
# `--global-pool` (a pooled bias in every residual block) and against `--pool-heads` (pooled policy and
# value heads), at an equal self-play budget, on SIZE x SIZE (7, komi 9; 9, komi 7). Usage:
#   scripts/global_pool_ab.sh OUT GENERATIONS "SEEDS" GAMES
# e.g. SIZE=7 KOMI=9 scripts/global_pool_ab.sh runs/gpool-ab7 20 "1 2 3 4" 100
# The plain runs are trained once and shared by both comparisons; last, the pooled heads at half the
# self-play against the plain net at the end.
set -euo pipefail
here=$(dirname "$0")
export SIZE=${SIZE:-7} KOMI=${KOMI:-9}
export OPPONENT="goengine:playouts=${ROLLOUT_PLAYOUTS:-8},seed=4" OPPONENT_NAME="rollout${ROLLOUT_PLAYOUTS:-8}"
out=${1:-runs/gpool-ab}; generations=${2:-20}; seeds=${3:-"1 2"}; games=${4:-100}
export COMPARE=${COMPARE:-"$(( generations / 2 )) $generations"}
"$here/zero_ab.sh" "$out" "$generations" "$seeds" "$games" plain gpool --global-pool
"$here/zero_ab.sh" "$out" "$generations" "$seeds" "$games" plain pheads --pool-heads
# The pooled heads at half the self-play (generation GENERATIONS / 2) against the plain net at the end.
half=$(( generations / 2 ))
source "$(dirname "$0")/ab_net.sh"
for seed in $seeds; do
  file="$out/match-pheads-g$half-vs-plain-g$generations-s$seed.json"
  [ -s "$file" ] && continue
  nice -n 10 .venv/bin/goengine match --black "$(net pheads "$seed" "$half" 1)" --white "$(net plain "$seed" "$generations" 2)" \
    --size "$SIZE" --komi "$KOMI" --games "$games" --random-moves 2 --seed "$seed" --json --no-progress > "$file" 2> /dev/null
done
