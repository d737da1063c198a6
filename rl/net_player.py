"""A trained AlphaGo Zero net as a `Player` for `goengine gtp --weights`, `goengine play --weights` and
the match referee: goengine's MCTSPlayer searching with PUCT over the net's priors and values
(Silver et al. 2017, Methods "Search algorithm"; `NetEvaluator` in rl/alphago_zero/evaluator.py).

    player = make_net_player("run/best.pt", playouts=200)

Everything a checkpoint can get wrong (missing, unreadable, not a Go net, not an AlphaGo Zero net,
another board size than asked) ends as one `CheckpointError` line naming the file. The net plays only
the board size it was trained for; a game on another size is refused with a one-line error (GTP answers
it as `? ...`) rather than fed planes of the wrong shape.
"""
from __future__ import annotations

import os

import numpy as np

from goengine import coords
from goengine.mcts.player import MCTSPlayer, PlayerConfig
from goengine.mcts.search_config import SearchConfig
from goengine.players import TimeBudget
from goengine.position import Position

NET_NAME = "zero_resnet"
"""The net the AlphaGo Zero loop trains."""
ZERO_NETS = (NET_NAME, "zero_resnet_pruned", "zero_resnet_int8")
"""Nets that play: the loop's, and what `goengine compress` makes of it (nets/compression/: a channel-pruned
ResNet, and the static int8 model run by ONNX Runtime inside the module)."""
ZERO_PLANES = 17
"""Its input: the evaluator's 8 positions of history per colour and the colour to play."""


