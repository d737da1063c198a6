"""The only place that converts between coordinate systems.

Four systems name a point of an N x N board (row 0 is the bottom row, GTP row 1; column 0 is column A):

    system            type          lower-left (A1)   upper-right              pass
    padded point      int           W + 1             N*W + N                  PASS = 0
    action index      int           0                 N*N - 1                  N*N
    sgfmill (row,col) (int, int)    (0, 0)            (N-1, N-1)               None
    GTP vertex        str           "A1"              "T19" on 19x19           "pass"

where W = N + 2 is the padded width: the padded board is (N+2) x (N+2) with a ring of wall points, so
padded point p = (row + 1) * W + (col + 1) and every on-board point has four neighbours p±1, p±W.
GTP letters skip "I" (A..H, J..Z), which caps GTP boards at 25x25. Vertices are case-insensitive.
"""
from __future__ import annotations

PASS = 0  # padded point 0 is a wall corner, never a legal move: a free value for "pass"
MAX_SIZE = 25
MIN_SIZE = 2
GTP_COLUMNS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"


def padded_width(size: int) -> int:
    return size + 2


def point(row: int, col: int, size: int) -> int:
    """sgfmill (row, col) -> padded point."""
    return (row + 1) * (size + 2) + col + 1


def row_col(p: int, size: int) -> tuple[int, int]:
    """Padded point -> sgfmill (row, col). Not defined for PASS."""
    w = size + 2
    return p // w - 1, p % w - 1


def point_to_action(p: int, size: int) -> int:
    if p == PASS:
        return size * size
    row, col = row_col(p, size)
    return row * size + col


def action_to_point(a: int, size: int) -> int:
    if a == size * size:
        return PASS
    return point(a // size, a % size, size)


def point_to_gtp(p: int, size: int) -> str:
    if p == PASS:
        return "pass"
    row, col = row_col(p, size)
    return f"{GTP_COLUMNS[col]}{row + 1}"


def gtp_to_row_col(vertex: str, size: int) -> tuple[int, int] | None:
    """GTP vertex -> sgfmill (row, col), or None for pass. Raises ValueError for anything else."""
    v = vertex.strip().upper()
    if v == "PASS":
        return None
    if len(v) < 2 or v[0] not in GTP_COLUMNS or not v[1:].isdigit():
        raise ValueError(f"{vertex!r} is not a vertex (expected a letter A-Z without I and a number, or pass)")
    col = GTP_COLUMNS.index(v[0])
    row = int(v[1:]) - 1
    if not (0 <= row < size and 0 <= col < size):
        raise ValueError(f"{vertex!r} is off the {size}x{size} board")
    return row, col


def gtp_to_point(vertex: str, size: int) -> int:
    rc = gtp_to_row_col(vertex, size)
    return PASS if rc is None else point(rc[0], rc[1], size)


def row_col_to_gtp(row: int, col: int) -> str:
    return f"{GTP_COLUMNS[col]}{row + 1}"


def action_to_gtp(a: int, size: int) -> str:
    return point_to_gtp(action_to_point(a, size), size)


def gtp_to_action(vertex: str, size: int) -> int:
    return point_to_action(gtp_to_point(vertex, size), size)
