"""LSTM, GRU and bidirectional stacks against torch.nn.LSTM / torch.nn.GRU with the same weights; peephole
stacks against their equations written out."""
import math

import numpy as np
import pytest
import torch

import nets
from nets.sequence.bidirectional import bidirectional_rnn
from nets.sequence.gru import GRU, GRUCell
from nets.sequence.lstm import LSTM, LSTMCell, sine_waves

C, H, T, N = 5, 7, 6, 4
KINDS = {"lstm": (LSTM, torch.nn.LSTM), "gru": (GRU, torch.nn.GRU)}


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def _initial_state(kind, layers_x_dirs, dtype, generator):
    h0 = torch.randn(layers_x_dirs, N, H, dtype=dtype, generator=generator)
    if kind == "lstm":
        return h0, torch.randn(layers_x_dirs, N, H, dtype=dtype, generator=generator)
    return h0


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_torch_with_same_weights(kind, num_layers, bidirectional, batch_first, dtype):
    ours_type, torch_type = KINDS[kind]
    torch.manual_seed(0)
    reference = torch_type(C, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    reference = reference.to(dtype)
    ours = ours_type.from_torch(reference)
    g = torch.Generator().manual_seed(1)
    x = torch.randn((N, T, C) if batch_first else (T, N, C), dtype=dtype, generator=g, requires_grad=True)
    hx = _initial_state(kind, num_layers * (2 if bidirectional else 1), dtype, g)
    out_ref, state_ref = reference(x, hx)
    out, state = ours(x, hx)
    assert out.shape == out_ref.shape == ((N, T) if batch_first else (T, N)) + (H * (1 + bidirectional),)
    torch.testing.assert_close(out, out_ref, atol=1e-6, rtol=0)
    for ours_s, ref_s in zip(*(s if kind == "lstm" else (s,) for s in (state, state_ref))):
        torch.testing.assert_close(ours_s, ref_s, atol=1e-6, rtol=0)
    # the backward pass too: same weights give the same weight gradients
    (out * torch.linspace(-1, 1, out.shape[-1], dtype=dtype)).sum().backward()
    (out_ref * torch.linspace(-1, 1, out.shape[-1], dtype=dtype)).sum().backward()
    for cell, suffix in ours.torch_suffixes():
        for name in ("weight_ih", "weight_hh", "bias_ih"):
            want = getattr(reference, name + suffix).grad
            torch.testing.assert_close(getattr(cell, name).grad, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_to_torch_round_trip(kind):
    ours_type, _ = KINDS[kind]
    torch.manual_seed(2)
    ours = ours_type(C, H, num_layers=2, bidirectional=True).double()
    reference = ours.to_torch()
    assert isinstance(reference, KINDS[kind][1]) and reference.weight_ih_l0.dtype == torch.float64
    x = torch.randn(T, N, C, dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], reference(x)[0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_lengths_match_packed_sequences(kind, batch_first):
    ours_type, torch_type = KINDS[kind]
    torch.manual_seed(3)
    reference = torch_type(C, H, num_layers=2, bidirectional=True, batch_first=batch_first).double()
    ours = ours_type.from_torch(reference)
    x = torch.randn((N, T, C) if batch_first else (T, N, C), dtype=torch.float64)
    lengths = torch.tensor([T, 3, 1, 5])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False)
    out_packed, state_ref = reference(packed)
    out_ref, _ = torch.nn.utils.rnn.pad_packed_sequence(out_packed, batch_first=batch_first, total_length=T)
    out, state = ours(x, lengths=lengths)
    torch.testing.assert_close(out, out_ref, atol=1e-10, rtol=0)
    for ours_s, ref_s in zip(*(s if kind == "lstm" else (s,) for s in (state, state_ref))):
        torch.testing.assert_close(ours_s, ref_s, atol=1e-10, rtol=0)


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(4)
    reference = torch.nn.LSTM(C, H, num_layers=2, dropout=0.5)
    ours = LSTM.from_torch(reference)
    assert ours.dropout == 0.5
    x = torch.randn(T, N, C)
    ours.train()
    assert not torch.allclose(ours(x)[0], reference.eval()(x)[0], atol=1e-3)
    ours.eval()
    torch.testing.assert_close(ours(x)[0], reference(x)[0], atol=1e-6, rtol=0)


def test_builders_are_registered_modules():
    for name, cls in [("lstm", LSTM), ("gru", GRU)]:
        module = nets.build(name, input_size=C, hidden_size=H, num_layers=2, batch_first=True)
        assert isinstance(module, cls) and isinstance(module, torch.nn.Module)
    two_way = nets.build("bidirectional_rnn", input_size=C, hidden_size=H, cell="gru")
    assert isinstance(two_way, GRU) and two_way.bidirectional
    out, h_n = two_way(torch.randn(T, N, C))
    assert out.shape == (T, N, 2 * H) and h_n.shape == (2, N, H)
    with pytest.raises(ValueError):
        bidirectional_rnn(C, H, cell="rnn")


def test_cell_step_equals_torch_cells():
    torch.manual_seed(5)
    x, h, c = torch.randn(N, C), torch.randn(N, H), torch.randn(N, H)
    pairs = [(LSTMCell(C, H), torch.nn.LSTMCell(C, H), (h, c)), (GRUCell(C, H), torch.nn.GRUCell(C, H), (h,))]
    for ours, reference, state in pairs:
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ours, name).copy_(getattr(reference, name))
        expected = reference(x, state if len(state) == 2 else state[0])
        expected = expected if isinstance(expected, tuple) else (expected,)
        for got, want in zip(ours(x, state), expected):
            torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


# --- peepholes -------------------------------------------------------------------------------------


def test_peephole_gradcheck_float64():
    torch.manual_seed(6)
    lstm = LSTM(3, 4, num_layers=2, peephole=True).double()
    names = [n for n, _ in lstm.named_parameters() if "weight_c" in n]
    assert len(names) == 6  # i, f, o for each of two layers
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    peepholes = [dict(lstm.named_parameters())[n].detach().clone().requires_grad_(True) for n in names]

    def run(x, *weights):
        out, (h_n, c_n) = torch.func.functional_call(lstm, dict(zip(names, weights)), (x,))
        return out.sum(dim=2), c_n

    assert torch.autograd.gradcheck(run, (x, *peepholes), eps=1e-6, atol=1e-6)


def test_peephole_step_follows_the_equations():
    """One step against the Gers & Schmidhuber equations written out in numpy."""
    torch.manual_seed(7)
    cell = LSTMCell(3, 4, peephole=True).double()
    x, h, c = (torch.randn(2, k, dtype=torch.float64) for k in (3, 4, 4))
    got_h, got_c = cell(x, (h, c))
    p = {k: v.detach().numpy() for k, v in cell.named_parameters()}
    xn, hn, cn = x.numpy(), h.numpy(), c.numpy()
    gates = xn @ p["weight_ih"].T + p["bias_ih"] + hn @ p["weight_hh"].T + p["bias_hh"]
    zi, zf, zg, zo = np.split(gates, 4, axis=1)
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    i, f = sigmoid(zi + p["weight_ci"] * cn), sigmoid(zf + p["weight_cf"] * cn)
    c_new = f * cn + i * np.tanh(zg)
    h_new = sigmoid(zo + p["weight_co"] * c_new) * np.tanh(c_new)
    np.testing.assert_allclose(got_c.detach().numpy(), c_new, atol=1e-12)
    np.testing.assert_allclose(got_h.detach().numpy(), h_new, atol=1e-12)


def test_peepholes_at_zero_are_torch_and_cannot_be_exported():
    torch.manual_seed(8)
    reference = torch.nn.LSTM(C, H)
    ours = LSTM(C, H, peephole=True).load_torch_(reference)
    x = torch.randn(T, N, C)
    assert not torch.allclose(ours(x)[0], reference(x)[0], atol=1e-4)  # peepholes start non-zero
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if "weight_c" in name:
                p.zero_()
    torch.testing.assert_close(ours(x)[0], reference(x)[0], atol=1e-6, rtol=0)
    with pytest.raises(ValueError):
        ours.to_torch()


def test_cell_is_a_constant_error_carousel():
    """With the forget gate open and the input gate shut, dc_T/dc_0 stays near 1 over 100 steps, where
    a tanh RNN's dh_T/dh_0 vanishes (Hochreiter & Schmidhuber's argument)."""
    torch.manual_seed(9)
    cell = LSTMCell(1, 1)
    with torch.no_grad():
        cell.bias_ih.copy_(torch.tensor([-20.0, 20.0, 0.0, 0.0]))  # i shut, f open (gates i, f, g, o)
    c0 = torch.ones(1, 1, requires_grad=True)
    state, x = (torch.zeros(1, 1), c0), torch.randn(100, 1, 1)
    for t in range(100):
        state = cell(x[t], state)
    (dc_dc0,) = torch.autograd.grad(state[1].sum(), c0)
    assert dc_dc0.item() > 0.99
    rnn = torch.nn.RNN(1, 1)
    with torch.no_grad():
        rnn.weight_hh_l0.fill_(0.5)  # a contracting recurrence: |dh_t/dh_{t-1}| <= 0.5
    h0 = torch.ones(1, 1, 1, requires_grad=True)
    _, h_n = rnn(x, h0)
    (dh_dh0,) = torch.autograd.grad(h_n.sum(), h0)
    assert abs(dh_dh0.item()) < 1e-6


def test_peephole_stack_follows_the_equations_over_a_sequence():
    """A two-layer bidirectional peephole LSTM against the equations unrolled by hand in plain torch ops
    (float64): layers, directions, the [forward, backward] concatenation and the final states. Without
    peepholes torch.nn.LSTM is the oracle (above); with them, only the papers' equations are."""
    torch.manual_seed(0)
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True, peephole=True).double()
    x_TNC = torch.linspace(-1, 1, 5 * 2 * 3, dtype=torch.float64).reshape(5, 2, 3)
    p = {name: value.detach() for name, value in lstm.named_parameters()}
    layer_in, finals_h, finals_c = x_TNC, [], []
    for layer in range(2):
        outs = []
        for direction in range(2):
            q = {k.split(".", 2)[2]: v for k, v in p.items() if k.startswith(f"cells.{2 * layer + direction}.")}
            h, c = torch.zeros(2, 4, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64)
            out = [None] * 5
            for t in (range(5) if direction == 0 else reversed(range(5))):
                z = layer_in[t] @ q["weight_ih"].T + q["bias_ih"] + h @ q["weight_hh"].T + q["bias_hh"]
                zi, zf, zg, zo = z.split(4, dim=1)
                i, f = torch.sigmoid(zi + q["weight_ci"] * c), torch.sigmoid(zf + q["weight_cf"] * c)
                c = f * c + i * torch.tanh(zg)
                h = torch.sigmoid(zo + q["weight_co"] * c) * torch.tanh(c)
                out[t] = h
            outs.append(torch.stack(out))
            finals_h.append(h)
            finals_c.append(c)
        layer_in = torch.cat(outs, dim=2)
    with torch.no_grad():
        out, (h_n, c_n) = lstm(x_TNC)
    torch.testing.assert_close(out, layer_in, atol=1e-12, rtol=0)
    torch.testing.assert_close(h_n, torch.stack(finals_h), atol=1e-12, rtol=0)
    torch.testing.assert_close(c_n, torch.stack(finals_c), atol=1e-12, rtol=0)


# --- a learning goal -------------------------------------------------------------------------------


def test_lstm_learns_to_predict_a_sine_wave():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    lstm, head = LSTM(1, 16, batch_first=True), torch.nn.Linear(16, 1)
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=0.02)
    for _ in range(120):
        x_NT1, y_NT1 = sine_waves(32, 30, g)
        out_NTH, _ = lstm(x_NT1)
        loss = ((head(out_NTH) - y_NT1) ** 2)[:, 5:].mean()  # a few steps to infer phase and frequency
        opt.zero_grad()
        loss.backward()
        opt.step()
    x_NT1, y_NT1 = sine_waves(200, 30, torch.Generator().manual_seed(123))
    with torch.no_grad():
        mse = ((head(lstm(x_NT1)[0]) - y_NT1) ** 2)[:, 5:].mean().item()
    repeat_last_mse = ((x_NT1 - y_NT1) ** 2)[:, 5:].mean().item()
    print(f"sine wave: LSTM next-value MSE {mse:.2e}, repeat-last baseline {repeat_last_mse:.2e}")
    assert mse < 2e-3 and mse < repeat_last_mse / 20, (mse, repeat_last_mse)
    assert math.isfinite(mse)
