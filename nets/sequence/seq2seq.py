"""Sequence-to-sequence: an RNN encoder, an RNN decoder, optional attention, greedy and beam decoding.

Sutskever, Vinyals & Le (2014) "Sequence to sequence learning with neural networks" and Cho et al.
(2014) for the encoder-decoder; teacher forcing from Williams & Zipser (1989), mixed with the model's own
predictions at a ratio as in Bengio et al. (2015) "Scheduled sampling"; attention from Bahdanau et al.
(2015) ("additive") and Luong et al. (2015) ("dot", "general"), see `attention.py`.

Where attention enters the decoder step follows each paper:

* additive (Bahdanau): context from the previous state s_{t-1}; the cell reads [embed(y_{t-1}); c_t];
  the logits read [s_t; c_t].
* dot / general (Luong): the cell reads embed(y_{t-1}); context from the new state s_t; the logits read
  the attentional state tanh(W_c [c_t; s_t]).
* none: the logits read s_t.

Token ids: PAD=0, BOS=1, EOS=2, then the task's symbols. Targets are y_1 .. y_n EOS (PAD after);
the decoder is fed BOS y_1 .. y_n. Batches are (N, S) token tensors, batch first.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.registry import register
from nets.sequence.attention import AdditiveAttention, DotProductAttention
from nets.sequence.gru import GRU, GRUCell
from nets.sequence.lstm import LSTM, LSTMCell
from nets.sequence.recurrent import State

PAD, BOS, EOS = 0, 1, 2
SPECIAL_TOKENS = 3


def never_pad_or_bos(logits_V: torch.Tensor) -> torch.Tensor:
    """Give PAD and BOS probability zero (logits (..., V)): no decoder may write them, so every decoding
    and every score sees the same distribution over the tokens that can really follow."""
    return logits_V.index_fill(-1, torch.tensor([PAD, BOS], device=logits_V.device), float("-inf"))


@dataclass(frozen=True)
class Seq2SeqConfig:
    src_vocab: int
    """Source vocabulary size, special tokens included."""
    tgt_vocab: int
    """Target vocabulary size, special tokens included."""
    embed_size: int = 32
    """Width of both token embeddings."""
    hidden_size: int = 64
    """Width of encoder and decoder states (they must match: the encoder's final state starts the decoder)."""
    cell: str = "gru"
    """"gru" or "lstm", for both encoder and decoder."""
    attention: str | None = None
    """None, "additive" (Bahdanau), "dot" or "general" (Luong)."""


class Seq2Seq(nn.Module):
    """Encoder-decoder; `forward` trains (teacher forcing), `greedy` and `beam_search` decode."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        if config.cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {config.cell!r}")
        if config.attention not in (None, "additive", "dot", "general"):
            raise ValueError(f"unknown attention {config.attention!r}")
        self.config = config
        e, h = config.embed_size, config.hidden_size
        self.src_embed = nn.Embedding(config.src_vocab, e, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(config.tgt_vocab, e, padding_idx=PAD)
        stack, cell = (GRU, GRUCell) if config.cell == "gru" else (LSTM, LSTMCell)
        self.encoder = stack(e, h, batch_first=True)
        self.attention: nn.Module | None = None
        self.combine = None
        readout_size = h
        if config.attention == "additive":
            self.attention = AdditiveAttention(h, h, h)
            self.decoder_cell = cell(e + h, h)
            readout_size = 2 * h
        else:
            self.decoder_cell = cell(e, h)
            if config.attention is not None:
                self.attention = DotProductAttention(h, h, general=config.attention == "general")
                self.combine = nn.Linear(2 * h, h, bias=False)  # W_c of Luong's attentional state
        self.readout = nn.Linear(readout_size, config.tgt_vocab)

    def encode(self, src_NS: torch.Tensor):
        """Annotations keys_NSH, the decoder's starting state and the source mask (True = real token)."""
        mask_NS = src_NS != PAD
        keys_NSH, final = self.encoder.run(self.src_embed(src_NS), None, mask_NS.sum(dim=1))
        start = tuple(s[-1] for s in final)  # the last (only) layer's (N, H) state(s)
        return keys_NSH, start, mask_NS

    def decode_step(self, y_prev_N: torch.Tensor, state: State, keys_NSH, mask_NS):
        """One decoder step from the previous token: returns logits_NV and the new state."""
        emb_NE = self.tgt_embed(y_prev_N)
        if self.config.attention == "additive":
            context_NH, _ = self.attention(state[0], keys_NSH, mask_NS)
            state = self.decoder_cell(torch.cat([emb_NE, context_NH], dim=1), state)
            features_NF = torch.cat([state[0], context_NH], dim=1)
        else:
            state = self.decoder_cell(emb_NE, state)
            features_NF = state[0]
            if self.attention is not None:
                context_NH, _ = self.attention(state[0], keys_NSH, mask_NS)
                features_NF = torch.tanh(self.combine(torch.cat([context_NH, state[0]], dim=1)))
        return never_pad_or_bos(self.readout(features_NF)), state

    def forward(
        self,
        src_NS: torch.Tensor,
        tgt_NT: torch.Tensor,
        teacher_forcing_ratio: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Logits logits_NTV for every target position. Each step, each sequence is fed the true previous
        token with probability `teacher_forcing_ratio` and the model's own argmax otherwise."""
        keys_NSH, state, mask_NS = self.encode(src_NS)
        y_prev_N = torch.full_like(tgt_NT[:, 0], BOS)
        logits = []
        for t in range(tgt_NT.shape[1]):
            logits_NV, state = self.decode_step(y_prev_N, state, keys_NSH, mask_NS)
            logits.append(logits_NV)
            if teacher_forcing_ratio >= 1.0:
                y_prev_N = tgt_NT[:, t]
            else:
                coin_N = torch.rand(tgt_NT.shape[0], generator=generator, device=tgt_NT.device)
                y_prev_N = torch.where(coin_N < teacher_forcing_ratio, tgt_NT[:, t], logits_NV.argmax(dim=1))
        return torch.stack(logits, dim=1)  # (N, T, V)

    def loss(self, src_NS, tgt_NT, teacher_forcing_ratio: float = 1.0, generator=None) -> torch.Tensor:
        """Mean cross-entropy per real target token."""
        logits_NTV = self(src_NS, tgt_NT, teacher_forcing_ratio, generator)
        return F.cross_entropy(logits_NTV.flatten(0, 1), tgt_NT.flatten(), ignore_index=PAD)  # (N·T, V)

    def sequence_log_prob(self, src_NS: torch.Tensor, tgt_NT: torch.Tensor) -> torch.Tensor:
        """log p(tgt | src) per sequence (N,), summed over the non-PAD target tokens."""
        logp_NTV = F.log_softmax(self(src_NS, tgt_NT), dim=-1)
        token_logp_NT = logp_NTV.gather(2, tgt_NT.unsqueeze(2)).squeeze(2)  # (N, T, 1) -> (N, T)
        return torch.where(tgt_NT != PAD, token_logp_NT, 0.0).sum(dim=1)  # PAD's log-prob is -inf

    @torch.no_grad()
    def greedy(self, src_NS: torch.Tensor, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Argmax decoding. Returns tokens (N, max_len), PAD after each EOS, and their log-probs (N,)."""
        keys_NSH, state, mask_NS = self.encode(src_NS)
        batch = src_NS.shape[0]
        y_prev_N = torch.full((batch,), BOS, dtype=torch.long, device=src_NS.device)
        done_N = torch.zeros(batch, dtype=torch.bool, device=src_NS.device)
        logp_N = torch.zeros(batch, device=src_NS.device)
        tokens = []
        for _ in range(max_len):
            logits_NV, state = self.decode_step(y_prev_N, state, keys_NSH, mask_NS)
            step_logp_NV = F.log_softmax(logits_NV, dim=1)
            y_prev_N = step_logp_NV.argmax(dim=1)
            logp_N = logp_N + torch.where(done_N, 0.0, step_logp_NV.gather(1, y_prev_N[:, None]).squeeze(1))
            tokens.append(torch.where(done_N, PAD, y_prev_N))
            done_N = done_N | (y_prev_N == EOS)
            if done_N.all():
                break
        tokens_NT = torch.stack(tokens, dim=1)
        return F.pad(tokens_NT, (0, max_len - tokens_NT.shape[1]), value=PAD), logp_N

    @torch.no_grad()
    def beam_search(self, src_S: torch.Tensor, beam_size: int, max_len: int) -> tuple[list[int], float]:
        """Best sequence (ending in EOS, or cut at max_len) by total log-prob for one source sequence.

        Each step every live hypothesis is extended by every token and the best `beam_size` extensions
        survive, less one slot per finished hypothesis: those ending in EOS leave the beam, which shrinks
        (so a beam of 1 is greedy).
        The search stops once the best finished hypothesis beats every live one: log-probs only fall,
        so no live one could overtake it. No length normalisation, so scores compare exactly with greedy.
        Beam search is a heuristic: it usually scores at least as well as greedy, but that is not a
        theorem (the greedy prefix can fall out of the beam)."""
        keys_1SH, state, mask_1S = self.encode(src_S.unsqueeze(0))  # a batch of one
        live: list[list[int]] = [[]]
        live_scores_K = torch.zeros(1, device=src_S.device)
        finished: list[tuple[float, list[int]]] = []
        for _ in range(max_len):
            k = len(live)
            y_prev_K = torch.tensor([seq[-1] if seq else BOS for seq in live], device=src_S.device)
            logits_KV, state = self.decode_step(
                y_prev_K, state, keys_1SH.expand(k, -1, -1), mask_1S.expand(k, -1)  # share one encoding
            )
            vocab = logits_KV.shape[1]
            total_KV = live_scores_K[:, None] + F.log_softmax(logits_KV, dim=1)
            width = min(beam_size - len(finished), total_KV.numel())  # finished hypotheses keep their slots
            top_scores, top_index = total_KV.flatten().topk(width)  # over all (K·V) extensions
            keep_rows, keep_scores, next_live = [], [], []
            for score, index in zip(top_scores.tolist(), top_index.tolist()):
                row, token = divmod(index, vocab)
                if token == EOS:
                    finished.append((score, live[row] + [token]))
                else:
                    keep_rows.append(row)
                    keep_scores.append(score)
                    next_live.append(live[row] + [token])
            best_finished = max((s for s, _ in finished), default=float("-inf"))
            if not next_live or best_finished >= max(keep_scores):
                live = []
                break
            rows_K = torch.tensor(keep_rows, device=src_S.device)
            state = tuple(s[rows_K] for s in state)
            live, live_scores_K = next_live, torch.tensor(keep_scores, device=src_S.device)
        candidates = finished + list(zip(live_scores_K.tolist(), live)) if live else finished
        score, tokens = max(candidates, key=lambda pair: pair[0])
        return tokens, score


@register("seq2seq")
def seq2seq(src_vocab: int, tgt_vocab: int, **kwargs) -> Seq2Seq:
    """Seq2Seq(Seq2SeqConfig(src_vocab, tgt_vocab, embed_size=32, hidden_size=64, cell="gru",
    attention=None))."""
    return Seq2Seq(Seq2SeqConfig(src_vocab, tgt_vocab, **kwargs))


def reversal_examples(count: int, min_len: int, max_len: int, digits: int = 10, generator=None):
    """The toy task: src is a random digit string, tgt the same digits reversed then EOS.

    Digit d is token SPECIAL_TOKENS + d. Returns src_NS (N, max_len) and tgt_NT (N, max_len + 1),
    both PAD-filled."""
    lengths_N = torch.randint(min_len, max_len + 1, (count,), generator=generator)
    digits_NS = torch.randint(0, digits, (count, max_len), generator=generator) + SPECIAL_TOKENS
    positions_NS = torch.arange(max_len).expand(count, max_len)  # (N, S) column indices
    src_NS = torch.where(positions_NS < lengths_N[:, None], digits_NS, PAD)
    # reversed: position i of the target reads source position length - 1 - i
    source_index_NS = (lengths_N[:, None] - 1 - positions_NS).clamp(min=0)
    reversed_NS = torch.where(positions_NS < lengths_N[:, None], src_NS.gather(1, source_index_NS), PAD)
    tgt_NT = F.pad(reversed_NS, (0, 1), value=PAD)  # (N, max_len + 1) room for EOS
    tgt_NT[torch.arange(count), lengths_N] = EOS
    return src_NS, tgt_NT
