"""goengine: a numba-accelerated Go board, Monte-Carlo tree search, feature planes and a GTP engine.

Start reading at position.py (`Position`, the immutable API), then board.py (the mutable fast path for
search) and _kernels.py (the numba kernels both stand on). coords.py is the only place that converts
coordinates. Beside them: rules.py, handicap.py, sgf.py, features/ (network input planes), symmetries.py,
mcts/ (search), gtp/ (the protocol), play.py and match.py (the terminal game and the referee).
This package imports neither torch nor ray.
"""
from goengine import _jit_cache

_jit_cache.pin()  # before any kernel is defined: see _jit_cache.py

from goengine.board import Board  # noqa: E402
from goengine.position import IllegalMove, Position, result_string  # noqa: E402
from goengine.rules import Rules  # noqa: E402

__all__ = ["Board", "IllegalMove", "Position", "Rules", "result_string"]
__version__ = "0.1.0"
