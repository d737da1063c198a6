"""Tests for nets/go: AlphaGo Lee policy and value nets, the AlphaGo Zero ResNet and its block styles,
presets and the throughput timer.

Parameter counts are written out from the papers' architecture descriptions, and block outputs are checked
against functional references written from the papers' figures. That the nets learn small Go tasks is
in test_go_nets_learning.py.
"""
from __future__ import annotations

import dataclasses
import math
import time

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import nets
from nets.go import presets, zero_resnet
from nets.go.bench import forward_throughput
from nets.go.presets import ZeroConfig, zero_config

STYLES = ["post", "pre", "bottleneck", "wide", "pyramid"]
STYLE_FIELDS = {"post": {}, "pre": {}, "bottleneck": {}, "wide": {"widen": 2}, "pyramid": {"pyramid_step": 4}}


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def planes(n: int, c: int, size: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(n, c, size, size, generator=generator) < 0.5).float()


def randomise_norms(module: nn.Module, seed: int = 1) -> None:
    """Give every batch norm non-trivial statistics and affine terms so eval-mode references can disagree."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=generator) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(c, generator=generator) * 0.3)


# ---------------------------------------------------------------- closed-form parameter counts
# Written from the papers, not from the modules: conv k*k*cin*cout (+ cout bias), BN 2c, FC in*out + out.


def conv(k: int, cin: int, cout: int, bias: bool) -> int:
    return k * k * cin * cout + (cout if bias else 0)


def fc(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def bn(c: int) -> int:
    return 2 * c


def zero_heads(c: int, n: int) -> int:
    """AlphaGo Zero heads on a c-channel trunk, n x n board."""
    policy = conv(1, c, 2, False) + bn(2) + fc(2 * n * n, n * n + 1)
    value = conv(1, c, 1, False) + bn(1) + fc(n * n, 256) + fc(256, 1)
    return policy + value


def test_lee_policy_paper_parameter_count():
    # Silver et al. 2016: 5x5 conv (k=192) on 48 planes, layers 2-12 3x3 convs, layer 13 1x1 conv to one
    # plane with a bias per position (19*19 of them) instead of a shared bias.
    expected = conv(5, 48, 192, True) + 11 * conv(3, 192, 192, True) + conv(1, 192, 1, False) + 19 * 19
    assert expected == 3_882_793
    with torch.device("meta"):  # counts need no memory or initialisation
        model = nets.build("lee_policy", board_size=19, in_planes=48, filters=192, layers=13)
    assert n_params(model) == expected


def test_lee_value_paper_parameter_count():
    # 49 planes; layers 1-12 as the policy's (layer 12 the "additional" 3x3 conv), layer 13 a 1x1 conv to
    # one plane with its bias, layer 14 FC 361 -> 256, output FC 256 -> 1.
    expected = (
        conv(5, 49, 192, True) + 11 * conv(3, 192, 192, True) + conv(1, 192, 1, True) + fc(361, 256) + fc(256, 1)
    )
    with torch.device("meta"):
        model = nets.build("lee_value", board_size=19, in_planes=49, filters=192, layers=13)
    assert n_params(model) == expected


@pytest.mark.parametrize("preset, residual_blocks", [("20x256", 19), ("40x256", 39)])
def test_zero_resnet_paper_parameter_count(preset, residual_blocks):
    # Silver et al. 2017: a convolutional block (3x3, 256, BN, ReLU) then 19 or 39 residual blocks of two
    # 3x3 256-filter convs each with BN; convs feeding a BN carry no bias. 17 input planes, 19x19.
    per_block = 2 * (conv(3, 256, 256, False) + bn(256))
    expected = conv(3, 17, 256, False) + bn(256) + residual_blocks * per_block + zero_heads(256, 19)
    with torch.device("meta"):
        model = nets.build("zero_resnet", preset=preset)
    assert model.config.board_size == 19 and model.config.in_planes == 17
    assert n_params(model) == expected


def _small_count(style: str, global_pool: bool = False, shortcut: str = "zero") -> int:
    """Closed form for blocks=2, filters=16, 3 planes, 5x5 board, per style."""
    f, stem_in, n = 16, 3, 5
    if style == "post":
        block = conv(3, f, f, False) + bn(f) + conv(3, f, f, False) + bn(f)
        total = conv(3, stem_in, f, False) + bn(f) + 2 * block + zero_heads(f, n)
    elif style == "pre":
        block = bn(f) + conv(3, f, f, False) + bn(f) + conv(3, f, f, False)
        total = conv(3, stem_in, f, False) + bn(f) + 2 * block + bn(f) + zero_heads(f, n)
    elif style == "bottleneck":
        m = f // 4
        block = conv(1, f, m, False) + bn(m) + conv(3, m, m, False) + bn(m) + conv(1, m, f, False) + bn(f)
        total = conv(3, stem_in, f, False) + bn(f) + 2 * block + zero_heads(f, n)
    elif style == "wide":
        w = 2 * f
        block = bn(w) + conv(3, w, w, False) + bn(w) + conv(3, w, w, False)
        total = conv(3, stem_in, w, False) + bn(w) + 2 * block + bn(w) + zero_heads(w, n)
    elif style == "pyramid":  # widths 16 -> 20 -> 24
        total = conv(3, stem_in, 16, False) + bn(16)
        for cin, cout in [(16, 20), (20, 24)]:
            total += bn(cin) + conv(3, cin, cout, False) + bn(cout) + conv(3, cout, cout, False) + bn(cout)
            if shortcut == "project":
                total += conv(1, cin, cout, False) + bn(cout)
        total += bn(24) + zero_heads(24, n)
    if global_pool:  # post only here: a parallel 3x3 conv to 16/4 = 4 channels, its BN, FC 2*4 -> 16
        assert style == "post"
        total += 2 * (conv(3, f, 4, False) + bn(4) + 2 * 4 * f)
    return total


@pytest.mark.parametrize("style", STYLES)
def test_block_style_parameter_counts(style):
    model = nets.build(
        "zero_resnet", board_size=5, in_planes=3, blocks=2, filters=16, block=style, **STYLE_FIELDS[style]
    )
    assert n_params(model) == _small_count(style)


def test_projected_pyramid_and_global_pool_parameter_counts():
    projected = nets.build(
        "zero_resnet", board_size=5, in_planes=3, blocks=2, filters=16, block="pyramid", pyramid_step=4,
        shortcut="project",
    )
    assert n_params(projected) == _small_count("pyramid", shortcut="project")
    pooled = nets.build("zero_resnet", board_size=5, in_planes=3, blocks=2, filters=16, global_pool=True)
    assert n_params(pooled) == _small_count("post", global_pool=True)


def katago_heads(c: int, h: int) -> int:
    """KataGo's pooled heads (Wu 2019, Appendix A) on a c-channel trunk with h head channels: no term
    depends on the board size."""
    policy = 2 * conv(1, c, h, False) + bn(h) + 2 * h * h + bn(h) + conv(1, h, 1, False) + fc(2 * h, 1)
    value = conv(1, c, h, False) + bn(h) + fc(h, 256) + fc(256, 1)  # mean-pooled only
    return policy + value


@pytest.mark.parametrize("size", [5, 9, 19])
def test_pooled_heads_parameter_count_does_not_grow_with_the_board(size):
    plain = nets.build("zero_resnet", board_size=size, in_planes=3, blocks=2, filters=16)
    pooled = nets.build("zero_resnet", board_size=size, in_planes=3, blocks=2, filters=16, pool_heads=True)
    trunk = n_params(plain) - zero_heads(16, size)
    assert n_params(pooled) == trunk + katago_heads(16, 16)  # 16 channels: narrower than HEAD_CHANNELS
    with torch.device("meta"):
        wide = nets.build("zero_resnet", preset="10x128", board_size=size, pool_heads=True)
        wide_plain = nets.build("zero_resnet", preset="10x128", board_size=size)
    assert n_params(wide) - n_params(wide_plain) == katago_heads(128, 32) - zero_heads(128, size)


# ---------------------------------------------------------------- shapes and gradients

SMALL_NETS = {
    "lee_policy": dict(board_size=7, in_planes=4, filters=8, layers=4),
    "lee_value": dict(board_size=7, in_planes=5, filters=16, layers=4),
}
for _style in STYLES:
    SMALL_NETS[f"zero_resnet/{_style}"] = dict(
        board_size=7, in_planes=3, blocks=2, filters=8, block=_style, **STYLE_FIELDS[_style]
    )
    SMALL_NETS[f"zero_resnet/{_style}+gpool"] = dict(SMALL_NETS[f"zero_resnet/{_style}"], global_pool=True)
SMALL_NETS["zero_resnet/pyramid+project"] = dict(SMALL_NETS["zero_resnet/pyramid"], shortcut="project")
SMALL_NETS["zero_resnet/post+pool_heads"] = dict(SMALL_NETS["zero_resnet/post"], pool_heads=True)
SMALL_NETS["zero_resnet/pre+gpool+pool_heads"] = dict(SMALL_NETS["zero_resnet/pre+gpool"], pool_heads=True)


def build_small(key: str) -> nn.Module:
    return nets.build(key.split("/")[0], **SMALL_NETS[key])


def outputs(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    out = model(x)
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("key", list(SMALL_NETS))
def test_shapes(key):
    model = build_small(key)
    cfg = model.config
    x = planes(3, cfg.in_planes, cfg.board_size)
    out = outputs(model, x)
    if key == "lee_policy":
        assert out[0].shape == (3, 49)
        probs = model.policy(x)
        assert torch.allclose(probs.sum(-1), torch.ones(3)) and (probs >= 0).all()
        assert torch.allclose(probs, F.softmax(out[0], -1))
    elif key == "lee_value":
        assert out[0].shape == (3,) and (out[0].abs() <= 1).all()
    else:
        logits_NA, value_N = out
        assert logits_NA.shape == (3, 7 * 7 + 1) and value_N.shape == (3,)
        assert (value_N.abs() <= 1).all()


@pytest.mark.parametrize("key", list(SMALL_NETS))
def test_backward_reaches_every_parameter(key):
    torch.manual_seed(0)
    model = build_small(key)
    cfg = model.config
    x = planes(4, cfg.in_planes, cfg.board_size)
    generator = torch.Generator().manual_seed(1)
    # Random weights on the outputs: a plain sum would be blind to parameters that BN makes shift-invariant.
    loss = sum((o * torch.randn(o.shape, generator=generator)).sum() for o in outputs(model, x))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_wrong_planes_are_refused_with_a_clear_error():
    model = nets.build("zero_resnet", preset="2x16", board_size=9)
    with pytest.raises(ValueError, match=r"\(N, 17, 9, 9\)"):
        model(torch.zeros(1, 17, 19, 19))
    with pytest.raises(ValueError, match=r"\(N, 4, 7, 7\)"):
        nets.build("lee_policy", board_size=7, in_planes=4, filters=8, layers=3)(torch.zeros(1, 5, 7, 7))


# ---------------------------------------------------------------- functional references from the papers


def ref_bn(m: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)


def ref_conv(m: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x, m.weight, m.bias, padding=m.weight.shape[-1] // 2)


def test_lee_policy_matches_functional_reference():
    torch.manual_seed(0)
    model = nets.build("lee_policy", board_size=5, in_planes=3, filters=6, layers=4)
    with torch.no_grad():
        model.position_bias_A.copy_(torch.randn(25))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(5, 5), (3, 3), (3, 3), (1, 1)] and convs[-1].bias is None
    x = planes(2, 3, 5)
    h = x
    for c in convs[:-1]:
        h = F.relu(ref_conv(c, h))
    expected = ref_conv(convs[-1], h).reshape(2, 25) + model.position_bias_A
    assert torch.allclose(model(x), expected, atol=1e-6)


def test_lee_value_matches_functional_reference():
    torch.manual_seed(0)
    model = nets.build("lee_value", board_size=5, in_planes=3, filters=6, layers=4)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    fcs = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [c.kernel_size for c in convs] == [(5, 5), (3, 3), (3, 3), (1, 1)]
    assert [(f.in_features, f.out_features) for f in fcs] == [(25, 256), (256, 1)]
    x = planes(2, 3, 5)
    h = x
    for c in convs[:-1]:
        h = F.relu(ref_conv(c, h))
    h = ref_conv(convs[-1], h)  # the paper gives layer 13 no rectifier
    hidden = F.relu(F.linear(h.reshape(2, 25), fcs[0].weight, fcs[0].bias))
    expected = torch.tanh(F.linear(hidden, fcs[1].weight, fcs[1].bias))
    assert torch.allclose(model(x), expected.reshape(2), atol=1e-6)


def ref_block(style: str, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The residual blocks as the papers draw them, with the block's own weights."""
    c = [m for m in block.branch if isinstance(m, nn.Conv2d)]
    b = [m for m in block.branch if isinstance(m, nn.BatchNorm2d)]
    if style == "post":  # He 2016a: conv-BN-ReLU-conv-BN, add, ReLU
        return F.relu(ref_bn(b[1], ref_conv(c[1], F.relu(ref_bn(b[0], ref_conv(c[0], x))))) + x)
    if style in ("pre", "wide"):  # He 2016b: BN-ReLU-conv twice, add
        return ref_conv(c[1], F.relu(ref_bn(b[1], ref_conv(c[0], F.relu(ref_bn(b[0], x)))))) + x
    if style == "bottleneck":  # He 2016a Fig. 5: 1x1 reduce, 3x3, 1x1 expand, add, ReLU
        h = F.relu(ref_bn(b[0], ref_conv(c[0], x)))
        h = F.relu(ref_bn(b[1], ref_conv(c[1], h)))
        return F.relu(ref_bn(b[2], ref_conv(c[2], h)) + x)
    if style == "pyramid":  # Han 2017 Fig. 6d: BN-conv-BN-ReLU-conv-BN, add the zero-padded input
        h = ref_bn(b[2], ref_conv(c[1], F.relu(ref_bn(b[1], ref_conv(c[0], ref_bn(b[0], x))))))
        padded = torch.cat([x, torch.zeros(x.shape[0], h.shape[1] - x.shape[1], *x.shape[2:])], 1)
        return h + padded
    raise AssertionError(style)


