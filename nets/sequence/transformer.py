"""The Transformer: Vaswani et al. 2017, "Attention Is All You Need" (arXiv:1706.03762).

Read top to bottom: sinusoidal positions (section 3.5), scaled dot-product attention (eq. 1), multi-head
attention (section 3.2.2), the encoder and decoder layers (section 3.1, post-norm as in the paper, pre-norm
as an option since it trains more easily without warm-up), and the encoder-decoder model with greedy decoding.

Masks are boolean and **True means "may attend"**, the convention of
`torch.nn.functional.scaled_dot_product_attention`. `torch.nn.MultiheadAttention` uses the opposite one
(True = masked), so code that feeds both must invert.

Shape letters: N batch, S source length, T target (query) length, D d_model, H heads, E = D / H per head,
F feed-forward width, V vocabulary.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.registry import register


def sinusoidal_positions(max_len: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/D)), PE[pos, 2i+1] = cos(same); shape (max_len, D)."""
    pos_L1 = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (L, 1)
    inv_freq_K = torch.pow(10000.0, -torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    angle_LK = pos_L1 * inv_freq_K  # (L, ceil(D/2))
    pe_LD = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe_LD[:, 0::2] = torch.sin(angle_LK)
    pe_LD[:, 1::2] = torch.cos(angle_LK[:, : d_model // 2])
    return pe_LD.float()


class PositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal table to embeddings, then dropout (section 3.5 and 5.4)."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0):
        super().__init__()
        self.register_buffer("pe_LD", sinusoidal_positions(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x_NTD: torch.Tensor) -> torch.Tensor:
        return self.dropout(x_NTD + self.pe_LD[: x_NTD.shape[1]].to(x_NTD.dtype))


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """(T, T) attend mask: query t may see keys 0..t, so no position reads its own future."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def padding_mask(tokens_NS: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(N, 1, 1, S) attend mask that hides padding keys; broadcasts over heads and queries."""
    return (tokens_NS != pad_id)[:, None, None, :]  # (N, 1, 1, S)


def scaled_dot_product_attention(
    q_NHTE: torch.Tensor,
    k_NHSE: torch.Tensor,
    v_NHSE: torch.Tensor,
    attend_mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(E)) V (eq. 1); returns (output, weights_NHTS).

    The 1/sqrt(E) keeps the logits' variance near 1 when q and k have unit-variance entries, so the
    softmax does not saturate as E grows. A query whose keys are all masked gets NaN, as in torch.
    """
    scores_NHTS = q_NHTE @ k_NHSE.transpose(-2, -1) / math.sqrt(q_NHTE.shape[-1])
    if attend_mask is not None:
        scores_NHTS = scores_NHTS.masked_fill(~attend_mask, float("-inf"))
    weights_NHTS = scores_NHTS.softmax(dim=-1)
    if dropout_p > 0.0:
        weights_NHTS = F.dropout(weights_NHTS, dropout_p)
    return weights_NHTS @ v_NHSE, weights_NHTS


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1..head_H) W^O with head_h = Attention(Q W^Q_h, K W^K_h, V W^V_h).

    The H per-head projections of width E are stored as one (D, D) matrix each for Q, K and V, which is
    the same arithmetic as H separate matrices and one matmul instead of H.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def _split(self, x_NLD: torch.Tensor) -> torch.Tensor:
        n, length, d = x_NLD.shape
        return x_NLD.view(n, length, self.n_heads, d // self.n_heads).transpose(1, 2)  # (N, H, L, E)

    def forward(
        self,
        query_NTD: torch.Tensor,
        key_NSD: torch.Tensor,
        value_NSD: torch.Tensor,
        attend_mask: torch.Tensor | None = None,
        return_weights: bool = False,
    ):
        """`attend_mask` broadcasts to (N, H, T, S); returns out_NTD, or (out_NTD, weights_NHTS)."""
        q_NHTE = self._split(self.q_proj(query_NTD))
        k_NHSE = self._split(self.k_proj(key_NSD))
        v_NHSE = self._split(self.v_proj(value_NSD))
        p = self.dropout if self.training else 0.0
        out_NHTE, weights_NHTS = scaled_dot_product_attention(q_NHTE, k_NHSE, v_NHSE, attend_mask, p)
        out_NTD = out_NHTE.transpose(1, 2).reshape(query_NTD.shape)  # (N, T, H*E = D)
        out_NTD = self.out_proj(out_NTD)
        return (out_NTD, weights_NHTS) if return_weights else out_NTD


class EncoderLayer(nn.Module):
    """Self-attention then a position-wise ReLU feed-forward net, each wrapped in a residual and LayerNorm.

    Post-norm (the paper): x = LN(x + Sublayer(x)). Pre-norm (Xiong et al. 2020): x = x + Sublayer(LN(x)).
    Attribute names follow `torch.nn.TransformerEncoderLayer` so weights map one to one.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False,
                 layer_norm_eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def _self_attention(self, x_NSD: torch.Tensor, attend_mask: torch.Tensor | None) -> torch.Tensor:
        return self.dropout1(self.self_attn(x_NSD, x_NSD, x_NSD, attend_mask))

    def _feed_forward(self, x_NSD: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.linear2(self.dropout(F.relu(self.linear1(x_NSD)))))

    def forward(self, x_NSD: torch.Tensor, attend_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:
            x_NSD = x_NSD + self._self_attention(self.norm1(x_NSD), attend_mask)
            return x_NSD + self._feed_forward(self.norm2(x_NSD))
        x_NSD = self.norm1(x_NSD + self._self_attention(x_NSD, attend_mask))
        return self.norm2(x_NSD + self._feed_forward(x_NSD))


class DecoderLayer(nn.Module):
    """Masked self-attention, attention over the encoder's memory, then the feed-forward net (section 3.1).

    Attribute names follow `torch.nn.TransformerDecoderLayer` (`multihead_attn` is the cross-attention).
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = False,
                 layer_norm_eps: float = 1e-5):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.multihead_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def _self_attention(self, y_NTD: torch.Tensor, attend_mask: torch.Tensor | None) -> torch.Tensor:
        return self.dropout1(self.self_attn(y_NTD, y_NTD, y_NTD, attend_mask))

    def _cross_attention(self, y_NTD: torch.Tensor, memory_NSD: torch.Tensor,
                         memory_mask: torch.Tensor | None) -> torch.Tensor:
        return self.dropout2(self.multihead_attn(y_NTD, memory_NSD, memory_NSD, memory_mask))

    def _feed_forward(self, y_NTD: torch.Tensor) -> torch.Tensor:
        return self.dropout3(self.linear2(self.dropout(F.relu(self.linear1(y_NTD)))))

    def forward(
        self,
        y_NTD: torch.Tensor,
        memory_NSD: torch.Tensor,
        self_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`self_mask` broadcasts to (N, H, T, T) (causal and target padding); `memory_mask` to (N, H, T, S)."""
        if self.norm_first:
            y_NTD = y_NTD + self._self_attention(self.norm1(y_NTD), self_mask)
            y_NTD = y_NTD + self._cross_attention(self.norm2(y_NTD), memory_NSD, memory_mask)
            return y_NTD + self._feed_forward(self.norm3(y_NTD))
        y_NTD = self.norm1(y_NTD + self._self_attention(y_NTD, self_mask))
        y_NTD = self.norm2(y_NTD + self._cross_attention(y_NTD, memory_NSD, memory_mask))
        return self.norm3(y_NTD + self._feed_forward(y_NTD))


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of the encoder-decoder model; defaults are the paper's base model (Table 3)."""

    src_vocab: int
    """Source vocabulary size, padding token included."""
    tgt_vocab: int
    """Target vocabulary size, padding, BOS and EOS included."""
    d_model: int = 512
    """Width of every residual stream."""
    n_heads: int = 8
    """Attention heads; d_model must divide by it."""
    d_ff: int = 2048
    """Hidden width of the position-wise feed-forward net."""
    n_encoder_layers: int = 6
    """Encoder depth."""
    n_decoder_layers: int = 6
    """Decoder depth."""
    dropout: float = 0.1
    """P_drop on embeddings, attention weights and every sublayer output."""
    max_len: int = 512
    """Longest sequence the positional table covers."""
    norm_first: bool = False
    """Pre-norm layers (and a final LayerNorm per stack) instead of the paper's post-norm."""
    pad_id: int = 0
    """Padding token id in both vocabularies; padded keys are masked out."""
    tie_output_embedding: bool = True
    """Share the target embedding with the pre-softmax projection (section 3.4)."""


class Transformer(nn.Module):
    """The encoder-decoder Transformer of Vaswani et al. 2017 with greedy decoding."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        c = config
        self.config = c
        self.src_embed = nn.Embedding(c.src_vocab, c.d_model)
        self.tgt_embed = nn.Embedding(c.tgt_vocab, c.d_model)
        self.positions = PositionalEncoding(c.d_model, c.max_len, c.dropout)
        self.encoder_layers = nn.ModuleList(
            EncoderLayer(c.d_model, c.n_heads, c.d_ff, c.dropout, c.norm_first) for _ in range(c.n_encoder_layers))
        self.decoder_layers = nn.ModuleList(
            DecoderLayer(c.d_model, c.n_heads, c.d_ff, c.dropout, c.norm_first) for _ in range(c.n_decoder_layers))
        # Pre-norm leaves the residual stream un-normalised, so each stack ends with one LayerNorm.
        self.encoder_norm = nn.LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.decoder_norm = nn.LayerNorm(c.d_model) if c.norm_first else nn.Identity()
        self.output = nn.Linear(c.d_model, c.tgt_vocab, bias=False)
        if c.tie_output_embedding:
            self.output.weight = self.tgt_embed.weight
        # With tied weights the embedding doubles as the output layer, so its entries are drawn at
        # 1/sqrt(D) scale and multiplied by sqrt(D) on the way in (section 3.4).
        for embed in (self.src_embed, self.tgt_embed):
            nn.init.normal_(embed.weight, std=c.d_model ** -0.5)

    def encode(self, src_NS: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the memory_NSD and the source attend mask (N, 1, 1, S) the decoder needs."""
        src_mask = padding_mask(src_NS, self.config.pad_id)
        x_NSD = self.positions(self.src_embed(src_NS) * math.sqrt(self.config.d_model))
        for layer in self.encoder_layers:
            x_NSD = layer(x_NSD, src_mask)
        return self.encoder_norm(x_NSD), src_mask

    def decode(self, tgt_in_NT: torch.Tensor, memory_NSD: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoder pass; returns logits_NTV for the token after each input position."""
        t = tgt_in_NT.shape[1]
        self_mask = causal_mask(t, tgt_in_NT.device) & padding_mask(tgt_in_NT, self.config.pad_id)  # (N, 1, T, T)
        y_NTD = self.positions(self.tgt_embed(tgt_in_NT) * math.sqrt(self.config.d_model))
        for layer in self.decoder_layers:
            y_NTD = layer(y_NTD, memory_NSD, self_mask, src_mask)
        return self.output(self.decoder_norm(y_NTD))

    def forward(self, src_NS: torch.Tensor, tgt_in_NT: torch.Tensor) -> torch.Tensor:
        memory_NSD, src_mask = self.encode(src_NS)
        return self.decode(tgt_in_NT, memory_NSD, src_mask)

    @torch.no_grad()
    def greedy_decode(self, src_NS: torch.Tensor, bos_id: int, eos_id: int, max_len: int) -> torch.Tensor:
        """Feed back the argmax token until every row has emitted EOS or max_len tokens are out.

        Returns tokens_NL (L <= max_len) without the leading BOS; after a row's EOS it holds pad_id.
        Call `.eval()` first, or dropout stays on. The decoder is re-run over the whole prefix each step: O(L^2) but simple, and fine at toy sizes.
        """
        memory_NSD, src_mask = self.encode(src_NS)
        n = src_NS.shape[0]
        tokens_NT = torch.full((n, 1), bos_id, dtype=torch.long, device=src_NS.device)
        finished_N = torch.zeros(n, dtype=torch.bool, device=src_NS.device)
        for _ in range(max_len):
            next_N = self.decode(tokens_NT, memory_NSD, src_mask)[:, -1].argmax(dim=-1)
            next_N = next_N.masked_fill(finished_N, self.config.pad_id)
            tokens_NT = torch.cat([tokens_NT, next_N[:, None]], dim=1)  # (N, T + 1)
            finished_N |= next_N == eos_id
            if bool(finished_N.all()):
                break
        return tokens_NT[:, 1:]


@register("transformer")
def build_transformer(**config) -> Transformer:
    """`build("transformer", src_vocab=..., tgt_vocab=..., **other TransformerConfig fields)`."""
    return Transformer(TransformerConfig(**config))


@register("multihead_attention")
def build_multihead_attention(d_model: int = 512, n_heads: int = 8, dropout: float = 0.0,
                              bias: bool = True) -> MultiHeadAttention:
    return MultiHeadAttention(d_model, n_heads, dropout, bias)


@register("transformer_encoder_layer")
def build_encoder_layer(d_model: int = 512, n_heads: int = 8, d_ff: int = 2048, dropout: float = 0.1,
                        norm_first: bool = False) -> EncoderLayer:
    return EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first)


@register("transformer_decoder_layer")
def build_decoder_layer(d_model: int = 512, n_heads: int = 8, d_ff: int = 2048, dropout: float = 0.1,
                        norm_first: bool = False) -> DecoderLayer:
    return DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first)
