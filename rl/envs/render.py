"""Pictures of a board for the envs' render modes: "ansi" (goengine's diagram) and "rgb_array" (numpy only)."""
from __future__ import annotations

import numpy as np

CELL = 24  # pixels between lines
_WOOD = np.array([220, 179, 92], np.uint8)
_LINE = np.array([40, 30, 20], np.uint8)
_STONE = {1: np.array([15, 15, 15], np.uint8), 2: np.array([245, 245, 245], np.uint8)}
_MARK = np.array([200, 30, 30], np.uint8)


def rgb_array(colours: np.ndarray, last_move: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 (H, W, 3) picture of colours[row][col] (0 empty, 1 black, 2 white; row 0 at the bottom, as
    GTP row 1), lines CELL pixels apart, the last move marked by a red dot."""
    size = colours.shape[0]
    side = CELL * (size + 1)
    img = np.empty((side, side, 3), np.uint8)
    img[:] = _WOOD
    lo, hi = CELL, CELL * size
    for i in range(size):
        at = CELL * (i + 1)
        img[at, lo:hi + 1] = _LINE
        img[lo:hi + 1, at] = _LINE
    yy, xx = np.mgrid[-CELL // 2:CELL // 2 + 1, -CELL // 2:CELL // 2 + 1]
    disc = yy * yy + xx * xx <= (CELL * 0.46) ** 2
    dot = yy * yy + xx * xx <= (CELL * 0.15) ** 2
    half = CELL // 2
    for row in range(size):
        for col in range(size):
            c = int(colours[row, col])
            if c not in _STONE:
                continue
            y, x = CELL * (size - row), CELL * (col + 1)  # row 0 is drawn at the bottom
            patch = img[y - half:y + half + 1, x - half:x + half + 1]
            patch[disc] = _STONE[c]
            if last_move == (row, col):
                patch[dot] = _MARK
    return img
