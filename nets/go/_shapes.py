"""Input checks shared by the Go nets: a clear error for planes of the wrong count or board size.

Without this check a 9x9 batch fed to a 19x19 net fails deep inside a Linear layer with a message about
matrix shapes; here it fails at the door and names what was expected.
"""
from __future__ import annotations

import torch


def check_planes(x_NCHW: torch.Tensor, in_planes: int, board_size: int) -> None:
    """Raise ValueError unless `x_NCHW` is a batch of `in_planes` planes of `board_size`²."""
    expected = (in_planes, board_size, board_size)
    if x_NCHW.dim() != 4 or tuple(x_NCHW.shape[1:]) != expected:
        raise ValueError(
            f"expected planes of shape (N, {in_planes}, {board_size}, {board_size}), got {tuple(x_NCHW.shape)}"
        )
