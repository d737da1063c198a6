"""The player a command line asks for: the flags shared by `goengine gtp` and `goengine play`, and the
registry through which players of upper packages (a trained net, AlphaGo Lee) are found.

    random          --engine random                          goengine.players.RandomPlayer
    rollout engine  (default)                                goengine.mcts.player.MCTSPlayer, heavy playouts
                    [--root-policy W]                        + a net's root priors: entry point
                                                               goengine.policies:zero
                    [--playout-policy R/rollout.pt]          + AlphaGo's p_pi in the playouts:
                                                               goengine.policies:rollout
    zero            --weights RUN_DIR/best.pt                entry point goengine.players:zero
    lee             --lee LEE_RUN_DIR [--lambda L]           entry point goengine.players:lee

goengine imports neither torch nor rl: a net player is a `goengine.players` entry point (pyproject.toml),
a function `from_args(args) -> Player` that reads the same flags, looked up by name when asked for. Any
installed package can add one the same way.
"""
from __future__ import annotations

from importlib.metadata import entry_points

from goengine import checks
from goengine.players import RandomPlayer

ENTRY_POINT_GROUP = "goengine.players"
POLICY_GROUP = "goengine.policies"
"""Entry points that load the playout engine's learned knowledge from a checkpoint (torch lives in rl):
`zero`, a callable Position -> priors or None, a net's policy for the rollout tree (`--root-policy W`);
`rollout`, a goengine.mcts.rollout_policy.RolloutPolicy for the playouts (`--playout-policy R/rollout.pt`)."""


def registered_players(group: str = ENTRY_POINT_GROUP) -> dict[str, object]:
    """name -> entry point of every net player installed (with POLICY_GROUP: of every playout-engine policy)."""
    return {ep.name: ep for ep in entry_points(group=group)}


def load_player_factory(name: str, group: str = ENTRY_POINT_GROUP):
    """The `from_args` function registered as `name`; ValueError if no installed package offers it."""
    found = registered_players(group)
    if name not in found:
        what = "player" if group == ENTRY_POINT_GROUP else "policy"
        raise ValueError(f"no {name!r} {what} is installed (entry points of group {group!r}: "
                         f"{', '.join(sorted(found)) or 'none'}); install goengine with its [rl] extra")
    return found[name].load()


def add_player_arguments(parser) -> None:
    """The flags that choose and tune the engine's player, shared by `goengine gtp` and `goengine play`."""
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--playouts", type=int, default=None, help="simulations per move")
    budget.add_argument("--seconds", type=float, default=None,
                        help="mean seconds per move (default 1): a decided move stops early and a hard one "
                             "may use the time saved, up to 3x; a GTP game clock makes it a hard limit")
    parser.add_argument("--engine", choices=("mcts", "random"), default="mcts",
                        help="mcts: tree search with playouts (default); random: random sensible moves")
    parser.add_argument("--light", action="store_true", help="uniform random playouts instead of heavy ones")
    parser.add_argument("--resign-threshold", type=float, default=0.1,
                        help="resign below this win rate (0: never)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the player")
    nets = parser.add_mutually_exclusive_group()
    nets.add_argument("--weights", default=None,
                      help="AlphaGo Zero checkpoint (RUN_DIR/best.pt): the search uses this net's priors and values")
    nets.add_argument("--lee", default=None, metavar="LEE_RUN_DIR",
                      help="AlphaGo Lee: the folder `goengine train lee` wrote (sl.pt, value.pt, rollout.pt): "
                           "SL-policy priors, leaf value mixing the value net and rollouts")
    parser.add_argument("--lambda", dest="lam", type=float, default=None,
                        help="with --lee: weight of the rollout result in the leaf value, 0..1 (default 0.5)")
    parser.add_argument("--lee-search", default=None, choices=("puct", "rave"),
                        help="with --lee: puct (default), the paper's search, SL priors at every leaf and leaves "
                             "valued by --lambda; rave, the playout engine's tree given the SL policy's priors at "
                             "the root (and with --search prior_policy_visits=N at every node reaching N visits, "
                             "the paper's expansion threshold), leaves valued by the playouts (lambda 1)")
    parser.add_argument("--inference", choices=("torch", "ort", "ort-int8"), default=None,
                        help="with --weights: the net's forward pass in torch (default), ONNX Runtime fp32, or "
                             "ONNX Runtime static int8 (about 2x faster on a CPU)")
    parser.add_argument("--root-policy", default=None, metavar="WEIGHTS",
                        help="playout engine: a Zero checkpoint whose policy (mean of the 8 symmetries) gives the "
                             "root's moves prior_policy * P pseudo-wins, once a move (Pachi's DCNN prior); with "
                             "--search prior_policy_visits=N also every node that reaches N visits")
    parser.add_argument("--playout-policy", default=None, metavar="ROLLOUT_PT",
                        help="playout engine: the playouts follow AlphaGo's trained rollout policy p_pi (the "
                             "rollout.pt of `goengine train lee rollout`) instead of the heavy policy")
    parser.add_argument("--dynkomi", type=int, default=None, metavar="MOVES",
                        help="playout engine, handicap games: linear dynamic komi (Pachi's), 7 points a handicap "
                             "stone at the first move falling to the real komi at move MOVES (default 0: off)")
    parser.add_argument("--search", default=None, metavar="KEY=VALUE,...",
                        help="override search parameters (goengine/mcts/search_config.py SearchConfig), e.g. "
                             "rave_equiv=2000,prior_even=20 for the playout engine or c_puct=2 for a net")
    parser.add_argument("--threads", type=int, default=None,
                        help="playout engine: search threads (default 1; N >= 2 searches N trees at once and sums "
                             "their root statistics); with --weights or --lee: threads of the net's forward pass "
                             "(default 1: more gain little at these batch sizes and collapse when another "
                             "process holds a core)")