class NetMCTSPlayer(MCTSPlayer):
    """MCTSPlayer over a net that knows one board size."""

    def __init__(self, board_size: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.board_size = board_size

    def prime(self, rounds: int = 2) -> "NetMCTSPlayer":
        """Search an empty board briefly, then forget the tree: torch sets up its kernels for each batch shape
        at the first forward passes (measured: a Lee player's first 16-playout genmove took 1.2 s, the
        second 0.39 s, the third 0.05 s), and a GTP engine's first moves should keep to the clock too."""
        position = Position(self.board_size, self.search.position.komi if self.search.position else 7.0)
        for _ in range(rounds):
            self._expand_root(position)
            self.search.run(sims=2 * max(1, self.search.config.batch_size))
            self.search.position = None  # the next set_root builds a new tree
        return self

    def _check_size(self, position: Position) -> None:
        if position.size != self.board_size:
            raise ValueError(f"this net plays {self.board_size}x{self.board_size} only, not "
                             f"{position.size}x{position.size}")

    def _expand_root(self, position: Position) -> None:
        # Search.collect sends every walk of a batch to an unexpanded root, so a short search would
        # spend its whole batch there and leave no child visited (best_child would then pick pass):
        # give the root its priors with one leaf first
        self.search.set_root(position)
        if self.search.nodes[0]["first_child"] < 0 and not position.is_over:
            pending = self.search.collect(1)
            priors_BA, values_B = self.search.evaluator.evaluate(pending.batch)
            self.search.apply(pending, priors_BA, values_B)

    def genmove(self, position: Position, colour: str, budget: TimeBudget | None = None) -> str:
        self._check_size(position)
        self._expand_root(self._as_mover(position, colour))
        move = super().genmove(position, colour, budget)
        if move == "pass" and position.last_move != "pass" and has_contested_points(position):
            return self._play_on(self._as_mover(position, colour)) or move
        return move

    def _play_on(self, position: Position) -> str | None:
        """Instead of a first pass on an unsettled board: the most visited root move that fills no own
        eye and is no self-atari (so seki liberties stay open), or None."""
        size = position.size
        order = sorted(self.search.children(), key=lambda c: (int(c["visits"]), float(c["prior"])), reverse=True)
        for child in order:
            if int(child["move"]) == coords.PASS:
                continue
            move = coords.point_to_gtp(int(child["move"]), size)
            if not position.is_legal(move) or position.is_eye_like(move):
                continue
            if position.play(move).liberties(move) >= 2:
                return move
        return None

    def analyze(self, position: Position, colour: str, report, interval_s: float) -> None:
        self._check_size(position)
        super().analyze(position, colour, report, interval_s)


def has_contested_points(position: Position) -> bool:
    """Is there an empty region that touches stones of both colours (or of neither): a point that the
    Tromp-Taylor count of the board as it stands gives to nobody, and play could still give to someone?

    A net player passes first only when there is none (KataGo's `conservativePass` in spirit). Under
    Tromp-Taylor scoring a pass that wins by the count as the board stands is sound, since the opponent
    can play on; but another engine or a person that counts dead stones away may pass back and end the
    game, and a weak net passing on an open board (White at move 4, ahead by komi alone, against GNU Go)
    has won nothing by play."""
    board = position.board_array()
    size = position.size
    seen = np.zeros_like(board, dtype=bool)
    for r in range(size):
        for c in range(size):
            if board[r, c] != 0 or seen[r, c]:
                continue
            seen[r, c] = True
            stack, touches = [(r, c)], set()
            while stack:
                y, x = stack.pop()
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= ny < size and 0 <= nx < size:
                        if board[ny, nx] == 0:
                            if not seen[ny, nx]:
                                seen[ny, nx] = True
                                stack.append((ny, nx))
                        else:
                            touches.add(int(board[ny, nx]))
            if len(touches) != 1:
                return True
    return False


def load_zero_net(weights_path: str | os.PathLike, board_size: int | None = None):
    """(model, meta) from an AlphaGo Zero checkpoint; CheckpointError for anything else."""
    from nets.go.checkpoint import CheckpointError, load

    model, meta = load(weights_path, board_size=board_size)
    if meta.net not in ZERO_NETS:
        raise CheckpointError(f"checkpoint {os.fspath(weights_path)}: a {meta.net!r} net, not an AlphaGo Zero "
                              f"net ({', '.join(map(repr, ZERO_NETS))})")
    planes = meta.config.get("in_planes")
    if planes != ZERO_PLANES:
        raise CheckpointError(f"checkpoint {os.fspath(weights_path)}: the net takes {planes} input planes, "
                              f"not AlphaGo Zero's {ZERO_PLANES}")
    return model, meta


class CachedPolicy:
    """A net's move probabilities for a Position (N² points, then pass), remembered for the last CACHE
    positions; None on a board of another size than the net's. Subclasses give `_policy(position)`."""

    CACHE = 64
    """Positions remembered: root-parallel trees (`--threads 2`) each ask for the same root, and tree reuse
    makes a known node the next root."""

    def __init__(self, board_size: int):
        self.board_size = board_size
        self._cache: dict = {}

    def __call__(self, position: Position) -> np.ndarray | None:
        if position.size != self.board_size:
            return None
        key = (position.komi, tuple(position.history), position.board_array().tobytes())
        if key not in self._cache:
            if len(self._cache) >= self.CACHE:
                self._cache.pop(next(iter(self._cache)))  # the oldest
            self._cache[key] = self._policy(position)
        return self._cache[key]

    def clear(self) -> None:
        """Forget the positions remembered."""
        self._cache.clear()

    def _policy(self, position: Position) -> np.ndarray:
        raise NotImplementedError


class RootPolicy(CachedPolicy):
    """A Zero net's move probabilities for a position, the mean over the 8 board symmetries (one batch of
    8) with illegal moves removed: the root priors of the rollout search (`goengine gtp --root-policy W`,
    Search.add_root_policy), as Pachi gives its tree a net's priors. On a board of another size than the
    net's it gives None, and the search goes on without."""

    def __init__(self, weights_path: str | os.PathLike, threads: int | None = None):
        import torch

        model, meta = load_zero_net(weights_path)
        super().__init__(meta.board_size)
        self.model = model.eval()
        self._torch = torch
        if threads is not None:
            torch.set_num_threads(threads)

    def _policy(self, position: Position) -> np.ndarray:
        from goengine import symmetries
        from goengine.features import extract

        planes = extract(position, "zero")
        batch = np.stack([symmetries.apply_planes(planes, k) for k in range(symmetries.N_SYMMETRIES)])
        with self._torch.inference_mode():
            logits_BA, _ = self.model(self._torch.from_numpy(batch))
            probs_BA = self._torch.softmax(logits_BA.float(), dim=1).numpy()
        mean_A = np.mean([symmetries.apply_policy(probs_BA[k], symmetries.invert(k), self.board_size)
                          for k in range(symmetries.N_SYMMETRIES)], axis=0)
        mean_A = mean_A * position.legal_mask()
        total = mean_A.sum()
        return mean_A / total if total > 0 else mean_A


INFERENCE = ("torch", "ort", "ort-int8")
"""Forward passes the player can run: torch, ONNX Runtime fp32, ONNX Runtime static int8."""


def make_net_player(weights_path: str | os.PathLike, playouts: int | None = None, seconds: float | None = None,
                    seed: int | None = None, *, board_size: int | None = None, resign_threshold: float = 0.1,
                    batch_size: int = 8, inference: str = "torch", threads: int | None = None,
                    search: str | None = None) -> NetMCTSPlayer:
    """The search player over the net at `weights_path`: `playouts` simulations per move, else `seconds`
    per move (default 1 s) when the caller gives no budget. `batch_size` leaves are evaluated per net call,
    by `inference` on `threads` threads (None: torch's setting as it is, all cores unless set; ONNX
    Runtime: one; the command line passes 1 unless told: rl/players.py). int8 calibrates its ranges on
    positions of seeded random games (rl/alphago_zero/ort_evaluator.py). `search` overrides SearchConfig
    fields (`--search c_puct=2`: SearchConfig.overridden)."""
    if inference not in INFERENCE:
        raise ValueError(f"inference must be one of {', '.join(INFERENCE)}, not {inference!r}")
    for name, value in (("playouts", playouts), ("seconds", seconds), ("threads", threads)):
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be positive, not {value}")
    search_config = SearchConfig(batch_size=batch_size, seed=seed or 0).overridden(search)  # before loading
    model, meta = load_zero_net(weights_path, board_size)
    if meta.net == "zero_resnet_int8" and inference != "torch":
        raise ValueError(f"{os.fspath(weights_path)} is an int8 model that runs in ONNX Runtime already; "
                         f"leave --inference out")
    size = meta.board_size
    if inference == "torch":
        import torch

        from rl.alphago_zero.evaluator import NetEvaluator

        if threads is not None:
            torch.set_num_threads(threads)
        evaluator = NetEvaluator(model, size, score_utility=search_config.score_utility)
    elif search_config.score_utility > 0:
        raise ValueError(f"--search score_utility reads the score head, which --inference {inference} does not run; "
                         f"leave --inference out")
    else:
        from rl.alphago_zero.ort_evaluator import OrtEvaluator

        evaluator = OrtEvaluator(model, size, "int8" if inference == "ort-int8" else "fp32",
                                 threads=threads or 1, seed=seed or 0)
    # a search of a few hundred playouts should still be able to resign a lost game
    min_visits = min(500, playouts) if playouts else 500
    config = PlayerConfig(playouts=playouts, seconds=seconds if seconds is not None else 1.0,
                          resign_threshold=resign_threshold, resign_min_visits=min_visits)
    return NetMCTSPlayer(size, config, search_config, evaluator,
                         name=f"goengine-zero-{os.path.basename(os.fspath(weights_path))}")
