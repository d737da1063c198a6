# Sourced by the Zero A/B scripts (zero_ab.sh, global_pool_ab.sh): the match spec of a run's net, as a PUCT
# player at 32 playouts. Usage: net ARM SEED GENERATION PLAYER_SEED, with $out the A/B's folder.
net() { echo "goengine:weights=$out/$1-s$2/nets/gen$(printf %05d "$3").pt,playouts=32,threads=1,seed=$4"; }
