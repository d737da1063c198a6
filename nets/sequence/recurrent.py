"""The machinery every gated RNN here shares: a cell's parameters, the time loop, layers and directions.

Start here, then read `lstm.py` and `gru.py` for the cells, and `bidirectional.py` for the two-way
builder. The layout copies `torch.nn.LSTM`/`torch.nn.GRU` on purpose so the tests can copy weights
across and demand equal outputs:

* a cell holds `weight_ih` (G·H, C), `weight_hh` (G·H, H), `bias_ih`, `bias_hh` (G·H), the gates
  stacked in torch's order along the first axis (LSTM i,f,g,o; GRU r,z,n);
* a stack keeps one cell per (layer, direction), numbered `layer * D + direction`, which is also the
  row of that cell's final state in `h_n` (torch's `weight_ih_l{layer}{'_reverse' if direction}`);
* the output of a bidirectional layer is [forward, backward] concatenated on the feature axis, and
  between layers dropout is applied in training (never after the last layer).

Bidirectional RNNs are Schuster & Paliwal (1997) "Bidirectional recurrent neural networks"; stacking is
Graves, Mohamed & Hinton (2013) "Speech recognition with deep recurrent neural networks".
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

State = tuple[torch.Tensor, ...]
"""A cell's state: (h,) for a GRU, (h, c) for an LSTM, each (N, H)."""


class RecurrentCell(nn.Module):
    """Parameters and input projection shared by the gated cells; each subclass writes `step`.

    `step(xw_NG, state) -> state` takes the input already multiplied by `weight_ih` (all time steps are
    projected in one matrix product before the loop, as cuDNN does) and returns the new state; the
    cell's output is the first element of the state."""

    gate_count: int = 1
    state_count: int = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        g = self.gate_count * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(g)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(g)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(H), 1/sqrt(H)) for every parameter, torch's choice for its RNNs."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def project_input(self, x_TNC: torch.Tensor) -> torch.Tensor:
        """W_ih x + b_ih for any number of leading axes: (..., C) -> (..., G·H)."""
        return F.linear(x_TNC, self.weight_ih, self.bias_ih)

    def initial_state(self, batch: int, like: torch.Tensor) -> State:
        return tuple(like.new_zeros(batch, self.hidden_size) for _ in range(self.state_count))

    def forward(self, x_NC: torch.Tensor, state: State | None = None) -> State:
        """One step from raw input, for decoders that feed their own outputs back."""
        if state is None:
            state = self.initial_state(x_NC.shape[0], x_NC)
        return self.step(self.project_input(x_NC), state)


def scan(
    cell: RecurrentCell,
    xw_TNG: torch.Tensor,
    state: State,
    mask_TN: torch.Tensor | None = None,
    reverse: bool = False,
) -> tuple[torch.Tensor, State]:
    """Run `cell` over projected inputs; returns outputs h_TNH and the final state.

    Where `mask_TN` is False (padding after a sequence's end) the state is carried unchanged and the
    output is zero, which is what torch's packed sequences give: the final state of a sequence is the one
    at its last real step, and in reverse the state stays initial until its last real step is reached."""
    outputs = [None] * xw_TNG.shape[0]
    steps = range(xw_TNG.shape[0])
    for t in reversed(steps) if reverse else steps:
        new_state = cell.step(xw_TNG[t], state)
        if mask_TN is not None:
            keep_N1 = mask_TN[t].unsqueeze(1)  # (N, 1) to broadcast over H
            new_state = tuple(torch.where(keep_N1, new, old) for new, old in zip(new_state, state))
            outputs[t] = new_state[0] * keep_N1
        else:
            outputs[t] = new_state[0]
        state = new_state
    return torch.stack(outputs), state


