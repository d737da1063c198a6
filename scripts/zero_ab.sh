#!/usr/bin/env bash
# The A/B harness of docs/gumbel.md and docs/aux-heads.md (scripts/gumbel_ab.sh and aux_heads_ab.sh call
# it): Zero runs of a BASE arm and a VARIANT arm that adds VARIANT_FLAGS, at an equal self-play budget
# otherwise (same games, steps, seeds), then each pair of nets head to head and each final net against a
# fixed opponent, as PUCT players at 32 playouts, colours alternating from seeded random openings.
# Finished runs resume, finished matches are kept. Usage:
#   scripts/zero_ab.sh OUT GENERATIONS "SEEDS" GAMES BASE VARIANT "VARIANT_FLAGS"
# e.g. scripts/zero_ab.sh runs/gumbel-ab 10 "1 2" 100 puct gumbel --gumbel
# Environment: STAGE=train or STAGE=match runs one half; SIZE and KOMI the board (5, 0.5); NET the net
# preset (2x16); VISITS the self-play visits (32); TEMPERATURE_MOVES (4 up to 5x5, else 8); OPPONENT the
# fixed opponent, a `goengine match` spec (the rollout engine at ROLLOUT_PLAYOUTS, 200), and OPPONENT_NAME
# its name in the match files (fixed); COMPARE the generations of the head-to-head matches (the last);
# NET_FLAGS flags of both arms' nets (--no-pool-heads: the A/Bs in README ran with AlphaGo Zero's heads,
# train zero's default before the pooled heads won theirs; a variant's own flags come after and win).
set -euo pipefail
out=$1; generations=$2; seeds=$3; games=$4; base=$5; variant=$6; read -r -a variant_flags <<< "$7"
goengine="nice -n 10 .venv/bin/goengine"
mkdir -p "$out"
stage=${STAGE:-all}; size=${SIZE:-5}; komi=${KOMI:-0.5}; net=${NET:-2x16}; visits=${VISITS:-32}
temperature_moves=${TEMPERATURE_MOVES:-$(( size <= 5 ? 4 : 8 ))}
opponent=${OPPONENT:-"goengine:playouts=${ROLLOUT_PLAYOUTS:-200},seed=4"}; opponent_name=${OPPONENT_NAME:-fixed}
for seed in $seeds; do
  [ "$stage" = match ] && break
  for arm in "$base" "$variant"; do
    run=(--out "$out/$arm-s$seed" --generations "$generations" --workers 0 --threads 1 --no-progress)
    if [ -f "$out/$arm-s$seed/state.json" ]; then
      run+=(--resume)
    else
      run+=(--board-size "$size" --komi "$komi" --net "$net" --visits "$visits" --parallel-games 32 --leaves-per-game 2
            --temperature-moves "$temperature_moves" --resign-threshold 0 --games 48 --steps 120
            --batch-size 128 --lr 0.03 --window 240 --gate-games 0 --seed "$seed" ${NET_FLAGS---no-pool-heads})
      if [ "$arm" = "$variant" ]; then run+=("${variant_flags[@]}"); fi
    fi
    $goengine train zero "${run[@]}" 2>> "$out/$arm-s$seed.log"
  done
done
source "$(dirname "$0")/ab_net.sh"
for seed in $seeds; do
  [ "$stage" = train ] && break
  for gen in ${COMPARE:-$generations}; do
    file="$out/match-$variant-vs-$base-s$seed-g$gen.json"
    [ -s "$file" ] && continue
    $goengine match --black "$(net "$variant" "$seed" "$gen" 1)" --white "$(net "$base" "$seed" "$gen" 2)" \
      --size "$size" --komi "$komi" --games "$games" --random-moves 2 --seed "$seed" --json --no-progress \
      > "$file" 2> /dev/null
  done
  for arm in "$base" "$variant"; do
    file="$out/match-$arm-vs-$opponent_name-s$seed.json"
    [ -s "$file" ] && continue
    $goengine match --black "$(net "$arm" "$seed" "$generations" 3)" --white "$opponent" \
      --size "$size" --komi "$komi" --games "$games" --random-moves 2 --seed "$seed" --json --no-progress \
      > "$file" 2> /dev/null
  done
done
