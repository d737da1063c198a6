"""word2vec: skip-gram and CBOW word embeddings trained with negative sampling.

Mikolov et al. (2013a) "Efficient estimation of word representations in vector space" (the CBOW and
skip-gram architectures) and Mikolov et al. (2013b) "Distributed representations of words and phrases
and their compositionality" (negative sampling from the unigram distribution raised to 3/4). With v
the input ("word") vectors and v' the output ("context") vectors, one example costs

    -log σ(v'_o · h) - Σ_{k=1..K} log σ(-v'_{n_k} · h),     n_k ~ P(w) ∝ count(w)^0.75

where for skip-gram h = v_centre and o is one word of its window, and for CBOW h is the mean of the
window's v and o is the centre word. The vectors kept afterwards are v (`Word2Vec.embeddings`).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.registry import register

ARCHITECTURES = ("skipgram", "cbow")


class Word2Vec(nn.Module):
    """Input and output embedding tables; `forward` is the negative-sampling loss of a batch."""

    def __init__(self, vocab_size: int, dim: int, architecture: str = "skipgram"):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        self.architecture = architecture
        self.input_embed = nn.Embedding(vocab_size, dim)  # v
        self.output_embed = nn.Embedding(vocab_size, dim)  # v'
        # word2vec.c's start: small random v, zero v', so early gradients only move v' towards v
        nn.init.uniform_(self.input_embed.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.output_embed.weight)

    def hidden(self, inputs: torch.Tensor) -> torch.Tensor:
        """h_ND: the centre's vector (skip-gram, inputs (N,)) or the window's mean (CBOW, inputs (N, W))."""
        if self.architecture == "skipgram":
            return self.input_embed(inputs)
        return self.input_embed(inputs).mean(dim=1)  # (N, W, D) -> (N, D)

    def forward(self, inputs: torch.Tensor, targets_N: torch.Tensor, negatives_NK: torch.Tensor):
        """Mean negative-sampling loss. Skip-gram: inputs are centres (N,), targets context words;
        CBOW: inputs are windows (N, W), targets centres. negatives_NK are sampled words."""
        h_ND = self.hidden(inputs)
        positive_N = torch.einsum("nd,nd->n", h_ND, self.output_embed(targets_N))
        negative_NK = torch.einsum("nd,nkd->nk", h_ND, self.output_embed(negatives_NK))
        return (-F.logsigmoid(positive_N) - F.logsigmoid(-negative_NK).sum(dim=1)).mean()

    @property
    def embeddings(self) -> torch.Tensor:
        """The word vectors v, (V, D)."""
        return self.input_embed.weight


@register("word2vec_skipgram")
def word2vec_skipgram(vocab_size: int, dim: int = 32) -> Word2Vec:
    return Word2Vec(vocab_size, dim, "skipgram")


@register("word2vec_cbow")
def word2vec_cbow(vocab_size: int, dim: int = 32) -> Word2Vec:
    return Word2Vec(vocab_size, dim, "cbow")


# --- data: windows, negatives, neighbours, and a corpus with known synonyms ------------------------


def skipgram_pairs(corpus_L: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (centre, context) pair with the context at most `window` positions away: two (P,) tensors."""
    centres, contexts = [], []
    for offset in range(1, window + 1):
        centres += [corpus_L[:-offset], corpus_L[offset:]]  # the word `offset` to the right, then left
        contexts += [corpus_L[offset:], corpus_L[:-offset]]
    return torch.cat(centres), torch.cat(contexts)


def cbow_windows(corpus_L: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Full windows around every centre that has one: windows (P, 2·window) and centres (P,)."""
    spans_PS = corpus_L.unfold(0, 2 * window + 1, 1)  # (P, 2·window + 1): sliding spans
    windows_PW = torch.cat([spans_PS[:, :window], spans_PS[:, window + 1 :]], dim=1)  # drop the centre
    return windows_PW, spans_PS[:, window]


class NegativeSampler:
    """Draws words from the unigram distribution to the power 3/4 (Mikolov et al. 2013b)."""

    def __init__(self, counts_V: torch.Tensor, power: float = 0.75):
        self.probs_V = counts_V.double() ** power
        self.probs_V /= self.probs_V.sum()

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        count = 1
        for size in shape:
            count *= size
        return torch.multinomial(self.probs_V, count, replacement=True, generator=generator).reshape(shape)


def nearest_neighbours(embeddings_VD: torch.Tensor) -> torch.Tensor:
    """For every word, the other word with the highest cosine similarity: (V,) indices."""
    unit_VD = F.normalize(embeddings_VD, dim=1)
    cosine_VV = unit_VD @ unit_VD.T
    cosine_VV.fill_diagonal_(float("-inf"))  # a word is not its own neighbour
    return cosine_VV.argmax(dim=1)


def synonym_corpus(classes: int, length: int, successors: int = 3, generator=None) -> torch.Tensor:
    """A corpus in which words 2c and 2c+1 are interchangeable: a Markov chain walks over `classes`
    word classes (class c may be followed by class c + 1 or by `successors` - 1 random classes) and each
    visit emits one of the class's two words at random. The two words of a class then share every context
    distribution, while different classes have different neighbours (c + 1 and c - 1 at least), so each
    word's true nearest neighbour is its partner, word ^ 1. Returns corpus_L (length,) of word ids in
    [0, 2·classes)."""
    # successor 0 of class c is c + 1, so the walk is a cycle with shortcuts and reaches every class
    shortcuts_CS = torch.randint(0, classes, (classes, successors - 1), generator=generator)
    next_CS = torch.cat([(torch.arange(classes) + 1).remainder(classes)[:, None], shortcuts_CS], dim=1)
    choice_L = torch.randint(0, successors, (length,), generator=generator)
    word_bit_L = torch.randint(0, 2, (length,), generator=generator)
    successors_table, choices = next_CS.tolist(), choice_L.tolist()  # plain ints: the walk is serial
    walk, current = [], 0
    for choice in choices:
        walk.append(current)
        current = successors_table[current][choice]
    return 2 * torch.tensor(walk) + word_bit_L
