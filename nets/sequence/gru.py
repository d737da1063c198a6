"""Gated recurrent unit, in torch.nn.GRU's formulation.

Cho et al. (2014) "Learning phrase representations using RNN encoder-decoder for statistical machine
translation"; compared with the LSTM in Chung et al. (2014) "Empirical evaluation of gated recurrent
neural networks on sequence modeling". Gates in torch's order r, z, n:

    r = σ(W_r x + b_ir + U_r h + b_hr)         z = σ(W_z x + b_iz + U_z h + b_hz)
    n = tanh(W_n x + b_in + r ⊙ (U_n h + b_hn))
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

Mind the reset: torch (and cuDNN) apply r after the matrix product, r ⊙ (U_n h + b_hn); Cho et al.
wrote U_n (r ⊙ h). The two differ, and only the first matches torch.nn.GRU, so that is the one here.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from nets.registry import register
from nets.sequence.recurrent import RecurrentCell, State, StackedRecurrent


class GRUCell(RecurrentCell):
    """One GRU step; the state is the 1-tuple (h,)."""

    gate_count = 3
    state_count = 1

    def step(self, xw_NG: torch.Tensor, state: State) -> State:
        (h_NH,) = state
        hw_NG = h_NH @ self.weight_hh.T
        if self.bias_hh is not None:
            hw_NG = hw_NG + self.bias_hh
        xr_NH, xz_NH, xn_NH = xw_NG.chunk(3, dim=1)  # torch's order: r, z, n
        hr_NH, hz_NH, hn_NH = hw_NG.chunk(3, dim=1)
        r_NH = torch.sigmoid(xr_NH + hr_NH)
        z_NH = torch.sigmoid(xz_NH + hz_NH)
        n_NH = torch.tanh(xn_NH + r_NH * hn_NH)  # reset after the product, as torch.nn.GRU
        return ((1.0 - z_NH) * n_NH + z_NH * h_NH,)


class GRU(StackedRecurrent):
    """Drop-in for torch.nn.GRU, plus `lengths` for padded batches.

    forward(x, h0=None, lengths=None) -> output, h_n, shapes as torch's."""

    torch_type = nn.GRU

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        bias: bool = True,
    ):
        super().__init__(
            lambda size: GRUCell(size, hidden_size, bias),
            input_size, hidden_size, num_layers, batch_first, dropout, bidirectional, bias,
        )

    def forward(self, x: torch.Tensor, hx: torch.Tensor | None = None, lengths: torch.Tensor | None = None):
        output, (h_n,) = self.run(x, None if hx is None else (hx,), lengths)
        return output, h_n


@register("gru")
def gru(input_size: int, hidden_size: int, **kwargs) -> GRU:
    """GRU(input_size, hidden_size, num_layers=1, batch_first=False, dropout=0, bidirectional=False,
    bias=True)."""
    return GRU(input_size, hidden_size, **kwargs)
