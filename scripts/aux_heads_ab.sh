#!/usr/bin/env bash
# The A/B of docs/aux-heads.md: 5x5 Zero runs with and without --aux-heads at equal self-play budget (same
# games, steps, seeds), then each pair of final nets head to head and each final net against the rollout
# engine, colours alternating from seeded random openings. Usage:
#   scripts/aux_heads_ab.sh OUT GENERATIONS "SEEDS" GAMES
# e.g. scripts/aux_heads_ab.sh runs/aux-ab 15 "1 2" 100
# STAGE=train or STAGE=match runs one half; ROLLOUT_PLAYOUTS sets the rollout engine's playouts
# (16), COMPARE the generations of the head-to-head matches (the last), SIZE the board (5; komi 0.5 and
# 4 opening moves at temperature 1 on 5x5, 8 on 7x7). Finished runs resume, finished matches are kept.
set -euo pipefail
out=${1:-runs/aux-ab}; generations=${2:-15}; seeds=${3:-"1 2"}; games=${4:-100}
goengine="nice -n 10 .venv/bin/goengine"
mkdir -p "$out"
stage=${STAGE:-all}; size=${SIZE:-5}; temperature_moves=$(( size <= 5 ? 4 : 8 ))
for seed in $seeds; do
  [ "$stage" = match ] && break
  for arm in plain aux; do
    run=(--out "$out/$arm-s$seed" --generations "$generations" --workers 0 --threads 1 --no-progress)
    if [ -f "$out/$arm-s$seed/state.json" ]; then
      run+=(--resume)
    else
      run+=(--board-size "$size" --komi 0.5 --net 2x16 --visits 32 --parallel-games 32 --leaves-per-game 2
            --temperature-moves "$temperature_moves" --resign-threshold 0 --games 48 --steps 120
            --batch-size 128 --lr 0.03 --window 240 --gate-games 0 --seed "$seed")
      if [ "$arm" = aux ]; then run+=(--aux-heads); fi
    fi
    $goengine train zero "${run[@]}" 2>> "$out/$arm-s$seed.log"
  done
done
net() { echo "goengine:weights=$out/$1-s$2/nets/gen$(printf %05d "$3").pt,playouts=32,threads=1,seed=$4"; }
for seed in $seeds; do
  [ "$stage" = train ] && break
  for gen in ${COMPARE:-$generations}; do  # head to head at these generations (default: the last)
    [ -s "$out/match-aux-vs-plain-s$seed-g$gen.json" ] && continue
    $goengine match --black "$(net aux "$seed" "$gen" 1)" --white "$(net plain "$seed" "$gen" 2)" \
      --size "$size" --komi 0.5 --games "$games" --random-moves 2 --seed "$seed" --json --no-progress \
      > "$out/match-aux-vs-plain-s$seed-g$gen.json" 2> /dev/null
  done
  for arm in plain aux; do
    [ -s "$out/match-$arm-vs-rollout-s$seed.json" ] && continue
    $goengine match --black "$(net "$arm" "$seed" "$generations" 3)" \
      --white "goengine:playouts=${ROLLOUT_PLAYOUTS:-16},seed=4" \
      --size "$size" --komi 0.5 --games "$games" --random-moves 2 --seed "$seed" --json --no-progress \
      > "$out/match-$arm-vs-rollout-s$seed.json" 2> /dev/null
  done
done