def make_player(args):
    """The Player that the flags of add_player_arguments describe (search imports stay lazy)."""
    engine = getattr(args, "engine", "mcts")
    seed = getattr(args, "seed", None)
    playouts, seconds = getattr(args, "playouts", None), getattr(args, "seconds", None)
    threshold = getattr(args, "resign_threshold", 0.1)
    inference, threads = getattr(args, "inference", None), getattr(args, "threads", None)
    if seed is not None:
        checks.seed("--seed", seed)
    if playouts is not None:
        checks.integer("--playouts", playouts, 1)
    if seconds is not None:
        checks.number("--seconds", seconds, 0, low_open=True)
    if threads is not None:
        checks.integer("--threads", threads, 1)
    checks.number("--resign-threshold", threshold, 0, 1, high_open=True)
    search = getattr(args, "search", None)
    if engine == "random":
        given = [flag for flag, value in (("--playouts", playouts), ("--seconds", seconds), ("--threads", threads),
                                          ("--weights", getattr(args, "weights", None)),
                                          ("--lee", getattr(args, "lee", None)), ("--inference", inference),
                                          ("--search", search), ("--root-policy", getattr(args, "root_policy", None)),
                                          ("--dynkomi", getattr(args, "dynkomi", None)),
                                          ("--playout-policy", getattr(args, "playout_policy", None)))
                 if value is not None]
        if given:
            raise ValueError(f"--engine random plays without a search: {', '.join(given)} would do nothing")
        return RandomPlayer(seed)
    from goengine.mcts.evaluators import RolloutEvaluator
    from goengine.mcts.player import MCTSPlayer, PlayerConfig
    from goengine.mcts.search_config import SearchConfig

    search_config = SearchConfig(seed=seed or 0).overridden(search)  # a bad key fails before a net loads

    net = "zero" if getattr(args, "weights", None) else "lee" if getattr(args, "lee", None) else None
    if search_config.score_utility > 0 and net != "zero":
        raise ValueError("--search score_utility is for a Zero net with the score head (--weights)")
    root_policy, dynkomi = getattr(args, "root_policy", None), getattr(args, "dynkomi", None)
    if net is not None and root_policy is not None:
        raise ValueError(f"--root-policy is for the playout engine; --{'weights' if net == 'zero' else 'lee'} "
                         f"searches with its net's priors at every node")
    if net is not None and dynkomi is not None:
        raise ValueError("--dynkomi is for the playout engine (a net's value is trained at the real komi)")
    playout_policy = getattr(args, "playout_policy", None)
    if net is not None and playout_policy is not None:
        raise ValueError("--playout-policy is for the playout engine (--lee plays its own rollout.pt)")
    if playout_policy is not None and getattr(args, "light", False):
        raise ValueError("--light and --playout-policy both choose the playouts: give one")
    if dynkomi is not None:
        checks.integer("--dynkomi", dynkomi, 0)
    if net is None:
        lam = getattr(args, "lam", None)
        for flag, value in (("--inference", inference), ("--lambda", lam),
                            ("--lee-search", getattr(args, "lee_search", None))):
            if value is not None:
                raise ValueError(f"{flag} is for a net player (--weights or --lee)")
    else:
        if getattr(args, "lam", None) is not None:
            if net != "lee":
                raise ValueError("--lambda is for --lee")
            checks.number("--lambda", args.lam, 0, 1)
        if getattr(args, "lee_search", None) is not None and net != "lee":
            raise ValueError("--lee-search is for --lee")
        player = load_player_factory(net)(args)  # torch is imported only when a net plays
        size = getattr(args, "size", None)
        if getattr(args, "command", None) == "gtp":
            args.size = player.board_size  # GTP starts on the net's board; boardsize may not change it
        elif size is not None and size != player.board_size:
            source = args.weights if net == "zero" else args.lee
            raise ValueError(f"{source} plays {player.board_size}x{player.board_size}, not {size}x{size}")
        return player
    config = PlayerConfig(playouts=playouts, seconds=seconds if seconds is not None else 1.0,
                          resign_threshold=threshold, threads=threads or 1, dynkomi_moves=dynkomi or 0)
    rollout = load_player_factory("rollout", POLICY_GROUP)(args) if playout_policy is not None else None
    evaluator = RolloutEvaluator(heavy=not getattr(args, "light", False), policy=rollout)
    policy = load_player_factory("zero", POLICY_GROUP)(args) if root_policy is not None else None
    return MCTSPlayer(config, search_config, evaluator, root_policy=policy)
