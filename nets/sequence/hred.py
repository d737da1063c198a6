"""HRED and VHRED: dialogue models with an RNN over utterances above an RNN over words.

Serban et al. (2016) "Building end-to-end dialogue systems using generative hierarchical neural network
models" (HRED, after Sordoni et al. 2015): an utterance encoder reads each utterance's tokens to a
vector e_n; a context RNN reads e_1 .. e_n to a state c_n; a decoder writes utterance n+1 conditioned
on c_n. Serban et al. (2017) "A hierarchical latent variable encoder-decoder model for generating
dialogues" (VHRED) add a latent z_n per utterance:

    prior      p(z | c_n)            = N(μ_p, diag σ_p²)     (MLP of the context)
    posterior  q(z | c_n, e_{n+1})   = N(μ_q, diag σ_q²)     (MLP of the context and the true reply)
    z = μ_q + σ_q ⊙ ε,  ε ~ N(0, I)                          (reparameterisation, Kingma & Welling 2014)
    loss = -log p(w_{n+1} | c_n, z) + β · KL(q ‖ p)          (β anneals 0 -> 1, Bowman et al. 2016)

and the decoder reads [c_n; z]. Generation samples z from the prior (or takes its mean). One class does
both: `latent_size=0` is HRED, > 0 is VHRED (a table row, not a subclass).

Dialogues are token tensors dialogue_NUT (N dialogues, U utterances, T tokens); each utterance is its
tokens then EOS, PAD-filled; token ids as in `seq2seq` (PAD=0, BOS=1, EOS=2).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.registry import register
from nets.sequence.gru import GRU
from nets.sequence.seq2seq import BOS, EOS, PAD, SPECIAL_TOKENS, never_pad_or_bos


@dataclass(frozen=True)
class HREDConfig:
    vocab: int
    """Vocabulary size, special tokens included."""
    embed_size: int = 32
    """Token embedding width (shared by encoder and decoder)."""
    utterance_size: int = 64
    """Utterance encoder state width: the size of e_n."""
    context_size: int = 64
    """Context RNN state width: the size of c_n."""
    decoder_size: int = 64
    """Decoder state width."""
    latent_size: int = 0
    """Width of z; 0 builds HRED, anything larger VHRED."""


def gaussian_kl(mu_q, logvar_q, mu_p, logvar_p) -> torch.Tensor:
    """KL(N(mu_q, e^logvar_q) ‖ N(mu_p, e^logvar_p)) of diagonal Gaussians, summed over the last axis."""
    return 0.5 * torch.sum(
        logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1.0, dim=-1
    )


def _gaussian_head(in_size: int, hidden: int, latent: int) -> nn.Sequential:
    """A tanh hidden layer, then a linear layer giving [μ; log σ²] (log-variance keeps σ² positive
    without a softplus)."""
    return nn.Sequential(nn.Linear(in_size, hidden), nn.Tanh(), nn.Linear(hidden, 2 * latent))


class HRED(nn.Module):
    """`loss` trains (teacher forcing), `generate` writes the next utterance greedily."""

    def __init__(self, config: HREDConfig):
        super().__init__()
        self.config = config
        c, z = config.context_size, config.latent_size
        self.embed = nn.Embedding(config.vocab, config.embed_size, padding_idx=PAD)
        self.utterance_encoder = GRU(config.embed_size, config.utterance_size, batch_first=True)
        self.context_rnn = GRU(config.utterance_size, c, batch_first=True)
        if z > 0:
            self.prior = _gaussian_head(c, c, z)
            self.posterior = _gaussian_head(c + config.utterance_size, c, z)
        self.decoder_init = nn.Linear(c + z, config.decoder_size)
        # the condition [c_n; z] sets the first state and is fed again with every token, so it is not
        # forgotten over a long reply
        self.decoder = GRU(config.embed_size + c + z, config.decoder_size, batch_first=True)
        self.readout = nn.Linear(config.decoder_size, config.vocab)

    def encode_utterances(self, dialogue_NUT: torch.Tensor) -> torch.Tensor:
        """e_n for every utterance: (N, U, utterance_size)."""
        n, u, t = dialogue_NUT.shape
        flat_MT = dialogue_NUT.reshape(n * u, t)  # every utterance of every dialogue, M = N·U
        lengths_M = (flat_MT != PAD).sum(dim=1).clamp(min=1)
        _, final_1MH = self.utterance_encoder(self.embed(flat_MT), lengths=lengths_M)
        return final_1MH[-1].reshape(n, u, -1)  # (M, H) -> (N, U, H)

    def _decode(self, condition_MK: torch.Tensor, inputs_MT: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoder logits (M, T, V) for inputs BOS y_1 .. under a condition (M, K)."""
        emb_MTE = self.embed(inputs_MT)
        condition_MTK = condition_MK.unsqueeze(1).expand(-1, inputs_MT.shape[1], -1)  # repeat per step
        h0_1MD = torch.tanh(self.decoder_init(condition_MK)).unsqueeze(0)  # (1, M, D) for one layer
        out_MTD, _ = self.decoder(torch.cat([emb_MTE, condition_MTK], dim=2), h0_1MD)
        return never_pad_or_bos(self.readout(out_MTD))

    def forward(self, dialogue_NUT: torch.Tensor, latent: str = "posterior_sample"):
        """Logits for utterances 2..U given the ones before, and the KL term per predicted utterance.

        VHRED's z is a reparameterised posterior sample when training (`latent="posterior_sample"`);
        `latent="prior_mean"` conditions on the prior mean instead, as `generate` does, to score replies
        the way they are generated. Returns logits (N, U-1, T, V) and kl (N, U-1) (zeros for HRED)."""
        if latent not in ("posterior_sample", "prior_mean"):
            raise ValueError(f"latent must be 'posterior_sample' or 'prior_mean', got {latent!r}")
        n, u, t = dialogue_NUT.shape
        enc_NUH = self.encode_utterances(dialogue_NUT)
        ctx_NUC, _ = self.context_rnn(enc_NUH)
        ctx_MC = ctx_NUC[:, :-1].reshape(n * (u - 1), -1)  # c_n predicting utterance n+1; M = N·(U-1)
        target_MT = dialogue_NUT[:, 1:].reshape(n * (u - 1), t)  # the utterances to predict
        kl_M = ctx_MC.new_zeros(ctx_MC.shape[0])
        condition_MK = ctx_MC
        if self.config.latent_size > 0:
            mu_p, logvar_p = self.prior(ctx_MC).chunk(2, dim=1)
            reply_MH = enc_NUH[:, 1:].reshape(n * (u - 1), -1)  # e_{n+1}, what the posterior may see
            mu_q, logvar_q = self.posterior(torch.cat([ctx_MC, reply_MH], dim=1)).chunk(2, dim=1)
            if latent == "prior_mean":
                z_MZ = mu_p
            else:
                z_MZ = mu_q + torch.exp(0.5 * logvar_q) * torch.randn_like(mu_q)  # reparameterised sample
            kl_M = gaussian_kl(mu_q, logvar_q, mu_p, logvar_p)
            condition_MK = torch.cat([ctx_MC, z_MZ], dim=1)
        inputs_MT = F.pad(target_MT[:, :-1], (1, 0), value=BOS)  # BOS y_1 .. y_{T-1}
        logits_MTV = self._decode(condition_MK, inputs_MT)
        return logits_MTV.reshape(n, u - 1, t, -1), kl_M.reshape(n, u - 1)  # back to dialogues

    def loss(self, dialogue_NUT: torch.Tensor, kl_weight: float = 1.0):
        """(loss, nll, kl): per-utterance token NLL (summed over tokens) plus kl_weight·KL, each a mean
        over the predicted utterances. With kl_weight=1 the loss is the negative ELBO."""
        logits_NUTV, kl_NU = self(dialogue_NUT)
        target_NUT = dialogue_NUT[:, 1:]
        logits_MV = logits_NUTV.flatten(0, 2)  # (N·U·T, V)
        token_nll_M = F.cross_entropy(logits_MV, target_NUT.flatten(), ignore_index=PAD, reduction="none")
        token_nll_NUT = token_nll_M.reshape(target_NUT.shape)
        nll = token_nll_NUT.sum(dim=2).mean()
        kl = kl_NU.mean()
        return nll + kl_weight * kl, nll, kl

    @torch.no_grad()
    def generate(self, history_NUT: torch.Tensor, max_len: int, sample_latent: bool = False) -> torch.Tensor:
        """Greedy next utterance (N, max_len), PAD after EOS, given every utterance of `history_NUT`.
        VHRED takes the prior mean for z unless `sample_latent`."""
        enc_NUH = self.encode_utterances(history_NUT)
        ctx_NUC, _ = self.context_rnn(enc_NUH)
        condition_NK = ctx_NUC[:, -1]
        if self.config.latent_size > 0:
            mu_p, logvar_p = self.prior(condition_NK).chunk(2, dim=1)
            z_NZ = mu_p + torch.exp(0.5 * logvar_p) * torch.randn_like(mu_p) if sample_latent else mu_p
            condition_NK = torch.cat([condition_NK, z_NZ], dim=1)
        cell = self.decoder.cells[0]
        state = (torch.tanh(self.decoder_init(condition_NK)),)
        y_N = torch.full((history_NUT.shape[0],), BOS, dtype=torch.long, device=history_NUT.device)
        done_N = torch.zeros_like(y_N, dtype=torch.bool)
        tokens = []
        for _ in range(max_len):
            state = cell(torch.cat([self.embed(y_N), condition_NK], dim=1), state)
            y_N = never_pad_or_bos(self.readout(state[0])).argmax(dim=1)
            tokens.append(torch.where(done_N, PAD, y_N))
            done_N = done_N | (y_N == EOS)
        return torch.stack(tokens, dim=1)


