"""A static int8 AlphaGo Zero net as a checkpointable module: the quantized ONNX model's bytes in a buffer,
run by ONNX Runtime when the module is called.

`goengine compress quantize` writes this net ("zero_resnet_int8") with nets/go/checkpoint.py like any
other, so the things that load a Zero net by its checkpoint (`goengine gtp --weights`, the match
referee's `goengine:weights=W`, the search's torch NetEvaluator) play the int8 model without knowing it
is one: `forward` takes and returns torch tensors, as ZeroResNet's does. The fp32 weights are not kept:
the file is the int8 model alone, and what it plays is exactly what was quantized and measured (no
re-calibration at load time, which would depend on the positions drawn).

The module has no parameters to train; export it again (e.g. `--inference ort`) from the fp32 or
QAT-tuned net instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn as nn

from nets.compression.onnx_export import INPUT
from nets.go._shapes import check_planes
from nets.registry import register


@dataclass(frozen=True)
class Int8ZeroConfig:
    board_size: int = 9
    in_planes: int = 17
    model_bytes: int = 0
    """Length of the serialised int8 ONNX model held in the `onnx_model` buffer."""
    source_net: str = "zero_resnet"
    """The registered net that was quantized."""
    source_config: dict[str, Any] = field(default_factory=dict)
    """Its config (for the record: the widths of what was quantized)."""


class Int8ZeroNet(nn.Module):
    """planes_NCHW -> (policy_logits_NA, value_N) computed by ONNX Runtime's int8 kernels on one thread."""

    net_name: ClassVar[str] = "zero_resnet_int8"

    def __init__(self, config: Int8ZeroConfig, threads: int = 1) -> None:
        super().__init__()
        self.config = config
        self.threads = threads
        self.register_buffer("onnx_model", torch.zeros(config.model_bytes, dtype=torch.uint8))
        self._session = None
        self._session_bytes: bytes | None = None

    def model_bytes(self) -> bytes:
        return self.onnx_model.numpy().tobytes()

    def _ensure_session(self):
        data = self.model_bytes()
        if self._session is None or data != self._session_bytes:
            from nets.compression.onnx_export import ort_session

            self._session, self._session_bytes = ort_session(data, self.threads), data
        return self._session

    def forward(self, x_NCHW: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_planes(x_NCHW, self.config.in_planes, self.config.board_size)
        planes = np.ascontiguousarray(x_NCHW.detach().cpu().numpy(), dtype=np.float32)
        logits_NA, v_N = self._ensure_session().run(None, {INPUT: planes})
        return torch.from_numpy(logits_NA), torch.from_numpy(v_N)


def int8_net(model_bytes: bytes, source: nn.Module) -> Int8ZeroNet:
    """The checkpointable int8 net for the quantized bytes of `source` (a registered Zero net)."""
    import dataclasses

    config = Int8ZeroConfig(board_size=source.config.board_size, in_planes=source.config.in_planes,
                            model_bytes=len(model_bytes), source_net=source.net_name,
                            source_config=dataclasses.asdict(source.config))
    net = Int8ZeroNet(config)
    net.onnx_model.copy_(torch.frombuffer(bytearray(model_bytes), dtype=torch.uint8))
    return net.eval()


@register("zero_resnet_int8")
def build_zero_resnet_int8(board_size: int = 9, in_planes: int = 17, model_bytes: int = 0,
                           source_net: str = "zero_resnet", source_config: dict | None = None) -> Int8ZeroNet:
    """An empty int8 net of the given model length; a checkpoint's state dict fills its bytes."""
    return Int8ZeroNet(Int8ZeroConfig(board_size, in_planes, model_bytes, source_net, dict(source_config or {})))
