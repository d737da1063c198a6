"""Bidirectional RNNs: one pass forward in time, one backward, outputs side by side.

Schuster & Paliwal (1997) "Bidirectional recurrent neural networks". Each output step t sees the whole
sequence: the forward cell's h_t summarises x_1..x_t, the backward cell's h_t summarises x_t..x_T, and
the layer returns [forward h_t, backward h_t] (2H features), the layout of torch's bidirectional=True.

The work is in `recurrent.StackedRecurrent` (one cell per layer and direction); this file is the
registered entry point that builds a two-way LSTM or GRU by name.
"""
from __future__ import annotations

from nets.registry import register
from nets.sequence.gru import GRU
from nets.sequence.lstm import LSTM
from nets.sequence.recurrent import StackedRecurrent

CELLS = {"lstm": LSTM, "gru": GRU}
"""Cell name -> stack class; both take torch's constructor arguments."""


@register("bidirectional_rnn")
def bidirectional_rnn(input_size: int, hidden_size: int, cell: str = "lstm", **kwargs) -> StackedRecurrent:
    """A bidirectional LSTM or GRU (`cell`), equal to torch's with bidirectional=True."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    return CELLS[cell](input_size, hidden_size, bidirectional=True, **kwargs)
