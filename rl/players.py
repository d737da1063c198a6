"""The net players `goengine gtp`, `goengine play` and the match referee can ask for, as the
`goengine.players` entry points that goengine/player_registry.py looks up (pyproject.toml names them):

    zero   --weights RUN_DIR/best.pt      rl/net_player.py: PUCT search over an AlphaGo Zero net
    lee    --lee LEE_RUN_DIR              rl/alphago_lee/player.py: AlphaGo Lee's search (policy priors,
                                          value net mixed with rollouts by --lambda; --lee-search rave: the
                                          rollout engine's tree with the SL priors)

Each takes the parsed flags of goengine.player_registry.add_player_arguments (already checked there) and
returns a Player with a `board_size`, primed (its first moves keep to the clock: NetMCTSPlayer.prime).
"""
from __future__ import annotations

FORWARD_THREADS = 1
"""Threads of a net player's forward pass unless --threads says otherwise. Its batches are small (8 leaves),
so a second thread gains little on a free machine (measured on 2 cores, 9x9, 1 s a move: 1.3x the
playouts of a 6x64 Zero net, 1.1x of a 6x32 Lee pair), while torch's threads spin at every barrier when
another process holds a core: with the other core busy, 2 threads made 25-36 playouts a second against
1,400-1,900 on one."""


def zero_from_args(args):
    from rl.net_player import make_net_player

    return make_net_player(args.weights, args.playouts, args.seconds, args.seed,
                           resign_threshold=getattr(args, "resign_threshold", 0.1),
                           inference=getattr(args, "inference", None) or "torch",
                           threads=getattr(args, "threads", None) or FORWARD_THREADS,
                           search=getattr(args, "search", None)).prime()


def lee_from_args(args):
    if getattr(args, "inference", None) not in (None, "torch"):
        raise ValueError("--inference is for --weights; an AlphaGo Lee player runs its nets in torch")
    from rl.alphago_lee.player import make_lee_player

    lam, tree = getattr(args, "lam", None), getattr(args, "lee_search", None) or "puct"
    return make_lee_player(args.lee, playouts=args.playouts, seconds=args.seconds, seed=args.seed, tree=tree,
                           lam=(1.0 if tree == "rave" else 0.5) if lam is None else lam, threads=getattr(args, "threads", None) or FORWARD_THREADS,
                           resign_threshold=getattr(args, "resign_threshold", 0.1),
                           search=getattr(args, "search", None)).prime()


def zero_policy_from_args(args):
    """The root policy of `--root-policy W` (goengine.policies entry point): rl/net_player.py RootPolicy."""
    from rl.net_player import RootPolicy

    return RootPolicy(args.root_policy, threads=getattr(args, "threads", None) or FORWARD_THREADS)


def rollout_policy_from_args(args):
    """The playouts of `--playout-policy R/rollout.pt` (goengine.policies entry point): p_pi's numba policy."""
    from rl.alphago_lee.rollout import load_rollout_policy

    return load_rollout_policy(args.playout_policy)
