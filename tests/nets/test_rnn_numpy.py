"""The numpy RNN's hand-written BPTT against finite differences and torch autograd; it learns to add."""
import numpy as np
import pytest
import torch

from nets.sequence.rnn_numpy import (
    Adam,
    NumpyRNN,
    binary_addition_batch,
    bits_to_ints,
    clip_by_global_norm,
    rnn_numpy,
    sigmoid_bce,
    train_binary_addition,
)

C, H, O, T, N = 3, 5, 2, 7, 4


def _problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    rnn = rnn_numpy(C, H, O, seed=seed)
    rnn.params["b_h"] = rng.normal(size=H) * 0.1  # non-zero biases, so their gradients are exercised
    rnn.params["b_y"] = rng.normal(size=O) * 0.1
    x_TNC = rng.normal(size=(T, N, C))
    targets_TNO = rng.integers(0, 2, size=(T, N, O)).astype(np.float64)
    h0_NH = rng.normal(size=(N, H)) * 0.5
    return rnn, x_TNC, targets_TNO, h0_NH


def _torch_loss_and_grads(rnn: NumpyRNN, x_TNC, targets_TNO, h0_NH, truncation=None):
    """The same network in torch (nn.RNN with its second bias zeroed, nn.Linear), detaching h every
    `truncation` steps: autograd's answer for what `loss_and_grads` computes by hand."""
    p = rnn.params
    cell = torch.nn.RNN(C, H, nonlinearity="tanh").double()
    head = torch.nn.Linear(H, O).double()
    with torch.no_grad():
        cell.weight_ih_l0.copy_(torch.from_numpy(p["W_xh"]))
        cell.weight_hh_l0.copy_(torch.from_numpy(p["W_hh"]))
        cell.bias_ih_l0.copy_(torch.from_numpy(p["b_h"]))
        cell.bias_hh_l0.zero_()
        head.weight.copy_(torch.from_numpy(p["W_hy"]))
        head.bias.copy_(torch.from_numpy(p["b_y"]))
    x = torch.from_numpy(x_TNC)
    h = torch.from_numpy(h0_NH).unsqueeze(0).requires_grad_(True)  # (1, N, H) for one layer
    h_start = h
    k = T if truncation is None else truncation
    outputs = []
    for start in range(0, T, k):
        out, h = cell(x[start : start + k], h)
        outputs.append(out)
        h = h.detach()
    logits = head(torch.cat(outputs))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.from_numpy(targets_TNO))
    loss.backward()
    grads = {
        "W_xh": cell.weight_ih_l0.grad,
        "W_hh": cell.weight_hh_l0.grad,
        "b_h": cell.bias_ih_l0.grad,
        "W_hy": head.weight.grad,
        "b_y": head.bias.grad,
    }
    return loss.item(), {k: v.numpy() for k, v in grads.items()}, h_start.grad[0].numpy()


def test_shapes():
    rnn, x_TNC, targets_TNO, h0_NH = _problem()
    y_TNO, cache = rnn.forward(x_TNC, h0_NH)
    assert y_TNO.shape == (T, N, O)
    grads, dh0_NH = rnn.backward(cache, np.ones_like(y_TNO))
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in rnn.params.items()}
    assert dh0_NH.shape == (N, H)


def test_gradients_match_finite_differences():
    rnn, x_TNC, targets_TNO, h0_NH = _problem(1)
    _, grads, _ = rnn.loss_and_grads(x_TNC, targets_TNO, h0_NH)
    eps = 1e-6
    for name, param in rnn.params.items():
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + eps
            plus = rnn.loss_and_grads(x_TNC, targets_TNO, h0_NH)[0]
            param[index] = saved - eps
            minus = rnn.loss_and_grads(x_TNC, targets_TNO, h0_NH)[0]
            param[index] = saved
            numeric[index] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-9, err_msg=name)


def test_loss_gradients_and_dh0_match_torch_autograd():
    rnn, x_TNC, targets_TNO, h0_NH = _problem(2)
    loss, grads, _ = rnn.loss_and_grads(x_TNC, targets_TNO, h0_NH)
    torch_loss, torch_grads, torch_dh0 = _torch_loss_and_grads(rnn, x_TNC, targets_TNO, h0_NH)
    assert loss == pytest.approx(torch_loss, abs=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads[name], torch_grads[name], atol=1e-12, err_msg=name)
    # dL/dh0 from `backward` directly
    y_TNO, cache = rnn.forward(x_TNC, h0_NH)
    _, dy_TNO = sigmoid_bce(y_TNO, targets_TNO)
    _, dh0_NH = rnn.backward(cache, dy_TNO)
    np.testing.assert_allclose(dh0_NH, torch_dh0, atol=1e-12)


@pytest.mark.parametrize("truncation", [1, 2, 3, 7, 100])
def test_truncated_bptt_matches_torch_detach(truncation):
    rnn, x_TNC, targets_TNO, h0_NH = _problem(3)
    loss, grads, _ = rnn.loss_and_grads(x_TNC, targets_TNO, h0_NH, truncation=truncation)
    torch_loss, torch_grads, _ = _torch_loss_and_grads(rnn, x_TNC, targets_TNO, h0_NH, truncation)
    assert loss == pytest.approx(torch_loss, abs=1e-12)
    for name in grads:
        np.testing.assert_allclose(grads[name], torch_grads[name], atol=1e-12, err_msg=name)


