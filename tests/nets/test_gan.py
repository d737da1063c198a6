"""GAN and DCGAN tests: losses against eq. 1, the training step, DCGAN's architecture rules and initialisation,
both pairs against functional references, and learning goals.

Learning goals: an MLP GAN covers all eight modes of a ring of Gaussians; a DCGAN on sklearn's 8x8 digits
makes samples that a logistic-regression digit classifier (trained on the real digits) spreads over all
ten classes, as diverse as the real images.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import nets
from nets.generative.dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from nets.generative.gan import (
    MLPDiscriminator,
    MLPGenerator,
    discriminator_loss,
    generator_loss,
    minimax_generator_loss,
    train_step,
)
from tests.nets.batchnorm import randomise_batch_norms


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- losses and the training step


def test_losses_are_the_value_function_terms():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(9, generator=g, dtype=torch.float64), torch.randn(9, generator=g, dtype=torch.float64)
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_v = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()  # eq. 1
    torch.testing.assert_close(discriminator_loss(real, fake), -expected_v)
    torch.testing.assert_close(generator_loss(fake), -torch.log(d_fake).mean())
    torch.testing.assert_close(minimax_generator_loss(fake), torch.log(1 - d_fake).mean())


def test_non_saturating_loss_keeps_the_gradient_where_minimax_loses_it():
    # Where D rejects fakes with confidence (logit -8, D = 3e-4), log(1 - D) is flat; -log D is steep.
    logits = torch.full((4,), -8.0, requires_grad=True)
    minimax_generator_loss(logits).backward()
    minimax_grad = logits.grad.abs().max().item()
    logits.grad = None
    generator_loss(logits).backward()
    assert logits.grad.abs().min().item() > 1000 * minimax_grad


def test_train_step_updates_d_on_its_step_and_g_on_its_own():
    torch.manual_seed(0)
    gen, disc = nets.build("gan_generator"), nets.build("gan_discriminator")
    g_before = [p.detach().clone() for p in gen.parameters()]
    d_before = [p.detach().clone() for p in disc.parameters()]
    # With G's learning rate 0, a step must leave G untouched even though D trains on G's samples.
    frozen_g = torch.optim.SGD(gen.parameters(), lr=0.0)
    d_opt = torch.optim.SGD(disc.parameters(), lr=0.1)
    d_loss, g_loss = train_step(gen, disc, frozen_g, d_opt, torch.randn(32, 2), latent_dim=2)
    assert all(torch.equal(a, b) for a, b in zip(g_before, gen.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d_before, disc.parameters()))
    assert math.isfinite(d_loss) and math.isfinite(g_loss)
    # With D frozen, the G step moves G, and D's parameters stay put.
    d_before = [p.detach().clone() for p in disc.parameters()]
    train_step(gen, disc, torch.optim.SGD(gen.parameters(), lr=0.1), torch.optim.SGD(disc.parameters(), lr=0.0),
               torch.randn(32, 2), latent_dim=2)
    assert any(not torch.equal(a, b) for a, b in zip(g_before, gen.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(d_before, disc.parameters()))


# ---------------------------------------------------------------- shapes, architecture, references


def test_mlp_shapes():
    gen = nets.build("gan_generator", data_dim=3, latent_dim=5, hidden_dim=16)
    disc = nets.build("gan_discriminator", data_dim=3, latent_dim=5, hidden_dim=16)
    assert isinstance(gen, MLPGenerator) and isinstance(disc, MLPDiscriminator)
    assert gen(torch.randn(7, 5)).shape == (7, 3) and disc(torch.randn(7, 3)).shape == (7,)


@pytest.mark.parametrize("config", [dict(), dict(image_size=64, image_channels=3, latent_dim=100, width=16, base_size=4)],
                         ids=["digits8", "paper64"])
def test_dcgan_shapes_and_architecture_rules(config):
    torch.manual_seed(0)
    gen, disc = nets.build("dcgan_generator", **config), nets.build("dcgan_discriminator", **config)
    assert isinstance(gen, DCGANGenerator) and isinstance(disc, DCGANDiscriminator)
    c = DCGANConfig(**config)
    images = gen(torch.randn(5, c.latent_dim))
    assert images.shape == (5, c.image_channels, c.image_size, c.image_size)
    assert images.abs().max() <= 1.0 and isinstance(gen.upsample[-1], nn.Tanh)
    assert disc(images).shape == (5,)
    for net in (gen, disc):
        assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in net.modules())
        assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    stages = int(math.log2(c.image_size / c.base_size))
    up = [m for m in gen.modules() if isinstance(m, nn.ConvTranspose2d)]
    down = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert len(up) == len(down) == stages
    assert all(m.stride == (2, 2) for m in up + down)
    # Batch norm everywhere except G's output and D's input layer.
    assert not isinstance(disc.downsample[1], nn.BatchNorm2d)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in gen.upsample[-2:])
    leaky = [m for m in disc.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == stages and all(m.negative_slope == 0.2 for m in leaky)
    assert not any(isinstance(m, nn.LeakyReLU) for m in gen.modules())
    with pytest.raises(ValueError):
        DCGANGenerator(DCGANConfig(image_size=12))


def _bn(m: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)


def test_mlp_pair_equals_a_functional_reference():
    torch.manual_seed(5)
    gen, disc = nets.build("gan_generator", n_hidden=3).double(), nets.build("gan_discriminator", n_hidden=3).double()
    z = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    g_linears = [m for m in gen.modules() if isinstance(m, nn.Linear)]
    d_linears = [m for m in disc.modules() if isinstance(m, nn.Linear)]
    assert len(g_linears) == len(d_linears) == 4
    h = z
    for m in g_linears[:-1]:
        h = torch.tanh(F.linear(h, m.weight, m.bias))
    x = F.linear(h, g_linears[-1].weight, g_linears[-1].bias)
    h = x
    for m in d_linears[:-1]:
        h = F.leaky_relu(F.linear(h, m.weight, m.bias), 0.2)
    logit = F.linear(h, d_linears[-1].weight, d_linears[-1].bias).squeeze(1)
    with torch.no_grad():
        torch.testing.assert_close(gen(z), x, atol=1e-12, rtol=0)
        torch.testing.assert_close(disc(x), logit, atol=1e-12, rtol=0)


@pytest.mark.parametrize("config", [
    dict(), dict(image_size=64, image_channels=3, latent_dim=100, width=16, base_size=4),
], ids=["digits8", "paper64"])
def test_dcgan_pair_equals_a_functional_reference(config):
    """G and D in eval mode against the paper's recipe written with F.conv_transpose2d / F.conv2d (kernel 4,
    stride 2, padding 1) on their own weights. This and the MLP reference replaced seeded golden sums,
    which moved with torch's kernels."""
    torch.manual_seed(5)
    gen, disc = nets.build("dcgan_generator", **config).double(), nets.build("dcgan_discriminator", **config).double()
    randomise_batch_norms(gen, 1)
    randomise_batch_norms(disc, 2)
    gen.eval(), disc.eval()
    c = DCGANConfig(**config)
    z = torch.randn(3, c.latent_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = F.linear(z, gen.project.weight).view(3, -1, c.base_size, c.base_size)  # (N, top·b·b) -> (N, top, b, b)
    x = F.relu(_bn(gen.project_norm, x))
    up = [m for m in gen.upsample if isinstance(m, nn.ConvTranspose2d)]
    up_norms = [m for m in gen.upsample if isinstance(m, nn.BatchNorm2d)]
    for conv, norm in zip(up[:-1], up_norms):
        x = F.relu(_bn(norm, F.conv_transpose2d(x, conv.weight, stride=2, padding=1)))
    images = torch.tanh(F.conv_transpose2d(x, up[-1].weight, up[-1].bias, stride=2, padding=1))
    down = [m for m in disc.downsample if isinstance(m, nn.Conv2d)]
    down_norms = [m for m in disc.downsample if isinstance(m, nn.BatchNorm2d)]
    h = F.leaky_relu(F.conv2d(images, down[0].weight, down[0].bias, stride=2, padding=1), 0.2)
    for conv, norm in zip(down[1:], down_norms):
        h = F.leaky_relu(_bn(norm, F.conv2d(h, conv.weight, stride=2, padding=1)), 0.2)
    logits = F.linear(h.flatten(1), disc.read_out.weight, disc.read_out.bias).squeeze(1)
    with torch.no_grad():
        torch.testing.assert_close(gen(z), images, atol=1e-12, rtol=0)
        torch.testing.assert_close(disc(images), logits, atol=1e-12, rtol=0)


def test_dcgan_starts_from_the_papers_initialisation():
    """Section 4: every weight ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), shifts and biases 0. The
    sample mean and standard deviation of n draws may stray from the law by 5 standard errors,
    0.02/sqrt(n) and 0.02/sqrt(2n); PyTorch's default (uniform, fan-in) is far outside that."""
    torch.manual_seed(0)
    for net in (nets.build("dcgan_generator"), nets.build("dcgan_discriminator")):
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                centre = 0.0
            elif isinstance(m, nn.BatchNorm2d):
                centre = 1.0
            else:
                continue
            assert m.bias is None or torch.all(m.bias == 0), m
            values, n = m.weight.detach().double().flatten(), m.weight.numel()
            assert abs(values.mean().item() - centre) < 5 * 0.02 / math.sqrt(n), m
            assert abs(values.std().item() - 0.02) < 5 * 0.02 / math.sqrt(2 * n), m


# ---------------------------------------------------------------- MLP GAN on a ring of eight Gaussians

RING_RADIUS, RING_STD, NEAR, FAR = 2.0, 0.02, 0.25, 0.5
RING_MODES = RING_RADIUS * torch.stack(
    [torch.cos(torch.arange(8) * math.pi / 4), torch.sin(torch.arange(8) * math.pi / 4)], dim=1)  # (8, 2)


def _ring_batch(n: int, g: torch.Generator) -> torch.Tensor:
    return RING_MODES[torch.randint(0, 8, (n,), generator=g)] + RING_STD * torch.randn(n, 2, generator=g)


def _ring_coverage(gen: nn.Module, n: int = 2000):
    """(samples within NEAR of each mode, fraction within NEAR of some mode, fraction beyond FAR of all)."""
    with torch.no_grad():
        x = gen(torch.randn(n, gen.config.latent_dim, generator=torch.Generator().manual_seed(7)))
    distance_N, nearest_N = torch.cdist(x, RING_MODES).min(dim=1)
    near_N = distance_N < NEAR
    counts = torch.bincount(nearest_N[near_N], minlength=8)
    return counts, near_N.float().mean().item(), (distance_N > FAR).float().mean().item()


def _train_ring(seed: int, steps: int) -> nn.Module:
    torch.manual_seed(seed)
    gen, disc = nets.build("gan_generator"), nets.build("gan_discriminator")
    g_opt = torch.optim.Adam(gen.parameters(), lr=2e-3, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(disc.parameters(), lr=2e-3, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        train_step(gen, disc, g_opt, d_opt, _ring_batch(128, g), gen.config.latent_dim, g)
    return gen


def _assert_covers_the_ring(gen: nn.Module):
    counts, near, far = _ring_coverage(gen)
    fair = 2000 / 8
    assert counts.min().item() >= 0.6 * fair, f"per-mode counts {counts.tolist()} (fair share {fair:.0f})"
    assert near >= 0.85 and far <= 0.06, (near, far)


def test_untrained_generator_fails_the_ring_goal():
    torch.manual_seed(0)
    with pytest.raises(AssertionError):
        _assert_covers_the_ring(nets.build("gan_generator"))


def test_mlp_gan_covers_every_mode_of_a_ring():
    _assert_covers_the_ring(_train_ring(seed=0, steps=1000))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_mlp_gan_covers_every_mode_across_seeds(seed):
    _assert_covers_the_ring(_train_ring(seed=seed, steps=2000))


# ---------------------------------------------------------------- DCGAN on 8x8 digits


@pytest.fixture(scope="module")
def digits():
    """Images scaled to [-1, 1] for tanh, and a digit classifier fitted on the real digits in [0, 1]."""
    data = load_digits()
    images = torch.tensor(data.data, dtype=torch.float32).view(-1, 1, 8, 8) / 8.0 - 1.0  # (1797, 1, 8, 8)
    with threadpool_limits(1):  # multi-threaded BLAS on a busy 2-core machine is 50x slower here
        classifier = LogisticRegression(max_iter=2000).fit(data.data / 16.0, data.target)
    return images, classifier


def _digit_statistics(images_N188: torch.Tensor, classifier):
    """Class counts, class entropy / log 10, and mean pairwise L2 distance of the first 300 images in [0, 1]."""
    pixels = ((images_N188.reshape(len(images_N188), 64) + 1.0) / 2.0).numpy()  # (N, 64) in [0, 1]
    counts = np.bincount(classifier.predict(pixels), minlength=10)
    share = counts / counts.sum()
    entropy = -(share[share > 0] * np.log(share[share > 0])).sum() / np.log(10)
    spread = torch.pdist(torch.tensor(pixels[:300])).mean().item()
    return counts, entropy, spread


def _train_dcgan(images: torch.Tensor, seed: int, steps: int) -> DCGANGenerator:
    torch.manual_seed(seed)
    config = dict(latent_dim=16, width=32)
    gen, disc = nets.build("dcgan_generator", **config), nets.build("dcgan_discriminator", **config)
    # lr 5e-4 rather than the paper's 2e-4 so that a few hundred steps suffice at this tiny scale.
    g_opt = torch.optim.Adam(gen.parameters(), lr=5e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(disc.parameters(), lr=5e-4, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = images[torch.randint(0, len(images), (64,), generator=g)]
        train_step(gen, disc, g_opt, d_opt, batch, gen.config.latent_dim, g)
    return gen.eval()


def _assert_digits_without_collapse(gen: DCGANGenerator, digits):
    images, classifier = digits
    with torch.no_grad():
        fakes = gen(torch.randn(1000, gen.config.latent_dim, generator=torch.Generator().manual_seed(3)))
    counts, entropy, spread = _digit_statistics(fakes, classifier)
    _, _, real_spread = _digit_statistics(images, classifier)
    assert entropy >= 0.9, f"class entropy {entropy:.3f} of uniform's; counts {counts.tolist()}"
    assert counts.min() >= 20, f"a class is (nearly) missing: {counts.tolist()}"
    assert spread >= 0.75 * real_spread, (spread, real_spread)


def test_untrained_dcgan_fails_the_digit_goal(digits):
    torch.manual_seed(0)
    with pytest.raises(AssertionError):
        _assert_digits_without_collapse(nets.build("dcgan_generator", latent_dim=16, width=32).eval(), digits)


def test_dcgan_makes_varied_digits(digits):
    _assert_digits_without_collapse(_train_dcgan(digits[0], seed=0, steps=300), digits)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dcgan_makes_varied_digits_across_seeds(digits, seed):
    _assert_digits_without_collapse(_train_dcgan(digits[0], seed=seed, steps=600), digits)
