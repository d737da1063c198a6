"""AlphaGo Zero's automatic resignation threshold v_resign.

Silver et al. 2017 (Nature 550, Methods "Self-play"): "v_resign is selected automatically to keep the
fraction of false positives below 5%. To measure false positives, we disable resignation in 10% of
self-play games and play until termination." A resignation is false when the side that resigns would have
won. In a resign-disabled game that happens at every threshold above the lowest value the eventual winner
saw (`GameRecord.winner_min_value`: the larger of the root's and the best move's win rate, at full
searches), so over n such games the share of false resignations at threshold t is at most

    #{games whose winner's lowest value < t} / n

(at most: in some of those games the loser would have resigned first). `calibrate` returns the largest t
that keeps this bound at or below the target: the (floor(target * n) + 1)-th smallest of the values. This
is Minigo's reading of the rule too; it is conservative, never loose. A threshold of 0 (no resignation)
comes out when winners routinely fall to win rates near 0, that is while the value net is still poor.

The Zero loop (selfplay/pipelines/zero.py; `ZeroRunConfig.resign_false_positives` in zero_config.py) pools
the values of the most recent resign-disabled games in state.json and sets each generation's threshold from them before
the generation plays, so a resumed generation replays with the same threshold.
"""
from __future__ import annotations

import math
from typing import Iterable

POOL_GAMES = 400
"""Resign-disabled games whose values set the threshold: the most recent ones. At 10% disabled, 128-game
generations add about 13 each, so the pool spans about 30 generations once full."""
MIN_GAMES = 20
"""Fewer resign-disabled games than this: keep the current threshold."""
MAX_THRESHOLD = 0.5
"""Never resign a position the search thinks is even or better."""


def calibrate(winner_min_values: Iterable[float], target: float, *, min_games: int = MIN_GAMES,
              cap: float = MAX_THRESHOLD) -> float | None:
    """The largest threshold whose false-resignation bound over these games is at most `target`; None
    when fewer than `min_games` values are finite (games without a winner, or without a full search by
    it, have NaN and do not count)."""
    if not 0 <= target < 1:
        raise ValueError(f"target must be in [0, 1), not {target}")
    values = sorted(v for v in winner_min_values if math.isfinite(v))
    n = len(values)
    if n < max(min_games, 1):
        return None
    k = math.floor(target * n + 1e-9)  # games allowed to be resigned wrongly
    # values strictly below values[k] number at most k: a threshold equal to it keeps the bound
    threshold = values[k] if k < n else cap
    return min(max(threshold, 0.0), cap)


def false_share(winner_min_values: Iterable[float], threshold: float) -> float:
    """The bound itself: the share of games (finite values) whose winner fell below `threshold`."""
    values = [v for v in winner_min_values if math.isfinite(v)]
    return sum(v < threshold for v in values) / len(values) if values else 0.0