def test_truncation_changes_recurrent_gradient_only():
    rnn, x_TNC, targets_TNO, h0_NH = _problem(4)
    full_loss, full, _ = rnn.loss_and_grads(x_TNC, targets_TNO, h0_NH)
    cut_loss, cut, _ = rnn.loss_and_grads(x_TNC, targets_TNO, h0_NH, truncation=2)
    assert cut_loss == pytest.approx(full_loss)  # the forward pass is the same
    np.testing.assert_allclose(cut["W_hy"], full["W_hy"])  # the read-out sees no recurrence
    assert not np.allclose(cut["W_hh"], full["W_hh"])


@pytest.mark.parametrize("max_norm", [0.01, 1e6])
def test_clip_by_global_norm_matches_torch(max_norm):
    rnn, x_TNC, targets_TNO, h0_NH = _problem(5)
    _, grads, _ = rnn.loss_and_grads(x_TNC, targets_TNO, h0_NH)
    clipped, norm = clip_by_global_norm(grads, max_norm)
    tensors = {k: torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for k, g in grads.items()}
    for k, t in tensors.items():
        t.grad = torch.from_numpy(grads[k].copy())
    torch_norm = torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm)
    assert norm == pytest.approx(torch_norm.item())
    for k in grads:
        np.testing.assert_allclose(clipped[k], tensors[k].grad.numpy(), rtol=1e-12)
    total = np.sqrt(sum(np.sum(g * g) for g in clipped.values()))
    assert total <= max_norm + 1e-9 if max_norm < norm else total == pytest.approx(norm)


def test_adam_matches_torch():
    rnn, x_TNC, targets_TNO, h0_NH = _problem(6)
    params = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in rnn.params.items()}
    ours, theirs = Adam(rnn.params, lr=0.05), torch.optim.Adam(list(params.values()), lr=0.05)
    for _ in range(3):
        _, grads, _ = rnn.loss_and_grads(x_TNC, targets_TNO, h0_NH)
        for k, p in params.items():
            p.grad = torch.from_numpy(grads[k].copy())
        ours.step(rnn.params, grads)
        theirs.step()
    for k in params:
        np.testing.assert_allclose(rnn.params[k], params[k].detach().numpy(), atol=1e-10)


def test_binary_addition_encoding():
    a_N, b_N = np.array([0, 1, 100, 127, 45]), np.array([0, 127, 27, 128, 99])
    x_TN2, y_TN1 = binary_addition_batch(a_N, b_N)
    assert x_TN2.shape == (8, 5, 2) and y_TN1.shape == (8, 5, 1)
    assert list(bits_to_ints(y_TN1)) == list(a_N + b_N)
    assert list(bits_to_ints(x_TN2[:, :, :1])) == list(a_N)
    assert list(bits_to_ints(x_TN2[:, :, 1:])) == list(b_N)
    assert x_TN2[0, 1].tolist() == [1.0, 1.0]  # least significant bit first: 1 + 127


def test_forward_equals_torch_rnn_with_the_same_weights():
    """y_t = W_hy tanh(W_xh x_t + W_hh h_{t-1} + b_h) + b_y against torch.nn.RNN (tanh) with these weights,
    non-zero biases and initial state included. (A seeded golden sum stood here; torch is the oracle.)"""
    rnn, x_TNC, _, h0_NH = _problem(7)
    y_TNO, (_, _, hs_TNH) = rnn.forward(x_TNC, h0_NH)
    torch_rnn = torch.nn.RNN(C, H).double()
    with torch.no_grad():
        torch_rnn.weight_ih_l0.copy_(torch.from_numpy(rnn.params["W_xh"]))
        torch_rnn.weight_hh_l0.copy_(torch.from_numpy(rnn.params["W_hh"]))
        torch_rnn.bias_ih_l0.copy_(torch.from_numpy(rnn.params["b_h"]))
        torch_rnn.bias_hh_l0.zero_()
        hs, _ = torch_rnn(torch.from_numpy(x_TNC), torch.from_numpy(h0_NH)[None])
    np.testing.assert_allclose(hs_TNH, hs.numpy(), atol=1e-12)
    np.testing.assert_allclose(y_TNO, hs.numpy() @ rnn.params["W_hy"].T + rnn.params["b_y"], atol=1e-12)


def test_learns_8bit_binary_addition_on_held_out_pairs():
    rng = np.random.default_rng(0)
    a, b = np.meshgrid(np.arange(128), np.arange(128))  # every pair whose sum fits in 8 bits
    pairs_P2 = np.stack([a.ravel(), b.ravel()], axis=1)
    order = rng.permutation(len(pairs_P2))
    train_P2, held_out_P2 = pairs_P2[order[:2000]], pairs_P2[order[2000:]]
    rnn = train_binary_addition(train_P2, hidden_size=16, steps=400, seed=0)
    x_TN2, _ = binary_addition_batch(held_out_P2[:, 0], held_out_P2[:, 1])
    sums = bits_to_ints(rnn.predict(x_TN2))
    accuracy = np.mean(sums == held_out_P2.sum(axis=1))
    assert accuracy == 1.0, f"held-out accuracy {accuracy:.4f} over {len(held_out_P2)} pairs"