@register("hred")
def hred(vocab: int, **kwargs) -> HRED:
    """HRED(HREDConfig(vocab, embed_size=32, utterance_size=64, context_size=64, decoder_size=64))."""
    return HRED(HREDConfig(vocab, latent_size=0, **kwargs))


@register("vhred")
def vhred(vocab: int, latent_size: int = 16, **kwargs) -> HRED:
    """HRED with a latent variable per utterance (VHRED); `latent_size` must be positive."""
    if latent_size <= 0:
        raise ValueError("VHRED needs latent_size > 0 (latent_size=0 is plain HRED)")
    return HRED(HREDConfig(vocab, latent_size=latent_size, **kwargs))


DIALOGUE_RULES = {
    "echo": lambda last, before: before,
    "sum": lambda last, before: last + before,
}
"""Reply rules: u_{n+1} = rule(u_n, u_{n-1}) mod symbols, position by position."""


def rule_dialogues(
    count: int, turns: int, length: int, symbols: int, rule: str = "sum", generator=None
) -> torch.Tensor:
    """A dialogue task whose replies follow from the context: u_1, u_2 are random strings of `length`
    symbols, then u_{n+1} = rule(u_n, u_{n-1}) mod `symbols` (see DIALOGUE_RULES): "echo" repeats the
    turn before last, "sum" is a Fibonacci of strings (XOR when symbols=2). Either way only a model that
    remembers two turns can predict a reply; copying the last turn is right 1/`symbols` of the time.
    Returns dialogue_NUT (count, turns, length + 1), each turn ending with EOS; symbol s is token
    SPECIAL_TOKENS + s."""
    turns_list = [torch.randint(0, symbols, (count, length), generator=generator) for _ in range(2)]
    while len(turns_list) < turns:
        turns_list.append(DIALOGUE_RULES[rule](turns_list[-1], turns_list[-2]) % symbols)
    symbols_NUL = torch.stack(turns_list[:turns], dim=1)  # (N, U, L)
    return F.pad(symbols_NUL + SPECIAL_TOKENS, (0, 1), value=EOS)  # (N, U, L + 1): EOS closes each turn
