"""DenseNet: channel counts c0 + l·k and floor(θ·c) measured with hooks, the published parameter
counts, dense connectivity, shapes, the forward pass against a functional reference, and learning
scikit-learn's digits."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import nets
from nets.vision.data import digits_split, fit, predict
from nets.vision.densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet
from tests.nets.batchnorm import randomise_batch_norms

DIGITS = dict(
    in_channels=1, num_classes=10, growth_rate=8, block_config=(2, 2), init_channels=16, imagenet_stem=False
)


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def _record_channels(model: nn.Module, x: torch.Tensor) -> tuple[list[tuple[str, int]], list[tuple[int, int]]]:
    """Run `model` once; return the (kind, channels) each block or transition produced in order, and
    (input channels, output channels) of every dense layer, all read from the tensors themselves."""
    stages: list[tuple[str, int]] = []
    layers: list[tuple[int, int]] = []
    handles = []
    def on_stage(module, inputs, out):
        stages.append(("block" if isinstance(module, DenseBlock) else "transition", out.shape[1]))

    def on_layer(module, inputs, out):
        layers.append((inputs[0].shape[1], out.shape[1]))

    for m in model.modules():
        if isinstance(m, (DenseBlock, Transition)):
            handles.append(m.register_forward_hook(on_stage))
        elif isinstance(m, DenseLayer):
            handles.append(m.register_forward_hook(on_layer))
    with torch.no_grad():
        model.eval()(x)
    for handle in handles:
        handle.remove()
    return stages, layers


@pytest.mark.parametrize(
    "c0,k,blocks,theta,bottleneck",
    [
        (16, 12, (3, 4, 5), 0.5, True),
        (24, 7, (2, 3, 2), 0.7, True),
        (10, 5, (4, 4), 1.0, False),
        (9, 3, (1, 2, 3, 1), 0.35, False),
    ],
)
def test_channel_counts_follow_growth_and_compression(c0, k, blocks, theta, bottleneck):
    model = densenet(
        growth_rate=k, block_config=blocks, init_channels=c0, compression=theta, bottleneck=bottleneck,
        imagenet_stem=False,
    )
    stages, layers = _record_channels(model, torch.randn(2, 3, 32, 32))
    expected_stages, expected_layers = [], []
    c = c0
    for i, num_layers in enumerate(blocks):
        expected_layers += [(c + l * k, k) for l in range(num_layers)]  # layer l sees c0 + l·k maps, adds k
        c = c + num_layers * k
        expected_stages.append(("block", c))
        if i < len(blocks) - 1:
            c = math.floor(theta * c)
            expected_stages.append(("transition", c))
    assert stages == expected_stages
    assert layers == expected_layers
    assert model.classifier.in_features == c


def test_transitions_halve_the_resolution():
    model = densenet(growth_rate=4, block_config=(1, 1, 1), init_channels=8, imagenet_stem=False)
    sizes = []
    transitions = [m for m in model.modules() if isinstance(m, Transition)]
    handles = [m.register_forward_hook(lambda mod, i, out: sizes.append(out.shape[-1])) for m in transitions]
    model(torch.randn(2, 3, 32, 32))
    for h in handles:
        h.remove()
    assert sizes == [16, 8]


def test_dense_block_passes_its_input_through_unchanged():
    """Concatenation, not addition: the first c0 output channels are the block's input itself."""
    torch.manual_seed(0)
    block = DenseBlock(3, in_channels=5, growth_rate=4, bottleneck=True, bn_size=4, drop_rate=0.0)
    x = torch.randn(2, 5, 6, 6)
    out = block(x)
    assert out.shape == (2, 5 + 3 * 4, 6, 6)
    torch.testing.assert_close(out[:, :5], x)
    # Information flows forward only: changing the last layer leaves the earlier layers' maps alone.
    with torch.no_grad():
        block.layers[-1].h[-1].weight.add_(1.0)
    torch.testing.assert_close(block(x)[:, : 5 + 2 * 4], out[:, : 5 + 2 * 4])


def test_bottleneck_layer_is_bn_relu_1x1_bn_relu_3x3():
    layer = DenseLayer(20, growth_rate=6, bottleneck=True, bn_size=4, drop_rate=0.0)
    kinds = [type(m) for m in layer.h]
    assert kinds == [nn.BatchNorm2d, nn.ReLU, nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Conv2d]
    assert layer.h[2].out_channels == 24 and layer.h[2].kernel_size == (1, 1)
    assert layer.h[5].out_channels == 6 and layer.h[5].kernel_size == (3, 3)
    plain = DenseLayer(20, growth_rate=6, bottleneck=False, bn_size=4, drop_rate=0.0)
    assert [type(m) for m in plain.h] == [nn.BatchNorm2d, nn.ReLU, nn.Conv2d]


IMAGENET_PARAMETERS = [  # torchvision's documented counts for its ImageNet DenseNets
    ((6, 12, 24, 16), 32, 64, 7_978_856),  # DenseNet-121
    ((6, 12, 32, 32), 32, 64, 14_149_480),  # DenseNet-169
    ((6, 12, 48, 32), 32, 64, 20_013_928),  # DenseNet-201
    ((6, 12, 36, 24), 48, 96, 28_681_000),  # DenseNet-161
]


