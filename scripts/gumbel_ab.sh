#!/usr/bin/env bash
# The A/B of docs/gumbel.md: 5x5 (or SIZE) Zero runs with plain PUCT and with --gumbel at the same --visits (the few-
# simulation regime), equal self-play budget otherwise (same games, steps, seeds), then each pair of final
# nets head to head and each final net against the rollout engine, as PUCT players at 32 playouts, colours
# alternating from seeded random openings. Usage:
#   scripts/gumbel_ab.sh OUT GENERATIONS "SEEDS" GAMES VISITS
# e.g. scripts/gumbel_ab.sh runs/gumbel-ab 10 "1 2" 100 8
# STAGE=train or STAGE=match runs only that half; ROLLOUT_PLAYOUTS sets the rollout engine's playouts,
# OPPONENT another fixed opponent (a `goengine match` spec); SIZE and KOMI another board (default 5, 0.5).
set -euo pipefail
out=${1:-runs/gumbel-ab}; generations=${2:-10}; seeds=${3:-"1 2"}; games=${4:-100}; visits=${5:-8}
goengine="nice -n 10 .venv/bin/goengine"
mkdir -p "$out"
stage=${STAGE:-all}; size=${SIZE:-5}; komi=${KOMI:-0.5}
opponent=${OPPONENT:-"goengine:playouts=${ROLLOUT_PLAYOUTS:-200},seed=4"}
for seed in $seeds; do
  [ "$stage" = match ] && break
  for arm in puct gumbel; do
    run=(--out "$out/$arm-s$seed" --generations "$generations" --workers 0 --threads 1 --no-progress)
    if [ -f "$out/$arm-s$seed/state.json" ]; then
      run+=(--resume)
    else
      run+=(--board-size "$size" --komi "$komi" --net 2x16 --visits "$visits" --parallel-games 32 --leaves-per-game 2
            --temperature-moves 4 --resign-threshold 0 --games 48 --steps 120 --batch-size 128 --lr 0.03
            --window 240 --gate-games 0 --seed "$seed")
      if [ "$arm" = gumbel ]; then run+=(--gumbel); fi
    fi
    $goengine train zero "${run[@]}" 2>> "$out/$arm-s$seed.log"
  done
done
net() { echo "goengine:weights=$out/$1-s$2/nets/gen$(printf %05d "$3").pt,playouts=32,threads=1,seed=$4"; }
for seed in $seeds; do
  [ "$stage" = train ] && break
  $goengine match --black "$(net gumbel "$seed" "$generations" 1)" --white "$(net puct "$seed" "$generations" 2)" \
    --size "$size" --komi "$komi" --games "$games" --random-moves 2 --seed "$seed" --json --no-progress \
    > "$out/match-gumbel-vs-puct-s$seed.json" 2> /dev/null
  for arm in puct gumbel; do
    $goengine match --black "$(net "$arm" "$seed" "$generations" 3)" \
      --white "$opponent" \
      --size "$size" --komi "$komi" --games "$games" --random-moves 2 --seed "$seed" --json --no-progress \
      > "$out/match-$arm-vs-fixed-s$seed.json" 2> /dev/null
  done
done
