"""Growing a net deeper (nets/go/grow.py): the deepened net computes exactly what the small one did, in
eval and in train mode, for every block style and head; the new blocks learn from the first step; any
change other than more blocks is refused with the reason. And "BxF" names any size."""
import dataclasses

import pytest
import torch

from nets.go.grow import deepen, deepen_refusal
from nets.go.presets import ZeroConfig, zero_config
from nets.go.zero_resnet import ZeroResNet

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def trained_like(config: ZeroConfig, seed: int) -> ZeroResNet:
    """A net whose norms are not at their initial values (running stats, gamma, beta all moved), as a
    trained one's are: an identity that holds only at init would not pass."""
    torch.manual_seed(seed)
    net = ZeroResNet(config)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


def planes(config: ZeroConfig, n: int = 6) -> torch.Tensor:
    torch.manual_seed(99)
    return (torch.rand(n, config.in_planes, config.board_size, config.board_size) < 0.3).float()


@pytest.mark.parametrize("fields", [
    dict(block="post"), dict(block="pre"), dict(block="bottleneck"), dict(block="wide", widen=2),
    dict(block="post", global_pool=True, pool_heads=True, aux_heads=True),
    dict(block="pre", pool_heads=True),
])
def test_a_deepened_net_computes_what_the_small_one_did(fields):
    small_config = ZeroConfig(board_size=7, blocks=2, filters=16, **fields)
    small = trained_like(small_config, seed=1)
    big = deepen(small, dataclasses.replace(small_config, blocks=5), seed=3)
    assert len(big.tower) == 5 and big.config.blocks == 5
    x = planes(small_config)
    with torch.no_grad():
        for aux in (False, True) if small_config.aux_heads else (False,):
            for a, b in zip(small(x, aux=aux), big.eval()(x, aux=aux)):
                torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
        # train mode: batch statistics in the old blocks, and the new ones still add nothing
        small.train()
        big.train()
        for a, b in zip(small(x), big(x)):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    # not the identity by accident of the input: a random block of the same place changes the output
    fresh = ZeroResNet(big.config).eval()
    big.eval().tower[4].load_state_dict(fresh.tower[4].state_dict())
    with torch.no_grad():
        assert not torch.allclose(big(x)[0], small.eval()(x)[0], atol=1e-3)


def test_the_new_blocks_learn_from_the_first_step():
    config = ZeroConfig(board_size=7, blocks=1, filters=16)
    big = deepen(trained_like(config, seed=2), dataclasses.replace(config, blocks=3)).train()
    x = planes(config)
    logits, value = big(x)
    (logits.logsumexp(1).sum() + value.sum()).backward()
    for block in big.tower[1:]:
        zeroed = block.branch[-1]
        assert zeroed.weight.abs().sum() == 0  # the identity at the start...
        assert zeroed.weight.grad.abs().sum() > 0  # ...and a gradient to move away from it


def test_only_a_deepening_is_accepted_and_the_refusal_says_why():
    base = ZeroConfig(board_size=9, blocks=2, filters=16, pool_heads=True)
    assert deepen_refusal(base, dataclasses.replace(base, blocks=4)) is None
    assert "not more than" in deepen_refusal(base, base)
    assert "filters" in deepen_refusal(base, dataclasses.replace(base, blocks=4, filters=32))
    assert "pool_heads" in deepen_refusal(base, dataclasses.replace(base, blocks=4, pool_heads=False))
    pyramid = ZeroConfig(board_size=9, blocks=2, filters=16, block="pyramid", pyramid_step=4)
    assert "widens every block" in deepen_refusal(pyramid, dataclasses.replace(pyramid, blocks=3))
    with pytest.raises(ValueError, match="cannot deepen a 3x16 net to 5x32"):
        deepen(ZeroResNet(base), dataclasses.replace(base, blocks=4, filters=32))


def test_any_blocks_by_filters_name_is_a_net():
    config = zero_config("4x32", board_size=7, pool_heads=True)
    assert (config.board_size, config.blocks, config.filters, config.pool_heads) == (7, 3, 32, True)
    assert zero_config("6x64") == zero_config("6x64", board_size=9)  # a preset's name: the preset
    for bad, message in (("7y7", "unknown preset '7y7'"), ("x16", "unknown preset"), ("4x", "unknown preset"),
                         ("0x16", "at least 1"), ("4x0", "at least 1")):
        with pytest.raises(ValueError, match=message):
            zero_config(bad)