@pytest.mark.parametrize("style", STYLES)
def test_blocks_match_the_papers(style):
    torch.manual_seed(0)
    model = nets.build(
        "zero_resnet", board_size=5, in_planes=3, blocks=2, filters=8, block=style, **STYLE_FIELDS[style]
    )
    randomise_norms(model)
    model.eval()
    block = model.tower[0]
    kernels = [m.kernel_size[0] for m in block.branch if isinstance(m, nn.Conv2d)]
    widths = [m.out_channels for m in block.branch if isinstance(m, nn.Conv2d)]
    expected_layout = {
        "post": ([3, 3], [8, 8]), "pre": ([3, 3], [8, 8]), "bottleneck": ([1, 3, 1], [2, 2, 8]),
        "wide": ([3, 3], [16, 16]), "pyramid": ([3, 3], [12, 12]),
    }
    assert (kernels, widths) == expected_layout[style]
    cin = {"wide": 16}.get(style, 8)
    x = torch.randn(2, cin, 5, 5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.allclose(block(x), ref_block(style, block, x), atol=1e-5)


def test_global_pool_bias_matches_katago_description():
    torch.manual_seed(0)
    model = nets.build("zero_resnet", board_size=5, in_planes=3, blocks=1, filters=8, global_pool=True)
    randomise_norms(model)
    model.eval()
    gp = model.tower[0].branch[0]
    assert isinstance(gp, zero_resnet.GlobalPoolConv)
    x = torch.randn(2, 8, 5, 5, generator=torch.Generator().manual_seed(3))
    g = F.relu(ref_bn(gp.pool_norm, ref_conv(gp.pool_conv, x)))
    pooled = torch.cat([g.mean(dim=(2, 3)), g.amax(dim=(2, 3))], 1)
    expected = ref_conv(gp.conv, x) + (pooled @ gp.to_bias.weight.T)[:, :, None, None]
    with torch.no_grad():
        out = gp(x)
        assert torch.allclose(out, expected, atol=1e-5)
        # The bias depends on the whole board: changing one far corner changes the bias at the other.
        x2 = x.clone()
        x2[:, :, 4, 4] += 3.0
        bias_at_corner = out[:, :, 0, 0] - ref_conv(gp.conv, x)[:, :, 0, 0]
        assert not torch.allclose(gp(x2)[:, :, 0, 0] - ref_conv(gp.conv, x2)[:, :, 0, 0], bias_at_corner)


def test_pooled_heads_match_katago_description():
    """Both heads written out from Wu 2019 (sec. 3.2, Appendix A) with the net's own weights, and the
    property they are for: the value and the pass logit see the whole board through the pooling."""
    torch.manual_seed(0)
    model = nets.build("zero_resnet", board_size=5, in_planes=3, blocks=1, filters=8, pool_heads=True)
    randomise_norms(model)
    model.eval()
    x = planes(2, 3, 5)
    h = F.relu(ref_bn(model.stem[1], ref_conv(model.stem[0], x)))
    h = ref_block("post", model.tower[0], h)
    ph = model.policy_head
    g = F.relu(ref_bn(ph.g_norm, ref_conv(ph.g_conv, h)))
    pooled_g = torch.cat([g.mean(dim=(2, 3)), g.amax(dim=(2, 3))], 1)
    p = ref_conv(ph.p_conv, h) + (pooled_g @ ph.to_bias.weight.T)[:, :, None, None]
    board = ref_conv(ph.to_logit, F.relu(ref_bn(ph.p_norm, p))).reshape(2, 25)
    logits = torch.cat([board, F.linear(pooled_g, ph.to_pass.weight, ph.to_pass.bias)], 1)
    vc, vb, v1, v2 = model.value_head[0], model.value_head[1], model.value_head[4], model.value_head[6]
    v = F.relu(ref_bn(vb, ref_conv(vc, h)))
    hidden = F.relu(F.linear(v.mean(dim=(2, 3)), v1.weight, v1.bias))  # KataGo's value pooling: means only
    value = torch.tanh(F.linear(hidden, v2.weight, v2.bias)).reshape(2)
    with torch.no_grad():
        got_logits, got_value = model(x)
        assert got_logits.shape == (2, 26)
        assert torch.allclose(got_logits, logits, atol=1e-5) and torch.allclose(got_value, value, atol=1e-5)
        # The pass logit and the value reach the board only through the pooling: one corner moves both.
        x2 = x.clone()
        x2[:, :, 4, 4] = 1 - x2[:, :, 4, 4]
        logits2, value2 = model(x2)
        assert not torch.allclose(logits2[:, 25], got_logits[:, 25]) and not torch.allclose(value2, got_value)


def test_zero_resnet_matches_alphago_zero_description():
    torch.manual_seed(0)
    model = nets.build("zero_resnet", board_size=5, in_planes=3, blocks=2, filters=8)
    randomise_norms(model)
    model.eval()
    x = planes(2, 3, 5)
    stem_conv, stem_bn = model.stem[0], model.stem[1]
    h = F.relu(ref_bn(stem_bn, ref_conv(stem_conv, x)))
    for block in model.tower:
        h = ref_block("post", block, h)
    pc, pb, pf = model.policy_head[0], model.policy_head[1], model.policy_head[4]
    logits = F.linear(F.relu(ref_bn(pb, ref_conv(pc, h))).reshape(2, 50), pf.weight, pf.bias)
    vc, vb, v1, v2 = model.value_head[0], model.value_head[1], model.value_head[4], model.value_head[6]
    v = F.relu(F.linear(F.relu(ref_bn(vb, ref_conv(vc, h))).reshape(2, 25), v1.weight, v1.bias))
    value = torch.tanh(F.linear(v, v2.weight, v2.bias)).reshape(2)
    with torch.no_grad():
        got_logits, got_value = model(x)
    assert got_logits.shape == (2, 26)
    assert torch.allclose(got_logits, logits, atol=1e-5) and torch.allclose(got_value, value, atol=1e-5)


@pytest.mark.parametrize("style", STYLES)
def test_every_block_style_makes_a_whole_net_as_the_papers_draw_it(style):
    """Stem, tower of the papers' blocks, the pre-activation towers' closing BN-ReLU, and both heads,
    written with the functional references above on a full-size (17-plane, 7x7) input. This replaced
    seeded golden logits, which moved with torch's kernels; the Lee nets' references are above."""
    torch.manual_seed(0)
    model = nets.build("zero_resnet", preset="2x16", board_size=7, block=style, **STYLE_FIELDS[style])
    randomise_norms(model)
    model.eval()
    x = planes(2, 17, 7)
    h = F.relu(ref_bn(model.stem[1], ref_conv(model.stem[0], x)))
    for block in model.tower:
        h = ref_block(style, block, h)
    if style in ("pre", "wide", "pyramid"):  # these blocks end un-normalised: one BN-ReLU closes the tower
        assert isinstance(model.tip[0], nn.BatchNorm2d)
        h = F.relu(ref_bn(model.tip[0], h))
    pc, pb, pf = model.policy_head[0], model.policy_head[1], model.policy_head[4]
    logits = F.linear(F.relu(ref_bn(pb, ref_conv(pc, h))).reshape(2, 2 * 49), pf.weight, pf.bias)
    vc, vb, v1, v2 = model.value_head[0], model.value_head[1], model.value_head[4], model.value_head[6]
    v = F.relu(F.linear(F.relu(ref_bn(vb, ref_conv(vc, h))).reshape(2, 49), v1.weight, v1.bias))
    value = torch.tanh(F.linear(v, v2.weight, v2.bias)).reshape(2)
    with torch.no_grad():
        got_logits, got_value = model(x)
    assert got_logits.shape == (2, 50)
    assert torch.allclose(got_logits, logits, atol=1e-5) and torch.allclose(got_value, value, atol=1e-5)


# ---------------------------------------------------------------- configs and presets


def test_presets_follow_the_paper_and_are_frozen():
    assert presets.PRESETS["20x256"] == ZeroConfig(board_size=19, in_planes=17, blocks=19, filters=256)
    assert presets.PRESETS["40x256"].blocks == 39
    for name in ("6x64", "10x128", "2x16"):
        config = presets.PRESETS[name]
        assert config.board_size == 9 and f"{config.blocks + 1}x{config.filters}" == name
    config = zero_config("6x64", board_size=7, block="pre")
    assert (config.board_size, config.blocks, config.filters, config.block) == (7, 5, 64, "pre")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.blocks = 3
    with pytest.raises(ValueError, match="unknown preset"):
        zero_config("7y77")


def test_build_by_preset_equals_build_by_fields():
    torch.manual_seed(0)
    by_preset = nets.build("zero_resnet", preset="6x64", board_size=9)
    fields = dataclasses.asdict(zero_config("6x64", 9))
    torch.manual_seed(0)
    by_fields = nets.build("zero_resnet", **fields)
    assert by_preset.config == by_fields.config
    x = planes(2, 17, 9)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(by_preset.eval()(x), by_fields.eval()(x)))


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"block": "dense"}, "unknown block style"),
        ({"widen": 2}, "only applies to block='wide'"),
        ({"pyramid_step": 2.0}, "only applies to block='pyramid'"),
        ({"shortcut": "conv"}, "shortcut must be"),
        ({"filters": 0}, "filters must be positive"),
    ],
)
def test_bad_zero_configs_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        nets.build("zero_resnet", **fields)


def test_bad_lee_config_is_refused():
    with pytest.raises(ValueError, match="layers must be at least 2"):
        nets.build("lee_policy", layers=1)


# ---------------------------------------------------------------- throughput timer


class _Sleeper(nn.Module):
    """A forward pass that takes 10 ms whatever the batch: throughput is batch / 0.01 s."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        time.sleep(0.01)
        return x.sum() * self.weight


def test_forward_throughput_counts_positions_per_second():
    sleeper = _Sleeper()
    rate = forward_throughput(sleeper, in_planes=2, board_size=5, batch=4, seconds=0.2)
    assert 200 < rate <= 400  # 4 positions per >= 10 ms; scheduling only makes it slower
    assert sleeper.training  # the eval switch is undone


def test_forward_throughput_on_a_real_net():
    model = nets.build("zero_resnet", preset="2x16")
    for batch in (1, 64):
        rate = forward_throughput(model, in_planes=17, board_size=9, batch=batch, seconds=0.05)
        assert math.isfinite(rate) and rate > 0
