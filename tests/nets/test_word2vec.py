"""word2vec: windows and negatives against brute force, the loss against its formula and its closed-form
starting value (1 + K)·log 2, and synonyms found."""
import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics.pairwise import cosine_similarity

import nets
from nets.sequence.word2vec import (
    NegativeSampler,
    Word2Vec,
    cbow_windows,
    nearest_neighbours,
    skipgram_pairs,
    synonym_corpus,
)


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


CORPUS = torch.tensor([4, 1, 7, 7, 2, 9, 0, 3, 5])


@pytest.mark.parametrize("window", [1, 2, 3])
def test_skipgram_pairs_are_every_pair_within_the_window(window):
    centres, contexts = skipgram_pairs(CORPUS, window)
    words = CORPUS.tolist()
    expected = Counter(
        (words[i], words[j]) for i in range(len(words)) for j in range(len(words)) if 0 < abs(i - j) <= window
    )
    assert Counter(zip(centres.tolist(), contexts.tolist())) == expected


def test_cbow_windows():
    windows_PW, centres_P = cbow_windows(CORPUS, 2)
    words = CORPUS.tolist()
    assert windows_PW.tolist() == [words[i - 2 : i] + words[i + 1 : i + 3] for i in range(2, len(words) - 2)]
    assert centres_P.tolist() == words[2:-2]


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_loss_is_the_negative_sampling_objective(architecture):
    torch.manual_seed(0)
    model = nets.build(f"word2vec_{architecture}", vocab_size=12, dim=5)
    assert isinstance(model, Word2Vec) and model.architecture == architecture
    torch.nn.init.normal_(model.output_embed.weight)  # it starts at zero; make the test see it
    g = torch.Generator().manual_seed(1)
    inputs = torch.randint(0, 12, (6,) if architecture == "skipgram" else (6, 4), generator=g)
    targets, negatives = torch.randint(0, 12, (6,), generator=g), torch.randint(0, 12, (6, 3), generator=g)
    v, u = model.input_embed.weight, model.output_embed.weight
    h = v[inputs] if architecture == "skipgram" else v[inputs].mean(dim=1)
    # as a sum of logistic regressions: the true word labelled 1, each negative labelled 0
    positive, negative = (h * u[targets]).sum(1, keepdim=True), torch.einsum("nd,nkd->nk", h, u[negatives])
    logits = torch.cat([positive, negative], dim=1)
    labels = torch.cat([torch.ones(6, 1), torch.zeros(6, 3)], 1)
    expected = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / 6
    torch.testing.assert_close(model(inputs, targets, negatives), expected)


def test_negative_sampler_follows_unigram_to_three_quarters():
    counts = torch.tensor([1, 10, 100, 1000])
    samples = NegativeSampler(counts).sample((200, 1000), torch.Generator().manual_seed(2))
    assert samples.shape == (200, 1000)
    observed = torch.bincount(samples.flatten(), minlength=4).double() / samples.numel()
    expected = counts.double() ** 0.75 / (counts.double() ** 0.75).sum()
    torch.testing.assert_close(observed, expected, atol=2e-3, rtol=0)


def test_nearest_neighbours_match_sklearn_cosine():
    embeddings = torch.randn(30, 6, generator=torch.Generator().manual_seed(3))
    similarity = cosine_similarity(embeddings.numpy())
    np.fill_diagonal(similarity, -np.inf)
    assert nearest_neighbours(embeddings).tolist() == similarity.argmax(axis=1).tolist()


def test_synonym_corpus():
    corpus = synonym_corpus(6, 3000, generator=torch.Generator().manual_seed(4))
    assert corpus.shape == (3000,) and corpus.min() >= 0 and corpus.max() < 12
    assert torch.bincount(corpus, minlength=12).min() > 0  # the cycle reaches every class
    following = {}
    for a, b in zip((corpus // 2).tolist(), (corpus // 2).tolist()[1:]):
        following.setdefault(a, set()).add(b)
    assert all((c + 1) % 6 in nxt and len(nxt) <= 3 for c, nxt in following.items())


def _train(architecture, classes=12, steps=400, seed=0):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    corpus = synonym_corpus(classes, 20_000, generator=g)
    sampler = NegativeSampler(torch.bincount(corpus, minlength=2 * classes))
    inputs, targets = skipgram_pairs(corpus, 2) if architecture == "skipgram" else cbow_windows(corpus, 2)
    model = Word2Vec(2 * classes, 16, architecture)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(steps):
        rows = torch.randint(0, len(targets), (256,), generator=g)
        loss = model(inputs[rows], targets[rows], sampler.sample((256, 5), g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_interchangeable_words_are_nearest_neighbours(architecture):
    model = _train(architecture)
    neighbours = nearest_neighbours(model.embeddings.detach())
    partners = torch.arange(len(neighbours)) ^ 1  # word 2c's partner is 2c + 1 and back
    hits = (neighbours == partners).float().mean().item()
    print(f"{architecture}: {hits:.3f} of words have their interchangeable partner as nearest neighbour")
    assert hits == 1.0


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_untrained_loss_is_one_plus_k_times_log_two(architecture):
    """word2vec.c starts v' at zero, so every score v'·h is 0 and each of the 1 + K logistic terms costs
    -log σ(0) = log 2 exactly, whatever the words and whatever v: the loss starts at (1 + K)·log 2."""
    torch.manual_seed(0)
    model = Word2Vec(10, 4, architecture)
    assert torch.count_nonzero(model.output_embed.weight) == 0
    assert model.input_embed.weight.abs().max() <= 0.5 / 4  # U(-0.5/D, 0.5/D), word2vec.c's start
    g = torch.Generator().manual_seed(1)
    inputs = torch.randint(0, 10, (5,) if architecture == "skipgram" else (5, 4), generator=g)
    targets, negatives = torch.randint(0, 10, (5,), generator=g), torch.randint(0, 10, (5, 3), generator=g)
    # float32 rounding of log 2 and of a mean of four equal terms: a few ulps of 2.77
    assert model(inputs, targets, negatives).item() == pytest.approx(4 * math.log(2), abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synonyms_over_seeds_and_a_larger_vocabulary(architecture, seed):
    model = _train(architecture, classes=25, steps=800, seed=seed)
    neighbours = nearest_neighbours(model.embeddings.detach())
    assert (neighbours == torch.arange(50) ^ 1).all()
