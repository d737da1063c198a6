"""HRED and VHRED: shapes, causality, the KL term, the loss against its formula and reparameterisation; both
learn a rule-based dialogue."""
import pytest
import torch

import nets
from nets.sequence.hred import HRED, HREDConfig, gaussian_kl, hred, rule_dialogues, vhred
from nets.sequence.seq2seq import EOS, PAD, SPECIAL_TOKENS


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


SMALL = dict(embed_size=8, utterance_size=12, context_size=12, decoder_size=12)


def test_rule_dialogues():
    g = torch.Generator().manual_seed(0)
    for rule, symbols in [("echo", 3), ("sum", 2), ("sum", 5)]:
        dialogue_NUT = rule_dialogues(20, 5, 3, symbols, rule, generator=g)
        assert dialogue_NUT.shape == (20, 5, 4)
        assert torch.all(dialogue_NUT[:, :, -1] == EOS)
        u = (dialogue_NUT[:, :, :-1] - SPECIAL_TOKENS).tolist()
        for turns in u:
            assert all(0 <= s < symbols for turn in turns for s in turn)
            for n in range(2, 5):
                summed = [(a + b) % symbols for a, b in zip(turns[n - 1], turns[n - 2])]
                assert turns[n] == (turns[n - 2] if rule == "echo" else summed)


@pytest.mark.parametrize("latent_size", [0, 4])
def test_shapes_and_registry(latent_size):
    torch.manual_seed(0)
    model = nets.build("vhred" if latent_size else "hred", vocab=SPECIAL_TOKENS + 3, **SMALL,
                       **({"latent_size": latent_size} if latent_size else {}))
    assert isinstance(model, HRED) and model.config.latent_size == latent_size
    dialogue_NUT = rule_dialogues(6, 4, 3, 3, "echo", generator=torch.Generator().manual_seed(1))
    logits_NUTV, kl_NU = model(dialogue_NUT)
    assert logits_NUTV.shape == (6, 3, 4, SPECIAL_TOKENS + 3) and kl_NU.shape == (6, 3)
    assert torch.all(kl_NU == 0) if latent_size == 0 else torch.all(kl_NU > 0)
    assert model.generate(dialogue_NUT[:, :2], max_len=5).shape == (6, 5)
    with pytest.raises(ValueError):
        vhred(10, latent_size=0)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(2)
    mu_q, logvar_q, mu_p, logvar_p = (torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(4))
    q = torch.distributions.Normal(mu_q, (0.5 * logvar_q).exp())
    p = torch.distributions.Normal(mu_p, (0.5 * logvar_p).exp())
    expected = torch.distributions.kl_divergence(q, p).sum(dim=-1)
    torch.testing.assert_close(gaussian_kl(mu_q, logvar_q, mu_p, logvar_p), expected)
    assert torch.allclose(gaussian_kl(mu_q, logvar_q, mu_q, logvar_q), torch.zeros(5, dtype=torch.float64))


def test_hred_is_causal():
    """The logits for turn n+1 see turns 1..n and the reply's earlier tokens, never its own or later ones."""
    torch.manual_seed(3)
    model = hred(SPECIAL_TOKENS + 3, **SMALL)
    dialogue_NUT = rule_dialogues(2, 4, 3, 3, "echo", generator=torch.Generator().manual_seed(4))
    changed_NUT = dialogue_NUT.clone()
    changed_NUT[:, 3, 1] = SPECIAL_TOKENS + (changed_NUT[:, 3, 1] - SPECIAL_TOKENS + 1) % 3  # turn 4, token 2
    with torch.no_grad():
        before, _ = model(dialogue_NUT)
        after, _ = model(changed_NUT)
    torch.testing.assert_close(before[:, :2], after[:, :2])  # turns 2 and 3 cannot see turn 4
    torch.testing.assert_close(before[:, 2, :2], after[:, 2, :2])  # turn 4's tokens 1-2 don't see token 2
    assert not torch.allclose(before[:, 2, 2:], after[:, 2, 2:])  # token 3 onwards does


@pytest.mark.parametrize("latent_size", [0, 4])
def test_generate_agrees_with_teacher_forcing(latent_size):
    """The step-by-step decoder and the teacher-forced one are different code; they must agree."""
    torch.manual_seed(5)
    model = HRED(HREDConfig(SPECIAL_TOKENS + 3, latent_size=latent_size, **SMALL)).eval()
    history_NUT = rule_dialogues(5, 3, 3, 3, "echo", generator=torch.Generator().manual_seed(6))
    reply_NT = model.generate(history_NUT, max_len=4)
    with torch.no_grad():
        logits_NUTV, _ = model(torch.cat([history_NUT, reply_NT[:, None]], dim=1), latent="prior_mean")
    argmax_NT = logits_NUTV[:, -1].argmax(dim=2)
    for got, want in zip(reply_NT.tolist(), argmax_NT.tolist()):
        cut = got.index(EOS) + 1 if EOS in got else len(got)
        assert got[:cut] == want[:cut]


def test_reparameterised_latent_carries_gradient_to_the_posterior():
    torch.manual_seed(7)
    model = vhred(SPECIAL_TOKENS + 3, latent_size=4, **SMALL)
    dialogue_NUT = rule_dialogues(8, 4, 3, 3, "echo", generator=torch.Generator().manual_seed(8))
    _, nll, _ = model.loss(dialogue_NUT, kl_weight=0.0)  # no KL: only z = μ + σ ε links q to the loss
    nll.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.posterior.parameters())
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.prior.parameters())
    with torch.no_grad():  # sampling makes training passes differ, the prior-mean generation does not
        assert not torch.equal(model(dialogue_NUT)[0], model(dialogue_NUT)[0])
        assert torch.equal(model.generate(dialogue_NUT, 4), model.generate(dialogue_NUT, 4))