@pytest.mark.parametrize("blocks,k,c0,count", IMAGENET_PARAMETERS)
def test_imagenet_parameter_counts(blocks, k, c0, count):
    model = densenet(block_config=blocks, growth_rate=k, init_channels=c0)
    assert sum(p.numel() for p in model.parameters()) == count


# Huang et al. 2017, Table 2 (CIFAR, 10 classes): depth L, growth k, BC or plain, million parameters.
CIFAR_PARAMETERS = [
    (40, 12, False, 1.0), (100, 12, False, 7.0), (100, 24, False, 27.2),
    (100, 12, True, 0.8), (250, 24, True, 15.3), (190, 40, True, 25.6),
]


@pytest.mark.parametrize("depth,k,bc,million", CIFAR_PARAMETERS)
def test_cifar_parameter_counts_match_the_paper(depth, k, bc, million):
    # Three equal blocks; a BC layer holds two convs, a plain one one; the stem conv, two transitions
    # and the classifier make up the rest of the depth (§4.2).
    per_block = (depth - 4) // (6 if bc else 3)
    model = densenet(
        num_classes=10, growth_rate=k, block_config=(per_block,) * 3, init_channels=2 * k if bc else 16,
        bottleneck=bc, compression=0.5 if bc else 1.0, imagenet_stem=False,
    )
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == million


def test_compression_outside_unit_interval_is_refused():
    for theta in (0.0, 1.5):
        with pytest.raises(ValueError):
            densenet(compression=theta)


@pytest.mark.parametrize("size", [32, 57, 224])
def test_imagenet_model_gives_one_logit_row_per_image(size):
    model = densenet(growth_rate=4, block_config=(1, 1, 1, 1), init_channels=8, num_classes=5).eval()
    assert model(torch.randn(2, 3, size, size)).shape == (2, 5)


def test_digits_model_shapes_and_registry():
    model = nets.build("densenet", **DIGITS)
    assert isinstance(model, DenseNet)
    x = torch.randn(3, 1, 8, 8)
    assert model(x).shape == (3, 10)
    assert model.features(x).shape == (3, model.out_channels, 4, 4)
    assert model.out_channels == math.floor(0.5 * (16 + 2 * 8)) + 2 * 8


def _reference_logits(model: DenseNet, x: torch.Tensor) -> torch.Tensor:
    """The paper's DenseNet from its config, with F ops on the model's convs and norms taken in order:
    stem; per block, each layer BN-ReLU-(Conv1×1-BN-ReLU)-Conv3×3 on the concatenation of everything
    before it (eq. 2); transitions BN-ReLU-Conv1×1-AvgPool2×2; BN-ReLU, global average pool, FC."""
    c = model.config
    convs = iter(m for m in model.modules() if isinstance(m, nn.Conv2d))
    norms = iter(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))

    def bn_relu(h):
        m = next(norms)
        return F.relu(F.batch_norm(h, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps))

    if c.imagenet_stem:
        h = F.max_pool2d(bn_relu(F.conv2d(x, next(convs).weight, stride=2, padding=3)), 3, 2, 1)
    else:
        h = F.conv2d(x, next(convs).weight, padding=1)
    for i, num_layers in enumerate(c.block_config):
        maps = [h]
        for _ in range(num_layers):
            y = torch.cat(maps, dim=1)
            if c.bottleneck:
                y = F.conv2d(bn_relu(y), next(convs).weight)
            maps.append(F.conv2d(bn_relu(y), next(convs).weight, padding=1))
        h = torch.cat(maps, dim=1)
        if i < len(c.block_config) - 1:
            h = F.avg_pool2d(F.conv2d(bn_relu(h), next(convs).weight), 2)
    features = bn_relu(h).mean(dim=(2, 3))
    assert next(convs, None) is None and next(norms, None) is None  # every layer was used, once
    return F.linear(features, model.classifier.weight, model.classifier.bias)


@pytest.mark.parametrize("config", [
    DIGITS,
    dict(in_channels=3, num_classes=5, growth_rate=4, block_config=(2, 1, 2), init_channels=8, bottleneck=False,
         compression=0.75, imagenet_stem=True),
], ids=["digits-BC", "imagenet-stem-plain"])
def test_forward_equals_a_functional_reference(config):
    """In eval mode with randomised batch norm, in float64. (This replaced seeded golden logits, which
    moved with torch's kernels.)"""
    torch.manual_seed(1)
    model = densenet(**config).double()
    randomise_batch_norms(model, 2)
    model.eval()
    size = 8 if config is DIGITS else 40
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, config["in_channels"], size, size, dtype=torch.float64, generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(model(x), _reference_logits(model, x), atol=1e-10, rtol=0)


def test_learns_digits():
    x_train, y_train, x_test, y_test = digits_split()
    torch.manual_seed(0)
    model = densenet(**DIGITS)
    fit(model, x_train, y_train, epochs=6, batch_size=128, lr=2e-2)
    accuracy = (predict(model, x_test) == y_test).float().mean().item()
    assert accuracy >= 0.95, accuracy
