"""An Elman RNN in numpy with hand-written backpropagation through time.

Elman (1990) "Finding structure in time"; BPTT as written out by Werbos (1990) "Backpropagation
through time: what it does and how to do it"; truncated BPTT from Williams & Peng (1990) "An efficient
gradient-based algorithm for on-line training of recurrent network trajectories"; clipping by the
global gradient norm from Pascanu, Mikolov & Bengio (2013) "On the difficulty of training recurrent
neural networks".

The symbols are the papers' (time-major, batch N, input C, hidden H, output O):

    a_t = W_xh x_t + W_hh h_{t-1} + b_h        h_t = tanh(a_t)        y_t = W_hy h_t + b_y

Backward, with dL/dy_t given by the loss and dh carried from the future step:

    dh_t  = W_hy^T dy_t + W_hh^T da_{t+1}      da_t = dh_t * (1 - h_t^2)
    dW_hh = sum_t da_t h_{t-1}^T               dW_xh = sum_t da_t x_t^T

This file is numpy only, so it is not an `nn.Module` and is not in the registry; `rnn_numpy(...)`
builds one all the same. The course's toy problem, 8-bit binary addition, is at the bottom.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class RNNConfig:
    input_size: int
    """C: features per time step."""
    hidden_size: int
    """H: width of the recurrent state."""
    output_size: int
    """O: outputs (logits for `sigmoid_bce`) per time step."""


class NumpyRNN:
    """A one-layer tanh RNN with a linear read-out at every step; parameters live in `self.params`."""

    def __init__(self, config: RNNConfig, rng: np.random.Generator):
        self.config = config
        c, h, o = config.input_size, config.hidden_size, config.output_size
        bound = 1.0 / np.sqrt(h)  # torch.nn.RNN's initialisation, so the two start alike
        self.params: Params = {
            "W_xh": rng.uniform(-bound, bound, (h, c)),
            "W_hh": rng.uniform(-bound, bound, (h, h)),
            "b_h": np.zeros(h),
            "W_hy": rng.uniform(-bound, bound, (o, h)),
            "b_y": np.zeros(o),
        }

    def forward(self, x_TNC: np.ndarray, h0_NH: np.ndarray | None = None):
        """Run all steps; returns logits y_TNO and the cache `backward` needs (inputs and every h)."""
        p = self.params
        n_steps, batch = x_TNC.shape[:2]
        h_NH = np.zeros((batch, self.config.hidden_size)) if h0_NH is None else h0_NH
        hs_TNH = np.empty((n_steps, batch, self.config.hidden_size))
        for t in range(n_steps):
            h_NH = np.tanh(x_TNC[t] @ p["W_xh"].T + h_NH @ p["W_hh"].T + p["b_h"])
            hs_TNH[t] = h_NH
        y_TNO = hs_TNH @ p["W_hy"].T + p["b_y"]
        h_start_NH = np.zeros_like(h_NH) if h0_NH is None else h0_NH
        return y_TNO, (x_TNC, h_start_NH, hs_TNH)

    def backward(self, cache, dy_TNO: np.ndarray, dh_last_NH: np.ndarray | None = None):
        """BPTT through every cached step. Returns (grads, dL/dh0). `dh_last_NH` is gradient arriving
        from beyond the last step (zero for a whole sequence)."""
        p = self.params
        x_TNC, h0_NH, hs_TNH = cache
        grads = {k: np.zeros_like(v) for k, v in p.items()}
        grads["W_hy"] = np.einsum("tno,tnh->oh", dy_TNO, hs_TNH)
        grads["b_y"] = dy_TNO.sum(axis=(0, 1))
        dh_next_NH = np.zeros_like(h0_NH) if dh_last_NH is None else dh_last_NH
        for t in reversed(range(len(hs_TNH))):
            h_prev_NH = hs_TNH[t - 1] if t > 0 else h0_NH
            dh_NH = dy_TNO[t] @ p["W_hy"] + dh_next_NH
            da_NH = dh_NH * (1.0 - hs_TNH[t] ** 2)  # tanh' written with the output
            grads["W_xh"] += da_NH.T @ x_TNC[t]
            grads["W_hh"] += da_NH.T @ h_prev_NH
            grads["b_h"] += da_NH.sum(axis=0)
            dh_next_NH = da_NH @ p["W_hh"]
        return grads, dh_next_NH

    def loss_and_grads(self, x_TNC, targets_TNO, h0_NH=None, truncation: int | None = None):
        """Mean sigmoid cross-entropy of the whole sequence and its gradient.

        With `truncation=k` the sequence is cut into chunks of k steps: the hidden state crosses chunk
        boundaries but gradient does not (BPTT(k, k) of Williams & Peng), which is what a torch loop
        doing `h = h.detach()` every k steps computes. Returns (loss, grads, last hidden state)."""
        n_steps = len(x_TNC)
        k = n_steps if truncation is None else truncation
        total_count = targets_TNO.size
        grads = {name: np.zeros_like(v) for name, v in self.params.items()}
        loss, h_NH = 0.0, h0_NH
        for start in range(0, n_steps, k):
            y_TNO, cache = self.forward(x_TNC[start : start + k], h_NH)
            chunk_loss, dy_TNO = sigmoid_bce(y_TNO, targets_TNO[start : start + k])
            # sigmoid_bce averages over its chunk; rescale so the chunks sum to the whole-sequence mean
            share = dy_TNO.size / total_count
            loss += chunk_loss * share
            chunk_grads, _ = self.backward(cache, dy_TNO * share)
            for name in grads:
                grads[name] += chunk_grads[name]
            h_NH = cache[2][-1]
        return loss, grads, h_NH

    def predict(self, x_TNC: np.ndarray) -> np.ndarray:
        """Output bits: 1 where the logit is positive."""
        return (self.forward(x_TNC)[0] > 0).astype(np.int64)


def sigmoid_bce(logits: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy of sigmoid(logits) and its gradient w.r.t. the logits."""
    # log(1 + e^-|z|) + max(z, 0) - z*y is the overflow-free form of -y log s - (1-y) log(1-s)
    loss = np.mean(np.logaddexp(0.0, -np.abs(logits)) + np.maximum(logits, 0.0) - logits * targets)
    dlogits = (1.0 / (1.0 + np.exp(-logits)) - targets) / logits.size
    return float(loss), dlogits


