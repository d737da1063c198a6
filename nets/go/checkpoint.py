"""Saving and loading Go net checkpoints: one versioned dict, written atomically, read without pickle code.

A checkpoint is what `torch.save` writes of this dict (format version 1):

    format          "goengine-net"
    format_version  1
    net             the registered builder name ("lee_policy", "zero_resnet", ...)
    config          the net's frozen config as a dict of plain values: `nets.build(net, **config)` rebuilds it
    board_size      N, repeated from the config so readers can check it without knowing the net
    feature_set     the name of the feature planes the net was trained on (goengine's feature registry)
    state_dict      the parameters and buffers
    extra           None, or whatever the trainer adds (optimizer state, step count): tensors, numbers,
                    strings and lists/tuples/dicts of them only

`load` reads with `torch.load(weights_only=True)` only, so a checkpoint can never run code, and every
problem with a file becomes one `CheckpointError` naming that file.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from goengine.atomic import atomic_open
from nets.registry import available, build

FORMAT = "goengine-net"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or is not the one the caller asked for; the message names the file."""


@dataclass(frozen=True)
class CheckpointMeta:
    """Everything in a checkpoint except the weights."""

    net: str
    config: dict[str, Any]
    board_size: int
    feature_set: str
    format_version: int
    extra: Any


def _check_plain(value: Any, where: str) -> None:
    """Raise TypeError unless `value` is something `torch.load(weights_only=True)` will read back."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where} has a key of type {type(key).__name__}; use str or int keys")
            _check_plain(item, f"{where}[{key!r}]")
        return
    raise TypeError(f"{where} is a {type(value).__name__}; checkpoints hold tensors, numbers, strings and containers")


def save(path: str | os.PathLike, model: nn.Module, *, feature_set: str, extra: Any = None) -> None:
    """Write `model` to `path` atomically: a reader sees the old file or the whole new one, never a part.

    `model` must be a registered Go net: it has a class attribute `net_name` and a frozen dataclass
    `config` whose fields are the builder's keyword arguments.
    """
    name = getattr(model, "net_name", None)
    config = getattr(model, "config", None)
    if name is None or not dataclasses.is_dataclass(config):
        raise TypeError(f"{type(model).__name__} has no net_name and dataclass config; it cannot be checkpointed")
    config_dict = dataclasses.asdict(config)
    _check_plain(config_dict, "config")
    _check_plain(extra, "extra")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "net": name,
        "config": config_dict,
        "board_size": config.board_size,
        "feature_set": feature_set,
        "state_dict": model.state_dict(),
        "extra": extra,
    }
    with atomic_open(path, "wb") as f:
        torch.save(payload, f)


def _first_line(error: Exception) -> str:
    """The telling part of an error's message: torch's weights-only errors wrap it in lines of advice."""
    message = str(error)
    if "WeightsUnpickler error:" in message:
        message = message.split("WeightsUnpickler error:", 1)[1]
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0][:160] if lines else ''}"


def _read(path: str) -> dict:
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path}: {'a folder, not a file' if os.path.isdir(path) else 'no such file'}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        # torch.load on damaged bytes raises whatever they trigger (RuntimeError from the zip reader,
        # KeyError from the legacy reader, UnpicklingError where weights-only refuses a pickled object):
        # there is no closed list to catch, and every one of them means this file cannot be used.
        raise CheckpointError(
            f"checkpoint {path}: cannot be read: corrupt, truncated, not a torch file, or holding objects "
            f"other than tensors and plain containers ({_first_line(e)})"
        ) from e
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not a goengine net checkpoint")
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path}: format version {payload.get('format_version')!r}, this code reads {FORMAT_VERSION}"
        )
    missing = {"net", "config", "board_size", "feature_set", "state_dict", "extra"} - payload.keys()
    if missing:
        raise CheckpointError(f"checkpoint {path}: missing entries {sorted(missing)}")
    for key, kind, expected in (("net", str, "a string"), ("config", dict, "a dict"), ("board_size", int, "an integer"),
                                ("feature_set", str, "a string"), ("state_dict", dict, "a dict")):
        if not isinstance(payload[key], kind) or isinstance(payload[key], bool):
            raise CheckpointError(f"checkpoint {path}: {key} must be {expected}, not {type(payload[key]).__name__}")
    return payload


def load(
    path: str | os.PathLike, *, board_size: int | None = None, feature_set: str | None = None
) -> tuple[nn.Module, CheckpointMeta]:
    """Rebuild the net saved at `path`, on the CPU and in eval mode, with its metadata.

    Given `board_size` or `feature_set`, a checkpoint for another one is refused with CheckpointError
    rather than loaded into a game it was not trained for.
    """
    path = os.fspath(path)
    payload = _read(path)
    net = payload["net"]
    if board_size is not None and payload["board_size"] != board_size:
        raise CheckpointError(f"checkpoint {path}: board size {payload['board_size']}, expected {board_size}")
    if feature_set is not None and payload["feature_set"] != feature_set:
        raise CheckpointError(
            f"checkpoint {path}: feature set {payload['feature_set']!r}, expected {feature_set!r}"
        )
    if net not in available():
        raise CheckpointError(f"checkpoint {path}: unknown net {net!r}; available: {', '.join(available())}")
    try:
        model = build(net, **payload["config"])
        model.load_state_dict(payload["state_dict"])
    except (TypeError, ValueError, RuntimeError) as e:
        reason = " ".join(str(e).split())  # load_state_dict lists every mismatch on lines of its own
        raise CheckpointError(f"checkpoint {path}: cannot rebuild {net!r} from its config and weights "
                              f"({reason[:300]}{'...' if len(reason) > 300 else ''})") from e
    model.eval()
    meta = CheckpointMeta(
        net=net,
        config=payload["config"],
        board_size=payload["board_size"],
        feature_set=payload["feature_set"],
        format_version=payload["format_version"],
        extra=payload["extra"],
    )
    return model, meta
