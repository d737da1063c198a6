"""Input feature planes for the networks: AlphaGo Zero's 17 and AlphaGo Lee's 48 (policy) and 49 (value).

    planes_CNN = extract(position, "zero")      # float32 (C, N, N), [row][col], row 0 = GTP row 1
    num_planes("lee_policy")                    # 48, summed from the registry below
    planes_BCNN = zero_planes_batch(history_BHP, to_play_B, size)   # the search's batch path
    planes_BCNN = lee_planes_batch(leaf_batch, value=False)         # the same for AlphaGo Lee's nets

Feature sets are tuples of registered features; each feature is a small function that declares its plane
count (Minigo's features.py). Hot parts are numba kernels in this package: _zero.py (17 planes over a
batch), _lee.py (per-point quantities of Lee's planes), _ladder.py (the ladder reader).

"zero" (Silver et al. 2017, Methods, "Neural network architecture"): X_t, Y_t for t = 0..7, interleaved
[X_0, Y_0, X_1, Y_1, ...], X the stones of the side to move NOW and Y the opponent's, in the position t
steps back (all zeros before the start), then C: all 1 if Black is to play. Steps are the Position's
`previous` chain (`recent_boards`), so a setup (SGF AB/AW, from_ascii) counts as one step, after the
empty board it was set on.

"lee_policy" / "lee_value" (Silver et al. 2016, Extended Data Table 2, in its order; everything relative
to the side to move, integers one-hot encoded with the last plane for "this or more"):

    planes  feature                value on a point
    0-2     stone colour           mover's stone / opponent's stone / empty
    3       ones                   1
    4-11    turns since            1, 2, ..., >=8 turns since the stone there was played; empty: none
    12-19   liberties              1, ..., >=8 liberties of the chain there; empty: none
    20-27   capture size           0, ..., >=7 opponent stones a move here captures; illegal: none
    28-35   self-atari size        1, ..., >=8 own stones in atari after a move here; none if not atari
    36-43   liberties after move   1, ..., >=8 liberties of the chain of a move here; illegal: none
    44      ladder capture         a move here ataris an opponent chain that then dies in a ladder
    45      ladder escape          a move here saves a chain of ours in atari from the ladder
    46      sensibleness           legal and not filling one of our eyes
    47      zeros                  0
    48      player colour          1 if Black is to play ("lee_value" only)

Where the paper is ambiguous, and what we chose:
  - Counts: the table gives 8 planes but not their values. Capture size uses 0..>=7 (zero is a real
    value: a legal move that captures nothing), the others 1..>=8 (zero means "not applicable").
  - Per-move planes (capture size, self-atari, liberties after, ladders, sensibleness) are set only at
    legal moves, by the Position's rules (superko, suicide). At a finished game nothing is legal.
  - Self-atari size: the size of the mover's chain after the move when it has one liberty (the table's
    "how many of own stones would be captured"); a suicide the rules allow counts its stones too.
  - Turns since: moves, passes included, since the stone now on the point was played. Stones the game
    record did not play (setup, handicap) count as >=8. Empty points have no plane set.
  - Ladder capture: the move leaves an opponent chain that had two liberties in atari, and reading
    (attacker ataris from either side, defender extends or captures an atari'd attacker) captures it.
    Capturing a chain already in atari is a capture, not a ladder capture.
  - Ladder escape: a chain of ours in atari; the move extends it or captures an attacking chain in atari
    touching it, and afterwards the chain has 3+ liberties or 2 from which no ladder captures it. A chain
    in atari in open space therefore "escapes" by extending; nets and other tactics are not read.
  - Ladder reading (_ladder.py) plays only ataris for the attacker and extensions or captures of
    ataried attackers for the defender, ignores superko, and stops at 100 plies or 2000 positions;
    unread questions count as "no ladder".
  - Liberties after move count the points freed by the move's captures.
  - Sensibleness: "own eyes" are eye-like points (`_kernels.is_eye`: all neighbours ours or the edge, at
    most one opponent diagonal, none on the edge), the playouts' rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from goengine import _kernels as K
from goengine.features import _lee as L
from goengine.features._ladder import MAX_NODES, ladder_captured, ladder_work
from goengine.features._zero import HISTORY, ZERO_PLANES, zero_planes_kernel
from goengine.geometry import geometry

__all__ = ["FEATURE_SETS", "extract", "feature_names", "ladder_captured", "lee_planes_batch", "num_planes",
           "turns_since", "zero_planes_batch"]


class Inputs:
    """What feature functions read, computed lazily once: the side to move, recent boards, and the Lee
    quantities. Built from a Position (`from_position`) or from one leaf of a search batch (`from_leaf`)."""

    def __init__(self, size, to_play, boards_fn, state_fn):
        self.size = size
        self.to_play = to_play  # K.BLACK or K.WHITE
        self._boards_fn = boards_fn  # n -> int8 (n, N, N), newest first
        self._state_fn = state_fn  # () -> (s, meta, legal int8 (N*N,), ages int32 (N*N,))
        self._boards = None
        self._lee = None

    @classmethod
    def from_position(cls, position) -> "Inputs":
        def state():
            b = position.board
            return b.s, b.meta, position.legal_mask()[:-1], turns_since(position)
        colour = K.BLACK if position.to_play == "b" else K.WHITE
        return cls(position.size, colour, lambda n: np.stack(position.recent_boards(n)), state)

    @classmethod
    def from_leaf(cls, size, s, meta, history_HP, legal_A) -> "Inputs":
        """One leaf of a LeafBatch: legality under simple ko, turns since from the colour history."""
        g = geometry(size)

        def boards(n):
            out = np.zeros((n, size, size), dtype=np.int8)
            h = min(n, history_HP.shape[0])
            out[:h] = history_HP[:h, g.on_board].reshape(h, size, size)  # (h, N*N) -> (h, N, N)
            return out

        def state():
            ages = np.empty(size * size, dtype=np.int32)
            L.ages_from_history(history_HP[:HISTORY], g.on_board, ages)
            return s, meta, legal_A[:size * size], ages
        return cls(size, int(meta[K.TO_PLAY]), boards, state)

    def boards(self, n: int) -> np.ndarray:
        if self._boards is None or self._boards.shape[0] < n:
            self._boards = self._boards_fn(n)
        return self._boards[:n]

    @property
    def lee(self) -> np.ndarray:
        """int32 (N_QUANTITIES + 1, N, N): rows Q_* of _lee.py, then turns since (row _AGES)."""
        if self._lee is None:
            s, meta, legal, ages = self._state_fn()
            g = geometry(self.size)
            work_s, work_meta = ladder_work(g.n_points)
            q = np.empty((L.N_QUANTITIES + 1, self.size * self.size), dtype=np.int32)
            L.lee_quantities(s, meta, g.neighbours, g.diagonals, g.zobrist, g.on_board,
                             np.ascontiguousarray(legal, dtype=np.int8), work_s, work_meta, MAX_NODES, q)
            q[L.N_QUANTITIES] = ages
            self._lee = q.reshape(L.N_QUANTITIES + 1, self.size, self.size)  # (Q, N*N) -> (Q, N, N)
        return self._lee


_AGES = L.N_QUANTITIES  # the row of Inputs.lee holding turns since


@dataclass(frozen=True)
class Feature:
    name: str
    planes: int
    fn: Callable[[Inputs, np.ndarray], None]  # writes its planes into a zeroed float32 (planes, N, N)


FEATURES: dict[str, Feature] = {}


def feature(name: str, planes: int):
    """Register fn(inputs, out) under `name`; out is its zeroed float32 (planes, N, N) slice."""
    def wrap(fn):
        FEATURES[name] = Feature(name, planes, fn)
        return fn
    return wrap


@feature("zero_history", 2 * HISTORY)
def _zero_history(inputs, out):
    boards = inputs.boards(HISTORY)  # (8, N, N) newest first
    out[0::2] = boards == inputs.to_play  # X_t
    out[1::2] = boards == 3 - inputs.to_play  # Y_t


@feature("colour_to_play", 1)
def _colour_to_play(inputs, out):
    out[:] = inputs.to_play == K.BLACK


@feature("stone_colour", 3)
def _stone_colour(inputs, out):
    colour = inputs.lee[L.Q_COLOUR]
    out[0], out[1], out[2] = colour == 1, colour == 2, colour == 0  # mover, opponent, empty


@feature("ones", 1)
def _ones(inputs, out):
    out[:] = 1.0


@feature("turns_since", 8)
def _turns_since(inputs, out):
    L.one_hot_into(inputs.lee[_AGES], 1, out)


@feature("liberties", 8)
def _liberties(inputs, out):
    L.one_hot_into(inputs.lee[L.Q_LIBERTIES], 1, out)


@feature("capture_size", 8)
def _capture_size(inputs, out):
    L.one_hot_into(inputs.lee[L.Q_CAPTURE], 0, out)


@feature("self_atari_size", 8)
def _self_atari_size(inputs, out):
    L.one_hot_into(inputs.lee[L.Q_SELF_ATARI], 1, out)


@feature("liberties_after_move", 8)
def _liberties_after_move(inputs, out):
    L.one_hot_into(inputs.lee[L.Q_LIBS_AFTER], 1, out)


@feature("ladder_capture", 1)
def _ladder_capture(inputs, out):
    L.one_hot_into(inputs.lee[L.Q_LADDER_CAPTURE], 1, out)


@feature("ladder_escape", 1)
def _ladder_escape(inputs, out):
    L.one_hot_into(inputs.lee[L.Q_LADDER_ESCAPE], 1, out)


@feature("sensibleness", 1)
def _sensibleness(inputs, out):
    L.one_hot_into(inputs.lee[L.Q_SENSIBLE], 1, out)


@feature("zeros", 1)
def _zeros(inputs, out):
    pass  # the planes arrive zeroed


@feature("player_colour", 1)
def _player_colour(inputs, out):
    out[:] = inputs.to_play == K.BLACK


_LEE_POLICY = ("stone_colour", "ones", "turns_since", "liberties", "capture_size", "self_atari_size",
               "liberties_after_move", "ladder_capture", "ladder_escape", "sensibleness", "zeros")
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "zero": ("zero_history", "colour_to_play"),
    "lee_policy": _LEE_POLICY,
    "lee_value": _LEE_POLICY + ("player_colour",),
}


def feature_names(feature_set: str) -> tuple[str, ...]:
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; known: {sorted(FEATURE_SETS)}")
    return FEATURE_SETS[feature_set]


def num_planes(feature_set: str) -> int:
    return sum(FEATURES[name].planes for name in feature_names(feature_set))


def _planes_into(inputs: Inputs, feature_set: str, out: np.ndarray) -> np.ndarray:
    """Write the feature set's planes into a zeroed float32 (C, N, N) array, feature after feature."""
    start = 0
    for name in feature_names(feature_set):
        f = FEATURES[name]
        f.fn(inputs, out[start:start + f.planes])
        start += f.planes
    return out


