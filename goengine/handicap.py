"""GTP's fixed handicap placement (GTP 2 spec, section 4.1.1), checked against GNU Go in the tests.

Corner stones sit on the third line on boards smaller than 13x13, else on the fourth. Up to 9 stones on
odd boards of 9x9 and larger, up to 4 on 7x7 and even boards, none below 7x7.
"""
from __future__ import annotations

from goengine.coords import row_col_to_gtp


def max_fixed_handicap(size: int) -> int:
    if size < 7:
        return 0
    if size % 2 == 1 and size >= 9:
        return 9
    return 4


def fixed_handicap_vertices(stones: int, size: int) -> list[str]:
    """The GTP vertices of `stones` fixed handicap stones, in placement order. ValueError if invalid."""
    limit = max_fixed_handicap(size)
    if not 2 <= stones <= limit:
        raise ValueError(f"invalid handicap {stones} for a {size}x{size} board (2 to {limit} allowed)" if limit
                         else f"no fixed handicap on a {size}x{size} board")
    edge = 2 if size < 13 else 3  # 0-based index of the corner line
    lo, hi, mid = edge, size - 1 - edge, size // 2
    corners = [(lo, lo), (hi, hi), (hi, lo), (lo, hi)]  # row, col: D4 Q16 D16 Q4 on 19x19
    sides = [(mid, lo), (mid, hi), (lo, mid), (hi, mid)]  # D10 Q10 K4 K16
    points = corners[: min(stones, 4)]
    if stones >= 6:
        points += sides[: 2 if stones < 8 else 4]
    if stones in (5, 7, 9):
        points.append((mid, mid))
    return [row_col_to_gtp(r, c) for r, c in points]
