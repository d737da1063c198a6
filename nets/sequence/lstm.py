"""Long short-term memory, written out gate by gate, optionally with peepholes.

Hochreiter & Schmidhuber (1997) "Long short-term memory" (the cell c as a constant error carousel);
the forget gate from Gers, Schmidhuber & Cummins (2000) "Learning to forget"; peepholes from Gers &
Schmidhuber (2000) "Recurrent nets that time and count". The equations use the papers' symbols, with
the gates in torch.nn.LSTM's order i, f, g, o:

    i = σ(W_i x + U_i h + w_ci ⊙ c_{t-1} + b_i)       f = σ(W_f x + U_f h + w_cf ⊙ c_{t-1} + b_f)
    g = tanh(W_g x + U_g h + b_g)                      c_t = f ⊙ c_{t-1} + i ⊙ g
    o = σ(W_o x + U_o h + w_co ⊙ c_t + b_o)           h_t = o ⊙ tanh(c_t)

The carousel is the line c_t = f ⊙ c_{t-1} + i ⊙ g: along c the error is only scaled by f, never
squashed, so with f near 1 it flows back across many steps. Without peepholes (the w_c* terms) this is
exactly torch.nn.LSTM, and `LSTM.from_torch` / `LSTM.to_torch` copy weights either way.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from nets.registry import register
from nets.sequence.recurrent import RecurrentCell, State, StackedRecurrent


class LSTMCell(RecurrentCell):
    """One LSTM step. With `peephole=True` the gates also see the cell through diagonal weights."""

    gate_count = 4
    state_count = 2

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, peephole: bool = False):
        super().__init__(input_size, hidden_size, bias)
        self.peephole = peephole
        if peephole:
            # diagonal peepholes, one weight per unit (Gers & Schmidhuber 2000), for i, f and o
            bound = 1.0 / math.sqrt(hidden_size)
            self.weight_ci = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))
            self.weight_cf = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))
            self.weight_co = nn.Parameter(torch.empty(hidden_size).uniform_(-bound, bound))

    def step(self, xw_NG: torch.Tensor, state: State) -> State:
        h_NH, c_NH = state
        gates_NG = xw_NG + h_NH @ self.weight_hh.T
        if self.bias_hh is not None:
            gates_NG = gates_NG + self.bias_hh
        i_NH, f_NH, g_NH, o_NH = gates_NG.chunk(4, dim=1)  # torch's order: i, f, g, o
        if self.peephole:
            i_NH = i_NH + self.weight_ci * c_NH
            f_NH = f_NH + self.weight_cf * c_NH
        c_NH = torch.sigmoid(f_NH) * c_NH + torch.sigmoid(i_NH) * torch.tanh(g_NH)
        if self.peephole:
            o_NH = o_NH + self.weight_co * c_NH  # the output gate peeks at the new cell
        h_NH = torch.sigmoid(o_NH) * torch.tanh(c_NH)
        return h_NH, c_NH


class LSTM(StackedRecurrent):
    """Drop-in for torch.nn.LSTM (no proj_size), plus `peephole` and `lengths` for padded batches.

    forward(x, (h0, c0)=None, lengths=None) -> output, (h_n, c_n), shapes as torch's."""

    torch_type = nn.LSTM

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        bias: bool = True,
        peephole: bool = False,
    ):
        super().__init__(
            lambda size: LSTMCell(size, hidden_size, bias, peephole),
            input_size, hidden_size, num_layers, batch_first, dropout, bidirectional, bias,
        )
        self.peephole = peephole

    def forward(self, x: torch.Tensor, hx: State | None = None, lengths: torch.Tensor | None = None):
        output, (h_n, c_n) = self.run(x, hx, lengths)
        return output, (h_n, c_n)

    def to_torch(self) -> nn.LSTM:
        if self.peephole:
            raise ValueError("torch.nn.LSTM has no peepholes")
        return super().to_torch()


@register("lstm")
def lstm(input_size: int, hidden_size: int, **kwargs) -> LSTM:
    """LSTM(input_size, hidden_size, num_layers=1, batch_first=False, dropout=0, bidirectional=False,
    bias=True, peephole=False)."""
    return LSTM(input_size, hidden_size, **kwargs)


def sine_waves(count: int, steps: int, generator: torch.Generator | None = None):
    """The course's LSTM toy: sin(φ + ω t) with random phase φ and frequency ω in [0.2, 0.4) rad/step.
    Returns inputs x_NT1 (values at t = 0 .. steps-1) and targets y_NT1 (the next value each time)."""
    phase_N1 = torch.rand(count, 1, generator=generator) * 2 * math.pi
    freq_N1 = 0.2 + 0.2 * torch.rand(count, 1, generator=generator)
    wave_NT = torch.sin(phase_N1 + freq_N1 * torch.arange(steps + 1))  # (N, T + 1)
    return wave_NT[:, :-1, None], wave_NT[:, 1:, None]  # (N, T, 1) each