def _planes(inputs: Inputs, feature_set: str) -> np.ndarray:
    out = np.zeros((num_planes(feature_set), inputs.size, inputs.size), dtype=np.float32)
    return _planes_into(inputs, feature_set, out)


def extract(position, feature_set: str) -> np.ndarray:
    """float32 (C, N, N) planes of `position` for a feature set ("zero", "lee_policy", "lee_value")."""
    return _planes(Inputs.from_position(position), feature_set)


def turns_since(position) -> np.ndarray:
    """int32 (N*N,): moves (passes included) since the stone on each point was played, capped at 8;
    0 on empty points; 8 for stones no recorded move placed (setup). Walks `position.previous`."""
    boards, moved, pos = [position.board_array().reshape(-1)], [], position
    while pos is not None and sum(moved) < HISTORY:
        prev = pos.previous
        moved.append(prev is not None and len(prev.history) < len(pos.history))  # else a setup
        boards.append(prev.board_array().reshape(-1) if prev is not None else np.zeros_like(boards[0]))
        pos = prev
    ages = np.empty(position.size * position.size, dtype=np.int32)
    L.ages_from_steps(np.stack(boards), np.array(moved, dtype=np.int8), HISTORY, ages)
    return ages


def zero_planes_batch(history_BHP: np.ndarray, to_play_B: np.ndarray, size: int) -> np.ndarray:
    """AlphaGo Zero's planes for B leaves: history_BHP int32 (B, H >= 8, n_points), padded colours of each
    leaf and its predecessors newest first (LeafBatch.history); to_play_B 1 Black / 2 White. -> float32
    (B, 17, N, N), equal to extract(position, "zero") of each leaf."""
    g = geometry(size)
    history_BHP = np.asarray(history_BHP)
    if history_BHP.ndim != 3 or history_BHP.shape[1] < HISTORY or history_BHP.shape[2] != g.n_points:
        raise ValueError(f"history must be (B, H>={HISTORY}, {g.n_points}) for size {size}; got {history_BHP.shape}")
    out = np.zeros((history_BHP.shape[0], ZERO_PLANES, size, size), dtype=np.float32)
    zero_planes_kernel(history_BHP, np.asarray(to_play_B), g.on_board, size, out)
    return out


def lee_planes_batch(batch, value: bool = False) -> np.ndarray:
    """AlphaGo Lee's planes (48, or 49 with value=True) for the leaves of a LeafBatch -> float32
    (B, C, N, N). Legality is the batch's (simple ko, no suicide; the root's superko is not known at
    leaves); turns since come from the history rows, exact up to 7 when H >= 8."""
    name = "lee_value" if value else "lee_policy"
    out = np.zeros((len(batch.to_play), num_planes(name), batch.size, batch.size), dtype=np.float32)
    for b in range(len(out)):
        _planes_into(Inputs.from_leaf(batch.size, batch.boards[b], batch.metas[b], batch.history[b],
                                      batch.legal[b]), name, out[b])
    return out
