"""`SelfPlayConfig`: the settings of AlphaGo Zero self-play (selfplay/worker.py plays by them), checked when
made, so a bad flag fails before a worker starts. The worker's docstring says what each option does to a game.
"""
from __future__ import annotations

from dataclasses import dataclass

from goengine import checks, coords
from goengine.rules import rules_from
from nets.go.presets import ZeroConfig, zero_config

INFERENCE = ("torch", "ort", "ort-int8", "server")
"""Forward-pass backends of self-play: torch, ONNX Runtime fp32, ONNX Runtime static int8 (all in the
worker), or an inference server that merges the batches of many workers (selfplay/inference.py)."""


@dataclass(frozen=True)
class SelfPlayConfig:
    board_size: int = 9
    komi: float = 7.0
    rules: str = "chinese"
    net: ZeroConfig | None = None
    """Architecture of the net the weights belong to; None: preset "6x64" on board_size."""
    visits: int = 200
    """Root visits after each full search (reused subtree visits count, as Leela Zero's --visits)."""
    parallel_games: int = 32
    """Games in flight at once: their leaves share each net call."""
    leaves_per_game: int = 1
    """Leaves each game gathers per round (with virtual loss); more fills batches with fewer games."""
    c_puct: float = 1.5
    fpu_reduction: float = 0.0
    """Unvisited children are valued at the parent's Q minus this. AlphaGo Zero starts them at a neutral
    Q, and Leela Zero and KataGo drop their reduction at a noised root: a reduction makes a small search
    revisit its first child, so visit targets echo the prior, and from a random net self-play then
    collapses onto one habit (on 5x5 with 16-32 visits, the net learns to pass at once)."""
    dirichlet_alpha: float | None = None
    """Dir(alpha) root noise; None: AlphaGo Zero's 0.03 scaled by 361 / N² (0.134 on 9x9)."""
    noise_weight: float = 0.25
    """eps of the root noise (0 disables noise)."""
    temperature_moves: int | None = None
    """Moves sampled in proportion to visits (tau = 1) before playing the most visited; None: AlphaGo
    Zero's 30 scaled by N² / 361 (7 on 9x9)."""
    resign_threshold: float = 0.05
    """Resign when the root's and the best move's win rates are below this (0: never)."""
    resign_disabled_fraction: float = 0.1
    """Share of games played out with resignation disabled, to count false resignations."""
    fast_visits: int = 0
    """Playout-cap randomisation: visits of a fast search (0: every search is full)."""
    full_search_prob: float = 0.25
    """Playout-cap randomisation: probability that a move gets the full search."""
    max_moves: int | None = None
    """Game length cap, scored by area when reached; None: 2 N²."""
    reuse_tree: bool = True
    """Keep the subtree of the move played (AlphaGo Zero does); False searches each move afresh."""
    gumbel: bool = False
    """Gumbel AlphaZero's root search (module docstring): sequential halving with `visits` simulations
    after the root's own evaluation, completed-Q policy targets; trees are then fresh every move."""
    gumbel_m: int = 16
    """Gumbel: moves sampled at the root (the paper's m)."""
    forced_playouts: float = 0.0
    """KataGo's forced playouts and policy target pruning (module docstring), k of n_forced = sqrt(k P N)
    (KataGo: 2); 0: off. PUCT only: Gumbel's root chooses its own children."""
    score_utility: float = 0.0
    """KataGo's score utility: weight w of the score head's margin in the value the search backs up
    (rl/alphago_zero/evaluator.py); needs a net with aux_heads and torch inference; 0: off."""
    seed: int = 0
    net_batch: int = 512
    """Largest batch of one forward pass."""
    inference: str = "torch"
    """Forward-pass backend, one of INFERENCE: "ort" runs the exported net in ONNX Runtime on one thread;
    "ort-int8" quantizes it to int8 for each new weights version, calibrated on positions this worker
    evaluated recently (random games for the first version); "server" sends the planes to the inference
    server the worker is given, and the worker holds no net."""

    def __post_init__(self) -> None:
        if self.inference not in INFERENCE:
            raise ValueError(f"inference must be one of {', '.join(INFERENCE)}, not {self.inference!r}")
        checks.integer("board_size", self.board_size, coords.MIN_SIZE, coords.MAX_SIZE)
        checks.number("komi", self.komi)
        rules_from(self.rules)
        if self.net is not None and not isinstance(self.net, ZeroConfig):
            raise ValueError(f"net must be a ZeroConfig, not {type(self.net).__name__}")
        if self.net is not None:
            self.net_config()  # a net for another board
        for name in ("visits", "parallel_games", "leaves_per_game", "net_batch"):
            checks.integer(name, getattr(self, name), 1)
        checks.integer("fast_visits", self.fast_visits, 0)
        for name in ("temperature_moves", "max_moves"):
            if getattr(self, name) is not None:
                checks.integer(name, getattr(self, name), 0 if name == "temperature_moves" else 1)
        checks.number("c_puct", self.c_puct, 0, low_open=True)
        checks.number("fpu_reduction", self.fpu_reduction)
        if self.dirichlet_alpha is not None:
            checks.number("dirichlet_alpha", self.dirichlet_alpha, 0, low_open=True)
        for name in ("noise_weight", "resign_disabled_fraction", "full_search_prob"):
            checks.number(name, getattr(self, name), 0, 1)
        checks.number("resign_threshold", self.resign_threshold, 0, 1, high_open=True)
        checks.seed("seed", self.seed)
        if self.tree_nodes() >= 2**31:  # the tree's node indices are int32
            raise ValueError(f"visits {max(self.visits, self.fast_visits)} need a search tree of {self.tree_nodes()} "
                             f"nodes on {self.board_size}x{self.board_size}, more than it can index (2^31)")
        if not isinstance(self.reuse_tree, bool):
            raise ValueError(f"reuse_tree must be true or false, not {self.reuse_tree!r}")
        if not isinstance(self.gumbel, bool):
            raise ValueError(f"gumbel must be true or false, not {self.gumbel!r}")
        checks.integer("gumbel_m", self.gumbel_m, 1)
        checks.number("forced_playouts", self.forced_playouts, 0)
        if self.forced_playouts > 0 and self.gumbel:
            raise ValueError("forced_playouts is for PUCT roots; Gumbel's sequential halving chooses its own root "
                             "children")
        if self.score_utility != 0 and self.inference != "torch":
            raise ValueError(f"score_utility reads the score head, which only torch inference runs, not "
                             f"{self.inference!r}")
        checks.number("score_utility", self.score_utility, 0)
        if self.score_utility > 0 and not self.net_config().aux_heads:
            raise ValueError("score_utility needs a net with the score head (aux_heads)")

    def net_config(self) -> ZeroConfig:
        net = self.net if self.net is not None else zero_config("6x64", board_size=self.board_size)
        if net.board_size != self.board_size:
            raise ValueError(f"net is for {net.board_size}x{net.board_size}, self-play is on {self.board_size}")
        return net

    def alpha(self) -> float:
        return self.dirichlet_alpha if self.dirichlet_alpha is not None else 0.03 * 361 / self.board_size ** 2

    def opening_moves(self) -> int:
        if self.temperature_moves is not None:
            return self.temperature_moves
        return max(1, round(30 * self.board_size ** 2 / 361))

    def tree_nodes(self) -> int:
        """Nodes allocated for each game's search tree: (2 visits + 2) expansions of up to N² + 2 nodes,
        and 1024 to spare."""
        visits = max(self.visits, self.fast_visits)
        return (2 * visits + 2) * (self.board_size ** 2 + 2) + 1024

    def move_cap(self) -> int:
        return self.max_moves if self.max_moves is not None else 2 * self.board_size ** 2
