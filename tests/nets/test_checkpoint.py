"""Tests for nets/go/checkpoint.py: round trips for every Go net, weights-only loading, atomic writes and a
named CheckpointError for each way a file can be wrong."""
from __future__ import annotations

import os

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import nets
from nets.go import checkpoint
from nets.go.checkpoint import CheckpointError

NETS = {
    "lee_policy": ("lee_policy", dict(board_size=9, in_planes=48, filters=8, layers=3)),
    "lee_value": ("lee_value", dict(board_size=9, in_planes=49, filters=8, layers=3)),
    "zero_post": ("zero_resnet", dict(preset="2x16")),
    "zero_pyramid_gpool": (
        "zero_resnet",
        dict(board_size=7, in_planes=17, blocks=2, filters=8, block="pyramid", pyramid_step=2.5, global_pool=True),
    ),
    "zero_katago_pools": (
        "zero_resnet", dict(board_size=7, in_planes=17, blocks=2, filters=8, global_pool=True, pool_heads=True),
    ),
    "zero_wide": ("zero_resnet", dict(board_size=7, in_planes=17, blocks=1, filters=4, block="wide", widen=3)),
}


def build(key: str) -> nn.Module:
    name, config = NETS[key]
    torch.manual_seed(0)
    return nets.build(name, **config)


def planes_for(model: nn.Module) -> torch.Tensor:
    cfg = model.config
    generator = torch.Generator().manual_seed(0)
    return (torch.rand(3, cfg.in_planes, cfg.board_size, cfg.board_size, generator=generator) < 0.5).float()


def as_tuple(out) -> tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)


def train_a_step(model: nn.Module) -> torch.optim.Optimizer:
    """One SGD step with momentum, so weights, BN statistics and optimizer state differ from a fresh build.

    (SGD rather than Adam: Adam's first step imports torch._dynamo, seconds of a small test budget.)
    """
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    loss = sum(o.pow(2).mean() for o in as_tuple(model(planes_for(model))))
    loss.backward()
    optimiser.step()
    return optimiser


@pytest.mark.parametrize("key", list(NETS))
def test_round_trip_rebuilds_the_same_function(tmp_path, key):
    model = build(key)
    optimiser = train_a_step(model)
    path = tmp_path / "net.pt"
    checkpoint.save(path, model, feature_set="test_planes", extra={"optimizer": optimiser.state_dict(), "step": 7})
    loaded, meta = checkpoint.load(path, board_size=model.config.board_size, feature_set="test_planes")
    assert type(loaded) is type(model) and loaded.config == model.config and not loaded.training
    assert meta.net == NETS[key][0] and meta.board_size == model.config.board_size
    assert meta.feature_set == "test_planes" and meta.format_version == checkpoint.FORMAT_VERSION
    model.eval()
    x = planes_for(model)
    with torch.no_grad():
        for expected, got in zip(as_tuple(model(x)), as_tuple(loaded(x))):
            assert torch.equal(expected, got)
    # The optimizer state comes back usable: a fresh optimizer resumes from it exactly.
    resumed = torch.optim.SGD(loaded.parameters(), lr=1e-2, momentum=0.9)
    resumed.load_state_dict(meta.extra["optimizer"])
    assert meta.extra["step"] == 7
    for a, b in zip(optimiser.state.values(), resumed.state.values()):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    assert len(resumed.state) == len(optimiser.state) > 0


def test_config_is_stored_as_plain_values_that_rebuild_the_net(tmp_path):
    model = build("zero_pyramid_gpool")
    checkpoint.save(tmp_path / "net.pt", model, feature_set="f")
    payload = torch.load(tmp_path / "net.pt", weights_only=True)
    assert set(payload) == {
        "format", "format_version", "net", "config", "board_size", "feature_set", "state_dict", "extra"
    }
    assert all(isinstance(v, (int, float, str, bool)) for v in payload["config"].values())
    assert nets.build(payload["net"], **payload["config"]).config == model.config


def test_load_never_runs_code_from_the_file(tmp_path):
    ran = []

    class Payload:
        def __reduce__(self):
            return (ran.append, ("code ran",))

    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "format_version": 1, "net": "lee_policy", "evil": Payload()}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pt: cannot be read.*Unsupported global"):
        checkpoint.load(path)
    assert ran == []


# ---------------------------------------------------------------- one clear error per kind of bad file


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.pt"
    checkpoint.save(path, build("zero_post"), feature_set="zero17")
    return path


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"nowhere\.pt: no such file"):
        checkpoint.load(tmp_path / "nowhere.pt")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_files(saved, damage):
    data = saved.read_bytes()
    blob = {"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint\n" * 20, "empty": b""}[damage]
    saved.write_bytes(blob)
    with pytest.raises(CheckpointError, match=r"good\.pt: cannot be read: corrupt, truncated"):
        checkpoint.load(saved)


def rewrite(path, **changes) -> None:
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)


def test_wrong_format_version(saved):
    rewrite(saved, format_version=99)
    with pytest.raises(CheckpointError, match=r"good\.pt: format version 99, this code reads 1"):
        checkpoint.load(saved)


def test_not_a_goengine_checkpoint(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"model": nn.Linear(2, 2).state_dict()}, path)
    with pytest.raises(CheckpointError, match=r"other\.pt: not a goengine net checkpoint"):
        checkpoint.load(path)


def test_other_board_size(saved):
    with pytest.raises(CheckpointError, match=r"good\.pt: board size 9, expected 19"):
        checkpoint.load(saved, board_size=19)


def test_other_feature_set(saved):
    with pytest.raises(CheckpointError, match=r"good\.pt: feature set 'zero17', expected 'lee48'"):
        checkpoint.load(saved, feature_set="lee48")


def test_unknown_net(saved):
    rewrite(saved, net="no_such_net")
    with pytest.raises(CheckpointError, match=r"good\.pt: unknown net 'no_such_net'"):
        checkpoint.load(saved)


def test_config_and_weights_that_disagree(saved):
    payload = torch.load(saved, weights_only=True)
    rewrite(saved, config=dict(payload["config"], filters=32))
    with pytest.raises(CheckpointError, match=r"good\.pt: cannot rebuild 'zero_resnet'"):
        checkpoint.load(saved)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


# ---------------------------------------------------------------- writing


def test_save_replaces_atomically_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "net.pt"
    first = build("lee_policy")
    checkpoint.save(path, first, feature_set="lee48")
    before = path.read_bytes()

    def fail_midway(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, build("lee_value"), feature_set="lee49")
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old checkpoint is untouched
    assert os.listdir(tmp_path) == ["net.pt"]
    second = build("lee_value")
    checkpoint.save(path, second, feature_set="lee49")
    assert os.listdir(tmp_path) == ["net.pt"]
    assert checkpoint.load(path)[1].net == "lee_value"


def test_save_refuses_what_cannot_be_loaded_back(tmp_path):
    with pytest.raises(TypeError, match=r"extra\['fn'\] is a function"):
        checkpoint.save(tmp_path / "a.pt", build("lee_policy"), feature_set="f", extra={"fn": F.relu})
    with pytest.raises(TypeError, match="cannot be checkpointed"):
        checkpoint.save(tmp_path / "b.pt", nn.Linear(2, 2), feature_set="f")
    assert os.listdir(tmp_path) == []