def clip_by_global_norm(grads: Params, max_norm: float) -> tuple[Params, float]:
    """Scale all gradients together so their joint L2 norm is at most `max_norm` (Pascanu et al. 2013).

    Returns the clipped gradients and the norm before clipping, like `torch.nn.utils.clip_grad_norm_`
    (including its 1e-6 guard in the scale)."""
    total_norm = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    scale = min(1.0, max_norm / (total_norm + 1e-6))
    return {k: g * scale for k, g in grads.items()}, total_norm


class Adam:
    """Kingma & Ba (2015) "Adam: a method for stochastic optimization", in place on a params dict."""

    def __init__(self, params: Params, lr: float = 1e-2, betas=(0.9, 0.999), eps: float = 1e-8):
        self.lr, self.betas, self.eps, self.step_count = lr, betas, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, params: Params, grads: Params) -> None:
        b1, b2 = self.betas
        self.step_count += 1
        for k, g in grads.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * g
            self.v[k] = b2 * self.v[k] + (1 - b2) * g * g
            m_hat = self.m[k] / (1 - b1**self.step_count)
            v_hat = self.v[k] / (1 - b2**self.step_count)
            params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def rnn_numpy(input_size: int, hidden_size: int, output_size: int, seed: int = 0) -> NumpyRNN:
    """Builder beside the class (numpy, so deliberately not registered: the registry returns nn.Modules)."""
    return NumpyRNN(RNNConfig(input_size, hidden_size, output_size), np.random.default_rng(seed))


# --- the course's toy problem: add two numbers bit by bit, least significant bit first -------------


def binary_addition_batch(a_N: np.ndarray, b_N: np.ndarray, bits: int = 8):
    """Inputs x_TN2 (the bits of a and b at step t = bit t) and targets y_TN1 (the bits of a + b).

    The carry is what the hidden state must remember; a + b must fit in `bits` bits."""
    assert np.all(a_N + b_N < 2**bits), "the sum must fit in the given number of bits"
    shifts_T = np.arange(bits)
    bits_a_TN = (a_N[None, :] >> shifts_T[:, None]) & 1  # (T, N): bit t of every a
    bits_b_TN = (b_N[None, :] >> shifts_T[:, None]) & 1
    bits_sum_TN = ((a_N + b_N)[None, :] >> shifts_T[:, None]) & 1
    x_TN2 = np.stack([bits_a_TN, bits_b_TN], axis=-1).astype(np.float64)  # (T, N, 2)
    y_TN1 = bits_sum_TN[..., None].astype(np.float64)  # (T, N, 1)
    return x_TN2, y_TN1


def bits_to_ints(bits_TN1: np.ndarray) -> np.ndarray:
    """Undo the bit layout: (T, N, 1) bits, least significant first -> (N,) integers."""
    weights_T = 2 ** np.arange(bits_TN1.shape[0])
    return np.einsum("tn,t->n", bits_TN1[..., 0].astype(np.int64), weights_T)


def train_binary_addition(
    train_pairs_P2: np.ndarray,
    hidden_size: int = 16,
    steps: int = 1500,
    batch_size: int = 32,
    lr: float = 0.02,
    max_grad_norm: float = 1.0,
    bits: int = 8,
    seed: int = 0,
) -> NumpyRNN:
    """Fit an RNN to add the (a, b) rows of `train_pairs_P2` with Adam and clipped BPTT."""
    rng = np.random.default_rng(seed)
    rnn = rnn_numpy(2, hidden_size, 1, seed=seed)
    opt = Adam(rnn.params, lr=lr)
    for _ in range(steps):
        rows = rng.integers(0, len(train_pairs_P2), batch_size)
        x_TN2, y_TN1 = binary_addition_batch(train_pairs_P2[rows, 0], train_pairs_P2[rows, 1], bits)
        _, grads, _ = rnn.loss_and_grads(x_TN2, y_TN1)
        grads, _ = clip_by_global_norm(grads, max_grad_norm)
        opt.step(rnn.params, grads)
    return rnn
