"""The four normalisers against torch.nn's: outputs, running statistics and gradients, train and eval.

torch.nn's layers are the oracle, so no seeded golden values are pinned: those move with torch's kernels
and cannot tell a changed formula from a library update."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import nets
from nets.vision.data import digits_split, fit, predict
from nets.vision.normalization import BatchNorm, GroupNorm, InstanceNorm2d, LayerNorm


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def _randomise_affine(ours: nn.Module, theirs: nn.Module, seed: int) -> None:
    """Give both modules the same non-trivial γ, β so the affine part is really compared."""
    generator = torch.Generator().manual_seed(seed)
    for name in ("weight", "bias"):
        mine = getattr(ours, name, None)
        if mine is None:
            continue
        values = torch.randn(mine.shape, generator=generator, dtype=mine.dtype)
        with torch.no_grad():
            mine.copy_(values)
            getattr(theirs, name).copy_(values)


def _step_and_compare(ours: nn.Module, theirs: nn.Module, x: torch.Tensor, seed: int) -> None:
    """One forward/backward through both with the same upstream gradient; compare everything."""
    x_ours = x.clone().requires_grad_(True)
    x_theirs = x.clone().requires_grad_(True)
    y_ours, y_theirs = ours(x_ours), theirs(x_theirs)
    torch.testing.assert_close(y_ours, y_theirs)
    upstream = torch.randn(y_ours.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    y_ours.backward(upstream)
    y_theirs.backward(upstream)
    torch.testing.assert_close(x_ours.grad, x_theirs.grad)
    for (name, p_ours), (_, p_theirs) in zip(ours.named_parameters(), theirs.named_parameters()):
        torch.testing.assert_close(p_ours.grad, p_theirs.grad, msg=f"gradient of {name}")
    for (name, b_ours), (_, b_theirs) in zip(ours.named_buffers(), theirs.named_buffers()):
        torch.testing.assert_close(b_ours, b_theirs, msg=f"buffer {name}")


def _run_both(ours: nn.Module, theirs: nn.Module, shape: tuple[int, ...], train_steps: int = 3) -> None:
    ours, theirs = ours.double(), theirs.double()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    _randomise_affine(ours, theirs, seed=1)
    generator = torch.Generator().manual_seed(0)
    for step in range(train_steps):  # several batches so running statistics really accumulate
        x = 3.0 * torch.randn(shape, generator=generator, dtype=torch.float64) + 2.0
        _step_and_compare(ours.train(), theirs.train(), x, seed=step)
    x = torch.randn(shape, generator=generator, dtype=torch.float64) - 1.0
    _step_and_compare(ours.eval(), theirs.eval(), x, seed=99)


BATCH_CASES = [
    ((8, 3, 5, 5), nn.BatchNorm2d),
    ((2, 4, 3, 7), nn.BatchNorm2d),
    ((16, 5), nn.BatchNorm1d),
    ((4, 6, 9), nn.BatchNorm1d),
]


@pytest.mark.parametrize("shape,reference", BATCH_CASES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batch_norm_matches_torch(shape, reference, affine, momentum):
    c = shape[1]
    _run_both(BatchNorm(c, momentum=momentum, affine=affine), reference(c, momentum=momentum, affine=affine), shape)


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_without_running_stats_uses_batch_in_eval(affine):
    ours = BatchNorm(3, affine=affine, track_running_stats=False)
    _run_both(ours, nn.BatchNorm2d(3, affine=affine, track_running_stats=False), (6, 3, 4, 4))
    assert ours.running_mean is None


def test_batch_norm_state_dict_moves_to_torch():
    ours = BatchNorm(4)
    ours(torch.randn(5, 4, 3, 3) * 2 + 1)
    theirs = nn.BatchNorm2d(4)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 3, 3)
    torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))


def test_batch_norm_refuses_one_value_per_channel_in_training():
    with pytest.raises(ValueError):
        BatchNorm(3)(torch.randn(1, 3))
    with pytest.raises(ValueError):
        BatchNorm(3)(torch.randn(2, 4, 5, 5))
    BatchNorm(3).eval()(torch.randn(1, 3))  # eval uses the running statistics: fine


@pytest.mark.parametrize(
    "shape,normalized_shape",
    [((4, 10), (10,)), ((2, 3, 5, 6), (6,)), ((2, 3, 5, 6), (5, 6)), ((2, 3, 5, 6), (3, 5, 6)), ((3, 7, 16), 16)],
)
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(shape, normalized_shape, affine):
    _run_both(
        LayerNorm(normalized_shape, elementwise_affine=affine),
        nn.LayerNorm(normalized_shape, elementwise_affine=affine),
        shape,
    )


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (2, 6, 3, 8), (1, 2, 4, 4)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track_running_stats", [True, False])
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_instance_norm_matches_torch(shape, affine, track_running_stats, momentum):
    c = shape[1]
    options = dict(affine=affine, track_running_stats=track_running_stats, momentum=momentum)
    _run_both(InstanceNorm2d(c, **options), nn.InstanceNorm2d(c, **options), shape)


def test_instance_norm_running_stats_are_batch_averages_of_unbiased_plane_statistics():
    x = torch.randn(3, 2, 4, 5, dtype=torch.float64) * 2 + 1
    norm = InstanceNorm2d(2, momentum=1.0, track_running_stats=True).double()
    norm(x)
    torch.testing.assert_close(norm.running_mean, x.mean(dim=(2, 3)).mean(dim=0))
    torch.testing.assert_close(norm.running_var, x.var(dim=(2, 3), correction=1).mean(dim=0))


@pytest.mark.parametrize(
    "shape,groups",
    [((4, 6, 5, 5), 1), ((4, 6, 5, 5), 2), ((4, 6, 5, 5), 3), ((4, 6, 5, 5), 6), ((3, 8, 7), 4), ((5, 4), 2)],
)
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(shape, groups, affine):
    c = shape[1]
    _run_both(GroupNorm(groups, c, affine=affine), nn.GroupNorm(groups, c, affine=affine), shape)


def test_group_norm_extremes_are_layer_and_instance_norm():
    x = torch.randn(3, 4, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(GroupNorm(1, 4, affine=False)(x), F.layer_norm(x, (4, 5, 6)))
    torch.testing.assert_close(GroupNorm(4, 4, affine=False)(x), F.instance_norm(x))


def test_group_norm_rejects_indivisible_groups():
    with pytest.raises(ValueError):
        GroupNorm(4, 6)


def test_normalised_output_has_zero_mean_unit_variance_over_the_right_axes():
    x = torch.randn(6, 4, 5, 5, dtype=torch.float64) * 5 + 3
    y_bn = BatchNorm(4, affine=False).double()(x)
    torch.testing.assert_close(y_bn.mean(dim=(0, 2, 3)), torch.zeros(4, dtype=torch.float64))
    y_gn = GroupNorm(2, 4, affine=False).double()(x).reshape(6, 2, -1)  # (N, C, H, W) -> (N, G, C/G·H·W)
    ones = torch.ones(6, 2, dtype=torch.float64)
    torch.testing.assert_close(y_gn.var(dim=2, correction=0), ones, rtol=1e-3, atol=1e-3)  # ε keeps it below 1


def test_registry_builds_each_normaliser():
    assert isinstance(nets.build("batch_norm", num_features=3), BatchNorm)
    assert isinstance(nets.build("layer_norm", normalized_shape=(4, 4), elementwise_affine=False), LayerNorm)
    assert isinstance(nets.build("instance_norm", num_features=3, affine=True), InstanceNorm2d)
    assert isinstance(nets.build("group_norm", num_groups=2, num_channels=4), GroupNorm)


def _tiny_net(norm: str) -> nn.Module:
    """conv-norm-ReLU ×2 then linear on the 4×4 maps: enough to read digits, small enough to train in a second."""
    def make(c: int, hw: int) -> nn.Module:
        return {
            "batch_norm": lambda: BatchNorm(c),
            "layer_norm": lambda: LayerNorm((c, hw, hw)),
            "instance_norm": lambda: InstanceNorm2d(c, affine=True),
            "group_norm": lambda: GroupNorm(4, c),
        }[norm]()

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), make(16, 8), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), make(32, 4), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 10),  # (N, 32, 4, 4) -> (N, 512)
    )


@pytest.mark.parametrize("norm", ["batch_norm", "layer_norm", "instance_norm", "group_norm"])
def test_small_convnet_with_each_normaliser_learns_digits(norm):
    x_train, y_train, x_test, y_test = digits_split()
    torch.manual_seed(0)
    model = _tiny_net(norm)
    fit(model, x_train, y_train, epochs=4, batch_size=64, lr=1e-2)
    accuracy = (predict(model, x_test) == y_test).float().mean().item()
    assert accuracy >= 0.9, accuracy