class StackedRecurrent(nn.Module):
    """Layers x directions of one kind of cell, with torch.nn.RNNBase's arguments and weight layout.

    Subclasses (LSTM, GRU) name their cell and their torch twin and adapt `forward` to torch's return
    convention; the shared work is `run`."""

    torch_type: type[nn.RNNBase] = nn.RNNBase

    def __init__(
        self,
        make_cell: Callable[[int], RecurrentCell],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        bias: bool = True,
    ):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.dropout, self.bidirectional = batch_first, dropout, bidirectional
        self.bias = bias
        self.num_directions = 2 if bidirectional else 1
        self.cells = nn.ModuleList(
            make_cell(input_size if layer == 0 else hidden_size * self.num_directions)
            for layer in range(num_layers)
            for _ in range(self.num_directions)
        )

    def run(
        self, x: torch.Tensor, states: State | None = None, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """x is (T, N, C), or (N, T, C) with batch_first; `states` holds (L·D, N, H) tensors (h, or h
        and c); `lengths` (N,) marks padding. Returns the last layer's outputs (T, N, D·H) in x's
        layout and the final states, each (L·D, N, H)."""
        x_TNC = x.transpose(0, 1) if self.batch_first else x  # (T, N, C)
        n_steps, batch = x_TNC.shape[:2]
        mask_TN = None
        if lengths is not None:
            steps_T1 = torch.arange(n_steps, device=x.device).unsqueeze(1)  # (T, 1) against lengths (N,)
            mask_TN = steps_T1 < lengths.to(x.device).unsqueeze(0)
        finals: list[State] = []
        layer_in_TNC = x_TNC
        for layer in range(self.num_layers):
            outs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                cell = self.cells[index]
                start = cell.initial_state(batch, x) if states is None else tuple(s[index] for s in states)
                xw_TNG = cell.project_input(layer_in_TNC)  # every step's input product at once
                out_TNH, final = scan(cell, xw_TNG, start, mask_TN, reverse=direction == 1)
                outs.append(out_TNH)
                finals.append(final)
            layer_in_TNC = torch.cat(outs, dim=2)  # (T, N, D·H): forward half first, as torch
            if layer < self.num_layers - 1 and self.dropout > 0:
                layer_in_TNC = F.dropout(layer_in_TNC, self.dropout, self.training)
        final_states = tuple(torch.stack(parts) for parts in zip(*finals))  # each (L·D, N, H)
        output = layer_in_TNC.transpose(0, 1) if self.batch_first else layer_in_TNC  # back to x's layout
        return output, final_states

    # --- weights to and from torch.nn.LSTM / torch.nn.GRU ----------------------------------------

    def torch_suffixes(self):
        """(cell, torch suffix) pairs, e.g. suffix "_l1_reverse" for layer 1's backward cell."""
        for index, cell in enumerate(self.cells):
            layer, direction = divmod(index, self.num_directions)
            yield cell, f"_l{layer}" + ("_reverse" if direction else "")

    def _torch_kwargs(self) -> dict:
        return dict(
            input_size=self.input_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            bias=self.bias,
            batch_first=self.batch_first,
            dropout=self.dropout,
            bidirectional=self.bidirectional,
        )

    @classmethod
    def from_torch(cls, module: nn.RNNBase) -> StackedRecurrent:
        """A new stack shaped like `module` (subclass constructors take torch's argument names)."""
        names = ("input_size", "hidden_size", "num_layers", "batch_first", "dropout", "bidirectional", "bias")
        ours = cls(**{name: getattr(module, name) for name in names})
        return ours.to(dtype=module.weight_ih_l0.dtype, device=module.weight_ih_l0.device).load_torch_(module)

    @torch.no_grad()
    def load_torch_(self, module: nn.RNNBase) -> StackedRecurrent:
        """Copy every weight of a torch RNN of the same shape into this one; returns self."""
        if not isinstance(module, self.torch_type):
            raise TypeError(f"expected {self.torch_type.__name__}, got {type(module).__name__}")
        if getattr(module, "proj_size", 0):
            raise ValueError("LSTMs with proj_size have no counterpart here")
        for key, value in self._torch_kwargs().items():
            if key != "dropout" and getattr(module, key) != value:  # dropout moves no weight
                raise ValueError(f"torch module has {key}={getattr(module, key)}, this one {value}")
        for cell, suffix in self.torch_suffixes():
            for name in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ()):
                getattr(cell, name).copy_(getattr(module, name + suffix))
        return self

    @torch.no_grad()
    def to_torch(self) -> nn.RNNBase:
        """A torch.nn module of the same configuration, dtype and weights (cells must be torch's)."""
        module = self.torch_type(**self._torch_kwargs())
        reference = self.cells[0].weight_ih
        module = module.to(dtype=reference.dtype, device=reference.device)
        for cell, suffix in self.torch_suffixes():
            for name in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ()):
                getattr(module, name + suffix).copy_(getattr(cell, name))
        return module
