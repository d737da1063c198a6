"""ASCII diagrams of boards: render with GTP coordinates, and parse the diagrams the tests are written in.

Diagrams list the top row (GTP row N) first. Stones: X (or B, #, x) black, O (or W, o) white; empty: . or +.
Spaces are ignored, and so are coordinate labels around the grid when rendering output is parsed back.
"""
from __future__ import annotations

import numpy as np

from goengine.coords import GTP_COLUMNS

_BLACK_CHARS = set("XxB#@")
_WHITE_CHARS = set("OoW")
_EMPTY_CHARS = set(".+,")


def parse(diagram: str) -> np.ndarray:
    """Diagram text -> int8 (size, size) colours in [row][col], row 0 at the bottom."""
    rows = []
    for line in diagram.strip("\n").splitlines():
        cells = [ch for ch in line if ch in _BLACK_CHARS | _WHITE_CHARS | _EMPTY_CHARS]
        if cells:
            rows.append([1 if ch in _BLACK_CHARS else 2 if ch in _WHITE_CHARS else 0 for ch in cells])
    size = len(rows)
    if size == 0 or any(len(r) != size for r in rows):
        raise ValueError(f"diagram is not a square grid: {len(rows)} rows of lengths {[len(r) for r in rows]}")
    return np.array(rows[::-1], dtype=np.int8)


def render(colours: np.ndarray, last_move: tuple[int, int] | None = None) -> str:
    """int8 (size, size) colours -> text with GTP column letters and row numbers; the last move is
    bracketed, as GNU Go's showboard does."""
    size = colours.shape[0]
    letters = "   " + " ".join(GTP_COLUMNS[:size])
    lines = [letters]
    for row in range(size - 1, -1, -1):
        tokens = [" "]  # separator, cell, separator, cell, ..., separator
        for col in range(size):
            ch = ".XO"[colours[row, col]]
            if ch == "." and _is_star(row, col, size):
                ch = "+"
            tokens += [ch, " "]
        if last_move is not None and last_move[0] == row:
            tokens[2 * last_move[1]] = "("
            tokens[2 * last_move[1] + 2] = ")"
        lines.append(f"{row + 1:2d}{''.join(tokens)}{row + 1}")
    lines.append(letters)
    return "\n".join(lines)


def _is_star(row: int, col: int, size: int) -> bool:
    if size < 7:
        return False
    edge = 2 if size < 13 else 3
    lines = {edge, size - 1 - edge}
    if size % 2 == 1 and size >= 9:
        lines.add(size // 2)
    return row in lines and col in lines