# --- learning a dialogue rule ----------------------------------------------------------------------


def _reply_accuracy(model, dialogue_NUT):
    """Greedy token accuracy (EOS included) on every turn after the second, the predictable ones."""
    correct = total = 0
    for n in range(2, dialogue_NUT.shape[1]):
        reply_NT = model.generate(dialogue_NUT[:, :n], max_len=dialogue_NUT.shape[2])
        correct += (reply_NT == dialogue_NUT[:, n]).sum().item()
        total += reply_NT.numel()
    return correct / total


def _baselines(train_NUT, test_NUT):
    """Accuracy of copying the last turn, and of the most frequent training token at each position."""
    copy = (test_NUT[:, 2:] == test_NUT[:, 1:-1]).float().mean().item()
    majority_T = torch.mode(train_NUT[:, 2:].transpose(0, 2).flatten(1), dim=1).values  # per position
    majority = (test_NUT[:, 2:] == majority_T).float().mean().item()
    return copy, majority


def _learn(model, rule, symbols, steps):
    g = torch.Generator().manual_seed(11)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for step in range(steps):
        dialogue_NUT = rule_dialogues(64, 4, 3, symbols, rule, generator=g)
        loss, nll, _ = model.loss(dialogue_NUT, kl_weight=min(1.0, 2 * step / steps))  # KL annealing
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(nll.item())
    test_NUT = rule_dialogues(300, 4, 3, symbols, rule, generator=torch.Generator().manual_seed(12))
    train_NUT = rule_dialogues(300, 4, 3, symbols, rule, generator=torch.Generator().manual_seed(13))
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    return first, last, _reply_accuracy(model.eval(), test_NUT), _baselines(train_NUT, test_NUT)


def test_hred_learns_the_xor_of_the_last_two_turns():
    torch.manual_seed(0)
    model = hred(SPECIAL_TOKENS + 2, embed_size=16, utterance_size=32, context_size=32, decoder_size=32)
    first, last, accuracy, (copy, majority) = _learn(model, "sum", 2, 500)
    print(f"HRED xor: nll {first:.3f} -> {last:.3f}, reply accuracy {accuracy:.3f}, "
          f"baselines copy-last {copy:.3f} majority {majority:.3f}")
    assert last < 0.7 * first
    assert accuracy >= 0.9 and accuracy > max(copy, majority) + 0.2


def test_vhred_learns_to_echo_the_turn_before_last():
    torch.manual_seed(0)
    model = vhred(SPECIAL_TOKENS + 3, latent_size=8, embed_size=16, utterance_size=32, context_size=32,
                  decoder_size=32)
    first, last, accuracy, (copy, majority) = _learn(model, "echo", 3, 250)
    print(f"VHRED echo: nll {first:.3f} -> {last:.3f}, reply accuracy {accuracy:.3f}, "
          f"baselines copy-last {copy:.3f} majority {majority:.3f}")
    assert last < 0.7 * first
    assert accuracy >= 0.9 and accuracy > max(copy, majority) + 0.2


@pytest.mark.parametrize("kl_weight", [1.0, 0.3])
def test_loss_is_token_nll_per_utterance_plus_weighted_kl(kl_weight):
    """`loss` against its formula, recomputed from `forward` on the same draw of z: the NLL is -log softmax
    at every non-PAD target token, summed over an utterance's tokens and averaged over utterances; KL is the
    mean of the per-utterance KL(q ‖ p); loss = NLL + β·KL. (A seeded golden (NLL, KL) pair stood here.)"""
    torch.manual_seed(0)
    model = vhred(SPECIAL_TOKENS + 3, latent_size=2, **SMALL)
    dialogue_NUT = rule_dialogues(3, 4, 2, 3, "sum", generator=torch.Generator().manual_seed(0))
    dialogue_NUT[0, 2, 1:] = PAD  # one utterance shorter than the rest, so PAD targets are really skipped
    with torch.no_grad():
        torch.manual_seed(1)
        loss, nll, kl = model.loss(dialogue_NUT, kl_weight=kl_weight)
        torch.manual_seed(1)  # the same ε for z
        logits_NUTV, kl_NU = model(dialogue_NUT)
    target_NUT = dialogue_NUT[:, 1:]
    logp_NUTV = torch.log_softmax(logits_NUTV, dim=-1)
    per_utterance = [
        -sum(logp_NUTV[n, u, t, token].item() for t, token in enumerate(target_NUT[n, u].tolist()) if token != PAD)
        for n in range(3) for u in range(3)
    ]
    expected_nll = sum(per_utterance) / len(per_utterance)
    assert nll.item() == pytest.approx(expected_nll, abs=1e-5)
    assert kl.item() == pytest.approx(kl_NU.mean().item(), abs=1e-6) and kl.item() > 0
    assert loss.item() == pytest.approx(expected_nll + kl_weight * kl_NU.mean().item(), abs=1e-5)


@pytest.mark.slow
def test_vhred_learns_the_sum_of_the_last_two_turns():
    torch.manual_seed(0)
    model = vhred(SPECIAL_TOKENS + 2, latent_size=8, embed_size=16, utterance_size=32, context_size=32,
                  decoder_size=32)
    first, last, accuracy, (copy, majority) = _learn(model, "sum", 2, 800)
    print(f"VHRED xor: nll {first:.3f} -> {last:.3f}, reply accuracy {accuracy:.3f}, "
          f"baselines copy-last {copy:.3f} majority {majority:.3f}")
    assert accuracy >= 0.9 and accuracy > max(copy, majority) + 0.2
