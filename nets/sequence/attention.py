"""Attention for encoder-decoder RNNs: additive (Bahdanau) and multiplicative (Luong).

Bahdanau, Cho & Bengio (2015) "Neural machine translation by jointly learning to align and translate"
score a decoder state s against each encoder annotation h_j with a small MLP,

    e_j = v^T tanh(W s + U h_j)            (additive)

and Luong, Pham & Manning (2015) "Effective approaches to attention-based neural machine translation"
with a product,

    e_j = s^T h_j  ("dot")        e_j = s^T W h_j  ("general").

Either way α = softmax_j(e) over the real (unpadded) source positions and the context is Σ_j α_j h_j.
Both modules take query_NQ (N, Q), keys_NSK (N, S, K) and an optional mask_NS (True = real position)
and return (context_NK, weights_NS). The Transformer's scaled, multi-head attention is elsewhere.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from nets.registry import register


def masked_softmax(scores_NS: torch.Tensor, mask_NS: torch.Tensor | None) -> torch.Tensor:
    """softmax over the last axis, with zero weight where mask is False (each row needs one True)."""
    if mask_NS is not None:
        scores_NS = scores_NS.masked_fill(~mask_NS, float("-inf"))
    return torch.softmax(scores_NS, dim=-1)


class AdditiveAttention(nn.Module):
    """Bahdanau's e_j = v^T tanh(W s + U h_j), with W, U and v learned and no biases, as in the paper."""

    def __init__(self, query_size: int, key_size: int, attention_size: int):
        super().__init__()
        self.query_proj = nn.Linear(query_size, attention_size, bias=False)  # W
        self.key_proj = nn.Linear(key_size, attention_size, bias=False)  # U
        self.score = nn.Linear(attention_size, 1, bias=False)  # v

    def forward(self, query_NQ: torch.Tensor, keys_NSK: torch.Tensor, mask_NS: torch.Tensor | None = None):
        hidden_NSA = torch.tanh(self.query_proj(query_NQ).unsqueeze(1) + self.key_proj(keys_NSK))
        scores_NS = self.score(hidden_NSA).squeeze(2)  # (N, S, 1) -> (N, S)
        weights_NS = masked_softmax(scores_NS, mask_NS)
        context_NK = torch.einsum("ns,nsk->nk", weights_NS, keys_NSK)
        return context_NK, weights_NS


class DotProductAttention(nn.Module):
    """Luong's "dot" (e_j = s·h_j, needs equal sizes) or, with `general=True`, "general" (s^T W h_j).

    Unscaled, as in the paper: these scores feed one softmax per decoder step, not a deep stack."""

    def __init__(self, query_size: int, key_size: int, general: bool = False):
        super().__init__()
        if not general and query_size != key_size:
            raise ValueError("dot-product attention needs query_size == key_size; use general=True")
        self.key_proj = nn.Linear(key_size, query_size, bias=False) if general else None  # W

    def forward(self, query_NQ: torch.Tensor, keys_NSK: torch.Tensor, mask_NS: torch.Tensor | None = None):
        projected_NSQ = keys_NSK if self.key_proj is None else self.key_proj(keys_NSK)
        scores_NS = torch.einsum("nq,nsq->ns", query_NQ, projected_NSQ)
        weights_NS = masked_softmax(scores_NS, mask_NS)
        context_NK = torch.einsum("ns,nsk->nk", weights_NS, keys_NSK)
        return context_NK, weights_NS


@register("bahdanau_attention")
def bahdanau_attention(query_size: int, key_size: int, attention_size: int) -> AdditiveAttention:
    return AdditiveAttention(query_size, key_size, attention_size)


@register("luong_attention")
def luong_attention(query_size: int, key_size: int, general: bool = False) -> DotProductAttention:
    return DotProductAttention(query_size, key_size, general)
