"""The net players `goengine gtp`, `goengine play` and the match referee can ask for, as the
`goengine.players` entry points that goengine/player_registry.py looks up (pyproject.toml names them):

    zero   --weights RUN_DIR/best.pt      rl/net_player.py: PUCT search over an AlphaGo Zero net
    lee    --lee LEE_RUN_DIR              rl/alphago_lee/player.py: AlphaGo Lee's search (policy priors,
                                          value net mixed with rollouts by --lambda)

Each takes the parsed flags of goengine.player_registry.add_player_arguments (already checked there) and
returns a Player with a `board_size`, primed (its first moves keep to the clock: NetMCTSPlayer.prime).
"""
from __future__ import annotations


def zero_from_args(args):
    from rl.net_player import make_net_player

    return make_net_player(args.weights, args.playouts, args.seconds, args.seed,
                           resign_threshold=getattr(args, "resign_threshold", 0.1),
                           inference=getattr(args, "inference", None) or "torch",
                           threads=getattr(args, "threads", None)).prime()


def lee_from_args(args):
    if getattr(args, "inference", None) not in (None, "torch"):
        raise ValueError("--inference is for --weights; an AlphaGo Lee player runs its nets in torch")
    from rl.alphago_lee.player import make_lee_player

    lam = getattr(args, "lam", None)
    return make_lee_player(args.lee, playouts=args.playouts, seconds=args.seconds, seed=args.seed,
                           lam=0.5 if lam is None else lam, threads=getattr(args, "threads", None),
                           resign_threshold=getattr(args, "resign_threshold", 0.1)).prime()
